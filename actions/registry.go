package actions

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
)

//go:embed schemas
var schemaFS embed.FS

// schema returns an embedded schema, such as schema("keys.rotate.input").
// A missing schema is a programming error caught by the package's tests.
func schema(name string) json.RawMessage {
	b, err := schemaFS.ReadFile("schemas/" + name + ".json")
	if err != nil {
		panic(fmt.Sprintf("actions: no embedded schema %s: %v", name, err))
	}
	return b
}

// newRegistry builds a registry of acts; two actions with one name are an
// error (workflow.MapRegistry would keep the last silently).
func newRegistry(acts ...workflow.Action) (*workflow.MapRegistry, error) {
	seen := make(map[string]bool, len(acts))
	for _, a := range acts {
		if seen[a.Name()] {
			return nil, fmt.Errorf("actions: two actions are called %s", a.Name())
		}
		seen[a.Name()] = true
	}
	return workflow.NewRegistry(acts...), nil
}

// funcAction is an action made of a function and its schemas.
type funcAction = workflow.FuncAction

// typed makes an action whose input and output are Go structs: the input
// map is decoded into In through its JSON form (json tags name the fields),
// and the output is returned in the JSON-like model through its JSON form.
func typed[In, Out any](name, desc string, secret bool, run func(ctx context.Context, in In) (Out, error)) *funcAction {
	return &funcAction{
		ActionName: name, Desc: desc, IsSecret: secret,
		In: string(schema(name + ".input")), Out: string(schema(name + ".output")),
		Fn: func(ctx context.Context, input map[string]any) (any, error) {
			var in In
			if err := convert(input, &in); err != nil {
				return nil, fmt.Errorf("%s: input: %w", name, err)
			}
			out, err := run(ctx, in)
			if err != nil {
				return nil, err
			}
			var generic any
			if err := convert(out, &generic); err != nil {
				return nil, fmt.Errorf("%s: output: %w", name, err)
			}
			return generic, nil
		},
	}
}

// convert copies from into to through JSON, keeping integers as int64.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	if p, ok := to.(*any); ok {
		v, err := expr.UnmarshalJSON(b)
		*p = v
		return err
	}
	return json.Unmarshal(b, to)
}
