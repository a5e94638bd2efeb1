package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// Validate runs the semantic checks on a parsed file: transitions to
// unknown tasks, actions reg does not know (reg nil skips that check),
// literal input an action's InputSchema rejects, sub-workflows the file
// does not define, tasks no path reaches, joins nobody reaches, and
// expressions that do not parse. It returns an ErrorList.
func (f *File) Validate(reg Registry) error {
	v := &validator{f: f, reg: reg}
	v.validateActions()
	for _, w := range f.Workflows {
		v.workflow(w)
	}
	if len(v.errs) == 0 {
		return nil
	}
	sort.SliceStable(v.errs, func(i, j int) bool {
		a, b := v.errs[i].Pos, v.errs[j].Pos
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	return v.errs
}

type validator struct {
	f    *File
	reg  Registry
	errs ErrorList
}

func (v *validator) add(w *Workflow, t *Task, key string, pos Pos, format string, args ...any) {
	v.errs = append(v.errs, v.newError(w, t, key, pos, format, args...))
}

// stricter adds a problem Mistral's parser does not reject (Error.Stricter).
func (v *validator) stricter(w *Workflow, t *Task, key string, pos Pos, format string, args ...any) {
	e := v.newError(w, t, key, pos, format, args...)
	e.Stricter = true
	v.errs = append(v.errs, e)
}

// markStricter marks the problems fn adds as Error.Stricter.
func (v *validator) markStricter(fn func()) {
	n := len(v.errs)
	fn()
	for _, e := range v.errs[n:] {
		e.Stricter = true
	}
}

// Mistral's limits on names (mistral/lang/v2/tasks.py): a join task's
// name goes into a longer key, so it is shorter.
const (
	maxTaskName     = 255
	maxJoinTaskName = maxTaskName - 47
)

// uuidLike is oslo's uuidutils.is_uuid_like: 32 hexadecimal digits once
// braces, urn:uuid: and dashes are gone. Mistral refuses such workflow
// names (they would read as ids).
func uuidLike(s string) bool {
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "urn:")
	s = strings.TrimPrefix(s, "uuid:")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

func (v *validator) newError(w *Workflow, t *Task, key string, pos Pos, format string, args ...any) *Error {
	e := &Error{File: v.f.Name, Pos: pos, Workflow: w.Name, Key: key, Msg: fmt.Sprintf(format, args...)}
	if t != nil {
		e.Task = t.Name
	}
	return e
}

func (v *validator) workflow(w *Workflow) {
	if uuidLike(w.Name) {
		v.add(w, nil, "", w.Pos, "a workflow name cannot look like a UUID (Mistral would take it for an id): rename it")
	}
	for _, t := range w.Tasks {
		switch {
		case len(t.Name) > maxTaskName:
			v.add(w, t, "", t.Pos, "the name is %d characters: Mistral allows %d", len(t.Name), maxTaskName)
		case t.Join != 0 && len(t.Name) > maxJoinTaskName:
			v.add(w, t, "join", t.Pos, "a join task's name is at most %d characters in Mistral, this one has %d", maxJoinTaskName, len(t.Name))
		}
	}
	names := make([]string, len(w.Tasks))
	for i, t := range w.Tasks {
		names[i] = t.Name
	}
	if w.Reverse {
		v.reverse(w, names)
		return
	}
	inbound := map[string][]string{} // target -> distinct source tasks
	for _, t := range w.Tasks {
		seen := map[string]bool{}
		for ci, trs := range t.transitions() {
			key := []string{"on-success", "on-error", "on-complete"}[ci]
			for _, tr := range trs {
				switch {
				case tr.IsCommand():
				case w.Task(tr.Target) == nil:
					v.add(w, t, key, tr.Pos, "transition to unknown task %q (this workflow's tasks: %s)", tr.Target, strings.Join(names, ", "))
				default:
					if !seen[tr.Target] {
						seen[tr.Target] = true
						inbound[tr.Target] = append(inbound[tr.Target], t.Name)
					}
				}
				if tr.Condition != "" {
					v.expression(w, t, key, tr.Pos, tr.Condition, true)
				}
				// Mistral's parser does not check an engine command's
				// parameters (fail msg=<% ... %>).
				v.markStricter(func() {
					for _, pv := range tr.Params {
						v.exprs(w, t, key, tr.Pos, pv)
					}
				})
			}
		}
	}
	// Start tasks are the targets of no transition; everything else must
	// be reachable from them.
	var start []string
	for _, t := range w.Tasks {
		if len(inbound[t.Name]) == 0 {
			start = append(start, t.Name)
		}
	}
	if len(start) == 0 {
		v.add(w, nil, "tasks", w.Pos, "no start task: every task is the target of a transition, so none can start (Mistral needs at least one task without inbound transitions)")
	} else {
		reached := map[string]bool{}
		queue := append([]string(nil), start...)
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			if reached[n] {
				continue
			}
			reached[n] = true
			for _, trs := range w.Task(n).transitions() {
				for _, tr := range trs {
					if !tr.IsCommand() && w.Task(tr.Target) != nil {
						queue = append(queue, tr.Target)
					}
				}
			}
		}
		for _, t := range w.Tasks {
			if !reached[t.Name] {
				v.stricter(w, t, "", t.Pos, "unreachable: only tasks that themselves never run (%s) lead here; start it from a reachable task or remove it", strings.Join(inbound[t.Name], ", "))
			}
		}
	}
	for _, t := range w.Tasks {
		if t.Join == 0 {
			continue
		}
		n := len(inbound[t.Name])
		switch {
		case t.Join == -1 && n == 0:
			v.add(w, t, "join", t.KeyPos("join"), "all, but no task has a transition to %s (Mistral: no inbound tasks for task with 'join: all')", t.Name)
		case t.Join > 0 && n < t.Join:
			v.add(w, t, "join", t.KeyPos("join"), "%d, but only %d task(s) have a transition here (%s)", t.Join, n, strings.Join(inbound[t.Name], ", "))
		}
	}
	v.common(w)
}

// reverse checks a reverse workflow: every task it requires exists
// (Mistral's _check_workflow_integrity: "Task 'x' not found.").
func (v *validator) reverse(w *Workflow, names []string) {
	for _, t := range w.Tasks {
		for _, req := range t.Requires {
			if w.Task(req) == nil {
				v.add(w, t, "requires", t.KeyPos("requires"), "requires unknown task %q (this workflow's tasks: %s)", req, strings.Join(names, ", "))
			}
		}
	}
	v.common(w)
}

func (v *validator) common(w *Workflow) {
	v.exprs(w, nil, "output", w.Pos, w.Output)
	// Mistral's parser does not check output-on-error's expressions (they
	// fail when the workflow fails).
	v.markStricter(func() { v.exprs(w, nil, "output-on-error", w.Pos, w.OutputOnError) })
	v.exprs(w, nil, "vars", w.Pos, w.Vars)
	for _, t := range w.Tasks {
		v.task(w, t)
	}
}

func (v *validator) task(w *Workflow, t *Task) {
	v.exprs(w, t, "input", t.KeyPos("input"), t.Input)
	if t.InputExpr != "" {
		v.expression(w, t, "input", t.KeyPos("input"), t.InputExpr, true)
	}
	v.exprs(w, t, "publish", t.KeyPos("publish"), t.Publish)
	v.exprs(w, t, "publish-on-error", t.KeyPos("publish-on-error"), t.PublishOnError)
	for _, k := range []struct {
		key string
		v   any
	}{{"wait-before", t.WaitBefore}, {"wait-after", t.WaitAfter}, {"timeout", t.Timeout}, {"concurrency", t.Concurrency}, {"keep-result", t.KeepResult}, {"fail-on", t.FailOn}, {"pause-before", t.PauseBefore}, {"safe-rerun", t.SafeRerun}} {
		v.exprs(w, t, k.key, t.KeyPos(k.key), k.v)
	}
	if t.Retry != nil {
		v.exprs(w, t, "retry", t.KeyPos("retry"), []any{t.Retry.Count, t.Retry.Delay, t.Retry.BreakOn, t.Retry.ContinueOn})
	}
	for _, iv := range t.WithItems {
		v.exprs(w, t, "with-items", t.KeyPos("with-items"), iv.List)
	}
	if t.Workflow != "" {
		if expr.IsExpression(t.Workflow) {
			v.stricter(w, t, "workflow", t.KeyPos("workflow"), "a sub-workflow named by an expression is not supported by fernetflow's engine: name it")
		} else if v.f.Workflow(t.Workflow) == nil {
			v.stricter(w, t, "workflow", t.KeyPos("workflow"), "sub-workflow %q is not defined in %s: define it in the same file", t.Workflow, v.f.Name)
		}
		return
	}
	if expr.IsExpression(t.Action) {
		v.stricter(w, t, "action", t.KeyPos("action"), "an action named by an expression is not supported by fernetflow's engine: name it")
		return
	}
	if v.reg == nil && len(v.f.Actions) == 0 {
		return
	}
	a, ok := v.f.Action(v.reg, t.Action)
	if !ok && v.reg == nil {
		return
	}
	if why, refused := RefusedStdActions[t.Action]; !ok && refused {
		v.stricter(w, t, "action", t.KeyPos("action"), "action %s is one of Mistral's standard actions that fernetflow does not run: %s", t.Action, why)
		return
	}
	if !ok {
		v.stricter(w, t, "action", t.KeyPos("action"), "unknown action %q (fernetflow action list shows every action, Mistral's std.* among them)%s", t.Action, suggest(t.Action, v.names()))
		return
	}
	inputPos := t.KeyPos("input")
	if _, ok := t.keyPos["input"]; !ok {
		inputPos = t.KeyPos("action") // inline parameters
	}
	if t.InputExpr != "" {
		return // the whole input comes at run time
	}
	if len(t.WithItems) > 0 || hasExpression(t.Input) {
		// Values come at run time; the names can be checked now.
		if err := checkInputNames(a, t.Input); err != nil {
			v.stricter(w, t, "input", inputPos, "%v", err)
		}
		return
	}
	if err := checkInput(a, t.Input); err != nil {
		v.stricter(w, t, "input", inputPos, "%v", err)
	}
}

func suggest(name string, names []string) string {
	var close []string
	for _, n := range names {
		if strings.EqualFold(n, name) || (len(name) > 3 && (strings.HasPrefix(n, name[:len(name)-1]) || strings.HasPrefix(name, n[:max(1, len(n)-1)]))) {
			close = append(close, n)
		}
	}
	if len(close) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(close, " or ") + "?"
}

func hasExpression(v any) bool {
	found := false
	walkStrings(v, "", func(_, s string) {
		if expr.IsExpression(s) {
			found = true
		}
	})
	return found
}

// exprs checks that every <% %> inside v parses.
func (v *validator) exprs(w *Workflow, t *Task, key string, pos Pos, val any) {
	walkStrings(val, "", func(_, s string) {
		if expr.IsExpression(s) {
			v.expression(w, t, key, pos, s, false)
		}
	})
}

func (v *validator) expression(w *Workflow, t *Task, key string, pos Pos, s string, condition bool) {
	if condition && !expr.IsExpression(s) {
		v.add(w, t, key, pos, "condition %q is not a <%% %%> expression", s)
		return
	}
	if err := expr.Validate(s); err != nil {
		v.add(w, t, key, pos, "expression %s does not parse: %v", s, err)
	}
}

// checkInput validates an action's input against its InputSchema.
func checkInput(a Action, input map[string]any) error {
	sch, err := actionSchema(a.Name()+"#input", a.InputSchema())
	if err != nil || sch == nil {
		return err
	}
	inst, err := toSchemaInstance(input)
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			var msgs []string
			for _, l := range bestLeaves(ve) {
				loc := strings.Join(l.InstanceLocation, ".")
				m := l.ErrorKind.LocalizedString(printer)
				if loc != "" {
					m = loc + ": " + m
				}
				msgs = append(msgs, m)
			}
			return fmt.Errorf("input rejected by action %s: %s", a.Name(), strings.Join(msgs, "; "))
		}
		return fmt.Errorf("input rejected by action %s: %w", a.Name(), err)
	}
	return nil
}

// checkOutput validates an action's output against its OutputSchema.
func checkOutput(a Action, out any) error {
	sch, err := actionSchema(a.Name()+"#output", a.OutputSchema())
	if err != nil || sch == nil {
		return err
	}
	inst, err := toSchemaInstance(out)
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("output of action %s does not match its schema: %v", a.Name(), firstLine(err.Error()))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var schemaMu sync.Mutex

var schemaCache = struct {
	m map[string]*jsonschema.Schema
}{m: map[string]*jsonschema.Schema{}}

func actionSchema(key string, raw []byte) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	ck := key + "\x00" + string(raw)
	if s, ok := schemaCache.m[ck]; ok {
		return s, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", key, err)
	}
	c := jsonschema.NewCompiler()
	url := "mem:///" + strings.ReplaceAll(key, "#", "/")
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", key, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", key, err)
	}
	schemaCache.m[ck] = s
	return s, nil
}

func (v *validator) names() []string {
	var out []string
	if v.reg != nil {
		out = v.reg.Names()
	}
	for n := range v.f.Actions {
		out = append(out, n)
	}
	return out
}

// checkInputNames checks the input's keys against the top level of the
// action's InputSchema: required properties present and, when
// additionalProperties is false, no unknown key.
func checkInputNames(a Action, input map[string]any) error {
	var sch struct {
		Properties           map[string]json.RawMessage `json:"properties"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
	}
	raw := a.InputSchema()
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &sch) != nil {
		return nil
	}
	var missing, unknown []string
	for _, r := range sch.Required {
		if _, ok := input[r]; !ok {
			missing = append(missing, r)
		}
	}
	if sch.AdditionalProperties != nil && !*sch.AdditionalProperties {
		for k := range input {
			if _, ok := sch.Properties[k]; !ok {
				unknown = append(unknown, k)
			}
		}
	}
	sort.Strings(unknown)
	if len(missing) == 0 && len(unknown) == 0 {
		return nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		known := make([]string, 0, len(sch.Properties))
		for k := range sch.Properties {
			known = append(known, k)
		}
		sort.Strings(known)
		parts = append(parts, fmt.Sprintf("unknown %s (it takes %s)", strings.Join(unknown, ", "), strings.Join(known, ", ")))
	}
	return fmt.Errorf("input rejected by action %s: %s", a.Name(), strings.Join(parts, "; "))
}

// CheckInput validates input against a's input schema, as the engine does
// before it runs a task's action (for actions run outside a workflow:
// Mistral's POST /v2/action_executions).
func CheckInput(a Action, input map[string]any) error { return checkInput(a, input) }
