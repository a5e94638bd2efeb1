package rotation

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow"
)

// RunRecord is what fernetflow keeps of one finished run of its own
// workflows for an operator's view (fernetflow status, /metrics): when it
// ran, what it did, how long it took, why it was refused, and how its
// deliveries went. It holds no key material and no envelope.
type RunRecord struct {
	Execution string    `json:"execution_id"`
	Workflow  Workflow  `json:"workflow_name"`
	Outcome   Outcome   `json:"outcome"`
	Started   time.Time `json:"started_at"`
	Finished  time.Time `json:"finished_at"`
	// Reasons are a refusal's causes (see RefusalReasons); empty for
	// another outcome.
	Reasons []string `json:"reasons,omitempty"`
	// Message is why the run did not succeed, on one line.
	Message string `json:"message,omitempty"`
	// Deliveries counts the run's deliveries by result (DeliveryInstalled,
	// DeliveryUnchanged, DeliveryFailed); nil when not known (a run
	// recorded from the execution history only).
	Deliveries map[string]int `json:"deliveries,omitempty"`
	// Source says where the record comes from: SourceRun (the process
	// that ran it recorded it) or SourceHistory (rebuilt from the
	// execution the store kept: a prune-guard refusal is then recognised
	// from its message, since an execution keeps errors as text only).
	Source string `json:"source"`
}

// Sources of a RunRecord.
const (
	SourceRun     = "run"
	SourceHistory = "execution history"
)

// Delivery results counted in RunRecord.Deliveries.
const (
	DeliveryInstalled = "installed" // the node's repository changed
	DeliveryUnchanged = "unchanged" // the node already held the set
	DeliveryFailed    = "failed"
)

// DeliveryResult is the RunRecord.Deliveries key of one delivery.
func DeliveryResult(r fleet.Report, err error) string {
	switch {
	case err != nil:
		return DeliveryFailed
	case r.Changed:
		return DeliveryInstalled
	}
	return DeliveryUnchanged
}

// Refusal reasons of RunRecord.Reasons (Prometheus label values).
const (
	ReasonPruneGuard       = "prune_guard"
	ReasonDrifted          = "drifted"
	ReasonUnreachable      = "unreachable"
	ReasonSplitBrain       = "split_brain"
	ReasonSigner           = "signer_not_pinned"
	ReasonRecipientChanged = "recipient_changed"
	ReasonKeySetsDiffer    = "key_sets_differ"
	ReasonOther            = "other"
)

// RefusalReasons are the causes of a refusal (a Result's Err), sorted:
// one reason per decision the operator makes; ReasonOther when none is
// recognised.
func RefusalReasons(err error) []string {
	var out []string
	for _, c := range []struct {
		err    error
		reason string
	}{
		{keys.ErrUnsafePrune, ReasonPruneGuard},
		{fleet.ErrDrifted, ReasonDrifted},
		{fleet.ErrUnreachable, ReasonUnreachable},
		{fleet.ErrSplitBrain, ReasonSplitBrain},
		{fleet.ErrSignerNotPinned, ReasonSigner},
		{fleet.ErrRecipientChanged, ReasonRecipientChanged},
		{fleet.ErrKeySetsDiffer, ReasonKeySetsDiffer},
	} {
		if errors.Is(err, c.err) {
			out = append(out, c.reason)
		}
	}
	if len(out) == 0 {
		out = append(out, ReasonOther)
	}
	slices.Sort(out)
	return out
}

// NewRunRecord is the record of a finished run, with its deliveries
// counted by result (nil when the caller did not count them).
func NewRunRecord(res *Result, deliveries map[string]int) RunRecord {
	rec := recordOf(res.Execution, res.Outcome, res.Err)
	rec.Deliveries, rec.Source = deliveries, SourceRun
	return rec
}

// RecordFromExecution rebuilds the record of a finished execution of one
// of fernetflow's workflows from what a store keeps of it (Judge on the
// recorded execution), for runs no process recorded (those started through
// the Mistral API, say). ok is false for an execution of another workflow
// or one still running.
func RecordFromExecution(ex *workflow.Execution) (rec RunRecord, ok bool) {
	if !Own(ex.WorkflowName) || !ex.State.Done() {
		return RunRecord{}, false
	}
	out, err := Judge(ex)
	if out == Failed && err != nil && strings.Contains(err.Error(), keys.ErrUnsafePrune.Error()) {
		// The guard's error, kept as text by the store.
		out, err = Refused, errors.Join(ErrRefused, keys.ErrUnsafePrune, err)
	}
	rec = recordOf(ex, out, err)
	rec.Source = SourceHistory
	return rec, true
}

func recordOf(ex *workflow.Execution, out Outcome, err error) RunRecord {
	rec := RunRecord{Execution: ex.ID, Workflow: Workflow(ex.WorkflowName), Outcome: out, Started: ex.CreatedAt, Finished: ex.UpdatedAt}
	for _, te := range ex.Tasks {
		if te.FinishedAt.After(rec.Finished) {
			rec.Finished = te.FinishedAt
		}
	}
	var re *RunError
	switch {
	case errors.As(err, &re):
		rec.Message = re.Reason()
	case err != nil:
		rec.Message = firstLine(err.Error())
	}
	if out == Refused {
		rec.Reasons = RefusalReasons(err)
	}
	return rec
}

// Duration is how long the run took.
func (r RunRecord) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// Own reports whether name is one of fernetflow's own workflows.
func Own(name string) bool {
	return slices.Contains([]Workflow{Rotate, Distribute, Check, Enroll}, Workflow(name))
}
