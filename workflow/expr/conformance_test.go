package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// conformanceTable is testdata/conformance.json: cases whose expected
// values Mistral's own evaluator produced (see testdata/mistral_eval.py).
type conformanceTable struct {
	Contexts  map[string]json.RawMessage `json:"contexts"`
	Workflows map[string]workflowFixture `json:"workflows"`
	Cases     []conformanceCase          `json:"cases"`
}

type conformanceCase struct {
	Name     string          `json:"name"`
	Expr     *string         `json:"expr"`
	Template *string         `json:"template"`
	Context  string          `json:"context"`
	Data     json.RawMessage `json:"data"`
	Workflow string          `json:"workflow"`
	Want     json.RawMessage `json:"want"`
	Error    *string         `json:"error"`
	// GoDiffers names why the Go evaluator does not match Mistral on this
	// case; the case is still checked against Mistral in CI.
	GoDiffers string `json:"go_differs"`
}

type workflowFixture struct {
	Current   string                     `json:"current"`
	Env       json.RawMessage            `json:"env"`
	Execution json.RawMessage            `json:"execution"`
	Tasks     map[string]json.RawMessage `json:"tasks"`
	Context   map[string]json.RawMessage `json:"context"`
}

// loadConformance reads testdata/conformance.json, or the table named by
// FERNETFLOW_CONFORMANCE_TABLE: a table of new cases filled by
// mistral_eval.py fill (for instance from a fuzz corpus) can be checked
// with go test -run TestConformance before its cases join the table.
func loadConformance(t testing.TB) conformanceTable {
	t.Helper()
	path := "testdata/conformance.json"
	if p := os.Getenv("FERNETFLOW_CONFORMANCE_TABLE"); p != "" {
		path = p
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tab conformanceTable
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tab
}

func mustJSON(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	v, err := UnmarshalJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// fixtureFuncs supplies task(), execution() and env() from a fixture, as
// the engine does from its store.
func fixtureFuncs(t testing.TB, wf *workflowFixture) Funcs {
	if wf == nil {
		return Funcs{}
	}
	return Funcs{
		Task: func(_ context.Context, name string) (any, error) {
			if name == "" {
				name = wf.Current
			}
			raw, ok := wf.Tasks[name]
			if !ok {
				return nil, nil
			}
			return mustJSON(t, raw), nil
		},
		Execution: func(context.Context) (any, error) { return mustJSON(t, wf.Execution), nil },
		Env:       func(context.Context) (any, error) { return mustJSON(t, wf.Env), nil },
		// What mistral_eval.py adds to the data of a case with a
		// workflow, as Mistral's context view does.
		Internal: func(context.Context) (map[string]any, error) {
			var cur any
			if wf.Current != "" {
				cur = map[string]any{"id": wf.Current, "name": wf.Current}
			}
			return map[string]any{"__env": mustJSON(t, wf.Env), "__execution": map[string]any{"id": "wf-exec-1"}, "__task_execution": cur}, nil
		},
		Global: func(_ context.Context, name string) (any, error) {
			return mustJSON(t, wf.Context[name]), nil
		},
		// The fixture's tasks by name, as mistral_eval.py lists them (the
		// table keeps them in name order).
		Tasks: func(_ context.Context, q TasksQuery) ([]any, error) {
			out := []any{}
			for _, name := range sortedKeys(anyKeys(wf.Tasks)) {
				te := mustJSON(t, wf.Tasks[name]).(map[string]any)
				if q.State != "" && te["state"] != q.State {
					continue
				}
				if q.WorkflowExecutionID != "" && te["workflow_execution_id"] != q.WorkflowExecutionID {
					continue
				}
				out = append(out, te)
			}
			return out, nil
		},
	}
}

func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := MarshalJSON(v, "")
	if err != nil {
		t.Fatalf("result %#v: %v", v, err)
	}
	return string(b)
}

func TestConformance(t *testing.T) {
	tab := loadConformance(t)
	if len(tab.Cases) < 150 {
		t.Errorf("the table has %d cases, want at least 150", len(tab.Cases))
	}
	seen := map[string]bool{}
	for _, c := range tab.Cases {
		if seen[c.Name] {
			t.Errorf("case %q appears twice", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			msg := checkCase(t, tab, c)
			switch {
			case c.GoDiffers != "" && msg == "":
				t.Errorf("agrees with Mistral now: drop its go_differs (%s)", c.GoDiffers)
			case c.GoDiffers != "":
				t.Skip("differs from Mistral: " + c.GoDiffers)
			case msg != "":
				t.Error(msg)
			}
		})
	}
}

// checkCase evaluates case c and says how its answer differs from
// Mistral's recorded one, or "" when it agrees.
func checkCase(t *testing.T, tab conformanceTable, c conformanceCase) string {
	t.Helper()
	data := mustJSON(t, c.Data)
	if c.Context != "" {
		raw, ok := tab.Contexts[c.Context]
		if !ok {
			t.Fatalf("context %q is not in the table", c.Context)
		}
		data = mustJSON(t, raw)
	}
	var funcs Funcs
	if c.Workflow != "" {
		wf, ok := tab.Workflows[c.Workflow]
		if !ok {
			t.Fatalf("workflow %q is not in the table", c.Workflow)
		}
		funcs = fixtureFuncs(t, &wf)
	}
	var got any
	var err error
	src := ""
	if c.Template != nil {
		src = *c.Template
		got, err = EvalString(context.Background(), src, data, funcs)
	} else {
		src = *c.Expr
		// As mistral_eval.py: <% %> around it, through the template
		// (a {{ in the text makes Mistral take it for Jinja).
		got, err = EvalString(context.Background(), "<% "+src+" %>", data, funcs)
	}
	if c.Error != nil {
		switch {
		case err == nil:
			return fmt.Sprintf("%s = %s, want an error (Mistral fails)", src, canonical(t, got))
		case !strings.Contains(err.Error(), *c.Error):
			return fmt.Sprintf("%s: error %q, want it to contain %q", src, err, *c.Error)
		case !strings.HasPrefix(err.Error(), "expr: "):
			return fmt.Sprintf("%s: error %q does not start with \"expr: \"", src, err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("%s: %v, want %s", src, err, c.Want)
	}
	want := canonical(t, mustJSON(t, c.Want))
	if g := canonical(t, got); g != want {
		return fmt.Sprintf("%s = %s, want %s", src, g, want)
	}
	return ""
}

func anyKeys[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}
