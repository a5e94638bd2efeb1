package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// Group is the software config group of fernetflow's deployments: the node
// command applies these and ignores every other group.
const Group = "fernetflow"

// Target is one server and the input values of its deployment.
type Target struct {
	Server      Server
	InputValues map[string]any
}

// PushOptions configure Push.
type PushOptions struct {
	// Config is the source config (its Group defaults to "fernetflow");
	// each deployment gets a derived config of it, named after it.
	Config softwareconfigs.CreateOpts
	// Action is deploy_action, default UPDATE.
	Action string
	// Receiver gives each deployment a signal URL (TEMP_URL_SIGNAL). Nil
	// means NO_SIGNAL: someone else must mark the deployments.
	Receiver *Receiver
	// Concurrency bounds the servers pushed at once (default 8).
	Concurrency int
	// Log gets one line per deployment pushed.
	Log *slog.Logger
}

// Deployment is one pushed deployment.
type Deployment struct {
	Server       Server `json:"server"`
	DeploymentID string `json:"deployment_id"`
	ConfigID     string `json:"config_id"`
	// SignalID is the Receiver registration, empty for NO_SIGNAL.
	SignalID string `json:"signal_id,omitempty"`
}

// Push creates one derived config and one deployment per target, at most
// Concurrency at a time. It returns the deployments it created, in target
// order, and an error naming each server it could not push to (those are
// left out). On an error after the derived config was made, the config is
// deleted again.
func Push(ctx context.Context, c *gophercloud.ServiceClient, targets []Target, opts PushOptions) ([]Deployment, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 8
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := opts.Config
	if src.Group == "" {
		src.Group = Group
	}
	if src.Name == "" {
		src.Name = "fernetflow"
	}
	results := make([]*Deployment, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("server %s: %w", t.Server.Name, ctx.Err())
				return
			}
			defer func() { <-sem }()
			d, err := pushOne(ctx, c, t, src, opts)
			if err != nil {
				errs[i] = fmt.Errorf("server %s (%s): %w", t.Server.Name, t.Server.ID, err)
				return
			}
			log.Info("deployment pushed", "server", t.Server.Name, "server_id", t.Server.ID, "deployment", d.DeploymentID)
			results[i] = d
		}()
	}
	wg.Wait()
	var out []Deployment
	for _, d := range results {
		if d != nil {
			out = append(out, *d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("deploy: push: %w", err)
	}
	return out, nil
}

func pushOne(ctx context.Context, c *gophercloud.ServiceClient, t Target, src softwareconfigs.CreateOpts, opts PushOptions) (*Deployment, error) {
	p := DerivedParams{
		Name: src.Name, Action: opts.Action, ServerID: t.Server.ID,
		InputValues: t.InputValues, SignalTransport: TransportNone,
	}
	var sig Signal
	if opts.Receiver != nil {
		sig = opts.Receiver.Register(t.Server.Name, t.Server.ID)
		p.SignalTransport, p.SignalURL = TransportTempURL, sig.URL
	}
	derived, err := DerivedConfig(src, p)
	if err != nil {
		return nil, err
	}
	cfg, err := softwareconfigs.Create(ctx, c, derived).Extract()
	if err != nil {
		if sig.ID != "" {
			opts.Receiver.Forget(sig.ID)
		}
		return nil, fmt.Errorf("create derived config: %w", err)
	}
	action := opts.Action
	if action == "" {
		action = softwaredeployments.ActionUpdate
	}
	dep, err := softwaredeployments.Create(ctx, c, softwaredeployments.CreateOpts{
		ConfigID: cfg.ID, ServerID: t.Server.ID, Action: action,
		Status: softwaredeployments.StatusInProgress, StatusReason: "Deploy data available",
	}).Extract()
	if err != nil {
		if sig.ID != "" {
			opts.Receiver.Forget(sig.ID)
		}
		_ = softwareconfigs.Delete(context.WithoutCancel(ctx), c, cfg.ID).ExtractErr()
		return nil, fmt.Errorf("create deployment: %w", err)
	}
	if sig.ID != "" {
		opts.Receiver.Bind(sig.ID, dep.ID)
	}
	return &Deployment{Server: t.Server, DeploymentID: dep.ID, ConfigID: cfg.ID, SignalID: sig.ID}, nil
}
