package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
	"github.com/fernetflow/fernetflow/internal/fleet"
)

// HeatTarget is the fleet.Target that reaches the controllers through
// Heat: one software deployment per server and step (enroll or install),
// which os-collect-config on the node applies with `fernetflow node
// collect` (or heat-config with `fernetflow node hook`), signalling its
// outputs back to the host's receiver. It never carries key material: an
// install deployment's only input is the node's sealed envelope.
type HeatTarget struct {
	Host *HeatHost
	// Timeout bounds each deployment's wait (default 10 minutes): a node
	// whose os-collect-config never runs fails with its name in the error.
	Timeout time.Duration
}

var _ fleet.Target = (*HeatTarget)(nil)

// Servers implements fleet.Target: the servers of sel.Role in sel.Stack,
// found among the stack's nested resources by type (DeployedServer,
// Nova servers, TripleO's role servers) and by name: resources inside a
// group named after the role ("Controller/0"), or named after it
// ("Controller-0"); every server when the role is empty.
func (h *HeatTarget) Servers(ctx context.Context, sel fleet.Selection) ([]fleet.Server, error) {
	c, err := h.Host.Client(ctx)
	if err != nil {
		return nil, err
	}
	stack := sel.Stack
	if stack == "" {
		return nil, fmt.Errorf("heat target: no stack given: pass --stack (the overcloud stack)")
	}
	patterns := []string{""}
	if sel.Role != "" {
		patterns = []string{sel.Role + "/*", sel.Role + "*"}
	}
	for _, p := range patterns {
		found, err := deploy.DiscoverServers(ctx, c, stack, deploy.ServerFilter{Name: p})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			continue
		}
		out := make([]fleet.Server, len(found))
		for i, s := range found {
			out[i] = fleet.Server{Name: s.Name, ID: s.ID}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}
	return nil, fmt.Errorf("heat target: stack %s has no servers of role %q: check --stack and --role (fernetflow heat servers --stack %s lists them all)", stack, sel.Role, stack)
}

// run pushes one deployment of kind to s, waits for it and returns its outputs.
func (h *HeatTarget) run(ctx context.Context, s fleet.Server, kind string, inputs map[string]any) (map[string]any, error) {
	cfg, err := HeatConfigFor(kind)
	if err != nil {
		return nil, err
	}
	c, err := h.Host.Client(ctx)
	if err != nil {
		return nil, err
	}
	rcv, err := h.Host.Receiver(ctx)
	if err != nil {
		return nil, err
	}
	srv := deploy.Server{Name: s.Name, ID: s.ID}
	deps, err := deploy.Push(ctx, c, []deploy.Target{{Server: srv, InputValues: inputs}}, deploy.PushOptions{Config: cfg, Receiver: rcv, Concurrency: 1, Log: h.Host.log()})
	if err != nil {
		return nil, err
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	res, err := deploy.Wait(ctx, c, deps, deploy.WaitOptions{Timeout: timeout, Receiver: rcv, Log: h.Host.log()})
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", kind, s.Name, err)
	}
	if len(res) != 1 || res[0].Status != "COMPLETE" {
		reason := ""
		if len(res) == 1 {
			reason = res[0].Status + ": " + res[0].StatusReason
		}
		return nil, fmt.Errorf("%s on %s failed: %s", kind, s.Name, reason)
	}
	// Superseded fernetflow deployments only grow the server's metadata.
	if _, err := deploy.Cleanup(ctx, c, s.ID, deploy.CleanupOptions{Keep: 1}); err != nil {
		h.Host.log().Warn("could not clean up superseded deployments", "server", s.Name, "error", err)
	}
	return res[0].Outputs, nil
}

// Enroll implements fleet.Target.
func (h *HeatTarget) Enroll(ctx context.Context, s fleet.Server) (string, error) {
	out, err := h.run(ctx, s, "enroll", nil)
	if err != nil {
		return "", err
	}
	r, _ := out["recipient"].(string)
	if r == "" {
		return "", fmt.Errorf("enroll on %s: the node reported no recipient", s.Name)
	}
	return r, nil
}

// Deliver implements fleet.Target.
func (h *HeatTarget) Deliver(ctx context.Context, s fleet.Server, env []byte) (fleet.Report, error) {
	out, err := h.run(ctx, s, "install", map[string]any{"envelope": string(env)})
	if err != nil {
		return fleet.Report{}, err
	}
	return reportFrom(s, out)
}

// Status implements fleet.Target: the outputs of the server's newest
// COMPLETE install deployment (zero when it has none).
func (h *HeatTarget) Status(ctx context.Context, s fleet.Server) (fleet.Report, error) {
	c, err := h.Host.Client(ctx)
	if err != nil {
		return fleet.Report{}, err
	}
	pages, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: s.ID}).AllPages(ctx)
	if err != nil {
		return fleet.Report{}, fmt.Errorf("deployments of %s: %w", s.Name, err)
	}
	deps, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	if err != nil {
		return fleet.Report{}, fmt.Errorf("deployments of %s: %w", s.Name, err)
	}
	md, err := softwaredeployments.Metadata(ctx, c, s.ID).Extract()
	if err != nil {
		return fleet.Report{}, fmt.Errorf("metadata of %s: %w", s.Name, err)
	}
	installs := map[string]bool{}
	for _, cfg := range md {
		if cfg.Group == deploy.Group && isInstall(cfg) {
			installs[cfg.ID] = true
		}
	}
	deps = slices.DeleteFunc(deps, func(d softwaredeployments.SoftwareDeployment) bool {
		return !installs[d.ConfigID] || d.Status != "COMPLETE"
	})
	if len(deps) == 0 {
		return fleet.Report{Server: s}, nil
	}
	sort.SliceStable(deps, func(i, j int) bool { return deps[i].CreationTime.Before(deps[j].CreationTime) })
	return reportFrom(s, deps[len(deps)-1].OutputValues)
}

func isInstall(cfg softwareconfigs.SoftwareConfig) bool {
	return strings.TrimSpace(fmt.Sprint(cfg.Config)) == "install" || strings.HasPrefix(cfg.Name, "fernetflow-install")
}

// reportFrom reads an install deployment's outputs (signalled JSON: the
// numbers may arrive as numbers or strings).
func reportFrom(s fleet.Server, out map[string]any) (fleet.Report, error) {
	r := fleet.Report{Server: s}
	switch g := out["generation"].(type) {
	case float64:
		r.Generation = uint64(g)
	case json.Number:
		n, _ := g.Int64()
		r.Generation = uint64(n)
	case string:
		n, err := strconv.ParseUint(g, 10, 64)
		if err != nil {
			return r, fmt.Errorf("install on %s reported generation %q", s.Name, g)
		}
		r.Generation = n
	case nil:
		return r, fmt.Errorf("install on %s reported no generation", s.Name)
	}
	r.Fingerprint, _ = out["fingerprint"].(string)
	switch c := out["changed"].(type) {
	case bool:
		r.Changed = c
	case string:
		r.Changed = c == "true" || c == "True"
	}
	return r, nil
}
