//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// expectation is a conformance case's NAME.json.
type expectation struct {
	Workflow string            `json:"workflow"` // default: the case's name
	Input    map[string]any    `json:"input"`
	Params   map[string]any    `json:"params"` // env, task_name
	State    string            `json:"state"`
	Output   map[string]any    `json:"output"`
	Tasks    map[string]string `json:"tasks"`
}

// comparableOutput drops the failure message Mistral (and fernetflow) put
// in an ERROR execution's output: its text names ids and differs.
func comparableOutput(state string, out map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range out {
		if state == "ERROR" && k == "result" {
			continue
		}
		c[k] = v
	}
	return c
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// fernetflowRun runs a workflow file with the embedded engine through the
// CLI and returns its execution.
func fernetflowRun(t *testing.T, file, workflow string, input, params map[string]any) mistralExecution {
	t.Helper()
	in, _ := json.Marshal(input)
	inFile := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(inFile, in, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"workflow", "run", file, "--input-file", inFile, "--no-store", "-f", "json"}
	if workflow != "" {
		args = append(args, "--workflow", workflow)
	}
	if env, ok := params["env"]; ok {
		b, _ := json.Marshal(env)
		envFile := filepath.Join(t.TempDir(), "env.json")
		if err := os.WriteFile(envFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--env", envFile)
	}
	if tn, ok := params["task_name"].(string); ok {
		args = append(args, "--task-name", tn)
	}
	t0 := time.Now()
	cmd := exec.Command(fernetflowBin, args...)
	out, err := cmd.Output()
	wall := time.Since(t0)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("fernetflow workflow run: %v", err)
		}
	}
	var v struct {
		ID        string         `json:"id"`
		State     string         `json:"state"`
		StateInfo *string        `json:"state_info"`
		Output    map[string]any `json:"output"`
		Tasks     []struct{ Name, State string }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("fernetflow workflow run %s: %v\n%s", file, err, out)
	}
	res := mistralExecution{ID: v.ID, State: v.State, Output: v.Output, Tasks: map[string]string{}, Wall: wall}
	if v.StateInfo != nil {
		res.StateInfo = *v.StateInfo
	}
	for _, tk := range v.Tasks {
		res.Tasks[tk.Name] = tk.State
	}
	return res
}

// TestMistralConformance runs every workflow of workflow/testdata/conformance
// on real Mistral 15 and on fernetflow's engine: both must give the final
// state, output and task states written in the case's NAME.json. Then it
// times the benchmark workflows on both.
func TestMistralConformance(t *testing.T) {
	m := startMistral(t)
	srv := conformanceServer(t)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "workflow/testdata/conformance/*.yaml"))
	if len(files) == 0 {
		t.Fatal("no conformance cases")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var want expectation
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if want.Input == nil {
				want.Input = map[string]any{}
			}
			for k, v := range want.Input {
				if v == "@HTTP_URL@" { // the test's HTTP server, for std.http
					want.Input[k] = srv.URL
				}
			}
			wf := name
			if want.Workflow != "" {
				wf = want.Workflow // a workbook's workflow: WORKBOOK.NAME
			}
			m.putWorkflows(t, def, want.Workflow != "")
			got := map[string]mistralExecution{
				"mistral":    m.executeWith(t, wf, want.Input, want.Params, 60*time.Second),
				"fernetflow": fernetflowRun(t, f, wf, want.Input, want.Params),
			}
			for who, ex := range got {
				if ex.State != want.State {
					t.Errorf("%s: state %s, want %s (%s)", who, ex.State, want.State, ex.StateInfo)
				}
				if out := comparableOutput(ex.State, ex.Output); !jsonEqual(out, want.Output) {
					g, _ := json.Marshal(out)
					w, _ := json.Marshal(want.Output)
					t.Errorf("%s: output %s, want %s", who, g, w)
				}
				if !reflect.DeepEqual(ex.Tasks, want.Tasks) {
					t.Errorf("%s: tasks %v, want %v", who, ex.Tasks, want.Tasks)
				}
			}
		})
	}

	t.Run("timings", func(t *testing.T) { mistralTimings(t, m) })
}

// conformanceServer is what conformance/http_calls.yaml calls, as in
// workflow/conformance_http_test.go: GET /ok, POST /echo, /fail (500).
func conformanceServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": ["0", "1"], "primary": "1"}`))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body any
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"body": body, "query": r.URL.RawQuery, "method": r.Method})
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"error": "nope"}`))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func chainDefinition(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nbench_chain:\n  tasks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    t%d:\n      action: std.noop\n", i)
		if i+1 < n {
			fmt.Fprintf(&b, "      on-success: t%d\n", i+1)
		}
	}
	return b.String()
}

const itemsDefinition = `version: '2.0'
bench_items:
  input:
    - items
  output:
    n: <% len($.r) %>
  tasks:
    each:
      with-items: i in <% $.items %>
      concurrency: 50
      action: std.echo output=<% $.i %>
      publish:
        r: <% task().result %>
`

// mistralTimings times BENCHMARKS.md's workflows (a chain of 100 std.noop;
// with-items at concurrency 50) on Mistral and on fernetflow workflow run
// (whole process). CI uses 100 items to stay fast; FERNETFLOW_MISTRAL_ITEMS
// sets another size (1,000 items took 5m21s on Mistral here; 10,000 would
// take about an hour).
func mistralTimings(t *testing.T, m *mistralServer) {
	dir := t.TempDir()
	chain := filepath.Join(dir, "chain.yaml")
	items := filepath.Join(dir, "items.yaml")
	_ = os.WriteFile(chain, []byte(chainDefinition(100)), 0o644)
	_ = os.WriteFile(items, []byte(itemsDefinition), 0o644)
	m.putWorkflows(t, []byte(chainDefinition(100)))
	m.putWorkflows(t, []byte(itemsDefinition))
	n := 100
	if s := os.Getenv("FERNETFLOW_MISTRAL_ITEMS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("FERNETFLOW_MISTRAL_ITEMS=%q", s)
		}
		n = v
	}
	list := make([]any, n)
	for i := range list {
		list[i] = i
	}
	in := map[string]any{"items": list}

	mc := m.execute(t, "bench_chain", map[string]any{}, 5*time.Minute)
	fc := fernetflowRun(t, chain, "", map[string]any{}, nil)
	mi := m.execute(t, "bench_items", in, 30*time.Minute)
	fi := fernetflowRun(t, items, "", in, nil)
	for _, ex := range []mistralExecution{mc, fc, mi, fi} {
		if ex.State != "SUCCESS" {
			t.Fatalf("benchmark execution %s: %s %s", ex.ID, ex.State, ex.StateInfo)
		}
	}
	if !jsonEqual(mi.Output, fi.Output) {
		t.Errorf("with-items outputs differ: Mistral %v, fernetflow %v", mi.Output, fi.Output)
	}
	t.Logf("chain of 100 std.noop: Mistral %s (%.1f ms/task), fernetflow workflow run %s (whole process)",
		mc.Wall.Round(10*time.Millisecond), float64(mc.Wall.Milliseconds())/100, fc.Wall.Round(time.Millisecond))
	t.Logf("with-items %d std.echo, concurrency 50: Mistral %s, fernetflow workflow run %s (whole process)",
		n, mi.Wall.Round(10*time.Millisecond), fi.Wall.Round(time.Millisecond))
}
