package workflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// State is the state of an execution or a task execution, as Mistral
// names it; it marshals as Mistral's string.
type State string

// States of executions and task executions. Failed is Mistral's ERROR
// (Error names this package's parse error type).
const (
	Running   State = "RUNNING"
	Success   State = "SUCCESS"
	Failed    State = "ERROR"
	Cancelled State = "CANCELLED"
	// Paused is an execution stopped by the pause command, pause-before
	// or Engine.Pause; Engine.Resume continues it.
	Paused State = "PAUSED"
	// Idle is a task that pause-before held back: it runs on Resume.
	Idle State = "IDLE"
	// Waiting is a join task some inbound tasks reached, left waiting
	// for the others when the workflow's state was decided (a fail or
	// succeed command), as Mistral leaves it.
	Waiting State = "WAITING"
)

// Done reports whether s is a final state: nothing changes an execution
// or a task in it any more.
func (s State) Done() bool { return s == Success || s == Failed || s == Cancelled }

// Execution is one run of a workflow, as Mistral shows it.
type Execution struct {
	ID           string           `json:"id"`
	WorkflowName string           `json:"workflow_name"`
	State        State            `json:"state"`
	StateInfo    string           `json:"state_info"`
	Input        map[string]any   `json:"input"`
	Params       map[string]any   `json:"params,omitempty"`
	Output       map[string]any   `json:"output"`
	Tasks        []*TaskExecution `json:"tasks"`
	ParentTaskID string           `json:"task_execution_id,omitempty"`
	Description  string           `json:"description,omitempty"`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`

	secrets map[string]bool // string values of Secret outputs, for Redacted
	paused  *run            // a paused execution's run, for Resume
}

// TaskExecution is one run of a task.
type TaskExecution struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	State      State          `json:"state"`
	StateInfo  string         `json:"state_info"`
	Published  map[string]any `json:"published"`
	Result     any            `json:"result,omitempty"`
	Action     string         `json:"action,omitempty"`
	RetryCount int            `json:"retry_count,omitempty"`
	Secret     bool           `json:"secret,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	// ActionExecutionIDs are the ids of the asynchronous action
	// executions the task waited or waits for (Controller.CompleteAction).
	ActionExecutionIDs []string `json:"action_execution_ids,omitempty"`
	// Err is the Go error the task's action failed with (nil otherwise),
	// for callers in this process to test with errors.Is; it is not
	// recorded (StateInfo is its text).
	Err error `json:"-"`

	errorHandled bool
	startFailed  bool   // the task could not start: the workflow fails
	fatal        string // a failure that fails the workflow at once (Mistral's wording)
	// processed: its transitions have been followed; next holds the
	// tasks they led to (Mistral's task_ex.next_tasks), for joins.
	processed bool
	next      map[string]bool
}

// Recorder receives snapshots of an execution while it runs: when it
// starts, after every task, and when it ends. The snapshot is the
// recorder's to keep. An error from Record is logged by the engine's
// OnError hook (when set) and does not stop the run.
type Recorder interface {
	Record(ctx context.Context, ex *Execution) error
}

// Engine runs direct workflows. The zero value is not usable: set
// Registry. An Engine holds no per-run state and may run several
// executions at once.
type Engine struct {
	Registry Registry
	// Workflows resolves sub-workflows (task workflow: NAME). Run sets it
	// to the run workflow's file when nil.
	File *File
	// Recorder, when set, receives snapshots (for the execution store).
	Recorder Recorder
	// OnTask, when set, is called as tasks start and end (live progress).
	// It must not block.
	OnTask func(ex *Execution, te *TaskExecution)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Control, when set, lets other goroutines pause, resume, stop the
	// executions this engine runs and complete their asynchronous
	// actions, by id (see Controller). Sub-workflows share it.
	Control *Controller

	parent *run // the run whose task runs this sub-workflow
}

// NewID returns a random UUID (version 4) for executions and task executions.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now().UTC()
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run executes w with input and returns the finished execution. The
// returned error is only for a run that could not start (bad input, no
// registry); a workflow that fails returns an execution in state ERROR
// whose StateInfo names the failed tasks and their causes. Once its state
// is decided (a fail or succeed command, a task that cannot run), nothing
// new starts but the tasks that run finish, as in Mistral, and Run returns
// after them. Cancelling ctx cancels the execution (state CANCELLED).
func (e *Engine) Run(ctx context.Context, w *Workflow, input map[string]any) (*Execution, error) {
	ex, err := e.Start(w, input)
	if err != nil {
		return nil, err
	}
	return e.Continue(ctx, w, ex), nil
}

// Start builds a new execution of w with its input checked and defaulted,
// without running it. Continue runs it.
func (e *Engine) Start(w *Workflow, input map[string]any) (*Execution, error) {
	return e.StartWith(w, input, Params{})
}

// Params are an execution's parameters besides its input, as Mistral's
// POST /v2/executions takes them.
type Params struct {
	// Env is what env() and execution().params.env give; nil is {}.
	Env map[string]any
	// Namespace is the namespace the workflow was taken from, as
	// execution().params.namespace shows it ("" is Mistral's default).
	Namespace string
	// TaskName is a reverse workflow's target: the run executes it and
	// what it requires. A reverse workflow needs one; a direct one
	// ignores it.
	TaskName string
}

// StartWith is Start with execution parameters.
func (e *Engine) StartWith(w *Workflow, input map[string]any, p Params) (*Execution, error) {
	if e.Registry == nil {
		return nil, errors.New("workflow: engine without a Registry")
	}
	in, err := e.prepareInput(w, input)
	if err != nil {
		return nil, err
	}
	env := map[string]any{}
	if p.Env != nil {
		v, err := expr.Normalize(p.Env)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: env: %w", w.Name, err)
		}
		env = v.(map[string]any)
	}
	params := map[string]any{"env": env, "namespace": p.Namespace}
	if w.Reverse {
		if p.TaskName == "" {
			return nil, fmt.Errorf("workflow %s is a reverse workflow: name the task to run (task_name)", w.Name)
		}
		if w.Task(p.TaskName) == nil {
			return nil, fmt.Errorf("workflow %s: invalid task name %q: no such task", w.Name, p.TaskName)
		}
		params["task_name"] = p.TaskName
	}
	now := e.now()
	name := w.Name
	if e.File != nil && e.File.Workbook != "" && slices.Contains(e.File.Workflows, w) {
		name = e.File.QualifiedName(w) // a workbook's workflow is WB.NAME in Mistral
	}
	return &Execution{ID: NewID(), WorkflowName: name, State: Running, Input: in, Params: params, CreatedAt: now, UpdatedAt: now}, nil
}

func (ex *Execution) env() map[string]any {
	if m, ok := ex.Params["env"].(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

func (e *Engine) prepareInput(w *Workflow, input map[string]any) (map[string]any, error) {
	in := map[string]any{}
	declared := map[string]bool{}
	var missing []string
	for _, p := range w.Input {
		declared[p.Name] = true
		if v, ok := input[p.Name]; ok {
			nv, err := expr.Normalize(v)
			if err != nil {
				return nil, fmt.Errorf("workflow %s: input %s: %w", w.Name, p.Name, err)
			}
			in[p.Name] = nv
			continue
		}
		if p.HasDefault {
			in[p.Name] = p.Default
			continue
		}
		missing = append(missing, p.Name)
	}
	var unexpected []string
	for k := range input {
		if !declared[k] {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(unexpected)
	if len(missing) > 0 || len(unexpected) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(unexpected) > 0 {
			parts = append(parts, "unexpected "+strings.Join(unexpected, ", "))
		}
		return nil, fmt.Errorf("workflow %s: invalid input (%s); it takes %s", w.Name, strings.Join(parts, "; "), describeInput(w))
	}
	// Defaults are taken as written: Mistral does not evaluate
	// expressions in them (conformance/input_default_expr).
	return in, nil
}

func describeInput(w *Workflow) string {
	if len(w.Input) == 0 {
		return "no input"
	}
	var s []string
	for _, p := range w.Input {
		if p.HasDefault {
			s = append(s, p.Name+"="+pyStr(p.Default))
		} else {
			s = append(s, p.Name)
		}
	}
	return strings.Join(s, ", ")
}

// run is the state of one execution while it runs. The loop goroutine
// owns everything but ex.Tasks, which task goroutines read (task(name))
// under mu.
type run struct {
	e      *Engine
	w      *Workflow
	ex     *Execution
	ctx    context.Context // the tasks' context, cancelled by fail/succeed
	parent context.Context // the caller's: cancelled means CANCELLED
	cancel context.CancelFunc

	mu      sync.Mutex // guards ex.Tasks, ex.State, latest
	latest  map[string]*TaskExecution
	secrets map[string]bool

	done    chan taskDone
	running int
	joins   map[string]*joinState
	ends    []map[string]any // outbound contexts of tasks that led nowhere
	endPubs []map[string]any // their published parts
	inPub   map[*TaskExecution]map[string]any
	forced  State // state set by fail/succeed
	forcedM string

	start   map[string]any // input and vars: what the first tasks see
	globals map[string]any // published with global: (Mistral's wf_ex.context); under mu
	paused  bool
	// While paused: tasks that ended (their transitions wait for Resume),
	// tasks transitions asked for after pause, tasks pause-before held.
	deferred    []taskDone
	backlog     []spawnReq
	idle        []spawnReq
	target      map[string]bool // a reverse run: the tasks the target needs
	reverseDone map[string]taskDone

	endCh   chan struct{} // closed by decided()
	endOnce sync.Once

	cmds      chan func()   // Controller commands, run by the loop
	ended     chan struct{} // closed when the loop has returned
	parentRun *run

	// env() and global(), made once per run: funcs runs for every task.
	envFn    func(context.Context) (any, error)
	globalFn func(context.Context, string) (any, error)
}

type spawnReq struct {
	t         *Task
	in, inPub map[string]any
	te        *TaskExecution // an IDLE task to run on Resume
	joinErr   string         // a join that failed: the task ends in ERROR
}

type joinState struct {
	from    map[string]bool
	ctxs    []map[string]any
	pubs    []map[string]any
	started bool // it ran, or failed (joinErr)
}

type taskDone struct {
	te  *TaskExecution
	t   *Task
	out map[string]any // outbound context
	pub map[string]any // its published part (Mistral's task context)
	in  map[string]any // the published part it started with
}

// Continue runs a started execution to its end.
func (e *Engine) Continue(ctx context.Context, w *Workflow, ex *Execution) *Execution {
	if ex.secrets == nil {
		ex.secrets = map[string]bool{}
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{e: e, w: w, ex: ex, ctx: tctx, parent: ctx, cancel: cancel, latest: map[string]*TaskExecution{}, secrets: ex.secrets, inPub: map[*TaskExecution]map[string]any{},
		done: make(chan taskDone, 64), joins: map[string]*joinState{}, globals: map[string]any{}, endCh: make(chan struct{})}
	r.parentRun = e.parent
	r.envFn = func(context.Context) (any, error) { return r.env(), nil }
	r.globalFn = func(_ context.Context, name string) (any, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.globals[name], nil
	}
	r.record()
	r.start = r.initialContext()
	r.attach()
	if r.w.Reverse {
		r.startReverse()
	} else {
		r.startDirect()
	}
	return r.loop()
}

// attach registers the run with the engine's Controller until its loop
// returns.
func (r *run) attach() {
	r.cmds, r.ended = make(chan func()), make(chan struct{})
	if r.e.Control != nil {
		r.e.Control.add(r)
	}
}

// Resume continues an execution that paused in this process (the pause
// command, pause-before or Pause) and runs it to its end or its next
// pause. Tasks that ended while it was paused follow their transitions
// now; a task pause-before held starts without its wait-before, as in
// Mistral (an existing task is not re-run through its start policies).
func (e *Engine) Resume(ctx context.Context, ex *Execution) (*Execution, error) {
	r := ex.paused
	if r == nil || ex.State != Paused {
		return nil, fmt.Errorf("execution %s is %s, not paused by this engine", ex.ID, ex.State)
	}
	ex.paused = nil
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx, r.parent, r.cancel = tctx, ctx, cancel
	r.attach()
	r.resume()
	return r.loop(), nil
}

// resume continues a paused run: what waited follows its transitions.
func (r *run) resume() {
	if !r.paused || r.forced != "" {
		return
	}
	r.mu.Lock()
	r.paused = false
	r.ex.State, r.ex.StateInfo = Running, ""
	r.mu.Unlock()
	deferred, backlog, idle := r.deferred, r.backlog, r.idle
	r.deferred, r.backlog, r.idle = nil, nil, nil
	for _, d := range deferred {
		if !r.paused && r.forced == "" {
			r.next(d)
			r.settleJoins()
		}
	}
	for _, s := range backlog {
		r.dispatchReq(s)
	}
	for _, s := range idle {
		if r.paused {
			r.idle = append(r.idle, s)
			continue
		}
		r.runIdle(s)
	}
	r.record()
}

func (r *run) startDirect() {
	inbound := map[string]bool{}
	for _, t := range r.w.Tasks {
		for _, trs := range t.transitions() {
			for _, tr := range trs {
				inbound[tr.Target] = true
			}
		}
	}
	var starts []Transition
	for _, t := range r.w.Tasks {
		if !inbound[t.Name] {
			starts = append(starts, Transition{Target: t.Name})
		}
	}
	for _, c := range r.rearrange(starts) {
		if r.forced != "" {
			break
		}
		r.dispatch(r.w.Task(c.Target), r.start, map[string]any{})
	}
}

// pause stops starting tasks: the execution is PAUSED once what runs has
// ended (Mistral's PauseWorkflow).
func (r *run) pause() {
	r.mu.Lock()
	r.paused = true
	if r.e.Control != nil {
		// Mistral sets PAUSED at once; without a Controller the state
		// changes when Continue returns, as it always did.
		r.ex.State, r.ex.StateInfo = Paused, ""
	}
	r.mu.Unlock()
}

// dispatch starts t, or keeps it for Resume when the execution is paused
// (Mistral's command backlog).
func (r *run) dispatch(t *Task, in, inPub map[string]any) {
	r.dispatchReq(spawnReq{t: t, in: in, inPub: inPub})
}

func (r *run) dispatchReq(s spawnReq) {
	if r.paused {
		r.backlog = append(r.backlog, s)
		return
	}
	r.spawn(s)
}

func (r *run) record() {
	if r.e.Recorder == nil {
		return
	}
	_ = r.e.Recorder.Record(context.WithoutCancel(r.ctx), r.snapshot())
}

// snapshot returns a deep-enough copy of the execution for a Recorder.
func (r *run) snapshot() *Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ex.Redacted()
}

func (r *run) initialContext() map[string]any {
	c := make(map[string]any, len(r.ex.Input)+len(r.w.Vars))
	for k, v := range r.ex.Input {
		c[k] = v
	}
	if len(r.w.Vars) > 0 {
		vars, err := expr.EvalValue(r.ctx, r.w.Vars, c, r.funcs(nil))
		if m, ok := vars.(map[string]any); ok && err == nil {
			for k, v := range m {
				c[k] = v
			}
		}
	}
	return c
}

func (r *run) loop() *Execution {
	defer func() {
		if r.e.Control != nil {
			r.e.Control.remove(r)
		}
		close(r.ended)
	}()
	for r.running > 0 || r.holding() {
		var d taskDone
		select {
		case d = <-r.done:
		case cmd := <-r.cmds:
			cmd()
			continue
		case <-r.ctx.Done():
			if r.running == 0 {
				continue // holding() is false now
			}
			// Tasks see the same ctx and end; collect them.
			d = <-r.done
		}
		r.running--
		r.mu.Lock()
		d.in = r.inPub[d.te]
		d.pub = mergeContexts([]map[string]any{d.in, d.te.Published})
		delete(r.inPub, d.te) // under r.mu: running tasks read inPub
		r.mu.Unlock()
		r.notify(d.te)
		switch {
		case r.forced != "" || r.ctx.Err() != nil:
		case r.paused:
			r.deferred = append(r.deferred, d)
		case r.w.Reverse:
			r.nextReverse(d)
		default:
			r.next(d)
			r.settleJoins()
		}
		r.record()
	}
	if r.paused && r.forced == "" && r.parent.Err() == nil {
		r.mu.Lock()
		r.ex.State = Paused
		r.ex.Output = map[string]any{}
		r.ex.UpdatedAt = r.e.now()
		r.ex.paused = r
		r.mu.Unlock()
		r.record()
		return r.ex
	}
	ex := r.finish()
	r.record()
	return ex
}

// holding reports whether a run with nothing running waits for its
// Controller: it is paused, and neither stopped nor abandoned.
func (r *run) holding() bool {
	return r.e.Control != nil && r.paused && r.forced == "" && r.ctx.Err() == nil
}

func (r *run) notify(te *TaskExecution) {
	if r.e.OnTask != nil {
		r.mu.Lock()
		cp := *te
		r.mu.Unlock()
		r.e.OnTask(r.ex, &cp)
	}
}

// next evaluates the transitions of a finished task and starts what they lead to.
func (r *run) next(d taskDone) {
	t, te := d.t, d.te
	r.mu.Lock()
	startFailed, info, fatal := te.startFailed, te.StateInfo, te.fatal
	te.processed = true
	r.mu.Unlock()
	if startFailed {
		// The task ends in ERROR with no next tasks and publishes
		// nothing: Mistral's final context holds its inbound one
		// (conformance/error_state_info_output, with_items_one_fails).
		r.ends = append(r.ends, d.out)
		r.endPubs = append(r.endPubs, d.in)
		r.fail(fmt.Sprintf("Failed to run task [error=%s, wf=%s, task=%s]", info, r.w.Name, t.Name))
		return
	}
	if fatal != "" {
		r.fail(fatal)
		return
	}
	var clauses [][]Transition
	var onError []bool
	switch te.State {
	case Success:
		clauses = [][]Transition{t.OnSuccess, t.OnComplete}
		onError = []bool{false, false}
	case Failed:
		clauses = [][]Transition{t.OnError, t.OnComplete}
		onError = []bool{true, false}
	default:
		return
	}
	// Mistral's controller evaluates every transition first, then
	// dispatches the commands in the order _rearrange_commands gives.
	funcs := r.funcs(te)
	var cmds []Transition
	for ci, trs := range clauses {
		for _, tr := range trs {
			if tr.Condition != "" {
				v, err := expr.EvalString(r.ctx, tr.Condition, d.out, funcs)
				if err != nil {
					// Mistral: the task fails and so does the workflow,
					// whatever its on-error says.
					msg := fmt.Sprintf("task %s: transition condition %s: %v", t.Name, tr.Condition, err)
					r.mu.Lock()
					te.State, te.StateInfo = Failed, msg
					r.mu.Unlock()
					r.fail(fmt.Sprintf("Failed to handle action completion [error=%s, wf=%s, task=%s]", msg, r.w.Name, t.Name))
					return
				}
				if !expr.Truthy(v) {
					continue
				}
			}
			if onError[ci] {
				r.mu.Lock()
				te.errorHandled = true
				r.mu.Unlock()
			}
			cmds = append(cmds, tr)
		}
	}
	// Engine commands do not count: a task whose transitions are only
	// commands ends a branch (Mistral's has_next_tasks), even when a
	// command before a task target means that task never runs
	// (conformance/succeed_command_condition, succeed_after_with_items).
	ledSomewhere := false
	for _, c := range cmds {
		if target := r.w.Task(c.Target); target != nil {
			ledSomewhere = true
			r.mu.Lock()
			if te.next == nil {
				te.next = map[string]bool{}
			}
			te.next[target.Name] = true
			r.mu.Unlock()
		}
	}
	if !ledSomewhere {
		r.ends = append(r.ends, d.out)
		r.endPubs = append(r.endPubs, d.pub)
	}
	for _, c := range r.rearrange(cmds) {
		if r.forced != "" {
			break // Mistral dispatches nothing once the workflow is done
		}
		switch c.Target {
		case "pause":
			// What follows waits for resume (dispatch keeps it).
			r.pause()
			continue
		case "fail", "succeed":
			msg := ""
			if m, ok := c.Params["msg"]; ok {
				v, err := expr.EvalValue(r.ctx, m, d.out, funcs)
				if err == nil {
					msg = pyStr(v)
				}
			}
			if c.Target == "fail" {
				if msg == "" {
					msg = fmt.Sprintf("Failed by task %s (fail engine command)", t.Name)
				}
				r.forced, r.forcedM = Failed, msg
			} else {
				r.forced, r.forcedM = Success, msg
			}
			// The workflow has ended: nothing new starts, and what
			// runs finishes, as in Mistral (case fail_command_in_flight).
			r.decided()
			continue
		}
		target := r.w.Task(c.Target)
		if target == nil {
			continue
		}
		if target.Join != 0 {
			js := r.joins[target.Name]
			if js == nil {
				js = &joinState{from: map[string]bool{}}
				r.joins[target.Name] = js
			}
			if js.started || js.from[t.Name] {
				continue
			}
			js.from[t.Name] = true
			js.ctxs = append(js.ctxs, d.out)
			js.pubs = append(js.pubs, d.pub)
			// Mistral defers the join (WAITING) and decides it once
			// the task's commands are dispatched: a fail or succeed
			// after it in the same transitions leaves it waiting
			// (settleJoins, case join_waiting_after_fail).
			continue
		}
		r.dispatch(target, d.out, d.pub)
	}
}

// rearrange is Mistral's _rearrange_commands: noop dropped; what follows
// the first fail or succeed dropped (all but it when it comes first);
// what follows a pause kept in its order for resume; the task commands
// before sorted as CPython's list.sort orders them with
// _compare_task_commands, whose comparison makes every task that is not
// a join "less" than whatever it is compared with: the order comes out
// reversed (start tasks too), joins after, by name. Mistral runs a
// task's start (its input) as it dispatches it, so a task that cannot
// start stops the ones after it (conformance/start_failure_order).
func (r *run) rearrange(cmds []Transition) []Transition {
	out := make([]Transition, 0, len(cmds))
	for _, c := range cmds {
		if c.Target != "noop" {
			out = append(out, c)
		}
	}
	state := -1
	for i, c := range out {
		if c.Target == "fail" || c.Target == "succeed" || c.Target == "pause" {
			state = i
			break
		}
	}
	if state < 0 {
		pySort(out, r.taskCmdLess)
		return out
	}
	if state == 0 && out[0].Target != "pause" {
		return out[:1]
	}
	head := append([]Transition(nil), out[:state]...)
	pySort(head, r.taskCmdLess)
	head = append(head, out[state])
	if out[state].Target == "pause" {
		head = append(head, out[state+1:]...)
	}
	return head
}

// taskCmdLess is _compare_task_commands(a, b) < 0: a task that is not a
// join is less than anything; a join is greater than a task that is not;
// joins compare by name (their unique_key).
func (r *run) taskCmdLess(a, b Transition) bool {
	ta, tb := r.w.Task(a.Target), r.w.Task(b.Target)
	if ta == nil || ta.Join == 0 {
		return true
	}
	if tb == nil || tb.Join == 0 {
		return false
	}
	return a.Target < b.Target
}

// pySort sorts s in place as CPython 3.11's list.sort does for a list
// shorter than 64 (one natural run, reversed if strictly descending, then
// binary insertion), with less as the key comparison: for a comparison
// that is not a total order, the result is Python's.
func pySort[T any](s []T, less func(a, b T) bool) {
	n := len(s)
	if n < 2 {
		return
	}
	run := 2
	if less(s[1], s[0]) {
		for run < n && less(s[run], s[run-1]) {
			run++
		}
		for i, j := 0, run-1; i < j; i, j = i+1, j-1 {
			s[i], s[j] = s[j], s[i]
		}
	} else {
		for run < n && !less(s[run], s[run-1]) {
			run++
		}
	}
	for i := run; i < n; i++ {
		pivot := s[i]
		lo, hi := 0, i
		for lo < hi {
			mid := lo + (hi-lo)/2
			if less(pivot, s[mid]) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		copy(s[lo+1:i+1], s[lo:i])
		s[lo] = pivot
	}
}

// settleJoins starts the join tasks whose inbound tasks have all (join:
// all) or enough (join: N) reached them, then fails those that can no
// longer run (failJoins). Nothing is settled once the workflow's state is
// decided: Mistral's refresh of a WAITING join then does nothing.
func (r *run) settleJoins() {
	if r.forced != "" || r.paused {
		return
	}
	for _, t := range r.w.Tasks {
		if js := r.joins[t.Name]; js != nil && !js.started && r.joinSatisfied(t, js) {
			js.started = true
			r.dispatch(t, mergeContexts(js.ctxs), mergeContexts(js.pubs))
		}
	}
	r.failJoins()
}

// failJoins fails each join task that waits and can no longer run, as
// Mistral's refresh of a WAITING join does (_get_join_logical_state): for
// join: all, one inbound task ended without leading to it; for join: N,
// more than (inbound - N) did. The join task then ends in ERROR, publishes
// on error and follows its on-error and on-complete transitions (case
// join_impossible_on_error).
func (r *run) failJoins() {
	if r.forced != "" || r.paused {
		return
	}
	for _, t := range r.w.Tasks {
		js := r.joins[t.Name]
		if js == nil || js.started {
			continue
		}
		inbound := r.inbound(t.Name)
		var failed []string
		for _, src := range inbound {
			if r.inducedError(src, t.Name, js) {
				failed = append(failed, "'"+src+"'")
			}
		}
		need := len(inbound)
		if t.Join > 0 {
			need = t.Join
		}
		if len(failed) == 0 || len(failed) <= len(inbound)-need {
			continue
		}
		// Its context is the first inbound one: Mistral creates the
		// WAITING join with it and merges the others only when it runs
		// (Task.defer, then _update_inbound_context).
		js.started = true
		r.dispatchReq(spawnReq{t: t, in: js.ctxs[0], inPub: js.pubs[0],
			joinErr: fmt.Sprintf("Failed by tasks: [%s]", strings.Join(failed, ", "))})
	}
}

// inbound lists the tasks with a transition to name, in the workflow's
// order (Mistral's find_inbound_task_specs).
func (r *run) inbound(name string) []string {
	var out []string
	for _, src := range r.w.Tasks {
	scan:
		for _, trs := range src.transitions() {
			for _, tr := range trs {
				if tr.Target == name {
					out = append(out, src.Name)
					break scan
				}
			}
		}
	}
	return out
}

// inducedError reports whether inbound task src can no longer lead to the
// join task name (Mistral's _get_induced_join_state gives ERROR): it ended
// and its transitions went elsewhere, or it has not run and no route can
// reach it any more.
func (r *run) inducedError(src, name string, js *joinState) bool {
	if js.from[src] {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	te := r.latest[src]
	if te == nil {
		return !r.possibleRouteLocked(src, map[string]bool{})
	}
	return te.processed && !te.next[name]
}

// possibleRouteLocked is Mistral's _possible_route: a task that has not
// run may still run if it is a start task, or one of its inbound tasks
// runs, has yet to follow its transitions, led to it, or may run itself.
func (r *run) possibleRouteLocked(name string, seen map[string]bool) bool {
	if seen[name] {
		return false
	}
	seen[name] = true
	in := r.inbound(name)
	if len(in) == 0 {
		return true
	}
	for _, src := range in {
		te := r.latest[src]
		switch {
		case te == nil:
			if r.possibleRouteLocked(src, seen) {
				return true
			}
		case !te.processed, te.next[name]:
			return true
		}
	}
	return false
}

func (r *run) joinSatisfied(t *Task, js *joinState) bool {
	if t.Join > 0 {
		return len(js.from) >= t.Join
	}
	for _, src := range r.w.Tasks {
		for _, trs := range src.transitions() {
			for _, tr := range trs {
				if tr.Target == t.Name && !js.from[src.Name] {
					return false
				}
			}
		}
	}
	return true
}

func mergeContexts(ctxs []map[string]any) map[string]any {
	out := map[string]any{}
	for _, c := range ctxs {
		for k, v := range c {
			out[k] = v
		}
	}
	return out
}

func (r *run) fail(msg string) {
	if r.forced == "" {
		r.forced, r.forcedM = Failed, msg
		r.decided()
	}
}

// decided is called once the workflow's state is decided (fail, succeed, a
// task that cannot run): Mistral dispatches nothing more but lets the
// tasks that run finish, and their states are recorded; only a task that
// waits for an asynchronous action to be completed gives up (CANCELLED),
// as nothing would continue the workflow after it.
func (r *run) decided() {
	r.endOnce.Do(func() { close(r.endCh) })
}

func (r *run) finish() *Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	ex := r.ex
	// Mistral evaluates output over the ending tasks' contexts, then
	// wf_ex.context (vars, global publishes), then the input.
	final := mergeContexts(append([]map[string]any{r.start, r.globals}, r.endPubs...))
	funcs := r.funcsLocked(nil)
	if r.forced == Success || r.forced == Failed {
		// Joins some inbound tasks reached stay WAITING in Mistral once
		// the workflow's state is decided.
		for _, t := range r.w.Tasks {
			if js := r.joins[t.Name]; js != nil && !js.started {
				now := r.e.now()
				ex.Tasks = append(ex.Tasks, &TaskExecution{ID: NewID(), Name: t.Name, State: Waiting, Action: t.Action, Published: map[string]any{},
					StateInfo: "Task is waiting.", StartedAt: now})
			}
		}
	}
	switch {
	case r.parent.Err() != nil && r.forced == "":
		ex.State = Cancelled
		ex.StateInfo = "execution cancelled: " + r.parent.Err().Error()
	case r.forced == Cancelled:
		// Controller.Stop: Mistral's _cancel_workflow.
		ex.State = Cancelled
		ex.StateInfo = r.forcedM
	case r.forced == Success:
		ex.State = Success
		ex.StateInfo = r.forcedM
	case r.forced == Failed:
		ex.State = Failed
		ex.StateInfo = r.forcedM
	default:
		var failed []*TaskExecution
		for _, te := range ex.Tasks {
			if te.State == Failed && !te.errorHandled {
				failed = append(failed, te)
			}
		}
		// Joins that were never satisfied fail as in Mistral.
		for _, t := range r.w.Tasks {
			if js := r.joins[t.Name]; js != nil && !js.started {
				now := r.e.now()
				te := &TaskExecution{ID: NewID(), Name: t.Name, State: Failed, Action: t.Action, Published: map[string]any{},
					StateInfo: fmt.Sprintf("join cannot be satisfied: only %s reached it", strings.Join(sortedSet(js.from), ", ")), StartedAt: now, FinishedAt: now}
				ex.Tasks = append(ex.Tasks, te)
				failed = append(failed, te)
			}
		}
		if len(failed) == 0 {
			ex.State = Success
		} else {
			sort.SliceStable(failed, func(i, j int) bool { return failed[i].Name < failed[j].Name })
			names := make([]string, len(failed))
			var b strings.Builder
			for i, te := range failed {
				names[i] = te.Name
			}
			fmt.Fprintf(&b, "Failure caused by error in tasks: %s\n", strings.Join(names, ", "))
			for _, te := range failed {
				fmt.Fprintf(&b, "\n  %s [task_ex_id=%s] -> %s\n", te.Name, te.ID, te.StateInfo)
			}
			ex.State = Failed
			ex.StateInfo = b.String()
		}
	}
	if ex.State == Success && len(r.w.Output) > 0 {
		out, err := expr.EvalValue(context.WithoutCancel(r.ctx), r.w.Output, final, funcs)
		if err != nil {
			// Mistral fails the workflow as a failed task does: its
			// output is output-on-error or what was published, plus
			// result (case probe_output_undefined).
			ex.State = Failed
			ex.StateInfo = fmt.Sprintf("workflow %s: output: %v", r.w.Name, err)
		} else {
			ex.Output, _ = out.(map[string]any)
		}
	}
	switch ex.State {
	case Success:
		if len(r.w.Output) == 0 {
			// Mistral's final context: what the branches published (input
			// and vars live beside it, not in it).
			ex.Output = mergeContexts(r.endPubs)
		}
	case Failed:
		// Mistral's _fail_workflow: output-on-error, or when it gives
		// nothing the final context (what the ending branches published),
		// plus result; when output-on-error fails, result alone.
		ex.Output = nil
		evalFailed := false
		if len(r.w.OutputOnError) > 0 {
			out, err := expr.EvalValue(context.WithoutCancel(r.ctx), r.w.OutputOnError, final, funcs)
			if err == nil {
				if m, ok := out.(map[string]any); ok && len(m) > 0 {
					ex.Output = m
				}
			} else {
				evalFailed = true
				ex.StateInfo = fmt.Sprintf("Failed to evaluate expression in output-on-error! (%v) Cause: %s", err, ex.StateInfo)
			}
		}
		if ex.Output == nil {
			ex.Output = map[string]any{}
			if !evalFailed {
				ex.Output = mergeContexts(r.endPubs)
			}
		}
		ex.Output["result"] = ex.StateInfo
	default:
		ex.Output = map[string]any{}
		if r.forced == Cancelled {
			ex.Output["result"] = nilIfEmpty(r.forcedM)
		}
	}
	ex.UpdatedAt = r.e.now()
	return ex
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// taskView is task() as Mistral shows it (std_functions'
// _convert_to_user_model).
func (r *run) taskView(te *TaskExecution) map[string]any {
	pub := te.Published
	if pub == nil {
		pub = map[string]any{}
	}
	var spec any
	if t := r.w.Task(te.Name); t != nil {
		spec = t.Spec
	}
	typ := "ACTION"
	if strings.HasPrefix(te.Action, "workflow:") {
		typ = "WORKFLOW"
	}
	var updated any
	if !te.FinishedAt.IsZero() {
		updated = te.FinishedAt.UTC().Format("2006-01-02 15:04:05")
	}
	return map[string]any{
		"id":                    te.ID,
		"name":                  te.Name,
		"spec":                  spec,
		"state":                 te.State,
		"state_info":            nilIfEmpty(te.StateInfo),
		"result":                te.Result,
		"published":             pub,
		"type":                  typ,
		"workflow_execution_id": r.ex.ID,
		"created_at":            te.StartedAt.UTC().Format("2006-01-02 15:04:05"),
		"updated_at":            updated,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// funcs gives expressions task(), execution() and env(); cur is the task
// that task() names (nil outside a task).
func (r *run) funcs(cur *TaskExecution) expr.Funcs {
	return expr.Funcs{
		Task: func(_ context.Context, name string) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if name == "" {
				if cur == nil {
					return nil, errors.New("task() is only defined inside a task")
				}
				return r.taskView(cur), nil
			}
			if te := r.latest[name]; te != nil {
				return r.taskView(te), nil
			}
			return nil, nil
		},
		Execution: func(context.Context) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.executionView(), nil
		},
		Env:      r.envFn,
		Internal: func(context.Context) (map[string]any, error) { return r.internal(cur, r.env()), nil },
		Global:   r.globalFn,
		Tasks: func(_ context.Context, q expr.TasksQuery) ([]any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.tasksView(q), nil
		},
	}
}

// tasksView is what tasks() lists. Mistral lists the task executions of
// every workflow execution in its database when no id is given; the
// engine's database is this run, so it lists this execution's tasks (a
// sub-workflow's own tasks are in its own run).
func (r *run) tasksView(q expr.TasksQuery) []any {
	out := []any{}
	if q.WorkflowExecutionID != "" && q.WorkflowExecutionID != r.ex.ID {
		return out
	}
	for _, te := range r.ex.Tasks {
		if q.State != "" && string(te.State) != q.State {
			continue
		}
		out = append(out, r.taskView(te))
	}
	return out
}

func (r *run) funcsLocked(cur *TaskExecution) expr.Funcs {
	f := r.funcs(cur)
	// finish holds mu: the views read fields directly.
	f.Task = func(_ context.Context, name string) (any, error) {
		if te := r.latest[name]; te != nil {
			return r.taskView(te), nil
		}
		return nil, nil
	}
	f.Execution = func(context.Context) (any, error) { return r.executionView(), nil }
	f.Env = func(context.Context) (any, error) { return r.ex.env(), nil }
	f.Internal = func(context.Context) (map[string]any, error) { return r.internal(cur, r.ex.env()), nil }
	f.Global = func(_ context.Context, name string) (any, error) { return r.globals[name], nil }
	f.Tasks = func(_ context.Context, q expr.TasksQuery) ([]any, error) { return r.tasksView(q), nil }
	return f
}

// executionView is execution() as Mistral shows it (std_functions'
// execution_).
func (r *run) executionView() map[string]any {
	var root any
	for p := r.e.parent; p != nil; p = p.e.parent {
		root = p.ex.ID
	}
	return map[string]any{
		"id":                r.ex.ID,
		"name":              r.ex.WorkflowName,
		"spec":              r.w.Spec,
		"input":             r.ex.Input,
		"params":            r.params(),
		"created_at":        r.ex.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
		"updated_at":        r.ex.UpdatedAt.UTC().Format("2006-01-02 15:04:05"),
		"root_execution_id": root,
	}
}

// internal is what Mistral's context view adds to an expression's data
// (expr.Funcs.Internal): the execution's id, its env and, inside a task
// (cur), the task's id and name.
func (r *run) internal(cur *TaskExecution, env map[string]any) map[string]any {
	m := map[string]any{"__execution": map[string]any{"id": r.ex.ID}, "__env": env}
	if cur != nil {
		m["__task_execution"] = map[string]any{"id": cur.ID, "name": cur.Name}
	}
	return m
}

// env is the execution's env now (ResumeEnv may replace it).
func (r *run) env() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ex.env()
}

// params is the execution's params; the caller holds r.mu.
func (r *run) params() map[string]any {
	p := r.ex.Params
	if p == nil {
		p = map[string]any{"namespace": "", "env": map[string]any{}}
	}
	return p
}

// withGlobalsLocked is in with the global variables under what the
// branch published (inPub): Mistral's ContextView, task context first,
// then wf_ex.context. The caller holds r.mu.
func (r *run) withGlobalsLocked(in, inPub map[string]any) map[string]any {
	if len(r.globals) == 0 {
		return in
	}
	c := make(map[string]any, len(in)+len(r.globals))
	for k, v := range in {
		c[k] = v
	}
	for k, v := range r.globals {
		if _, mine := inPub[k]; !mine {
			c[k] = v
		}
	}
	return c
}

func (r *run) spawn(s spawnReq) {
	t, in, inPub := s.t, s.in, s.inPub
	now := r.e.now()
	te := &TaskExecution{ID: NewID(), Name: t.Name, State: Running, Action: t.Action, StartedAt: now}
	if t.Workflow != "" {
		te.Action = "workflow:" + t.Workflow
	}
	r.mu.Lock()
	in = r.withGlobalsLocked(in, inPub)
	r.ex.Tasks = append(r.ex.Tasks, te)
	r.latest[t.Name] = te
	r.inPub[te] = inPub
	r.mu.Unlock()
	if s.joinErr != "" {
		// Mistral completes the join task in ERROR: no policy, no
		// action, its result [] (case join_impossible_on_error).
		r.running++
		r.notify(te)
		go func() {
			out := r.complete(t, te, in, []any{}, errors.New(s.joinErr), false)
			r.done <- taskDone{te: te, t: t, out: out}
		}()
		return
	}
	if t.PauseBefore != nil && t.PauseBefore != false {
		hold, err := r.evalBool(t.PauseBefore, in, r.funcs(te))
		if err == nil && hold {
			// Mistral's PauseBeforePolicy: the task waits, IDLE, and the
			// workflow pauses.
			r.mu.Lock()
			te.State, te.StateInfo = Idle, "Set by 'pause-before' policy"
			r.mu.Unlock()
			r.notify(te)
			r.pause()
			r.idle = append(r.idle, spawnReq{t: t, in: in, inPub: inPub, te: te})
			return
		}
	}
	// Mistral starts a task as it dispatches it: with no wait-before, its
	// with-items and input are evaluated now, and one that fails fails
	// the workflow before the next command (case start_failure_order).
	var prep *prepared
	if noWait(t.WaitBefore) {
		p, err := r.prepare(r.ctx, t, in, r.funcs(te))
		if err != nil {
			r.failToStart(t, te, in, inPub, err)
			return
		}
		prep = p
	}
	r.running++
	r.notify(te)
	go func() {
		out := r.runTask(t, te, in, true, prep)
		r.done <- taskDone{te: te, t: t, out: out}
	}()
}

// noWait reports whether a wait-before value is absent or a literal 0.
func noWait(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case int64:
		return x <= 0
	case float64:
		return x <= 0
	}
	return false
}

// failToStart ends te, which could not start (Mistral's "Failed to run
// task"): ERROR, nothing published, and the workflow fails (next).
func (r *run) failToStart(t *Task, te *TaskExecution, in, inPub map[string]any, err error) {
	r.mu.Lock()
	te.State, te.StateInfo, te.Err = Failed, err.Error(), err
	te.startFailed, te.FinishedAt, te.Published = true, r.e.now(), map[string]any{}
	delete(r.inPub, te)
	r.mu.Unlock()
	r.notify(te)
	r.next(taskDone{te: te, t: t, out: in, in: inPub, pub: inPub})
}

// runIdle starts a task pause-before held, on Resume.
func (r *run) runIdle(s spawnReq) {
	r.mu.Lock()
	s.te.State, s.te.StateInfo = Running, ""
	r.mu.Unlock()
	r.running++
	r.notify(s.te)
	go func() {
		out := r.runTask(s.t, s.te, s.in, false, nil)
		r.done <- taskDone{te: s.te, t: s.t, out: out}
	}()
}

func (r *run) evalBool(v any, data map[string]any, funcs expr.Funcs) (bool, error) {
	if s, ok := v.(string); ok {
		res, err := expr.EvalString(r.ctx, s, data, funcs)
		if err != nil {
			return false, err
		}
		return expr.Truthy(res), nil
	}
	return expr.Truthy(v), nil
}

// Redacted is the label that replaces secret values.
const Redacted = "<redacted>"

// Redacted returns a copy of ex that is safe to persist, log or show: the
// results of tasks whose action is Secret are replaced by Redacted, and so
// is every string anywhere in the execution (input, output, published
// values, state_info) that holds one of their string values.
func (ex *Execution) Redacted() *Execution {
	cp := *ex
	red := func(v any) any { return redactValue(v, ex.secrets) }
	cp.Input, _ = red(ex.Input).(map[string]any)
	cp.Output, _ = red(ex.Output).(map[string]any)
	cp.StateInfo = redactString(ex.StateInfo, ex.secrets)
	cp.Tasks = make([]*TaskExecution, len(ex.Tasks))
	for i, te := range ex.Tasks {
		tc := *te
		if te.Secret && te.Result != nil {
			tc.Result = Redacted
		} else {
			tc.Result = red(te.Result)
		}
		tc.Published, _ = red(te.Published).(map[string]any)
		tc.StateInfo = redactString(te.StateInfo, ex.secrets)
		cp.Tasks[i] = &tc
	}
	cp.secrets = nil
	return &cp
}

func redactString(s string, secrets map[string]bool) string {
	for sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

func redactValue(v any, secrets map[string]bool) any {
	if len(secrets) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return redactString(x, secrets)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, secrets)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactValue(e, secrets)
		}
		return out
	}
	return v
}

// startReverse starts a reverse run: the target and what it requires,
// each task once its requirements succeeded (Mistral's
// ReverseWorkflowController).
func (r *run) startReverse() {
	target, _ := r.ex.Params["task_name"].(string)
	r.target = map[string]bool{}
	queue := []string{target}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if r.target[n] || r.w.Task(n) == nil {
			continue
		}
		r.target[n] = true
		queue = append(queue, r.w.Task(n).Requires...)
	}
	r.startSatisfied(nil)
}

// startSatisfied starts every needed task that has not run and whose
// requirements all succeeded, with their merged contexts.
func (r *run) startSatisfied(ctxs map[string]taskDone) {
	for _, t := range r.w.Tasks {
		if !r.target[t.Name] || r.latest[t.Name] != nil {
			continue
		}
		var ins, pubs []map[string]any
		ok := true
		for _, req := range t.Requires {
			d, done := ctxs[req]
			if !done || d.te.State != Success {
				ok = false
				break
			}
			ins = append(ins, d.out)
			pubs = append(pubs, d.pub)
		}
		if !ok {
			continue
		}
		in := r.start
		if len(ins) > 0 {
			in = mergeContexts(append([]map[string]any{r.start}, ins...))
		}
		r.dispatch(t, in, mergeContexts(pubs))
	}
}

// nextReverse records a finished task of a reverse run and starts what it
// unblocked. The target's context is the run's final context.
func (r *run) nextReverse(d taskDone) {
	r.mu.Lock()
	startFailed, info, fatal := d.te.startFailed, d.te.StateInfo, d.te.fatal
	r.mu.Unlock()
	if startFailed {
		r.fail(fmt.Sprintf("Failed to run task [error=%s, wf=%s, task=%s]", info, r.w.Name, d.t.Name))
		return
	}
	if fatal != "" {
		r.fail(fatal)
		return
	}
	if r.reverseDone == nil {
		r.reverseDone = map[string]taskDone{}
	}
	r.reverseDone[d.t.Name] = d
	if d.t.Name == r.ex.Params["task_name"] {
		r.ends = append(r.ends, d.out)
		r.endPubs = append(r.endPubs, d.pub)
	}
	if d.te.State == Success {
		r.startSatisfied(r.reverseDone)
	}
}
