// Package actions holds every Go action fernetflow's workflows call
// (keys.*, fleet.*, node.*, heat.*) and the registry the workflow engine
// receives. Each action has a name, a description, JSON Schemas for its
// input and output (schemas/NAME.input.json and NAME.output.json, embedded),
// a Secret flag for its output, and Run; see workflow.Action for the
// contract every action here keeps.
//
// The engine never imports this package: cmd/fernetflow builds a Registry
// with New and hands it to the engine, and `fernetflow serve` exposes the
// same actions over HTTP for real Mistral.
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

// Schema returns an embedded schema, such as Schema("keys.rotate.input").
// A missing schema is a programming error caught by the package's tests.
func Schema(name string) json.RawMessage {
	b, err := schemaFS.ReadFile("schemas/" + name + ".json")
	if err != nil {
		panic(fmt.Sprintf("actions: no embedded schema %s: %v", name, err))
	}
	return b
}

// NewRegistry builds a registry of acts; two actions with one name are an
// error (workflow.MapRegistry would keep the last silently).
func NewRegistry(acts ...workflow.Action) (*workflow.MapRegistry, error) {
	seen := make(map[string]bool, len(acts))
	for _, a := range acts {
		if seen[a.Name()] {
			return nil, fmt.Errorf("actions: two actions are called %s", a.Name())
		}
		seen[a.Name()] = true
	}
	return workflow.NewRegistry(acts...), nil
}

// Func is an action made of a function and its schemas.
type Func = workflow.FuncAction

// Typed makes an action whose input and output are Go structs: the input
// map is decoded into In through its JSON form (json tags name the fields),
// and the output is returned in the JSON-like model through its JSON form.
func Typed[In, Out any](name, desc string, secret bool, run func(ctx context.Context, in In) (Out, error)) *Func {
	return &Func{
		ActionName: name, Desc: desc, IsSecret: secret,
		In: string(Schema(name + ".input")), Out: string(Schema(name + ".output")),
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
