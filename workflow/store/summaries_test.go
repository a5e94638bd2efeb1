package store

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// TestSummaries: every execution by id, with the fields List gives.
func TestSummaries(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	for i, s := range []workflow.State{workflow.Success, workflow.Failed, workflow.Running} {
		ex := &workflow.Execution{ID: string(rune('c' - i)), WorkflowName: "wf" + string(rune('0'+i)), State: s, CreatedAt: t0.Add(time.Duration(i) * time.Hour),
			Input: map[string]any{"x": 1}, Tasks: []*workflow.TaskExecution{{Name: "t", State: s}}}
		if err := st.Record(t.Context(), ex); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := st.Summaries()
	if err != nil || len(sums) != 3 {
		t.Fatalf("%v: %v", sums, err)
	}
	want := []Summary{{"a", "wf2", workflow.Running}, {"b", "wf1", workflow.Failed}, {"c", "wf0", workflow.Success}}
	for i := range want {
		if sums[i] != want[i] {
			t.Fatalf("summaries %+v, want %+v", sums, want)
		}
	}
}

// TestSummarize: a record in another field order, or with escapes, reads
// the same; a record that is not JSON is an error.
func TestSummarize(t *testing.T) {
	want := Summary{"id-1", "wf", workflow.Success}
	for _, rec := range []string{
		`{"id":"id-1","workflow_name":"wf","state":"SUCCESS","tasks":[]}`,
		`{"tasks":[{"id":"x"}],"state":"SUCCESS","id":"id-1","workflow_name":"wf"}`,
		`{"id":"id\u002d1","workflow_name":"wf","state":"SUCCESS"}`,
		`{"id":"id-1","state_info":"x","workflow_name":"wf","state":"SUCCESS"}`,
	} {
		got, err := summarize([]byte(rec))
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", rec, got, err)
		}
	}
	if _, err := summarize([]byte(`{"id":`)); err == nil {
		t.Error("a truncated record was read")
	}
}

// FuzzSummarize: any bytes are read or refused without a panic; a record
// as Record writes it reads as its execution's id, workflow and state.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte(`{"id":"a","workflow_name":"w","state":"SUCCESS"}`), "id", "wf", "SUCCESS")
	f.Add([]byte(`{"state":1}`), "\u2028", "\"", "")
	f.Fuzz(func(t *testing.T, raw []byte, id, wf, state string) {
		_, _ = summarize(raw)
		ex := &workflow.Execution{ID: id, WorkflowName: wf, State: workflow.State(state), StateInfo: state, Input: map[string]any{"id": wf}}
		b, err := json.Marshal(ex)
		if err != nil {
			return
		}
		got, err := summarize(b)
		var want Summary
		if jerr := json.Unmarshal(b, &want); jerr != nil {
			t.Fatal(jerr)
		}
		if err != nil || got != want {
			t.Fatalf("%s: %+v %v, want %+v", b, got, err, want)
		}
	})
}
