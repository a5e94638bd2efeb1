package workflow

import (
	"context"
	"encoding/json"
)

// Action is one operation a workflow task runs, such as keys.rotate or
// std.echo. The engine never imports package actions: it receives a
// Registry and calls Run through this interface.
//
// Contract:
//   - Name is unique in a registry and stable: workflow files refer to it.
//   - InputSchema and OutputSchema are JSON Schema documents (draft
//     2020-12) describing the input object and the output value. The engine
//     checks input against InputSchema before Run, and output against
//     OutputSchema after it; a mismatch fails the task.
//   - Run receives the task's evaluated input as JSON-like values (nil,
//     bool, int64, float64, string, []any, map[string]any; see
//     workflow/expr) and returns its output in the same model. It honours
//     ctx: cancellation and deadlines (a task timeout) end it.
//   - An error from Run fails the task (state ERROR); its text becomes the
//     task's state_info, so it must name what failed and never hold secret
//     material.
//   - When Secret reports true, the output holds secrets: the engine
//     redacts it before it is persisted, logged or shown, and only passes it
//     on in memory to expressions of the same execution.
type Action interface {
	Name() string
	Description() string
	InputSchema() json.RawMessage
	OutputSchema() json.RawMessage
	Secret() bool
	Run(ctx context.Context, input map[string]any) (any, error)
}

// Registry is the set of actions an engine can run.
type Registry interface {
	// Lookup returns the action called name, or false.
	Lookup(name string) (Action, bool)
	// Names lists every action, sorted.
	Names() []string
}
