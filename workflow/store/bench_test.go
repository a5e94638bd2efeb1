package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// benchExecution is a finished three-task execution, about the size the
// Mistral API's load test records.
func benchExecution(i int) *workflow.Execution {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	ex := &workflow.Execution{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), WorkflowName: "load_wf", State: workflow.Success,
		Input: map[string]any{"n": i}, Output: map[string]any{"n": i}, CreatedAt: at, UpdatedAt: at}
	for j, name := range []string{"one", "two", "three"} {
		ex.Tasks = append(ex.Tasks, &workflow.TaskExecution{ID: fmt.Sprintf("%08d-%04d-4000-8000-000000000000", i, j), Name: name,
			State: workflow.Success, Result: i, Published: map[string]any{}, Action: "std.echo", StartedAt: at, FinishedAt: at})
	}
	return ex
}

// benchStore is a store holding n executions.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	s.MaxExecutions = -1
	for i := range n {
		if err := s.Record(context.Background(), benchExecution(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkRecord is one snapshot written to a store of 1,000 executions
// (the engine writes one per task that ends).
func BenchmarkRecord(b *testing.B) {
	s := benchStore(b, 1000)
	ex := benchExecution(5000)
	b.ResetTimer()
	for b.Loop() {
		if err := s.Record(context.Background(), ex); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads one execution of 1,000.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b, 1000)
	id := benchExecution(500).ID
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList1000 reads every execution of 1,000 (what a GET
// /v2/executions costs the API).
func BenchmarkList1000(b *testing.B) {
	s := benchStore(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		l, err := s.List()
		if err != nil || len(l) != 1000 {
			b.Fatal(len(l), err)
		}
	}
}
