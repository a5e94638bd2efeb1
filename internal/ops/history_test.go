package ops

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func execution(id string, wf rotation.Workflow, state workflow.State, at time.Time, tasks ...*workflow.TaskExecution) *workflow.Execution {
	return &workflow.Execution{ID: id, WorkflowName: string(wf), State: state, CreatedAt: at, UpdatedAt: at.Add(2 * time.Second), Tasks: tasks}
}

// TestRecordRunAndHistory: run records add to the counters once per
// execution; executions no process recorded are rebuilt from the store
// (a prune-guard refusal recognised from its text); Last picks the newest
// run and the newest success; old records are pruned, the counters stay.
func TestRecordRunAndHistory(t *testing.T) {
	st := openStore(t)
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	rotated := rotation.RunRecord{Execution: "e1", Workflow: rotation.Rotate, Outcome: rotation.Rotated, Started: t0, Finished: t0.Add(time.Minute),
		Deliveries: map[string]int{rotation.DeliveryInstalled: 3}, Source: rotation.SourceRun}
	refused := rotation.RunRecord{Execution: "e2", Workflow: rotation.Rotate, Outcome: rotation.Refused, Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + time.Second),
		Reasons: []string{rotation.ReasonDrifted, rotation.ReasonUnreachable}, Source: rotation.SourceRun}
	for _, r := range []rotation.RunRecord{rotated, refused, refused} { // the second refused is the same execution
		if err := RecordRun(st, r); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // rotated's deliveries, as they happened
		if err := CountDelivery(st, rotation.DeliveryInstalled); err != nil {
			t.Fatal(err)
		}
	}
	// A guard refusal that only the store's execution history knows of.
	guard := execution("e3", rotation.Rotate, workflow.Failed, t0.Add(2*time.Hour), &workflow.TaskExecution{
		Name: "preflight", Action: "keys.rotate", State: workflow.Failed, StartedAt: t0.Add(2 * time.Hour), FinishedAt: t0.Add(2*time.Hour + 5*time.Second),
		StateInfo: keys.ErrUnsafePrune.Error() + ": key 1 stopped being primary at ...",
	})
	running := execution("e4", rotation.Rotate, workflow.Running, t0.Add(3*time.Hour))
	other := execution("e5", "my_workflow", workflow.Success, t0.Add(4*time.Hour))
	for _, ex := range []*workflow.Execution{guard, running, other} {
		if err := st.Record(t.Context(), ex); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ReadHistory(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Runs) != 3 || h.Runs[0].Execution != "e3" || h.Runs[0].Source != rotation.SourceHistory {
		t.Fatalf("runs %+v", h.Runs)
	}
	if h.Runs[0].Outcome != rotation.Refused || len(h.Runs[0].Reasons) != 1 || h.Runs[0].Reasons[0] != rotation.ReasonPruneGuard || h.Runs[0].Duration() != 5*time.Second {
		t.Fatalf("the guard refusal from history: %+v", h.Runs[0])
	}
	if len(h.Running) != 1 || h.Running[0] != "e4" || h.Executions["RUNNING"] != 1 || h.Executions["SUCCESS"] != 1 || h.Executions["ERROR"] != 1 {
		t.Fatalf("running %v, executions %v", h.Running, h.Executions)
	}
	last, ok := h.Last(rotation.Rotate)
	if last.Execution != "e3" || ok == nil || ok.Execution != "e1" {
		t.Fatalf("last %+v, success %+v", last, ok)
	}
	tot := h.Totals
	if tot.Deliveries[rotation.DeliveryInstalled] != 3 || tot.Refused[rotation.ReasonDrifted] != 1 || tot.Refused[rotation.ReasonUnreachable] != 1 ||
		tot.Runs[string(rotation.Rotate)][string(rotation.Refused)] != 1 || tot.Runs[string(rotation.Rotate)][string(rotation.Rotated)] != 1 {
		t.Fatalf("totals %+v", tot)
	}
	// Pruning keeps the newest records and every counter.
	if err := pruneRuns(st, 1); err != nil {
		t.Fatal(err)
	}
	recs, _ := st.Records(runsCollection)
	if len(recs) != 1 || recs[0].ID != "e2" {
		t.Fatalf("after pruning: %v", recs)
	}
	if tot2, _ := ReadTotals(st); tot2.Deliveries[rotation.DeliveryInstalled] != 3 {
		t.Fatalf("pruning changed the counters: %+v", tot2)
	}
}

// TestRecordRunConcurrent: runs and deliveries recorded at once, through one store and
// through a second handle on the same file (another process), each count
// once: the totals' read-modify-write loses no update.
func TestRecordRunConcurrent(t *testing.T) {
	st := openStore(t)
	other, err := store.Open(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		s := st
		if i%2 == 1 {
			s = other
		}
		go func() {
			r := rotation.RunRecord{Execution: fmt.Sprintf("e%02d", i), Workflow: rotation.Rotate, Outcome: rotation.Rotated,
				Started: t0.Add(time.Duration(i) * time.Minute), Finished: t0.Add(time.Duration(i)*time.Minute + time.Second),
				Deliveries: map[string]int{rotation.DeliveryInstalled: 3}, Source: rotation.SourceRun}
			err := CountDelivery(s, rotation.DeliveryInstalled)
			errs <- errors.Join(err, RecordRun(s, r))
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	tot, err := ReadTotals(st)
	if err != nil {
		t.Fatal(err)
	}
	if got := tot.Runs[string(rotation.Rotate)][string(rotation.Rotated)]; got != n || tot.Deliveries[rotation.DeliveryInstalled] != n {
		t.Fatalf("after %d runs recorded at once: %d runs, %d deliveries counted", n, got, tot.Deliveries[rotation.DeliveryInstalled])
	}
}
