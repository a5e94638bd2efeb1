package mistralapi

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/fernetflow/fernetflow/workflow"
)

// withAPIActions is reg with the actions Mistral's API has that reg lacks:
// std.async_noop. Actions of reg win, so an engine that implements them
// itself is used as is.
func withAPIActions(reg workflow.Registry) workflow.Registry {
	return apiRegistry{reg}
}

type apiRegistry struct{ workflow.Registry }

func (r apiRegistry) Lookup(name string) (workflow.Action, bool) {
	if a, ok := r.Registry.Lookup(name); ok {
		return a, true
	}
	if name == asyncNoopName {
		return asyncNoop{}, true
	}
	return nil, false
}

func (r apiRegistry) Names() []string {
	names := r.Registry.Names()
	if !slices.Contains(names, asyncNoopName) {
		names = append(slices.Clone(names), asyncNoopName)
		slices.Sort(names)
	}
	return names
}

const asyncNoopName = "std.async_noop"

// asyncNoop is Mistral's std.async_noop: an asynchronous action that does
// nothing, so that its task waits for a result someone sends through the
// API. This server has no endpoint to send one yet (PUT
// /v2/action_executions/{id}): the task runs until its timeout: or until
// the execution is stopped, and then fails.
type asyncNoop struct{}

func (asyncNoop) Name() string { return asyncNoopName }
func (asyncNoop) Description() string {
	return "Mistral's asynchronous no-op: waits for a result sent through the API (none can be sent yet: it ends with its task's timeout or the execution)"
}
func (asyncNoop) InputSchema() json.RawMessage  { return json.RawMessage(`{"type": "object"}`) }
func (asyncNoop) OutputSchema() json.RawMessage { return json.RawMessage(`{}`) }
func (asyncNoop) Secret() bool                  { return false }

func (asyncNoop) Run(ctx context.Context, _ map[string]any) (any, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
