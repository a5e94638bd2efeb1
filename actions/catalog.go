package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/workflow"
)

// Need is what an action needs from its Host to run.
type Need int

// What the actions of the catalog need.
const (
	// NeedsNothing: Mistral's std.* actions, which run anywhere.
	NeedsNothing Need = iota
	// NeedsMaster: the undercloud's master key repository (keys.status,
	// keys.rotate), that is a Host.Fleet with an Undercloud.
	NeedsMaster
	// NeedsFleet: the master and a target that reaches the nodes
	// (fleet.*, node.enroll, keys.package, keys.probe): a Host.Fleet
	// with an Undercloud and a Target.
	NeedsFleet
	// NeedsCloud: a Heat cloud (heat.*): a Host.Heat.
	NeedsCloud
)

func (n Need) String() string {
	switch n {
	case NeedsNothing:
		return "nothing"
	case NeedsMaster:
		return "the undercloud's master key repository"
	case NeedsFleet:
		return "a fleet target (the undercloud and the nodes it reaches)"
	case NeedsCloud:
		return "a Heat cloud"
	}
	return fmt.Sprintf("Need(%d)", int(n))
}

// Host is what the catalog's actions run on. Each field is optional: an
// action whose Need the Host does not meet is still bound, and refuses to
// run with an *UnboundError, so that a workflow naming it validates
// everywhere and fails, saying why, only when the task runs.
type Host struct {
	// Fleet runs keys.* (its Undercloud's master repository) and, with a
	// Target, fleet.*, node.enroll, keys.package and keys.probe.
	Fleet *FleetHost
	// Heat runs heat.*.
	Heat *deploy.Host
}

func (h Host) meets(n Need) bool {
	switch n {
	case NeedsNothing:
		return true
	case NeedsMaster:
		return h.Fleet != nil && h.Fleet.Undercloud != nil
	case NeedsFleet:
		return h.Fleet != nil && h.Fleet.Undercloud != nil && h.Fleet.Target != nil
	case NeedsCloud:
		return h.Heat != nil
	}
	return false
}

// ErrUnbound is the cause of every *UnboundError, for errors.Is.
var ErrUnbound = errors.New("action not bound to what it needs")

// UnboundError is the error of an action that ran on a Host that does not
// meet its Need: nothing was done. The caller may run it again on a Host
// that does (a command-line tool says which command gives one).
type UnboundError struct {
	Action string
	Needs  Need
}

func (e *UnboundError) Error() string {
	return fmt.Sprintf("action %s needs %s, and has none here", e.Action, e.Needs)
}

// Is makes errors.Is(err, ErrUnbound) true.
func (e *UnboundError) Is(target error) bool { return target == ErrUnbound }

// entry is one action of the catalog, bound to a host, and what it needs.
type entry struct {
	needs Need
	act   workflow.Action
}

// bind makes every action of the catalog, bound to what h has (empty
// hosts for what it lacks: those actions are wrapped in refusals by the
// callers). It is the catalog's only list of actions.
func bind(h Host) []entry {
	fh, hh := h.Fleet, h.Heat
	if fh == nil {
		fh = &FleetHost{}
	}
	if hh == nil {
		hh = &deploy.Host{}
	}
	ko := keysOptions{Now: fh.Now}
	if fh.Undercloud != nil {
		ko.DefaultRepository = fh.Undercloud.MasterRepository()
	}
	var out []entry
	for _, a := range workflow.StdActions() {
		out = append(out, entry{NeedsNothing, a})
	}
	out = append(out, entry{NeedsMaster, keysStatus(ko)}, entry{NeedsMaster, keysRotate(ko)})
	for _, a := range fleetActions(fh) {
		out = append(out, entry{NeedsFleet, a})
	}
	for _, a := range heatActions(hh) {
		out = append(out, entry{NeedsCloud, a})
	}
	return out
}

// registry binds the catalog to h: an action whose Need h does not meet
// refuses to run; keep says which actions are in.
func registry(h Host, keep func(entry) bool, wrap func(entry) workflow.Action) workflow.Registry {
	var acts []workflow.Action
	for _, e := range bind(h) {
		if !keep(e) {
			continue
		}
		if !h.meets(e.needs) {
			acts = append(acts, unbound{e.act, e.needs})
			continue
		}
		acts = append(acts, wrap(e))
	}
	reg, err := newRegistry(acts...)
	if err != nil {
		panic(err) // two actions of the catalog have one name: caught by the tests
	}
	return reg
}

// Engine is the registry of fernetflow's embedded engine: every action of
// the catalog, Mistral's std.* among them, bound to h. Use it both to
// check a workflow (workflow.Load) and to run it, so that what validates
// is what runs; Engine(Host{}) checks any workflow, and runs std.* only.
func Engine(h Host) workflow.Registry {
	return registry(h, func(entry) bool { return true }, func(e entry) workflow.Action { return e.act })
}

// Served is the registry of the action server (NewServer) for OpenStack
// Mistral: the catalog bound to h, but Mistral's std.* (Mistral has its
// own, and serving std.http would make the server a proxy). keys.status
// and keys.rotate work on h's master repository only: an input naming
// another key_repository is refused, so that no caller, however
// authenticated, inspects or rotates another directory of this host.
func Served(h Host) workflow.Registry {
	return registry(h, func(e entry) bool { return !std(e.act.Name()) }, func(e entry) workflow.Action {
		if e.needs == NeedsMaster { // bound: h has the master
			return masterOnly{e.act, h.Fleet.Undercloud.MasterRepository()}
		}
		return e.act
	})
}

// std reports whether name is one of Mistral's standard actions.
func std(name string) bool { return strings.HasPrefix(name, "std.") }

// unbound is an action run on a host that lacks what it needs.
type unbound struct {
	workflow.Action
	needs Need
}

func (u unbound) Run(context.Context, map[string]any) (any, error) {
	return nil, &UnboundError{Action: u.Name(), Needs: u.needs}
}

// masterOnly keeps a keys.* action on the master repository.
type masterOnly struct {
	workflow.Action
	master string
}

func (m masterOnly) Run(ctx context.Context, in map[string]any) (any, error) {
	if r, ok := in["key_repository"].(string); ok && filepath.Clean(r) != filepath.Clean(m.master) {
		return nil, fmt.Errorf("%s: the action server works on the master repository %s only, not %s", m.Name(), m.master, r)
	}
	return m.Action.Run(ctx, in)
}

// Descriptor describes one action of the catalog: its name, description,
// input and output JSON Schemas, whether its output is secret, and what it
// needs to run. It is a workflow.Action whose Run refuses (*UnboundError):
// a Catalog describes actions; Engine and Served bind them to run.
type Descriptor struct {
	act   workflow.Action // bound to an empty host: never run
	needs Need
}

// Name implements workflow.Action.
func (d Descriptor) Name() string { return d.act.Name() }

// Description implements workflow.Action.
func (d Descriptor) Description() string { return d.act.Description() }

// InputSchema implements workflow.Action.
func (d Descriptor) InputSchema() json.RawMessage { return d.act.InputSchema() }

// OutputSchema implements workflow.Action.
func (d Descriptor) OutputSchema() json.RawMessage { return d.act.OutputSchema() }

// Secret implements workflow.Action.
func (d Descriptor) Secret() bool { return d.act.Secret() }

// Needs says what the action needs from its Host to run.
func (d Descriptor) Needs() Need { return d.needs }

// Run implements workflow.Action: a descriptor never runs.
func (d Descriptor) Run(context.Context, map[string]any) (any, error) {
	return nil, &UnboundError{Action: d.Name(), Needs: d.needs}
}

// Catalog is a list of descriptors, sorted by name; it is a
// workflow.Registry of them.
type Catalog []Descriptor

// All is fernetflow's whole catalog: Mistral's std.* actions, which the
// embedded engine implements, and fernetflow's own, which the embedded
// engine runs (Engine) and the action server serves (Served). An action
// is in it only if both run it, given a Host that meets its Need.
func All() Catalog {
	var c Catalog
	for _, e := range bind(Host{}) {
		c = append(c, Descriptor{e.act, e.needs})
	}
	sort.Slice(c, func(i, j int) bool { return c[i].Name() < c[j].Name() })
	return c
}

// Lookup implements workflow.Registry.
func (c Catalog) Lookup(name string) (workflow.Action, bool) {
	d, ok := c.Describe(name)
	return d, ok
}

// Describe returns the descriptor of the action called name, or false.
func (c Catalog) Describe(name string) (Descriptor, bool) {
	i := sort.Search(len(c), func(i int) bool { return c[i].Name() >= name })
	if i < len(c) && c[i].Name() == name {
		return c[i], true
	}
	return Descriptor{}, false
}

// Names implements workflow.Registry.
func (c Catalog) Names() []string {
	out := make([]string, len(c))
	for i, d := range c {
		out[i] = d.Name()
	}
	return out
}

// Mistral is what fernetflow mistral register makes ad-hoc actions of:
// the served actions that need the undercloud's master or fleet, which
// every action server has. It leaves out Mistral's own std.*, and heat.*:
// on Mistral, a workflow talks to Heat with Mistral's heat actions, which
// act with the caller's token rather than the action server's
// credentials.
func (c Catalog) Mistral() Catalog {
	var out Catalog
	for _, d := range c {
		if !std(d.Name()) && (d.needs == NeedsMaster || d.needs == NeedsFleet) {
			out = append(out, d)
		}
	}
	return out
}
