package mistralapi

import (
	"context"
	"fmt"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow"
)

// ownActions is the served registry as c's executions and action runs see
// it: Mistral's std.* actions for every caller, the server's own actions
// (fernetflow's, which act on the fleet with the server's credentials and
// keys) only for a caller Options.AuthorizeActions allows. A refused
// action is still found (the workflow validates, as on a Mistral whose
// action server refuses the caller), and fails when it runs with an error
// that names the caller's project and what allows it.
func (s *Server) ownActions(c *caller) workflow.Registry {
	if s.opts.AuthorizeActions == nil {
		return s.opts.Registry
	}
	err := s.opts.AuthorizeActions(c.Caller)
	if err == nil {
		return s.opts.Registry
	}
	return &gatedRegistry{Registry: s.opts.Registry, refusal: err}
}

// stdNames are the engine's own actions, which any caller may run.
var stdNames = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range workflow.StdActions() {
		m[a.Name()] = true
	}
	return m
}()

// gatedRegistry refuses every action but the std.* ones.
type gatedRegistry struct {
	workflow.Registry
	refusal error
}

func (r *gatedRegistry) Lookup(name string) (workflow.Action, bool) {
	a, ok := r.Registry.Lookup(name)
	if !ok || stdNames[name] {
		return a, ok
	}
	return refusedAction{Action: a, refusal: r.refusal}, true
}

// refusedAction is an action its caller may not run.
type refusedAction struct {
	workflow.Action
	refusal error
}

func (a refusedAction) Run(context.Context, map[string]any) (any, error) {
	return nil, fmt.Errorf("action %s is not run for this caller: %w (fernetflow's own actions run only for a project of serve's --allowed-project with one of its --allowed-role roles; std.* actions run for every project)",
		a.Name(), a.refusal)
}

// AuthorizeKeystone is the action server's rule (actions.KeystoneAuth:
// projects and roles) as Options.AuthorizeActions.
func AuthorizeKeystone(projects, roles []string) func(*actions.Caller) error {
	k := &actions.KeystoneAuth{Projects: projects, Roles: roles}
	return func(c *actions.Caller) error {
		if c == nil {
			return fmt.Errorf("%w: no caller", actions.ErrForbidden)
		}
		return k.Authorize(c)
	}
}
