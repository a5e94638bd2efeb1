package workflow

import (
	"fmt"
	"strings"
)

// Error is one problem in a workflow file, at a line and column, naming
// the workflow, task and key it is about when there is one.
type Error struct {
	File     string
	Pos      Pos
	Workflow string
	Task     string
	Key      string
	Msg      string
	// Stricter marks a problem Mistral 15's parser accepts (the file
	// loads there; the run may fail later, or a task never runs):
	// fernetflow's engine refuses it, and workflow validate reports it
	// as a warning. Validate and Load still return it as an error.
	Stricter bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	fmt.Fprintf(&b, "%d:%d: ", e.Pos.Line, e.Pos.Column)
	if e.Workflow != "" {
		fmt.Fprintf(&b, "workflow %s: ", e.Workflow)
	}
	if e.Task != "" {
		fmt.Fprintf(&b, "task %s: ", e.Task)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a file, in file order.
type ErrorList []*Error

// Split parts l into the problems Mistral's parser rejects too (errs) and
// the ones only fernetflow reports (warns, Error.Stricter).
func (l ErrorList) Split() (errs, warns ErrorList) {
	for _, e := range l {
		if e.Stricter {
			warns = append(warns, e)
		} else {
			errs = append(errs, e)
		}
	}
	return errs, warns
}

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// File is a parsed workflow file: version 2.0 and its workflows in the
// order they are written.
type File struct {
	Name      string
	Workflows []*Workflow
	// Workbook is the workbook's name for a workbook file (name:,
	// actions:, workflows:), "" for a file of workflows.
	Workbook string
	// Actions are a workbook's ad-hoc actions, by their short name.
	Actions map[string]*AdhocAction
}

// Workflow returns the workflow called name, or nil. In a workbook the
// name may be qualified with the workbook's name (fernet.rotate_all), as
// Mistral names it.
func (f *File) Workflow(name string) *Workflow {
	if f.Workbook != "" {
		name = strings.TrimPrefix(name, f.Workbook+".")
	}
	for _, w := range f.Workflows {
		if w.Name == name {
			return w
		}
	}
	return nil
}

// QualifiedName is w's name as Mistral knows it: WORKBOOK.NAME in a
// workbook, NAME otherwise.
func (f *File) QualifiedName(w *Workflow) string {
	if f != nil && f.Workbook != "" {
		return f.Workbook + "." + w.Name
	}
	return w.Name
}

// Action resolves an action name for a task of this file: a workbook's
// ad-hoc action (short or qualified name) first, then reg.
func (f *File) Action(reg Registry, name string) (Action, bool) {
	if f != nil && f.Actions != nil {
		short := strings.TrimPrefix(name, f.Workbook+".")
		if a, ok := f.Actions[short]; ok {
			return &boundAdhoc{a: a, reg: reg}, true
		}
	}
	if reg == nil {
		return nil, false
	}
	return reg.Lookup(name)
}

// Param is one declared workflow input.
type Param struct {
	Name       string
	Default    any
	HasDefault bool
}

// Workflow is one workflow: direct (transitions) or reverse (requires).
type Workflow struct {
	Name        string
	Description string
	// Reverse is true for type: reverse: tasks declare what they require
	// and a run names its target task (Engine.Target).
	Reverse       bool
	Input         []Param
	Output        map[string]any
	OutputOnError map[string]any
	Vars          map[string]any
	Tasks         []*Task
	// Spec is the workflow as written, with name and version: what
	// execution().spec shows.
	Spec map[string]any
	Pos  Pos

	byName map[string]*Task
}

// Task returns the task called name, or nil.
func (w *Workflow) Task(name string) *Task { return w.byName[name] }

// Transition is one entry of on-success, on-error or on-complete: a task
// name or an engine command (fail, succeed, noop), with an optional
// condition.
type Transition struct {
	Target    string
	Params    map[string]any // fail msg="..." and similar
	Condition string         // "" means always
	Pos       Pos
}

// IsCommand reports whether the transition is an engine command.
func (t Transition) IsCommand() bool {
	switch t.Target {
	case "fail", "succeed", "noop", "pause":
		return true
	}
	return false
}

// ItemsVar is one "x in <list>" of with-items.
type ItemsVar struct {
	Var  string
	List any // an expression string or a literal []any
}

// Retry is a task's retry policy.
type Retry struct {
	Count      any // int64 or expression
	Delay      any // int64 or expression
	BreakOn    string
	ContinueOn string
}

// Task is one task of a direct workflow.
type Task struct {
	Name           string
	Action         string // the action name, without inline parameters
	Workflow       string // a sub-workflow, instead of Action
	Input          map[string]any
	InputExpr      string // input: <% expression giving a dict %>, instead of Input
	WithItems      []ItemsVar
	Concurrency    any
	Publish        map[string]any
	PublishOnError map[string]any
	OnSuccess      []Transition
	OnError        []Transition
	OnComplete     []Transition
	Join           int // 0: no join, -1: all, N: N inbound transitions
	Retry          *Retry
	WaitBefore     any
	WaitAfter      any
	Timeout        any
	KeepResult     any // nil means true
	// SafeRerun is safe-rerun: checked (Mistral validates its expression), not used by the engine.
	SafeRerun   any
	FailOn      any      // bool or expression: fail a task that succeeded
	PauseBefore any      // bool or expression: pause the workflow before the task
	Requires    []string // reverse workflows: the tasks this one needs
	// PublishGlobal are the variables on-success/on-error/on-complete
	// publish with global: (Mistral's wf_ex.context), by the state they
	// publish on (Success or Failed).
	PublishGlobal map[State]map[string]any
	// Spec is the task as written, with name, type and version: what
	// task().spec shows.
	Spec map[string]any
	Pos  Pos

	keyPos map[string]Pos
}

// KeyPos returns where key is written in the task, or the task's position.
func (t *Task) KeyPos(key string) Pos {
	if p, ok := t.keyPos[key]; ok {
		return p
	}
	return t.Pos
}

func (t *Task) transitions() [][]Transition {
	return [][]Transition{t.OnSuccess, t.OnError, t.OnComplete}
}
