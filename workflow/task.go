package workflow

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// evalInt evaluates a policy value: an integer or an expression giving one.
func (r *run) evalNumber(ctx context.Context, v any, data map[string]any, funcs expr.Funcs) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		res, err := expr.EvalString(ctx, x, data, funcs)
		if err != nil {
			return 0, err
		}
		switch n := res.(type) {
		case int64:
			return float64(n), nil
		case float64:
			return n, nil
		case nil:
			return 0, nil
		}
		return 0, fmt.Errorf("%s gives %s, want a number", x, pyStr(res))
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// errFailOn is the state_info of a task its fail-on policy failed.
//
//lint:ignore ST1005 Mistral's message, kept verbatim
var errFailOn = errors.New("Failed by 'fail-on' policy")

// runTask runs one task with its policies and returns its outbound
// context. startPolicies is false for a task pause-before held: it
// starts without wait-before.
func (r *run) runTask(t *Task, te *TaskExecution, in map[string]any, startPolicies bool, prep *prepared) map[string]any {
	ctx := r.ctx
	funcs := r.funcs(te)
	finish := func(state State, info string, result any, resultSet bool) {
		r.mu.Lock()
		te.State, te.StateInfo = state, info
		if resultSet {
			te.Result = result
		}
		te.FinishedAt = r.e.now()
		r.mu.Unlock()
	}
	setResult := func(state State, info string, result any) {
		r.mu.Lock()
		te.State, te.StateInfo, te.Result = state, info, result
		r.mu.Unlock()
	}
	policyErr := func(key string, err error) map[string]any {
		r.mu.Lock()
		te.startFailed = true
		r.mu.Unlock()
		finish(Failed, fmt.Sprintf("task %s: %s: %v", t.Name, key, err), nil, false)
		return in
	}

	var wb float64
	var err error
	if startPolicies {
		if wb, err = r.evalNumber(ctx, t.WaitBefore, in, funcs); err != nil {
			return policyErr("wait-before", err)
		}
	}
	if err := r.e.sleep(ctx, seconds(wb)); err != nil {
		finish(Cancelled, "cancelled while waiting before the task", nil, false)
		return in
	}
	timeout, err := r.evalNumber(ctx, t.Timeout, in, funcs)
	if err != nil {
		return policyErr("timeout", err)
	}
	var count, delay float64
	if t.Retry != nil {
		if count, err = r.evalNumber(ctx, t.Retry.Count, in, funcs); err != nil {
			return policyErr("retry count", err)
		}
		if delay, err = r.evalNumber(ctx, t.Retry.Delay, in, funcs); err != nil {
			return policyErr("retry delay", err)
		}
	}

	tctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		tctx, cancel = context.WithTimeout(ctx, seconds(timeout))
	}
	defer cancel()

	var result any
	var runErr error
	failedOn := false
	for attempt := 0; ; attempt++ {
		result, runErr = r.attempt(tctx, t, te, in, funcs, prep)
		prep = nil
		failedOn = false
		if runErr == nil && t.FailOn != nil && t.FailOn != false {
			// Mistral's FailOnPolicy, after the task completed: the task
			// published as a success, then turns ERROR (and may retry).
			setResult(Success, "", result)
			fail, err := r.evalBool(t.FailOn, in, funcs)
			if err != nil {
				runErr = fmt.Errorf("fail-on: %w", err)
			} else if fail {
				runErr, failedOn = errFailOn, true
			}
		}
		state, info := Success, ""
		if runErr != nil {
			state, info = Failed, runErr.Error()
		}
		setResult(state, info, result)
		var se *startError
		if errors.As(runErr, &se) {
			// Mistral: "Failed to run task": the workflow fails, no retry,
			// no on-error.
			r.mu.Lock()
			te.startFailed = true
			r.mu.Unlock()
			break
		}
		if ctx.Err() != nil || t.Retry == nil || float64(attempt) >= count {
			break
		}
		if tctx.Err() != nil {
			break // the task timed out: no retry within the same timeout
		}
		retry := false
		if runErr != nil {
			retry = true
			if t.Retry.BreakOn != "" {
				v, err := expr.EvalString(ctx, t.Retry.BreakOn, in, funcs)
				if err != nil {
					runErr = fmt.Errorf("retry break-on %s: %w", t.Retry.BreakOn, err)
					break
				}
				retry = !expr.Truthy(v)
			}
		} else if t.Retry.ContinueOn != "" {
			v, err := expr.EvalString(ctx, t.Retry.ContinueOn, in, funcs)
			if err != nil {
				runErr = fmt.Errorf("retry continue-on %s: %w", t.Retry.ContinueOn, err)
				break
			}
			retry = expr.Truthy(v)
		}
		if !retry {
			break
		}
		r.mu.Lock()
		te.RetryCount = attempt + 1
		te.State = Running
		r.mu.Unlock()
		if err := r.e.sleep(tctx, seconds(delay)); err != nil {
			break
		}
	}

	if ctx.Err() != nil {
		finish(Cancelled, "cancelled: "+ctx.Err().Error(), result, true)
		return in
	}
	if errors.Is(runErr, errWorkflowEnded) {
		finish(Cancelled, runErr.Error(), result, true)
		return in
	}
	if runErr != nil && tctx.Err() == context.DeadlineExceeded {
		runErr = timeoutError(timeout)
		if len(t.WithItems) == 0 {
			// Mistral's get_task_execution_result lists the accepted
			// action executions: none for a timed-out task, and a list
			// unless there is exactly one, so the result is []
			// (conformance/async_noop_timeout_publish_on_error).
			result = []any{}
		}
	}

	wa, err := r.evalNumber(ctx, t.WaitAfter, in, funcs)
	if err != nil {
		return policyErr("wait-after", err)
	}
	if err := r.e.sleep(ctx, seconds(wa)); err != nil {
		finish(Cancelled, "cancelled while waiting after the task", result, true)
		return in
	}

	return r.complete(t, te, in, result, runErr, failedOn)
}

// complete ends a task whose action ran (or that cannot run: a join that
// can no longer be satisfied): it records the state and result, and
// publishes. It returns the task's outbound context.
func (r *run) complete(t *Task, te *TaskExecution, in map[string]any, result any, runErr error, failedOn bool) map[string]any {
	ctx := r.ctx
	funcs := r.funcs(te)
	state, info := Success, ""
	spec, global := t.Publish, t.PublishGlobal[Success]
	if runErr != nil {
		state, info = Failed, runErr.Error()
		if !failedOn {
			spec, global = t.PublishOnError, t.PublishGlobal[Failed]
		}
	}
	r.mu.Lock()
	te.State, te.StateInfo, te.Result = state, info, result
	te.Err = runErr
	r.mu.Unlock()
	out := make(map[string]any, len(in)+len(spec))
	for k, v := range in {
		out[k] = v
	}
	// Mistral evaluates publish over ContextView(task, in_context, env,
	// wf_ex.context, input): wf_ex.context as it is now, so a global
	// another branch published while this task ran is seen, under this
	// task's own context (conformance/global_published_while_running).
	r.mu.Lock()
	pubCtx := r.withGlobalsLocked(in, r.inPub[te])
	r.mu.Unlock()
	published := map[string]any{}
	if len(spec) > 0 {
		pv, err := expr.EvalValue(ctx, spec, pubCtx, funcs)
		if err != nil {
			// Mistral fails the workflow at once ("Failed to handle
			// action completion"): on-error does not apply.
			state, info = Failed, fmt.Sprintf("task %s: publish: %v", t.Name, err)
			r.mu.Lock()
			te.fatal = fmt.Sprintf("Failed to handle action completion [error=%s, wf=%s, task=%s, action=%s]", info, r.w.Name, t.Name, te.Action)
			r.mu.Unlock()
		} else if m, ok := pv.(map[string]any); ok {
			published = m
			for k, v := range m {
				out[k] = v
			}
		}
	}
	if len(global) > 0 && te.fatal == "" {
		gv, err := expr.EvalValue(ctx, global, pubCtx, funcs)
		if err != nil {
			state, info = Failed, fmt.Sprintf("task %s: publish global: %v", t.Name, err)
			r.mu.Lock()
			te.fatal = fmt.Sprintf("Failed to handle action completion [error=%s, wf=%s, task=%s, action=%s]", info, r.w.Name, t.Name, te.Action)
			r.mu.Unlock()
		} else if m, ok := gv.(map[string]any); ok {
			r.mu.Lock()
			mergeDicts(r.globals, m)
			r.mu.Unlock()
		}
	}
	// Only a literal false drops the result: Mistral 15 does not evaluate
	// an expression here, and a non-empty string counts as true
	// (conformance/keep_result_expression).
	keep := t.KeepResult != false
	r.mu.Lock()
	te.Published = published
	if !keep {
		// Mistral empties each action execution's output: with-items
		// gives one null per item (conformance/keep_result_items).
		if l, ok := te.Result.([]any); ok && len(t.WithItems) > 0 {
			te.Result = make([]any, len(l))
		} else {
			te.Result = nil
		}
	}
	te.State, te.StateInfo = state, info
	te.FinishedAt = r.e.now()
	r.mu.Unlock()
	return out
}

// prepared is a task's start as Mistral's _schedule_actions makes it:
// the input of every action it runs (one per with-items item), evaluated
// before any of them runs, so that an item whose input fails starts none.
type prepared struct {
	inputs  []map[string]any
	items   bool // with-items: the result is a list
	workers int
}

// prepare evaluates the with-items lists, the concurrency and every
// input of t over in. Its errors are startErrors: Mistral's "Failed to
// run task".
func (r *run) prepare(ctx context.Context, t *Task, in map[string]any, funcs expr.Funcs) (*prepared, error) {
	if len(t.WithItems) == 0 {
		input, err := r.evalInput(ctx, t, in, funcs)
		if err != nil {
			return nil, err
		}
		return &prepared{inputs: []map[string]any{input}, workers: 1}, nil
	}
	var lists [][]any
	n := -1
	for _, iv := range t.WithItems {
		var l any = iv.List
		if s, ok := iv.List.(string); ok {
			v, err := expr.EvalString(ctx, s, in, funcs)
			if err != nil {
				return nil, &startError{fmt.Errorf("with-items %s: %w", iv.Var, err)}
			}
			l = v
		}
		list, ok := itemsOf(l)
		if !ok {
			return nil, &startError{fmt.Errorf("with-items %s: %s is not a list, a string or a dict: there is nothing to iterate over", iv.Var, pyStr(l))}
		}
		if n >= 0 && len(list) != n {
			return nil, &startError{fmt.Errorf("with-items: the lists have different lengths (%d and %d)", n, len(list))}
		}
		n = len(list)
		lists = append(lists, list)
	}
	conc, err := r.evalNumber(ctx, t.Concurrency, in, funcs)
	if err != nil {
		return nil, &startError{fmt.Errorf("concurrency: %w", err)}
	}
	p := &prepared{inputs: make([]map[string]any, n), items: true, workers: int(conc)}
	if p.workers <= 0 || p.workers > n {
		p.workers = n
	}
	// Expressions have no side effects: many items are evaluated on
	// every CPU, and the first item that fails is the one reported.
	errs := make([]error, n)
	parts := min(runtime.GOMAXPROCS(0), max(1, n/256))
	var wg sync.WaitGroup
	for w := 0; w < parts; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += parts {
				data := make(map[string]any, len(in)+len(lists))
				for k, v := range in {
					data[k] = v
				}
				for j, iv := range t.WithItems {
					data[iv.Var] = lists[j][i]
				}
				p.inputs[i], errs[i] = r.evalInput(ctx, t, data, funcs)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, &startError{fmt.Errorf("with-items item %d: %w", i, err)}
		}
	}
	return p, nil
}

// attempt runs the task's action (or sub-workflow) once, or once per item
// under with-items, and returns its result. prep is the start dispatch
// prepared, for the first attempt; a retry prepares again, as Mistral
// schedules the actions again over the context of the moment.
func (r *run) attempt(ctx context.Context, t *Task, te *TaskExecution, in map[string]any, funcs expr.Funcs, prep *prepared) (any, error) {
	if prep == nil {
		var err error
		if prep, err = r.prepare(ctx, t, in, funcs); err != nil {
			return nil, err
		}
	}
	if !prep.items {
		return r.invoke(ctx, t, te, prep.inputs[0])
	}
	n := len(prep.inputs)
	results := make([]any, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < prep.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = r.invoke(ctx, t, te, prep.inputs[i])
			}
		}()
	}
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return results, fmt.Errorf("with-items item %d: %w", i, err)
		}
	}
	return results, nil
}

// itemsOf is what with-items iterates over in v, as Python's iter():
// a list's items, a string's characters, a dict's keys (in the order the
// data model keeps: sorted).
func itemsOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, true
	}
	return nil, false
}

// evalInput evaluates the task's input over data: the input of one
// action (or sub-workflow) it runs.
func (r *run) evalInput(ctx context.Context, t *Task, data map[string]any, funcs expr.Funcs) (map[string]any, error) {
	var iv any
	var err error
	if t.InputExpr != "" {
		iv, err = expr.EvalString(ctx, t.InputExpr, data, funcs)
		if err == nil {
			if _, isMap := iv.(map[string]any); !isMap && iv != nil {
				err = fmt.Errorf("%s gives %s, want a dict", t.InputExpr, pyStr(iv))
			}
		}
	} else {
		iv, err = expr.EvalValue(ctx, t.Input, data, funcs)
	}
	if err != nil {
		return nil, &startError{fmt.Errorf("input: %w", err)}
	}
	input, _ := iv.(map[string]any)
	if input == nil {
		input = map[string]any{}
	}
	return input, nil
}

// invoke runs the task's action or sub-workflow once with input.
func (r *run) invoke(ctx context.Context, t *Task, te *TaskExecution, input map[string]any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.Workflow != "" {
		return r.subWorkflow(ctx, t, te, input)
	}
	a, ok := r.e.File.Action(r.e.Registry, t.Action)
	if !ok {
		return nil, fmt.Errorf("unknown action %q", t.Action)
	}
	if err := checkInput(a, input); err != nil {
		// Mistral: "Failed to run task [error=Invalid input ...]".
		return nil, &startError{err}
	}
	out, err := a.Run(ctx, input)
	if errors.Is(err, ErrPending) {
		out, err = r.await(ctx, t, te)
		if err != nil {
			var re *ResultError
			if errors.As(err, &re) {
				return re.Value, err
			}
			return out, err
		}
		return out, nil
	}
	if a.Secret() {
		r.mu.Lock()
		te.Secret = true
		collectSecrets(out, r.secrets)
		r.mu.Unlock()
	}
	if err != nil {
		var re *ResultError
		if errors.As(err, &re) {
			return re.Value, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
		ae := &actionException{action: a.Name(), id: NewID(), err: err}
		if a.Name() == "std.fail" {
			ae.action = "Fail action" // FailAction.__repr__
		}
		return ae.Error(), ae
	}
	out, err = expr.Normalize(out)
	if err != nil {
		return nil, fmt.Errorf("action %s returned a value outside the data model: %w", a.Name(), err)
	}
	if err := checkOutput(a, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *run) subWorkflow(ctx context.Context, t *Task, te *TaskExecution, input map[string]any) (any, error) {
	if r.e.File == nil || r.e.File.Workflow(t.Workflow) == nil {
		return nil, fmt.Errorf("sub-workflow %q is not defined", t.Workflow)
	}
	w := r.e.File.Workflow(t.Workflow)
	child := *r.e
	child.OnTask = nil
	child.parent = r
	// A sub-workflow runs with its parent's env and namespace, as in
	// Mistral.
	r.mu.Lock()
	ns, _ := r.params()["namespace"].(string)
	r.mu.Unlock()
	// Mistral's WorkflowAction.schedule: what the sub-workflow does not
	// take as input are execution parameters (an env dict among them), not
	// an error (case p_sub_extra_input).
	p := Params{Env: r.env(), Namespace: ns}
	declared := map[string]bool{}
	for _, in := range w.Input {
		declared[in.Name] = true
	}
	own := make(map[string]any, len(input))
	for k, v := range input {
		switch {
		case declared[k]:
			own[k] = v
		case k == "env":
			if env, ok := v.(map[string]any); ok {
				p.Env = env
			}
		}
	}
	ex, err := child.StartWith(w, own, p)
	if err != nil {
		// A missing input: Mistral cannot start it ("Failed to run task").
		return nil, &startError{err}
	}
	ex.ParentTaskID = te.ID
	ex = child.Continue(ctx, w, ex)
	switch ex.State {
	case Success:
		return ex.Output, nil
	case Cancelled:
		return nil, fmt.Errorf("sub-workflow %s cancelled", w.Name)
	}
	return ex.Output, fmt.Errorf("sub-workflow %s [execution %s] failed: %s", w.Name, ex.ID, ex.StateInfo)
}

// collectSecrets records the string leaves of a secret output, so that
// the store can redact them wherever they are copied.
func collectSecrets(v any, into map[string]bool) {
	switch x := v.(type) {
	case string:
		if len(x) >= 4 {
			into[x] = true
		}
	case []any:
		for _, e := range x {
			collectSecrets(e, into)
		}
	case map[string]any:
		for _, e := range x {
			collectSecrets(e, into)
		}
	}
}

// actionException is an action that failed with an error (not a
// ResultError): Mistral's executor makes this text the action's result
// and its task's state_info, which workflows publish with
// publish-on-error: message: <% task().result %> (case
// action_exception_result).
type actionException struct {
	action, id string
	err        error
}

func (e *actionException) Error() string {
	return fmt.Sprintf("The action raised an exception [action=%s, action_ex_id=%s, msg='%s']", e.action, e.id, e.err)
}
func (e *actionException) Unwrap() error { return e.err }

// startError is a failure to start a task's action (its input or its
// with-items lists do not evaluate): Mistral fails the whole workflow
// ("Failed to run task") without retry or on-error.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// timeoutError is Mistral's state_info for a task that ran out of time.
func timeoutError(seconds float64) error {
	//lint:ignore ST1005 Mistral's message, kept verbatim
	return fmt.Errorf("Task timed out [timeout(s)=%g].", seconds)
}
