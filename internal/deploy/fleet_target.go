package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// FleetTarget is the fleet.Target that reaches the controllers through
// Heat: one software deployment per server and step (report or install),
// which os-collect-config on the node applies with `fernetflow node
// collect` (or heat-config with `fernetflow node hook`), signalling its
// outputs back to the host's receiver. It never carries key material: an
// install deployment's only input is the node's sealed envelope.
type FleetTarget struct {
	Host *Host
	// Timeout bounds each deployment's wait (default 10 minutes): a node
	// whose os-collect-config never runs fails with its name in the error.
	Timeout time.Duration

	mu       sync.Mutex
	prepared bool
}

var _ fleet.Target = (*FleetTarget)(nil)

// Servers implements fleet.Target: the servers of sel.Role in sel.Stack,
// found among the stack's nested resources by type (DeployedServer,
// Nova servers, TripleO's role servers) and by name: resources inside a
// group named after the role ("Controller/0"), or named after it
// ("Controller-0"); every server when the role is empty.
func (h *FleetTarget) Servers(ctx context.Context, sel fleet.Selection) ([]fleet.Server, error) {
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
		found, err := DiscoverServers(ctx, c, stack, ServerFilter{Name: p})
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
		if err := h.prepare(ctx, found); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("heat target: stack %s has no servers of role %q: check --stack and --role (fernetflow heat servers --stack %s lists them all)", stack, sel.Role, stack)
}

// prepare runs once per target, when the servers are first listed: it
// starts the signal receiver (so that a signal URL the controllers cannot
// reach is refused before anything is pushed) and marks FAILED the
// deployments an earlier, interrupted run left waiting for a receiver that
// is gone (CleanupStale), so that nothing stale is left unexplained.
func (h *FleetTarget) prepare(ctx context.Context, servers []Server) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prepared {
		return nil
	}
	if _, err := h.Host.Receiver(ctx); err != nil {
		return err
	}
	if _, err := h.Host.CleanupStale(ctx, servers); err != nil {
		h.Host.Logger().Warn("leftover deployments of an earlier run not cleaned", "err", err)
	}
	h.prepared = true
	return nil
}

// run pushes one deployment of kind to s, waits for it and returns its outputs.
func (h *FleetTarget) run(ctx context.Context, s fleet.Server, kind string, inputs map[string]any) (map[string]any, error) {
	cfg, err := ConfigFor(kind)
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
	srv := Server{Name: s.Name, ID: s.ID}
	deps, err := Push(ctx, c, []Target{{Server: srv, InputValues: inputs}}, PushOptions{Config: cfg, Receiver: rcv, Concurrency: 1, Log: h.Host.Logger()})
	if err != nil {
		return nil, err
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	res, err := Wait(ctx, c, deps, WaitOptions{Timeout: timeout, Receiver: rcv, Log: h.Host.Logger()})
	if err != nil {
		if kind == "report" {
			// A report nobody waits for is worth nothing: the node must
			// not apply it when it comes back, nor signal a run that
			// has ended.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			for _, d := range deps {
				if derr := softwaredeployments.Delete(dctx, c, d.DeploymentID).ExtractErr(); derr != nil {
					h.Host.Logger().Warn("could not delete an unanswered report deployment", "server", s.Name, "deployment", d.DeploymentID, "error", derr)
				}
			}
			cancel()
		}
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
	if _, err := Cleanup(ctx, c, s.ID, CleanupOptions{Keep: 1}); err != nil {
		h.Host.Logger().Warn("could not clean up superseded deployments", "server", s.Name, "error", err)
	}
	return res[0].Outputs, nil
}

// Observe implements fleet.Target: one report deployment, applied by
// the node on its next poll. A report that does not come back before ctx
// ends is deleted, so that the node does not apply it later.
func (h *FleetTarget) Observe(ctx context.Context, s fleet.Server, req fleet.ObserveRequest) (fleet.Report, error) {
	inputs := map[string]any{"probe_tokens": orEmpty(req.ProbeTokens)}
	if a := req.AdoptRequest[s.ID]; a != "" {
		inputs["adopt_request"] = a
	}
	out, err := h.run(ctx, s, "report", inputs)
	if err != nil {
		return fleet.Report{}, err
	}
	return reportFrom(s, out)
}

// Close implements fleet.Target: it stops the host's signal receiver.
func (h *FleetTarget) Close() error { return h.Host.Close() }

// Deliver implements fleet.Target.
func (h *FleetTarget) Deliver(ctx context.Context, s fleet.Server, d fleet.Delivery) (fleet.Report, error) {
	out, err := h.run(ctx, s, "install", map[string]any{"envelope": string(d.Envelope), "probe_tokens": orEmpty(d.ProbeTokens), "allow_fewer": d.AllowFewer})
	if err != nil {
		return fleet.Report{}, err
	}
	r, err := reportFrom(s, out)
	if err != nil {
		return r, err
	}
	switch c := out["changed"].(type) {
	case bool:
		r.Changed = c
	case string:
		r.Changed = c == "true" || c == "True"
	}
	return r, nil
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// reportFrom reads the observation a report or install deployment
// signalled: a JSON object, or its text.
func reportFrom(s fleet.Server, out map[string]any) (fleet.Report, error) {
	var b []byte
	switch v := out["observation"].(type) {
	case nil:
		return fleet.Report{}, fmt.Errorf("%s reported no observation of its key repository: upgrade fernetflow on that node (fernetflow node collect or hook)", s.Name)
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	var o wire.Observation
	if err := json.Unmarshal(b, &o); err != nil {
		return fleet.Report{}, fmt.Errorf("%s reported an observation that is not valid: %v", s.Name, err)
	}
	if o.ServerID != s.ID {
		return fleet.Report{}, fmt.Errorf("%s reported for server %q: its os-collect-config runs with another node's --server-id or state", s.Name, o.ServerID)
	}
	return fleet.ReportFrom(s, &o), nil
}
