package expr

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Mistral's own expression functions beyond task(), execution(), env()
// and uuid(): global(), tasks(), json_pp(), yaml_dump(), yaml_parse().

func fnGlobal(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	name, ok := v.(string)
	if !ok {
		// Mistral's wf_ex.context.get(var_name): the context's keys are
		// strings, so another value finds nothing (yaql hands lists and
		// dicts over as tuples and FrozenDicts, which Python hashes; from
		// Jinja they are refused before, see jinjaRun.callMistral).
		return nil, nil
	}
	if ev.funcs.Global == nil {
		return nil, errors.New("expr: global(): no workflow execution here (outside a workflow)")
	}
	v, err = ev.funcs.Global(ev.ctx, name)
	if err != nil {
		return nil, fmt.Errorf("expr: global(%s): %w", pyRepr(name, false), err)
	}
	return Normalize(v)
}

// taskFilter is a filter argument of Mistral's task() and tasks(): a
// false value (null, "", 0, [], {}) filters nothing; a true one is
// compared with the task's string field, so a value that is not a string
// matches no task (none is false).
func taskFilter(v any) (s string, none bool) {
	if !Truthy(v) {
		return "", false
	}
	s, ok := v.(string)
	return s, !ok
}

// fnTasks is tasks(workflowExecutionId, recursive, state, flat).
func fnTasks(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(0, "workflow_execution_id", "recursive", "state", "flat")
	if err != nil {
		return nil, err
	}
	var args [4]any
	for i := range args {
		if args[i], err = b.val(ev, i, nil); err != nil {
			return nil, err
		}
	}
	var q TasksQuery
	id, noID := taskFilter(args[0])
	state, noState := taskFilter(args[2])
	q.WorkflowExecutionID, q.Recursive, q.State, q.Flat = id, Truthy(args[1]), state, Truthy(args[3])
	if ev.funcs.Tasks == nil {
		return nil, errors.New("expr: tasks(): no task executions here (outside a workflow)")
	}
	if noID || noState {
		return []any{}, nil
	}
	l, err := ev.funcs.Tasks(ev.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("expr: tasks(): %w", err)
	}
	return Normalize(l)
}

// fnJSONPP is Mistral's deprecated json_pp(data): json_dump with the
// escaped newlines of strings turned back into newlines. A false data
// (null, [], {}, 0, "") makes Mistral dump its whole context, which fails
// ("Circular reference detected"): so does json_pp(null) here.
func fnJSONPP(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	if !Truthy(v) {
		return nil, errors.New("expr: json_pp(): circular reference detected (a false argument dumps the whole context)")
	}
	if err := ev.checkSize(v, "json_pp()"); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v, "    ", "", ", ", ": ", true); err != nil {
		return nil, fmt.Errorf("expr: json_pp(): %w", err)
	}
	s := strings.ReplaceAll(strings.ReplaceAll(buf.String(), `\n`, "\n"), " \n", "\n")
	return s, ev.allocString(s, "json_pp()")
}
