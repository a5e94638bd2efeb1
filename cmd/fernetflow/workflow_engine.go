package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
	"github.com/fernetflow/fernetflow/workflow/expr"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// unboundHint says which command gives an action that refused to run
// (actions.ErrUnbound) what it needs.
func unboundHint(err error) string {
	var ue *actions.UnboundError
	if !errors.As(err, &ue) {
		return ""
	}
	switch ue.Needs {
	case actions.NeedsMaster, actions.NeedsFleet:
		return ": run its workflow with fernetflow rotate, distribute or enroll, or from a cron trigger of fernetflow serve --target"
	case actions.NeedsCloud:
		return ": fernetflow serve --target heat --listen serves it with its Heat cloud"
	}
	return ""
}

// openStore opens STATE_DIR/executions.db, keeping --keep-executions
// executions.
func (a *app) openStore(stateDir string) (*store.Store, error) {
	st, err := store.Open(filepath.Join(stateDir, store.FileName))
	if err != nil {
		return nil, err
	}
	st.MaxExecutions = a.keepExecutions
	if a.keepExecutions == 0 {
		st.MaxExecutions = -1 // 0 on the command line: keep them all
	}
	return st, nil
}

// workflowEngineCmds are the workflow subcommands backed by the engine.
func (a *app) workflowEngineCmds() []*cobra.Command {
	return []*cobra.Command{a.workflowValidateCmd(), a.workflowRunCmd()}
}

type validateResult struct {
	File      string   `json:"file"`
	Valid     bool     `json:"valid"`
	Workflows []string `json:"workflows"`
	Errors    []string `json:"errors"`
	Warnings  []string `json:"warnings"`
}

type validateResults []validateResult

func (v validateResults) Table() ([]string, [][]string) {
	var rows [][]string
	for _, r := range v {
		status := "valid"
		if !r.Valid {
			status = "INVALID"
		} else if len(r.Warnings) > 0 {
			status = fmt.Sprintf("valid, %d warning(s)", len(r.Warnings))
		}
		rows = append(rows, []string{r.File, status, strings.Join(r.Workflows, ", ")})
	}
	return []string{"FILE", "RESULT", "WORKFLOWS"}, rows
}

func (a *app) workflowValidateCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check Mistral DSL v2 workflow files as Mistral 15's parser does, and warn about what fernetflow refuses",
		Long: `Check each workflow file or workbook: YAML syntax, the DSL v2 JSON Schema,
transitions to unknown tasks, joins nobody reaches, and expressions that
do not parse. A file is INVALID exactly when Mistral 15's parser rejects it
(the integration suite checks the two agree on every file of
workflow/testdata). Every problem names file:line:column, the workflow,
the task and the key, on stderr.

fernetflow checks more than Mistral does before it runs a workflow:
unknown actions and sub-workflows, literal input an action rejects,
unreachable tasks, inline parameters Mistral silently drops, keys written
twice, versions other than 2.0. Mistral accepts those files (and fails or
misbehaves at run time), so validate reports them as warnings ("warning:"
on stderr); workflow run refuses them. --strict makes them errors.

The exit code is 1 when any file is invalid.`,
		Example: `  fernetflow workflow validate rotate.yaml enroll.yaml
  fernetflow workflow validate --strict my_workbook.yaml
  fernetflow workflow validate -f json workflow/testdata/bad/*.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("workflow validate takes one or more files")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := actions.Engine(actions.Host{}) // std.* run; fernetflow's own actions refuse (no fleet)
			var results validateResults
			bad := 0
			for _, name := range args {
				r := validateResult{File: name, Valid: true, Workflows: []string{}, Errors: []string{}, Warnings: []string{}}
				src, err := os.ReadFile(name)
				var f *workflow.File
				var errs, warns workflow.ErrorList
				if err != nil {
					errs = workflow.ErrorList{{File: name, Pos: workflow.Pos{Line: 1, Column: 1}, Msg: err.Error()}}
				} else {
					f, errs, warns = workflow.Check(name, src, reg)
				}
				if strict {
					errs, warns = append(errs, warns...), nil
				}
				for _, e := range warns {
					r.Warnings = append(r.Warnings, e.Error())
					fmt.Fprintln(a.stderr, "warning: "+e.Error())
				}
				if len(errs) > 0 {
					r.Valid = false
					bad++
					for _, e := range errs {
						r.Errors = append(r.Errors, e.Error())
						fmt.Fprintln(a.stderr, e.Error())
					}
				} else if f != nil {
					for _, w := range f.Workflows {
						r.Workflows = append(r.Workflows, f.QualifiedName(w))
					}
				}
				results = append(results, r)
			}
			if err := a.print(results); err != nil {
				return err
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d files have errors", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "report what only fernetflow refuses (unknown actions, unreachable tasks, ...) as errors, not warnings")
	return cmd
}

// execView is an execution as fernetflow prints it (-f json: values, not
// JSON in strings).
type execView struct {
	ID                string         `json:"id"`
	WorkflowName      string         `json:"workflow_name"`
	WorkflowNamespace string         `json:"workflow_namespace"`
	State             workflow.State `json:"state"`
	StateInfo         *string        `json:"state_info"`
	Input             map[string]any `json:"input"`
	Output            map[string]any `json:"output"`
	CreatedAt         string         `json:"created_at"`
	UpdatedAt         string         `json:"updated_at"`
	Tasks             []taskView     `json:"tasks"`
}

type taskView struct {
	Name      string         `json:"name"`
	State     workflow.State `json:"state"`
	StateInfo *string        `json:"state_info"`
	Published map[string]any `json:"published"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func mistralTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func newExecView(ex *workflow.Execution) execView {
	ex = ex.Redacted()
	v := execView{ID: ex.ID, WorkflowName: ex.WorkflowName, State: ex.State, StateInfo: strPtr(ex.StateInfo),
		Input: ex.Input, Output: ex.Output, CreatedAt: mistralTime(ex.CreatedAt), UpdatedAt: mistralTime(ex.UpdatedAt), Tasks: []taskView{}}
	v.WorkflowNamespace, _ = ex.Params["namespace"].(string)
	if v.Input == nil {
		v.Input = map[string]any{}
	}
	if v.Output == nil {
		v.Output = map[string]any{}
	}
	for _, te := range ex.Tasks {
		pub := te.Published
		if pub == nil {
			pub = map[string]any{}
		}
		v.Tasks = append(v.Tasks, taskView{Name: te.Name, State: te.State, StateInfo: strPtr(te.StateInfo), Published: pub})
	}
	return v
}

// Table shows an execution as openstack workflow execution show does, with
// its tasks below.
func (v execView) Table() ([]string, [][]string) {
	js := func(m any) string {
		b, err := expr.MarshalJSON(m, "")
		if err != nil {
			return fmt.Sprint(m)
		}
		return string(b)
	}
	info := ""
	if v.StateInfo != nil {
		info = firstLineOf(*v.StateInfo)
	}
	rows := [][]string{
		{"id", v.ID}, {"workflow_name", v.WorkflowName}, {"workflow_namespace", v.WorkflowNamespace}, {"state", string(v.State)}, {"state_info", info},
		{"input", js(v.Input)}, {"output", js(v.Output)}, {"created_at", v.CreatedAt}, {"updated_at", v.UpdatedAt},
	}
	for _, t := range v.Tasks {
		line := string(t.State)
		if t.StateInfo != nil {
			line += " (" + firstLineOf(*t.StateInfo) + ")"
		}
		if len(t.Published) > 0 {
			line += " published " + js(t.Published)
		}
		rows = append(rows, []string{"task " + t.Name, line})
	}
	return []string{"FIELD", "VALUE"}, rows
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// loadWorkflowArg reads NAME|FILE: an existing file, else a workflow
// shipped in workflow/definitions.
func loadWorkflowArg(arg string, reg workflow.Registry) (*workflow.File, error) {
	name, src, err := workflowSource(arg)
	if err != nil {
		return nil, err
	}
	return workflow.Load(name, src, reg)
}

// workflowSource reads a workflow file, or a shipped definition named by
// arg (with or without .yaml) when no such file exists.
func workflowSource(arg string) (name string, src []byte, err error) {
	src, err = os.ReadFile(arg)
	if err == nil {
		return arg, src, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || strings.ContainsAny(arg, "/\\") {
		return "", nil, err
	}
	name = strings.TrimSuffix(arg, ".yaml") + ".yaml"
	if src, err = definitions.Source(name); err != nil {
		return "", nil, fmt.Errorf("%s: no such file, and no shipped workflow of that name (shipped: %s)", arg, strings.Join(definitions.Names(), ", "))
	}
	return name, src, nil
}

// parseInputs merges --input-file and --input k=v (a value that parses as
// JSON is taken as JSON, otherwise as a string).
func (a *app) parseInputs(pairs []string, file string) (map[string]any, error) {
	in := map[string]any{}
	if file != "" {
		doc, err := readDocument(a.stdin, file, "--input-file")
		if err != nil {
			return nil, err
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, usagef("--input-file %s: want a mapping of input names to values", file)
		}
		for k, v := range m {
			in[k] = v
		}
	}
	for _, p := range pairs {
		k, raw, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("--input %q: want NAME=VALUE", p)
		}
		var v any = raw
		if j, err := expr.UnmarshalJSON([]byte(raw)); err == nil {
			v = j
		}
		in[k] = v
	}
	return in, nil
}

func (a *app) workflowRunCmd() *cobra.Command {
	var inputs []string
	var inputFile, wfName, stateDir, envFile, taskName, namespace string
	var noStore bool
	cmd := &cobra.Command{
		Use:   "run NAME|FILE",
		Short: "Run a Mistral DSL v2 workflow on the embedded engine",
		Long: `Run a workflow with fernetflow's embedded engine and print the execution
(-f json gives id, workflow_name, state, state_info, input, output and
tasks, with values rather than JSON in strings). A file holding several
workflows runs the first one it defines, or the one --workflow names. A
workbook (name:, workflows:, actions:) runs the same way: its workflows
are WORKBOOK.NAME (--workflow takes either form) and its tasks call its
ad-hoc actions and workflows by WORKBOOK.NAME or NAME.

Progress goes to stderr, one line per task as it starts and ends. The
execution is kept in STATE_DIR/executions.db (secret values redacted), for
fernetflow execution list|show. The exit code is 1 when the execution does
not end in SUCCESS. Ctrl-C cancels it (state CANCELLED).

While it runs, fernetflow execution pause|resume|cancel ID from another
terminal (same --state-dir) act on it; a paused execution (the pause
command, pause-before, execution pause) waits for execution resume. With
--no-store nothing can reach it: a pause ends the command, PAUSED.`,
		Example: `  fernetflow workflow run rotate.yaml --input nodes='["ctl1","ctl2"]' --input max_active_keys=3
  fernetflow workflow run wfs.yaml --workflow rotate --input-file input.yaml -f json
  fernetflow workflow run deploy.yaml --env env.yaml --task-name publish`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("workflow run takes one workflow name or file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := actions.Engine(actions.Host{}) // std.* run; fernetflow's own actions refuse (no fleet)
			f, err := loadWorkflowArg(args[0], reg)
			if err != nil {
				return err
			}
			w := f.Workflows[0]
			if wfName != "" {
				if w = f.Workflow(wfName); w == nil {
					var names []string
					for _, x := range f.Workflows {
						names = append(names, f.QualifiedName(x))
					}
					return usagef("--workflow %s: %s defines %s", wfName, args[0], strings.Join(names, ", "))
				}
			}
			in, err := a.parseInputs(inputs, inputFile)
			if err != nil {
				return err
			}
			params := workflow.Params{TaskName: taskName, Namespace: namespace}
			if envFile != "" {
				doc, err := readDocument(a.stdin, envFile, "--env")
				if err != nil {
					return err
				}
				m, ok := doc.(map[string]any)
				if !ok {
					return usagef("--env %s: want a mapping (what env() gives)", envFile)
				}
				params.Env = m
			}
			e := &workflow.Engine{Registry: reg, File: f}
			ctx := cmd.Context()
			if !noStore {
				st, err := a.openStore(stateDir)
				if err != nil {
					return fmt.Errorf("%w (or use --no-store)", err)
				}
				defer st.Close()
				// execution pause|resume|cancel from another terminal
				// reach this run through the store; a paused run waits
				// for resume.
				e.Control = &workflow.Controller{}
				e.Recorder = &pauseNotice{Recorder: st, w: a.stderr}
				cctx, stop := context.WithCancel(ctx)
				served := make(chan struct{})
				go func() {
					defer close(served)
					st.ServeControl(cctx, e.Control, func(req store.ControlRequest, err error) {
						fmt.Fprintf(a.stderr, "execution %s: %s: %v\n", req.ExecutionID, req.State, err)
					})
				}()
				// The control loop may be in the store: it ends before the
				// store closes and the command returns.
				defer func() { stop(); <-served }()
			}
			var mu sync.Mutex
			e.OnTask = func(ex *workflow.Execution, te *workflow.TaskExecution) {
				mu.Lock()
				defer mu.Unlock()
				line := fmt.Sprintf("%s  %-24s %s", time.Now().Format("15:04:05"), te.Name, te.State)
				if te.StateInfo != "" && te.State != workflow.Running {
					line += "  " + firstLineOf(te.StateInfo) + unboundHint(te.Err)
				}
				fmt.Fprintln(a.stderr, line)
			}
			ex, err := e.StartWith(w, in, params)
			if err != nil {
				return usageError{err}
			}
			ex = e.Continue(ctx, w, ex)
			if err := a.print(newExecView(ex)); err != nil {
				return err
			}
			if ex.State != workflow.Success {
				return fmt.Errorf("execution %s of %s ended %s", ex.ID, w.Name, ex.State)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "workflow input NAME=VALUE (VALUE as JSON when it parses, else a string); repeatable")
	cmd.Flags().StringVar(&inputFile, "input-file", "", "JSON or YAML file of workflow input (- for stdin); --input values override it")
	cmd.Flags().StringVar(&wfName, "workflow", "", "which workflow of the file to run (default: the first one)")
	cmd.Flags().StringVar(&envFile, "env", "", "JSON or YAML file of the execution's env: what env() and execution().params.env give (- for stdin)")
	cmd.Flags().StringVar(&namespace, "namespace", "", "the execution's namespace, as Mistral's workflow_namespace (execution().params.namespace; sub-workflows inherit it)")
	cmd.Flags().StringVar(&taskName, "task-name", "", "a reverse workflow's target task: run it and what it requires (Mistral's task_name)")
	cmd.Flags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db")
	cmd.Flags().BoolVar(&noStore, "no-store", false, "do not record the execution")
	return cmd
}

var _ = output.Table

// pauseNotice tells the operator of a workflow run how to continue an
// execution that paused (it waits for fernetflow execution resume).
type pauseNotice struct {
	workflow.Recorder
	w      io.Writer
	mu     sync.Mutex
	paused bool
}

func (p *pauseNotice) Record(ctx context.Context, ex *workflow.Execution) error {
	p.mu.Lock()
	if ex.State == workflow.Paused && !p.paused {
		fmt.Fprintf(p.w, "execution %s PAUSED: it waits for fernetflow execution resume %s (or cancel; Ctrl-C cancels it)\n", ex.ID, ex.ID)
	}
	p.paused = ex.State == workflow.Paused
	p.mu.Unlock()
	return p.Recorder.Record(ctx, ex)
}
