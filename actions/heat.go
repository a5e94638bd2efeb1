package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/workflow"
)

// HeatHost is what the heat.* actions share in one process: the cloud
// they talk to (from --os-cloud, clouds.yaml and OS_*), one authenticated
// client, and one signal receiver that the nodes' signals reach while the
// process runs. Both are made on first use, so a workflow that never calls
// heat.* needs no cloud. Close stops the receiver.
type HeatHost struct {
	// Cloud says which cloud (CloudOptions.Cloud is --os-cloud).
	Cloud deploy.CloudOptions
	// SignalListen is --signal-listen; SignalBaseURL (--signal-url) is the
	// URL nodes reach it by, when not http://<listen address>. Empty
	// SignalListen derives the address from the route to the Heat
	// endpoint; a loopback address is refused unless Heat is on loopback
	// too (see deploy.ResolveSignalAddress).
	SignalListen, SignalBaseURL string
	// Route finds this host's address towards Heat (deploy.RouteTo when
	// nil).
	Route deploy.Route
	// SignalKeyFile, when set, holds the receiver's key (made on first
	// use), so that signal URLs outlive this process: a fernetflow
	// restarted on the same SignalListen still accepts them.
	SignalKeyFile string
	// Log receives the deploy package's progress lines.
	Log *slog.Logger
	// NewClient makes the client (deploy.NewOrchestrationClient when nil).
	NewClient func(context.Context, deploy.CloudOptions) (*gophercloud.ServiceClient, error)

	mu     sync.Mutex
	client *gophercloud.ServiceClient
	rcv    *deploy.Receiver
}

// Client returns the host's authenticated orchestration client.
func (h *HeatHost) Client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		return h.client, nil
	}
	mk := h.NewClient
	if mk == nil {
		mk = deploy.NewOrchestrationClient
	}
	c, err := mk(ctx, h.Cloud)
	if err != nil {
		return nil, err
	}
	h.client = c
	return c, nil
}

// Receiver returns the host's signal receiver, started on first use.
func (h *HeatHost) Receiver(ctx context.Context) (*deploy.Receiver, error) {
	c, err := h.Client(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rcv == nil {
		var key []byte
		if h.SignalKeyFile != "" {
			if key, err = deploy.LoadOrCreateSignalKey(h.SignalKeyFile); err != nil {
				return nil, err
			}
		}
		addr, err := deploy.ResolveSignalAddress(ctx, h.SignalListen, h.SignalBaseURL, c.Endpoint, h.Route)
		if err != nil {
			return nil, err
		}
		h.rcv, err = deploy.NewReceiver(c, deploy.ReceiverOptions{Listen: addr.Listen, BaseURL: addr.BaseURL, AdvertiseHost: addr.AdvertiseHost, Log: h.log(), Key: key})
		if err != nil {
			return nil, err
		}
		how := "as given by --signal-listen/--signal-url"
		if addr.Derived {
			how = "derived from this host's route to Heat; set --signal-listen HOST:PORT to choose it"
		}
		h.log().Info("signal receiver listening", "listen", h.rcv.Addr(), "url", h.rcv.BaseURL(), "how", how)
	}
	return h.rcv, nil
}

// CleanupStale marks FAILED the fernetflow deployments of servers that an
// earlier run left IN_PROGRESS and whose signal receiver is gone (see
// deploy.CleanupStale), logging one INFO line per server saying what and
// why. Deployments this host's receiver would accept are left alone. Call
// it once per run, after the servers are known and before anything is
// pushed; an error is worth a warning, never a reason to stop the run.
func (h *HeatHost) CleanupStale(ctx context.Context, servers []deploy.Server) ([]deploy.Stale, error) {
	c, err := h.Client(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	rcv := h.rcv
	h.mu.Unlock()
	return deploy.CleanupStale(ctx, c, servers, deploy.StaleOptions{Receiver: rcv, Log: h.log()})
}

// Close stops the receiver, if it was started.
func (h *HeatHost) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rcv == nil {
		return nil
	}
	err := h.rcv.Close()
	h.rcv = nil
	return err
}

func (h *HeatHost) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// heatActions are heat.servers, heat.deploy, heat.wait and heat.cleanup.
func heatActions(h *HeatHost) []workflow.Action {
	return []workflow.Action{heatServers(h), heatDeploy(h), heatWait(h), heatCleanup(h)}
}

type heatServersIn struct {
	Stack string   `json:"stack"`
	Name  string   `json:"name"`
	Types []string `json:"types"`
	Depth int      `json:"depth"`
}

// heatServers lists the servers of a role in the overcloud stack.
func heatServers(h *HeatHost) *funcAction {
	return typed("heat.servers", "List the servers of a role in a Heat stack (nested resources by type and name pattern): name, server_id and the nested stack.", false,
		func(ctx context.Context, in heatServersIn) ([]deploy.Server, error) {
			c, err := h.Client(ctx)
			if err != nil {
				return nil, err
			}
			s, err := deploy.DiscoverServers(ctx, c, in.Stack, deploy.ServerFilter{Name: in.Name, Types: in.Types, Depth: in.Depth})
			if err != nil {
				return nil, err
			}
			if s == nil {
				s = []deploy.Server{}
			}
			return s, nil
		})
}

type heatTarget struct {
	Name        string         `json:"name"`
	ServerID    string         `json:"server_id"`
	InputValues map[string]any `json:"input_values"`
}

type heatDeployIn struct {
	Kind        string       `json:"kind"`
	Action      string       `json:"action"`
	Targets     []heatTarget `json:"targets"`
	Concurrency int          `json:"concurrency"`
	NoSignal    bool         `json:"no_signal"`
}

// heatDeployOut is one pushed deployment; heat.wait takes a list of them.
type heatDeployOut struct {
	Name         string `json:"name"`
	ServerID     string `json:"server_id"`
	DeploymentID string `json:"deployment_id"`
	ConfigID     string `json:"config_id"`
	SignalID     string `json:"signal_id,omitempty"`
}

// HeatConfigFor is the source config of an enroll or install deployment,
// what `fernetflow node collect` and `node hook` apply.
func HeatConfigFor(kind string) (softwareconfigs.CreateOpts, error) {
	switch kind {
	case "enroll":
		return softwareconfigs.CreateOpts{Name: "fernetflow-enroll", Group: deploy.Group, Config: "enroll",
			Outputs: []softwareconfigs.Output{{Name: "server_id"}, {Name: "recipient"}}}, nil
	case "report":
		return softwareconfigs.CreateOpts{Name: "fernetflow-report", Group: deploy.Group, Config: "report",
			Inputs: []softwareconfigs.Input{
				{Name: "probe_tokens", Type: "Json", Description: "tokens signed with the master's primary key, for the node to check against its repository"},
				{Name: "adopt_request", Type: "String", Description: "the first run only: the undercloud's signed request for the node's keys, sealed to the undercloud"},
			},
			Outputs: []softwareconfigs.Output{{Name: "observation"}}}, nil
	case "install":
		return softwareconfigs.CreateOpts{Name: "fernetflow-install", Group: deploy.Group, Config: "install",
			Inputs: []softwareconfigs.Input{
				{Name: "envelope", Type: "String", Description: "the key set sealed to this node and signed by the undercloud"},
				{Name: "probe_tokens", Type: "Json", Description: "tokens signed with the master's primary key, for the node to check once installed"},
				{Name: "allow_fewer", Type: "Boolean", Description: "replace a repository holding more keys (a node the operator chose to overwrite)"},
			},
			Outputs: []softwareconfigs.Output{{Name: "generation"}, {Name: "fingerprint"}, {Name: "changed"}, {Name: "observation"}}}, nil
	}
	return softwareconfigs.CreateOpts{}, fmt.Errorf("heat.deploy: kind %q: want report, install or enroll", kind)
}

// heatDeploy pushes one enroll or install deployment per target.
func heatDeploy(h *HeatHost) *funcAction {
	return typed("heat.deploy", "Push one fernetflow software deployment (enroll or install) per server, with a signal URL of this process's receiver.", false,
		func(ctx context.Context, in heatDeployIn) ([]heatDeployOut, error) {
			cfg, err := HeatConfigFor(in.Kind)
			if err != nil {
				return nil, err
			}
			c, err := h.Client(ctx)
			if err != nil {
				return nil, err
			}
			opts := deploy.PushOptions{Config: cfg, Action: in.Action, Concurrency: in.Concurrency, Log: h.log()}
			if !in.NoSignal {
				if opts.Receiver, err = h.Receiver(ctx); err != nil {
					return nil, err
				}
			}
			targets := make([]deploy.Target, len(in.Targets))
			for i, t := range in.Targets {
				targets[i] = deploy.Target{Server: deploy.Server{Name: t.Name, ID: t.ServerID}, InputValues: t.InputValues}
			}
			deps, err := deploy.Push(ctx, c, targets, opts)
			if err != nil {
				return nil, err
			}
			out := make([]heatDeployOut, len(deps))
			for i, d := range deps {
				out[i] = heatDeployOut{Name: d.Server.Name, ServerID: d.Server.ID, DeploymentID: d.DeploymentID, ConfigID: d.ConfigID, SignalID: d.SignalID}
			}
			return out, nil
		})
}

type heatWaitIn struct {
	Deployments []heatDeployOut `json:"deployments"`
	Timeout     float64         `json:"timeout"`
	Concurrency int             `json:"concurrency"`
}

// heatWait waits for the deployments heat.deploy pushed.
func heatWait(h *HeatHost) *funcAction {
	return typed("heat.wait", "Wait until every deployment is COMPLETE or FAILED (bounded concurrency, backoff, total timeout); fails naming each failed or silent server.", false,
		func(ctx context.Context, in heatWaitIn) ([]deploy.Result, error) {
			c, err := h.Client(ctx)
			if err != nil {
				return nil, err
			}
			deps := make([]deploy.Deployment, len(in.Deployments))
			var signalled bool
			for i, d := range in.Deployments {
				deps[i] = deploy.Deployment{Server: deploy.Server{Name: d.Name, ID: d.ServerID}, DeploymentID: d.DeploymentID, ConfigID: d.ConfigID, SignalID: d.SignalID}
				signalled = signalled || d.SignalID != ""
			}
			opts := deploy.WaitOptions{Timeout: time.Duration(in.Timeout * float64(time.Second)), Concurrency: in.Concurrency, Log: h.log()}
			if signalled {
				h.mu.Lock()
				opts.Receiver = h.rcv // wake early only if this process pushed them
				h.mu.Unlock()
			}
			res, err := deploy.Wait(ctx, c, deps, opts)
			if err != nil {
				return nil, err
			}
			return res, nil
		})
}

type heatCleanupIn struct {
	ServerIDs []string `json:"server_ids"`
	Keep      int      `json:"keep"`
	DryRun    bool     `json:"dry_run"`
}

// heatCleanup deletes superseded fernetflow deployments of servers.
func heatCleanup(h *HeatHost) *funcAction {
	return typed("heat.cleanup", "Delete the superseded fernetflow deployments (and derived configs) of servers, keeping the newest per config name, so server metadata stays small.", false,
		func(ctx context.Context, in heatCleanupIn) ([]deploy.Removed, error) {
			c, err := h.Client(ctx)
			if err != nil {
				return nil, err
			}
			out := []deploy.Removed{}
			var errs []error
			for _, id := range in.ServerIDs {
				r, err := deploy.Cleanup(ctx, c, id, deploy.CleanupOptions{Keep: in.Keep, DryRun: in.DryRun})
				out = append(out, r...)
				if err != nil {
					errs = append(errs, err)
				}
			}
			return out, errors.Join(errs...)
		})
}
