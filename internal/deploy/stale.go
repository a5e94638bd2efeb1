package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// StaleReason is the status_reason CleanupStale gives the deployments it
// marks FAILED.
const StaleReason = "fernetflow: left IN_PROGRESS by an earlier run that has ended (its signal receiver is gone); nothing waits for it. " +
	"A node that applies it later does no harm (an envelope never rolls keys back) and the next run reads the node's state itself; `fernetflow heat cleanup` deletes it"

// StaleOptions configure CleanupStale.
type StaleOptions struct {
	// Receiver is this process's receiver, if started: deployments it
	// waits for are never stale.
	Receiver *Receiver
	// HTTPClient asks a deployment's signal receiver whether it still
	// waits (default: a client with a 3 s timeout).
	HTTPClient *http.Client
	// DryRun lists what would be marked without changing Heat.
	DryRun bool
	// Log gets one INFO line per server with leftovers: which deployments
	// and why (never a signal URL: they hold secrets).
	Log *slog.Logger
}

// Stale is one leftover deployment CleanupStale marked (or would mark)
// FAILED.
type Stale struct {
	Server       string `json:"server"`
	ServerID     string `json:"server_id"`
	DeploymentID string `json:"deployment_id"`
	ConfigName   string `json:"config_name"`
	// Why is what the signal receiver answered: "HTTP 404",
	// "connection refused".
	Why string `json:"why"`
}

// CleanupStale finds the fernetflow deployments of servers that an earlier
// run left IN_PROGRESS (a failed, timed-out or interrupted run) and marks
// them FAILED with StaleReason, so that Heat, `fernetflow heat
// deployments` and the next run's logs say what they are. Call it at the
// start of a Heat run, before anything is pushed.
//
// A deployment is a leftover only when its signal receiver says nobody
// waits for it: the receiver at its deploy_signal_id answers 404 or 410,
// or refuses the connection. Deployments this process's Receiver waits
// for, deployments another live fernetflow waits for (its receiver
// answers 200 to a GET), NO_SIGNAL deployments (someone else marks those)
// and receivers that cannot be asked (a timeout, another answer) are left
// alone. The deployments stay in the server's metadata: a node that was
// down still applies them when it is back, which is how it self-heals.
//
// It returns what it marked and an error naming each server or deployment
// it could not read or update; one server's error does not stop the
// others.
func CleanupStale(ctx context.Context, c *gophercloud.ServiceClient, servers []Server, opts StaleOptions) ([]Stale, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 3 * time.Second}
	}
	out := []Stale{}
	var errs []error
	for _, s := range servers {
		found, err := staleOf(ctx, c, hc, s, opts.Receiver)
		if err != nil {
			errs = append(errs, err)
		}
		if len(found) == 0 {
			continue
		}
		var ids, whys []string
		for _, st := range found {
			if !opts.DryRun {
				_, err := softwaredeployments.Update(ctx, c, st.DeploymentID, softwaredeployments.UpdateOpts{
					Status: softwaredeployments.StatusFailed, StatusReason: StaleReason,
				}).Extract()
				if err != nil && !gophercloud.ResponseCodeIs(err, 404) {
					errs = append(errs, fmt.Errorf("deploy: mark leftover deployment %s of server %s FAILED: %w", st.DeploymentID, s.Name, err))
					continue
				}
			}
			ids = append(ids, st.DeploymentID)
			whys = append(whys, st.ConfigName+": "+st.Why)
			out = append(out, st)
		}
		if len(ids) == 0 {
			continue
		}
		what := "marked FAILED"
		if opts.DryRun {
			what = "would be marked FAILED (dry run)"
		}
		log.Info("leftover deployments of an earlier run "+what+": that run ended before their signal came, and their signal receiver is gone; "+
			"the node may still apply them, which is harmless, and this run reads the node's state itself",
			"server", s.Name, "server_id", s.ID, "deployments", ids, "signal", whys)
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("deploy: leftovers: %w", err)
	}
	return out, nil
}

// staleOf returns the leftover fernetflow deployments of one server.
func staleOf(ctx context.Context, c *gophercloud.ServiceClient, hc *http.Client, s Server, rcv *Receiver) ([]Stale, error) {
	pages, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: s.ID}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: leftovers of server %s: list deployments: %w", s.Name, err)
	}
	deps, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	if err != nil {
		return nil, fmt.Errorf("deploy: leftovers of server %s: read deployments: %w", s.Name, err)
	}
	var pending []softwaredeployments.SoftwareDeployment
	for _, d := range deps {
		if d.Status == softwaredeployments.StatusInProgress {
			pending = append(pending, d)
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	md, err := softwaredeployments.Metadata(ctx, c, s.ID).Extract()
	if err != nil {
		return nil, fmt.Errorf("deploy: leftovers of server %s: metadata: %w", s.Name, err)
	}
	configs := map[string]softwareconfigs.SoftwareConfig{}
	for _, cfg := range md {
		configs[cfg.ID] = cfg
	}
	var out []Stale
	for _, d := range pending {
		cfg, ok := configs[d.ConfigID]
		if !ok || cfg.Group != Group {
			continue
		}
		url := configInput(cfg, "deploy_signal_id")
		if url == "" || configInput(cfg, "deploy_signal_transport") == TransportNone {
			continue
		}
		if rcv != nil && rcv.Knows(url) {
			continue
		}
		why, gone := receiverGone(ctx, hc, url)
		if !gone {
			continue
		}
		out = append(out, Stale{Server: s.Name, ServerID: s.ID, DeploymentID: d.ID, ConfigName: cfg.Name, Why: why})
	}
	return out, nil
}

func configInput(cfg softwareconfigs.SoftwareConfig, name string) string {
	for _, in := range cfg.Inputs {
		if in.Name == name {
			v, _ := in.Value.(string)
			return v
		}
	}
	return ""
}

// receiverGone asks the receiver of a signal URL whether it still waits
// for it (GET: 200 yes, 404 no). Only definite answers count as gone: 404
// or 410, or a refused connection. The URL is never returned or logged.
func receiverGone(ctx context.Context, hc *http.Client, url string) (why string, gone bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", false
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "connection refused at " + req.URL.Host, true
		}
		return "", false
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return fmt.Sprintf("HTTP %d from %s", resp.StatusCode, req.URL.Host), true
	}
	return "", false
}
