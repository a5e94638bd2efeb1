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
	"maps"
	"slices"

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

// Registry is a fixed set of actions. It implements workflow.Registry and
// is safe for concurrent use (it never changes after NewRegistry).
type Registry struct {
	byName map[string]workflow.Action
}

var _ workflow.Registry = (*Registry)(nil)

// NewRegistry builds a registry; two actions with one name are an error.
func NewRegistry(acts ...workflow.Action) (*Registry, error) {
	r := &Registry{byName: make(map[string]workflow.Action, len(acts))}
	for _, a := range acts {
		if _, dup := r.byName[a.Name()]; dup {
			return nil, fmt.Errorf("actions: two actions are called %s", a.Name())
		}
		r.byName[a.Name()] = a
	}
	return r, nil
}

// Lookup implements workflow.Registry.
func (r *Registry) Lookup(name string) (workflow.Action, bool) {
	a, ok := r.byName[name]
	return a, ok
}

// Names implements workflow.Registry.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.byName))
}

// Func is an Action made of its parts, so that each action is one value
// rather than a type with six methods.
type Func struct {
	ActionName string
	Desc       string
	In, Out    json.RawMessage
	SecretOut  bool
	Fn         func(ctx context.Context, input map[string]any) (any, error)
}

var _ workflow.Action = (*Func)(nil)

func (f *Func) Name() string                  { return f.ActionName }
func (f *Func) Description() string           { return f.Desc }
func (f *Func) InputSchema() json.RawMessage  { return f.In }
func (f *Func) OutputSchema() json.RawMessage { return f.Out }
func (f *Func) Secret() bool                  { return f.SecretOut }

// Run implements workflow.Action.
func (f *Func) Run(ctx context.Context, input map[string]any) (any, error) {
	return f.Fn(ctx, input)
}

// Typed makes an action whose input and output are Go structs: the input
// map is decoded into In through its JSON form (json tags name the fields),
// and the output is returned in the JSON-like model through its JSON form.
func Typed[In, Out any](name, desc string, secret bool, run func(ctx context.Context, in In) (Out, error)) *Func {
	return &Func{
		ActionName: name, Desc: desc, SecretOut: secret,
		In: Schema(name + ".input"), Out: Schema(name + ".output"),
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
