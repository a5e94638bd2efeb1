package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// The store collections of this package (see store.Collection): the run
// records and the cumulative counters.
const (
	runsCollection   store.Collection = "fernetflow/runs"
	totalsCollection store.Collection = "fernetflow/totals"
	totalsID                          = "totals"
)

// MaxRuns bounds the run records kept: recording one more drops the
// oldest. The counters (Totals) are cumulative and never dropped.
const MaxRuns = 500

// Totals are counters over every run recorded in a store, since it was
// made: they only grow (Prometheus counters).
type Totals struct {
	// Deliveries by rotation.DeliveryResult, counted as they happen
	// (CountDelivery), whoever runs the workflow.
	Deliveries map[string]uint64 `json:"deliveries"`
	// Refused runs by reason (rotation.RefusalReasons): a run refused for
	// two reasons counts once under each.
	Refused map[string]uint64 `json:"refused"`
	// Runs by workflow, then outcome.
	Runs map[string]map[string]uint64 `json:"runs"`
}

func newTotals() *Totals {
	return &Totals{Deliveries: map[string]uint64{}, Refused: map[string]uint64{}, Runs: map[string]map[string]uint64{}}
}

// RecordRun keeps rec in the store and counts it in the totals (runs by
// outcome, refusals by reason; its deliveries were counted as they
// happened: CountDelivery), once per execution (recording an execution
// again changes nothing). The check, the record and the totals are one
// store transaction: runs recorded at once (the Mistral API's
// executions, a rotate beside serve) lose no count.
func RecordRun(st *store.Store, rec rotation.RunRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = st.UpdateRecords(func(get func(store.Collection, string) []byte) (map[store.Collection]map[string][]byte, error) {
		if get(runsCollection, rec.Execution) != nil {
			return nil, nil
		}
		t, err := decodeTotals(get(totalsCollection, totalsID), st)
		if err != nil {
			return nil, err
		}
		for _, r := range rec.Reasons {
			t.Refused[r]++
		}
		if t.Runs[string(rec.Workflow)] == nil {
			t.Runs[string(rec.Workflow)] = map[string]uint64{}
		}
		t.Runs[string(rec.Workflow)][string(rec.Outcome)]++
		tb, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return map[store.Collection]map[string][]byte{
			runsCollection:   {rec.Execution: b},
			totalsCollection: {totalsID: tb},
		}, nil
	})
	if err != nil {
		return fmt.Errorf("record run %s: %w", rec.Execution, err)
	}
	return pruneRuns(st, MaxRuns)
}

// pruneRuns drops the oldest run records beyond keep.
func pruneRuns(st *store.Store, keep int) error {
	recs, err := st.Records(runsCollection)
	if err != nil || len(recs) <= keep {
		return err
	}
	runs := decodeRuns(recs)
	for _, r := range runs[keep:] {
		if err := st.DeleteRecord(runsCollection, r.Execution); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// CountDelivery counts one delivery to a node by its result
// (rotation.DeliveryResult) in the totals: every delivery, made by rotate,
// by serve's cron triggers or Mistral API, or through the action server
// for an OpenStack Mistral.
func CountDelivery(st *store.Store, result string) error {
	err := st.UpdateRecords(func(get func(store.Collection, string) []byte) (map[store.Collection]map[string][]byte, error) {
		t, err := decodeTotals(get(totalsCollection, totalsID), st)
		if err != nil {
			return nil, err
		}
		t.Deliveries[result]++
		tb, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return map[store.Collection]map[string][]byte{totalsCollection: {totalsID: tb}}, nil
	})
	if err != nil {
		return fmt.Errorf("count a delivery: %w", err)
	}
	return nil
}

// ReadTotals reads the counters (all zero in a store no run was recorded in).
func ReadTotals(st *store.Store) (*Totals, error) {
	b, err := st.GetRecord(totalsCollection, totalsID)
	if errors.Is(err, store.ErrNotFound) {
		b, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeTotals(b, st)
}

// decodeTotals decodes the counters record b of st (nil: none yet).
func decodeTotals(b []byte, st *store.Store) (*Totals, error) {
	t := newTotals()
	if b == nil {
		return t, nil
	}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("store %s: the run counters are not valid JSON (%v)", st.Path(), err)
	}
	if t.Deliveries == nil {
		t.Deliveries = map[string]uint64{}
	}
	if t.Refused == nil {
		t.Refused = map[string]uint64{}
	}
	if t.Runs == nil {
		t.Runs = map[string]map[string]uint64{}
	}
	return t, nil
}

// decodeRuns decodes run records, newest first; a record that does not
// decode is skipped.
func decodeRuns(recs []store.Record) []rotation.RunRecord {
	var out []rotation.RunRecord
	for _, r := range recs {
		var rec rotation.RunRecord
		if json.Unmarshal(r.Data, &rec) == nil && rec.Execution != "" {
			out = append(out, rec)
		}
	}
	sortRuns(out)
	return out
}

func sortRuns(l []rotation.RunRecord) {
	slices.SortStableFunc(l, func(a, b rotation.RunRecord) int {
		if c := b.Finished.Compare(a.Finished); c != 0 {
			return c
		}
		return b.Started.Compare(a.Started)
	})
}

// History is what a store says of past runs: the run records, completed
// by the finished executions of fernetflow's workflows that no process
// recorded (rotation.RecordFromExecution), newest first; and the
// executions by state.
type History struct {
	Runs []rotation.RunRecord
	// Running are the executions of fernetflow's workflows not finished
	// (a run in progress, or one a crash interrupted).
	Running []string
	// Executions counts every execution the store keeps, by state.
	Executions map[string]int
	Totals     *Totals
	// RotateInput is the input of the newest rotate_fernet_keys
	// execution (nil when none): the key rules it ran with.
	RotateInput map[string]any
}

// ReadHistory reads st.
func ReadHistory(st *store.Store) (*History, error) {
	recs, err := st.Records(runsCollection)
	if err != nil {
		return nil, err
	}
	h := &History{Runs: decodeRuns(recs), Executions: map[string]int{}}
	known := map[string]bool{}
	for _, r := range h.Runs {
		known[r.Execution] = true
	}
	// Summaries, not List: only the executions status needs whole are
	// read whole (a store keeps up to a thousand).
	sums, err := st.Summaries()
	if err != nil {
		return nil, err
	}
	for _, sum := range sums {
		h.Executions[string(sum.State)]++
		if !rotation.Own(sum.WorkflowName) {
			continue
		}
		if !sum.State.Done() {
			h.Running = append(h.Running, sum.ID)
			continue
		}
		if known[sum.ID] {
			continue
		}
		ex, err := st.Get(sum.ID)
		if err != nil {
			continue // deleted meanwhile
		}
		if rec, ok := rotation.RecordFromExecution(ex); ok {
			h.Runs = append(h.Runs, rec)
		}
	}
	sortRuns(h.Runs)
	for _, r := range h.Runs { // newest first
		if r.Workflow != rotation.Rotate {
			continue
		}
		if ex, err := st.Get(r.Execution); err == nil && ex.Input != nil {
			h.RotateInput = ex.Input
			break
		}
	}
	if h.Totals, err = ReadTotals(st); err != nil {
		return nil, err
	}
	return h, nil
}

// Last is the newest run of wf (nil when none), and the newest that
// succeeded: rotated, or resumed (which completed a rotation).
func (h *History) Last(wf rotation.Workflow) (last, success *rotation.RunRecord) {
	for i := range h.Runs {
		r := &h.Runs[i]
		if r.Workflow != wf || r.Outcome == rotation.DryRun {
			continue
		}
		if last == nil {
			last = r
		}
		if success == nil && (r.Outcome == rotation.Rotated || r.Outcome == rotation.Resumed) {
			success = r
		}
	}
	return last, success
}

// since is the age of t at now, never negative.
func since(now, t time.Time) time.Duration { return max(now.Sub(t), 0) }
