//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recording is what the recorder writes to NAME.json, in the order of the
// existing cases: the request (workflow, input, params) as given, then
// Mistral's result.
type recording struct {
	Workflow string            `json:"workflow,omitempty"`
	Input    map[string]any    `json:"input"`
	Params   map[string]any    `json:"params,omitempty"`
	State    string            `json:"state"`
	Output   map[string]any    `json:"output"`
	Tasks    map[string]string `json:"tasks"`
}

// TestMistralConformanceRecord writes conformance expectations from real
// Mistral 15, never by hand. It runs only with FERNETFLOW_CONFORMANCE_RECORD
// set: to 1 it records every case of workflow/testdata/conformance (or of
// FERNETFLOW_CONFORMANCE_DIR) whose NAME.json is missing or has no "state"
// yet (a stub such as {"input": {"x": 1}, "params": {"task_name": "c"}}
// gives the request); to "all" it records every case again. Review the
// diff, then run TestMistralConformance, which checks both engines.
//
//	FERNETFLOW_CONFORMANCE_RECORD=1 go test -tags integration -count=1 \
//	    -run TestMistralConformanceRecord -v ./test/integration/
func TestMistralConformanceRecord(t *testing.T) {
	mode := os.Getenv("FERNETFLOW_CONFORMANCE_RECORD")
	if mode == "" {
		t.Skip("FERNETFLOW_CONFORMANCE_RECORD is not set: nothing to record")
	}
	dir := os.Getenv("FERNETFLOW_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, "workflow/testdata/conformance")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	type todo struct {
		name, yaml, json string
		req              recording
	}
	var cases []todo
	for _, f := range files {
		c := todo{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), yaml: f, json: strings.TrimSuffix(f, ".yaml") + ".json"}
		raw, err := os.ReadFile(c.json)
		switch {
		case os.IsNotExist(err):
		case err != nil:
			t.Fatal(err)
		default:
			var probe map[string]any
			if err := json.Unmarshal(raw, &probe); err != nil {
				t.Fatalf("%s: %v", c.json, err)
			}
			if _, done := probe["state"]; done && mode != "all" {
				continue
			}
			if err := json.Unmarshal(raw, &c.req); err != nil {
				t.Fatalf("%s: %v", c.json, err)
			}
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Skip("every case already has its expectation")
	}
	m := startMistral(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def, err := os.ReadFile(c.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if c.req.Input == nil {
				c.req.Input = map[string]any{}
			}
			wf := c.name
			if c.req.Workflow != "" {
				wf = c.req.Workflow
			}
			m.putWorkflows(t, def, c.req.Workflow != "")
			ex := m.executeWith(t, wf, c.req.Input, c.req.Params, 60*time.Second)
			rec := c.req
			rec.State = ex.State
			rec.Output = comparableOutput(ex.State, ex.Output)
			rec.Tasks = ex.Tasks
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.json, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s %s %s", c.name, ex.State, b, ex.StateInfo)
		})
	}
}
