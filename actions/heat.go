package actions

import (
	"context"
	"errors"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/workflow"
)

// heatActions are heat.servers, heat.deploy, heat.wait and heat.cleanup.
func heatActions(h *deploy.Host) []workflow.Action {
	return []workflow.Action{heatServers(h), heatDeploy(h), heatWait(h), heatCleanup(h)}
}

type heatServersIn struct {
	Stack string   `json:"stack"`
	Name  string   `json:"name"`
	Types []string `json:"types"`
	Depth int      `json:"depth"`
}

// heatServers lists the servers of a role in the overcloud stack.
func heatServers(h *deploy.Host) *funcAction {
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

// heatDeploy pushes one enroll or install deployment per target.
func heatDeploy(h *deploy.Host) *funcAction {
	return typed("heat.deploy", "Push one fernetflow software deployment (enroll or install) per server, with a signal URL of this process's receiver.", false,
		func(ctx context.Context, in heatDeployIn) ([]heatDeployOut, error) {
			cfg, err := deploy.ConfigFor(in.Kind)
			if err != nil {
				return nil, err
			}
			c, err := h.Client(ctx)
			if err != nil {
				return nil, err
			}
			opts := deploy.PushOptions{Config: cfg, Action: in.Action, Concurrency: in.Concurrency, Log: h.Logger()}
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
func heatWait(h *deploy.Host) *funcAction {
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
			opts := deploy.WaitOptions{Timeout: time.Duration(in.Timeout * float64(time.Second)), Concurrency: in.Concurrency, Log: h.Logger()}
			if signalled {
				opts.Receiver = h.Started() // wake early only if this process pushed them
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
func heatCleanup(h *deploy.Host) *funcAction {
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
