// Package rotation is fernetflow's rotation protocol as one Go call.
//
// The protocol itself is the Mistral DSL v2 of workflow/definitions (so
// that it runs unchanged on OpenStack Mistral); this package binds those
// definitions to the actions of package actions over a fleet.Target,
// runs them on the embedded engine, and says what happened as a typed
// Outcome with a cause that errors.Is can test, so that no caller matches
// error text:
//
//	res, err := rotation.Run(ctx, rotation.Rotate, input, rotation.Options{Undercloud: u, Target: t})
//	switch {
//	case err != nil: // the run could not start (bad input, no definitions)
//	case errors.Is(res.Err, rotation.ErrRefused): // nothing changed; res.Err says why and what to run
//	case res.Outcome == rotation.Resumed: // an interrupted rotation was completed, not repeated
//	}
//
// The workflows:
//
//   - Rotate (rotate_fernet_keys): check what only the master needs (the
//     prune guard), one report round (every node says what its key
//     repository holds; new nodes enroll; on the first run the master
//     adopts the keys the nodes share), repair stragglers, rotate the
//     master, seal one envelope per node, deliver, verify from what the
//     nodes reported, probe that tokens cross nodes. A fleet that cannot
//     be shown to agree is a refusal, reached before anything changes.
//   - Distribute (distribute_fernet_keys): the same report round, then the
//     master's current set to the nodes that lack it; never rotates.
//   - Check (check_fernet_keys): the report round and the probe; changes
//     nothing.
//   - Enroll (enroll_nodes): make each node's identity and pin it.
package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// Workflow names one of fernetflow's own workflows.
type Workflow string

// fernetflow's workflows (see the package documentation).
const (
	Rotate     Workflow = "rotate_fernet_keys"
	Distribute Workflow = "distribute_fernet_keys"
	Check      Workflow = "check_fernet_keys"
	Enroll     Workflow = "enroll_nodes"
)

// Outcome is what a run did.
type Outcome string

// The outcomes of a run.
const (
	// Rotated: the fleet moved to a new generation, every node verified
	// and the probe passed.
	Rotated Outcome = "rotated"
	// Resumed: the run completed a generation an earlier run had not
	// delivered to every node, and did not rotate again.
	Resumed Outcome = "resumed"
	// Distributed: the master's set reached the nodes that lacked it.
	Distributed Outcome = "distributed"
	// InSync: every node already held the master's set (distribute,
	// check).
	InSync Outcome = "in-sync"
	// Enrolled: every node's identity is pinned.
	Enrolled Outcome = "enrolled"
	// DryRun: a plan, nothing changed.
	DryRun Outcome = "dry-run"
	// NeedsAttention: a check found a node that disagrees, or a token
	// that does not cross nodes.
	NeedsAttention Outcome = "needs-attention"
	// Refused: the protocol refused as unsafe; nothing changed.
	Refused Outcome = "refused"
	// Failed: anything else that went wrong.
	Failed Outcome = "failed"
)

// Causes of a Result's Err, for errors.Is.
var (
	// ErrRefused is the cause of a Refused outcome: a node drifted,
	// unreachable, split or with a changed identity, nodes holding
	// different keys on the first run, or the prune guard (then Err also
	// wraps keys.ErrUnsafePrune).
	ErrRefused = errors.New("refused as unsafe")
	// ErrNeedsAttention is the cause of a NeedsAttention outcome.
	ErrNeedsAttention = errors.New("the fleet needs attention")
	// ErrFailed is the cause of a Failed outcome.
	ErrFailed = errors.New("failed")
	// ErrIncomplete: the master moved to a generation that did not reach
	// every node; the next distribute or rotate completes it.
	ErrIncomplete = errors.New("rotation: the generation did not reach every node")
	// ErrBusy: another run holds the undercloud state's run lock
	// (STATE_DIR/run.lock); Run returned without starting.
	ErrBusy = errors.New("rotation: another run is using the undercloud state")
)

// RunLockFile is the lock file, in the undercloud's state directory, that
// one run holds from start to end: two runs on one state would interleave
// their checks, rotations and deliveries.
const RunLockFile = "run.lock"

// Lock takes the run lock of u's state directory (RunLockFile), which one
// run holds from start to end, or fails with ErrBusy when another run
// holds it. Run takes it; so must whatever else runs fernetflow's
// workflows on that state (serve's cron triggers).
func Lock(ctx context.Context, u *fleet.Undercloud) (unlock func(), err error) {
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("rotation: state directory: %w", err)
	}
	path := filepath.Join(u.Dir, RunLockFile)
	unlock, err = lockfile.Lock(ctx, path, lockfile.Options{})
	if errors.Is(err, lockfile.ErrHeld) {
		return nil, fmt.Errorf("%w (it holds %s)", ErrBusy, path)
	}
	return unlock, err
}

// Options say what a run works on.
type Options struct {
	// Undercloud is the undercloud's state. Its Now is the run's clock
	// (time.Now when nil): the prune guard and the master's metadata
	// (keys.rotate), the confirmations of fleet.check, the pins.
	Undercloud *fleet.Undercloud
	Target     fleet.Target
	// Recorder, when set, records the execution (workflow/store).
	Recorder workflow.Recorder
	// OnTask is called when a task starts and ends (progress for a
	// person); it must not block.
	OnTask func(te *workflow.TaskExecution)
	// OnDeliver is called after every delivery; it must not block.
	OnDeliver func(r fleet.Report, err error)

	// Test hooks, for a property test that runs a deliberately broken
	// protocol to show its invariants catch it; nil in every other use.
	//
	// Definitions loads the workflows over the run's registry
	// (definitions.Load when nil): a test passes a changed definition, or
	// the shipped one parsed once for many runs.
	Definitions func(reg workflow.Registry) (map[string]*workflow.File, error)
	// WrapRegistry, when set, returns the registry the run uses instead
	// of the one Registry binds (a test wraps an action in it).
	WrapRegistry func(reg workflow.Registry) workflow.Registry
}

// Result is a finished run.
type Result struct {
	Execution *workflow.Execution
	Outcome   Outcome
	// Err is nil for Rotated, Resumed, Distributed, InSync, Enrolled and
	// DryRun; otherwise it wraps ErrRefused, ErrNeedsAttention or
	// ErrFailed (and the task's own error, such as keys.ErrUnsafePrune),
	// and its text names the task and what it said.
	Err error
	// Host holds what the nodes reported during the run (Host.Seen).
	Host *actions.FleetHost
}

// Registry is every action fernetflow's workflows call, bound to h.
// (actions.Engine: the heat.* actions, which the workflows do not call,
// refuse).
func Registry(h *actions.FleetHost) (workflow.Registry, error) {
	return actions.Engine(actions.Host{Fleet: h}), nil
}

// Run runs one of fernetflow's workflows on the embedded engine. Its error
// is for a run that could not start (the input does not fit the workflow,
// or another run holds the state: ErrBusy); how a started run ended is the
// Result's Outcome and Err.
func Run(ctx context.Context, wf Workflow, input map[string]any, o Options) (*Result, error) {
	if o.Undercloud != nil {
		unlock, err := Lock(ctx, o.Undercloud)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	h := &actions.FleetHost{Undercloud: o.Undercloud, Target: o.Target, OnDeliver: o.OnDeliver}
	if o.Undercloud != nil {
		h.Now = o.Undercloud.Now // the run's clock (a simulation's virtual one)
	}
	reg, err := Registry(h)
	if err != nil {
		return nil, err
	}
	if o.WrapRegistry != nil {
		reg = o.WrapRegistry(reg)
	}
	load := definitions.Load
	if o.Definitions != nil {
		load = o.Definitions
	}
	files, err := load(reg)
	if err != nil {
		return nil, err
	}
	file, ok := files[string(wf)]
	if !ok {
		return nil, fmt.Errorf("rotation: no workflow %s among the definitions", wf)
	}
	e := &workflow.Engine{Registry: reg, File: file, Recorder: o.Recorder}
	if o.OnTask != nil {
		e.OnTask = func(_ *workflow.Execution, te *workflow.TaskExecution) { o.OnTask(te) }
	}
	ex, err := e.Run(ctx, file.Workflow(string(wf)), input)
	if err != nil {
		return nil, err
	}
	res := &Result{Execution: ex, Host: h}
	res.Outcome, res.Err = Judge(ex)
	return res, nil
}

// refusals are the tasks of the definitions that end a run as a refusal,
// and checks, the tasks of check_fernet_keys that report a problem.
var (
	refusals = []string{"refuse", "refuse_after_repair", "plan_refused"}
	checks   = []string{"disagree", "probe_failed"}
)

// Judge says what a finished execution of one of fernetflow's workflows
// did, however it was run (Run, or a cron trigger of fernetflow serve).
func Judge(ex *workflow.Execution) (Outcome, error) {
	done := map[string]bool{}
	for _, te := range ex.Tasks {
		if te.State != workflow.Success {
			continue
		}
		done[te.Name] = true
	}
	if ex.State != workflow.Success {
		te := failedTask(ex)
		cause := ErrFailed
		switch {
		case te == nil:
		case refusal(te):
			cause = ErrRefused
		case Workflow(ex.WorkflowName) == Check && slices.Contains(checks, te.Name):
			cause = ErrNeedsAttention
		}
		out := map[error]Outcome{ErrRefused: Refused, ErrNeedsAttention: NeedsAttention, ErrFailed: Failed}[cause]
		re := &RunError{Execution: ex, Task: te, cause: cause}
		if done["rotate"] && !done["verify"] && te != nil && te.Name != "incomplete" {
			// Interrupted between the master's rotation and the check of
			// the nodes: say what the next run does.
			re.Hint = "the master moved to a new generation that not every node may hold yet: the next rotation completes it (and does not rotate again)"
		}
		if te != nil {
			re.causes = causes(ex, te, re.Hint != "")
		}
		return out, re
	}
	switch {
	case done["plan_report"]:
		return DryRun, nil
	case done["resumed"]:
		return Resumed, nil
	case done["in_sync"], Workflow(ex.WorkflowName) == Check:
		return InSync, nil
	case Workflow(ex.WorkflowName) == Distribute:
		return Distributed, nil
	case Workflow(ex.WorkflowName) == Enroll:
		return Enrolled, nil
	}
	return Rotated, nil
}

// failedTask is the task that ended the run: a refusal first, else the
// last failed task (an earlier one may have been handled by on-error, as
// a failed delivery is, and the run ended later for it, in incomplete).
func failedTask(ex *workflow.Execution) *workflow.TaskExecution {
	var last *workflow.TaskExecution
	for _, te := range ex.Tasks {
		if te.State != workflow.Failed {
			continue
		}
		if refusal(te) {
			return te
		}
		if te.StateInfo != "" {
			last = te
		}
	}
	return last
}

// refusal reports whether a failed task is one of the protocol's
// refusals: a refuse task of the definitions, the prune guard, or a node
// whose identity changed.
func refusal(te *workflow.TaskExecution) bool {
	return slices.Contains(refusals, te.Name) || errors.Is(te.Err, keys.ErrUnsafePrune) || errors.Is(te.Err, fleet.ErrRecipientChanged)
}

// RunError is a Result's Err: why the run did not succeed.
type RunError struct {
	Execution *workflow.Execution
	// Task is the task that ended the run (nil when none did).
	Task *workflow.TaskExecution
	// Hint says what to do next, when the run's state calls for it.
	Hint  string
	cause error
	// causes are what the operator decides on, for errors.Is: a
	// fleet.Refusal naming the nodes, fleet.ErrMasterNotReady,
	// ErrIncomplete.
	causes []error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("execution %s of %s ended %s: %s", e.Execution.ID, e.Execution.WorkflowName, e.Execution.State, e.Reason())
}

// Reason is the task that ended the run and what it said, on one line.
func (e *RunError) Reason() string {
	r := firstLine(e.Execution.StateInfo)
	if e.Task != nil {
		r = e.Task.Name + ": " + firstLine(e.Task.StateInfo)
	}
	if e.Hint != "" {
		r += "; " + e.Hint
	}
	return r
}

// Unwrap gives the cause (ErrRefused, ErrNeedsAttention or ErrFailed) and
// the failed task's own error.
func (e *RunError) Unwrap() []error {
	out := []error{e.cause}
	if e.Task != nil && e.Task.Err != nil {
		out = append(out, e.Task.Err)
	}
	return append(out, e.causes...)
}

// causes are the errors.Is causes of the failed task te beyond its own
// error: the nodes the run's last fleet.check named (a fleet.Refusal),
// an empty master (check_fernet_keys's no_master), a generation that did
// not reach every node (incomplete, or interrupted when pending).
func causes(ex *workflow.Execution, te *workflow.TaskExecution, pending bool) []error {
	var out []error
	switch {
	case te.Name == "no_master":
		out = append(out, fleet.ErrMasterNotReady)
	case te.Name == "incomplete" || pending:
		out = append(out, ErrIncomplete)
	}
	var last *workflow.TaskExecution
	for _, t := range ex.Tasks {
		if t.Action == "fleet.check" && t.State == workflow.Success {
			last = t
		}
	}
	if last == nil {
		return out
	}
	b, err := json.Marshal(last.Result)
	if err != nil {
		return out
	}
	var c struct {
		Stragglers []struct {
			fleet.Server
			Status fleet.Status `json:"status"`
		} `json:"stragglers"`
		Overwrite []string `json:"overwrite"`
		Adoption  *struct {
			Action string `json:"action"`
		} `json:"adoption"`
	}
	if json.Unmarshal(b, &c) != nil {
		return out
	}
	var ss []fleet.Straggler
	for _, s := range c.Stragglers {
		ss = append(ss, fleet.Straggler{Report: fleet.Report{Server: s.Server}, Status: s.Status})
	}
	if r := fleet.NewRefusal(ss, c.Overwrite, c.Adoption != nil && c.Adoption.Action == "refuse"); r != nil {
		out = append(out, r)
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
