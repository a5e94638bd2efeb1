package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// ErrPending is what an asynchronous action's Run returns: the action has
// started and its result comes later, through Controller.CompleteAction
// (Mistral's PUT /v2/action_executions/ID). The task waits RUNNING until
// then, or until its timeout (the task fails "Task timed out") or the
// execution ends. Without a Controller on the engine nobody can complete
// it: only the timeout or cancellation ends the wait.
var ErrPending = errors.New("workflow: the action completes later")

// ErrNotRunning means the Controller runs no execution (or waits for no
// action execution) with that id: it ended, or another process runs it.
var ErrNotRunning = errors.New("not running in this process")

// Controller is execution control for the executions of one process, as
// Mistral's engine offers it through PUT /v2/executions/ID and PUT
// /v2/action_executions/ID. Give it to every Engine of the process
// (Engine.Control); an HTTP server in the same process then pauses,
// resumes, cancels or fails an execution by its id, and completes an
// asynchronous action execution by its id. The zero value is ready to
// use; it is safe for concurrent use.
//
// An engine with a Controller does not return a PAUSED execution from
// Continue: the run waits, paused, for Resume or Stop (or for its ctx to
// end, which cancels it). Without one, a pause returns PAUSED at once and
// only Engine.Resume in the same goroutine's hands continues it.
type Controller struct {
	mu      sync.Mutex
	runs    map[string]*run
	actions map[string]*pendingAction
}

// PendingAction is an asynchronous action execution that waits for its
// result.
type PendingAction struct {
	ID              string // the action execution's id, for CompleteAction
	ExecutionID     string
	TaskExecutionID string
	TaskName        string
	Action          string
}

type pendingAction struct {
	PendingAction
	ch chan actionResult // buffered 1: the first completion wins
}

type actionResult struct {
	value any
	err   error
}

func (c *Controller) add(r *run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]*run{}
	}
	c.runs[r.ex.ID] = r
}

func (c *Controller) remove(r *run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs[r.ex.ID] == r {
		delete(c.runs, r.ex.ID)
	}
}

// Running lists the ids of the executions this controller runs (paused
// ones among them), sorted.
func (c *Controller) Running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.runs))
	for id := range c.runs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// PendingActions lists the asynchronous action executions of execution
// id that wait for CompleteAction, oldest first.
func (c *Controller) PendingActions(id string) []PendingAction {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []PendingAction
	for _, p := range c.actions {
		if p.ExecutionID == id {
			out = append(out, p.PendingAction)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CompleteAction gives the asynchronous action execution id its result:
// value when err is nil; otherwise the task fails with err's text as its
// state_info and value as its result (publish-on-error sees it). value
// must be in the data model of workflow/expr (JSON-like). The error wraps
// ErrNotRunning when no action execution id waits.
func (c *Controller) CompleteAction(id string, value any, err error) error {
	v, nerr := expr.Normalize(value)
	if nerr != nil {
		return fmt.Errorf("action execution %s: result: %w", id, nerr)
	}
	c.mu.Lock()
	p := c.actions[id]
	delete(c.actions, id)
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("action execution %s: %w", id, ErrNotRunning)
	}
	p.ch <- actionResult{value: v, err: err}
	return nil
}

// do runs fn in the loop of execution id.
func (c *Controller) do(id string, fn func(r *run) error) error {
	c.mu.Lock()
	r := c.runs[id]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("execution %s: %w", id, ErrNotRunning)
	}
	reply := make(chan error, 1)
	select {
	case r.cmds <- func() { reply <- fn(r) }:
		return <-reply
	case <-r.ended:
		return fmt.Errorf("execution %s: %w", id, ErrNotRunning)
	}
}

// children are the runs of the sub-workflows r's tasks run, deepest last.
func (c *Controller) children(r *run) []*run {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*run
	seen := map[*run]bool{r: true}
	for changed := true; changed; {
		changed = false
		for _, cr := range c.runs {
			if !seen[cr] && seen[cr.parentRun] {
				seen[cr] = true
				out = append(out, cr)
				changed = true
			}
		}
	}
	return out
}

// Pause pauses execution id, as Mistral's PUT state PAUSED: its state is
// PAUSED at once; the tasks that run go on, and what their transitions
// lead to waits for Resume. The sub-workflows it runs pause first. Pausing
// a paused execution does nothing.
func (c *Controller) Pause(id string) error {
	c.mu.Lock()
	r := c.runs[id]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("execution %s: %w", id, ErrNotRunning)
	}
	kids := c.children(r)
	for i := len(kids) - 1; i >= 0; i-- {
		_ = c.do(kids[i].ex.ID, func(r *run) error { r.pauseNow(); return nil })
	}
	return c.do(id, func(r *run) error { r.pauseNow(); return nil })
}

// Resume continues the paused execution id (its paused sub-workflows
// first), as Mistral's PUT state RUNNING: tasks that ended while it was
// paused follow their transitions, tasks held by pause-before start.
// Resuming an execution that is not paused does nothing, as in Mistral.
func (c *Controller) Resume(id string) error { return c.ResumeEnv(id, nil) }

// ResumeEnv is Resume with Mistral's params.env of PUT state RUNNING: env
// is merged into the execution's env (nested mappings key by key, env's
// values winning, as Mistral's merge_dicts) before it resumes, so that
// env() in the tasks that start from then on sees it. Its sub-workflows
// keep theirs, as in Mistral (resume_workflow passes env to the top one
// only). A nil or empty env changes nothing; an execution that is not
// paused neither resumes nor takes the env, as in Mistral.
func (c *Controller) ResumeEnv(id string, env map[string]any) error {
	c.mu.Lock()
	r := c.runs[id]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("execution %s: %w", id, ErrNotRunning)
	}
	norm, err := normalizeEnv(env)
	if err != nil {
		return fmt.Errorf("execution %s: env: %w", id, err)
	}
	for _, k := range c.children(r) {
		_ = c.do(k.ex.ID, func(r *run) error { r.resume(); return nil })
	}
	return c.do(id, func(r *run) error {
		if r.paused && r.forced == "" {
			r.mergeEnv(norm)
		}
		r.resume()
		return nil
	})
}

// UpdateEnv merges env into a paused execution's env without resuming it,
// as Mistral's PUT params.env without a state (update_workflow_execution_env,
// which Mistral allows in IDLE, PAUSED and ERROR; an ended execution is
// not the Controller's). A running execution's env does not change:
// ErrNotPaused.
func (c *Controller) UpdateEnv(id string, env map[string]any) error {
	norm, err := normalizeEnv(env)
	if err != nil {
		return fmt.Errorf("execution %s: env: %w", id, err)
	}
	return c.do(id, func(r *run) error {
		if !r.paused || r.forced != "" {
			return fmt.Errorf("execution %s: %w", id, ErrNotPaused)
		}
		r.mergeEnv(norm)
		r.record()
		return nil
	})
}

// ErrNotPaused is UpdateEnv's answer for an execution that is not paused:
// Mistral updates the env only in IDLE, PAUSED or ERROR.
var ErrNotPaused = errors.New("updating env is only permitted while the execution is PAUSED (or ended in ERROR)")

func normalizeEnv(env map[string]any) (map[string]any, error) {
	if len(env) == 0 {
		return nil, nil
	}
	v, err := expr.Normalize(env)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// mergeEnv merges env into the execution's params.env: a new params map,
// never a change to the one expressions may hold.
func (r *run) mergeEnv(env map[string]any) {
	if len(env) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	params := make(map[string]any, len(r.ex.Params)+1)
	for k, v := range r.ex.Params {
		params[k] = v
	}
	merged := cloneMap(r.ex.env())
	mergeDicts(merged, env)
	params["env"] = merged
	r.ex.Params = params
}

// Stop ends execution id in state (Success, Failed or Cancelled) with msg
// as its state_info, as Mistral's PUT state SUCCESS, ERROR or CANCELLED
// (Mistral's force_fail_workflow and cancel_workflow). Mistral leaves the
// tasks that still run RUNNING; fernetflow cancels their context instead,
// so that nothing runs on for an execution that has ended, and they end
// CANCELLED. A cancelled execution's output is {"result": msg}; a failed
// one's is output-on-error plus result, as for any failure; a succeeded
// one's is its output.
//
// As in Mistral, only CANCELLED applies to a PAUSED execution: SUCCESS is
// not a transition from PAUSED and Mistral's _fail_workflow returns early
// on a paused execution, so both leave it PAUSED and return nil.
func (c *Controller) Stop(id string, state State, msg string) error {
	if !state.Done() {
		return fmt.Errorf("execution %s: cannot stop in state %s: want %s, %s or %s", id, state, Success, Failed, Cancelled)
	}
	return c.do(id, func(r *run) error {
		if r.forced != "" {
			return nil // already ending
		}
		if r.paused && state != Cancelled {
			return nil
		}
		r.forced, r.forcedM = state, msg
		r.cancel()
		return nil
	})
}

// Cancel is Stop(id, Cancelled, msg).
func (c *Controller) Cancel(id, msg string) error { return c.Stop(id, Cancelled, msg) }

// Fail is Stop(id, Failed, msg): Mistral's force-fail.
func (c *Controller) Fail(id, msg string) error { return c.Stop(id, Failed, msg) }

// pauseNow marks the execution PAUSED (Mistral sets the state at once;
// tasks still running finish and their transitions wait).
func (r *run) pauseNow() {
	if r.paused || r.forced != "" {
		return
	}
	r.pause()
	r.record()
}

// await waits for the result of an action that returned ErrPending.
func (r *run) await(ctx context.Context, t *Task, te *TaskExecution) (any, error) {
	p := &pendingAction{PendingAction: PendingAction{ID: NewID(), ExecutionID: r.ex.ID, TaskExecutionID: te.ID, TaskName: t.Name, Action: t.Action},
		ch: make(chan actionResult, 1)}
	r.mu.Lock()
	te.ActionExecutionIDs = append(te.ActionExecutionIDs, p.ID)
	r.mu.Unlock()
	c := r.e.Control
	if c != nil {
		c.mu.Lock()
		if c.actions == nil {
			c.actions = map[string]*pendingAction{}
		}
		c.actions[p.ID] = p
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			delete(c.actions, p.ID)
			c.mu.Unlock()
		}()
		// Record the action execution's id now: whoever completes it
		// finds it in the store.
		select {
		case r.cmds <- r.record:
		case <-r.ctx.Done():
		}
	}
	select {
	case res := <-p.ch:
		if res.err != nil {
			return res.value, res.err
		}
		return res.value, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.endCh:
		return nil, errWorkflowEnded
	}
}

// errWorkflowEnded ends a wait for an asynchronous action in a workflow
// whose state is decided: the task is CANCELLED.
var errWorkflowEnded = errors.New("the workflow ended while the task waited for its asynchronous action")
