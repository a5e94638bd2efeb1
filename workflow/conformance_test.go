package workflow

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// Expected is a conformance case's NAME.json: the input and what real
// Mistral 15 gives (the integration suite checks the same file against it).
type Expected struct {
	Workflow string // the workflow to run; the file's first by default
	Input    map[string]any
	Params   Params // params: {env: {...}, task_name: T}
	State    State
	Output   map[string]any
	Tasks    map[string]State
}

// LoadExpected reads a conformance case's expectation.
func loadExpected(t testing.TB, path string) Expected {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := expr.UnmarshalJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := v.(map[string]any)
	e := Expected{State: State(m["state"].(string)), Tasks: map[string]State{}}
	e.Input, _ = m["input"].(map[string]any)
	e.Workflow, _ = m["workflow"].(string)
	if p, ok := m["params"].(map[string]any); ok {
		e.Params.Env, _ = p["env"].(map[string]any)
		e.Params.TaskName, _ = p["task_name"].(string)
	}
	e.Output, _ = m["output"].(map[string]any)
	for k, s := range m["tasks"].(map[string]any) {
		e.Tasks[k] = State(s.(string))
	}
	return e
}

func TestConformance(t *testing.T) {
	files, _ := filepath.Glob("testdata/conformance/*.yaml")
	if len(files) == 0 {
		t.Fatal("no conformance cases")
	}
	srv := newConformanceServer(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want := loadExpected(t, strings.TrimSuffix(f, ".yaml")+".json")
			substituteURL(want.Input, srv.URL)
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := Load(f, src, StdRegistry())
			if err != nil {
				t.Fatal(err)
			}
			e := &Engine{Registry: StdRegistry(), File: file}
			w := file.Workflows[0]
			if want.Workflow != "" {
				if w = file.Workflow(want.Workflow); w == nil {
					t.Fatalf("no workflow %s", want.Workflow)
				}
			}
			ex, err := e.StartWith(w, want.Input, want.Params)
			if err != nil {
				t.Fatal(err)
			}
			ex = e.Continue(context.Background(), w, ex)
			if ex.State != want.State {
				t.Fatalf("state %s, want %s (%s)", ex.State, want.State, ex.StateInfo)
			}
			out := map[string]any{}
			for k, v := range ex.Output {
				if !(ex.State == Failed && k == "result") {
					out[k] = v
				}
			}
			if want.Output == nil {
				want.Output = map[string]any{}
			}
			if !reflect.DeepEqual(out, want.Output) {
				got, _ := expr.MarshalJSON(out, "")
				w, _ := expr.MarshalJSON(want.Output, "")
				t.Errorf("output %s, want %s", got, w)
			}
			if got := taskStates(ex); !reflect.DeepEqual(got, want.Tasks) {
				t.Errorf("tasks %v, want %v", got, want.Tasks)
			}
		})
	}
}
