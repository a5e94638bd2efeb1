package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
)

// cronTriggerCmd manages timed triggers, like openstack cron trigger
// create|list|show|delete; fernetflow serve fires them.
func (a *app) cronTriggerCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "cron-trigger",
		Short: "Create, list, show and delete cron triggers that fernetflow serve fires",
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db")
	cmd.AddCommand(a.cronCreateCmd(&stateDir), a.cronListCmd(&stateDir), a.cronShowCmd(&stateDir), a.cronDeleteCmd(&stateDir))
	return cmd
}

type cronView struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	WorkflowName        string         `json:"workflow_name"`
	WorkflowInput       map[string]any `json:"workflow_input"`
	Pattern             *string        `json:"pattern"`
	FirstExecutionTime  *string        `json:"first_execution_time"`
	NextExecutionTime   string         `json:"next_execution_time"`
	RemainingExecutions *int           `json:"remaining_executions"`
	LastFireTime        *string        `json:"last_fire_time"`
	SourceFile          string         `json:"source_file"`
	CreatedAt           string         `json:"created_at"`
	UpdatedAt           string         `json:"updated_at"`
}

func timePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := mistralTime(*t)
	return &s
}

func newCronView(t *workflow.CronTrigger) cronView {
	in := t.WorkflowInput
	if in == nil {
		in = map[string]any{}
	}
	return cronView{ID: t.ID, Name: t.Name, WorkflowName: t.WorkflowName, WorkflowInput: in, Pattern: strPtr(t.Pattern),
		FirstExecutionTime: timePtr(t.FirstExecutionTime), NextExecutionTime: mistralTime(t.NextExecutionTime),
		RemainingExecutions: t.RemainingExecutions, LastFireTime: timePtr(t.LastFireTime), SourceFile: t.SourceFile,
		CreatedAt: mistralTime(t.CreatedAt), UpdatedAt: mistralTime(t.UpdatedAt)}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (v cronView) Table() ([]string, [][]string) {
	in, _ := expr.MarshalJSON(v.WorkflowInput, "")
	rem := ""
	if v.RemainingExecutions != nil {
		rem = fmt.Sprint(*v.RemainingExecutions)
	}
	return []string{"FIELD", "VALUE"}, [][]string{
		{"name", v.Name}, {"id", v.ID}, {"workflow_name", v.WorkflowName}, {"workflow_input", string(in)},
		{"pattern", deref(v.Pattern)}, {"first_execution_time", deref(v.FirstExecutionTime)},
		{"next_execution_time", v.NextExecutionTime}, {"remaining_executions", rem},
		{"last_fire_time", deref(v.LastFireTime)}, {"source_file", v.SourceFile},
		{"created_at", v.CreatedAt}, {"updated_at", v.UpdatedAt},
	}
}

type cronViews []cronView

func (l cronViews) Table() ([]string, [][]string) {
	rows := [][]string{}
	for _, v := range l {
		rem := ""
		if v.RemainingExecutions != nil {
			rem = fmt.Sprint(*v.RemainingExecutions)
		}
		rows = append(rows, []string{v.Name, v.WorkflowName, deref(v.Pattern), v.NextExecutionTime, rem, v.CreatedAt})
	}
	return []string{"NAME", "WORKFLOW NAME", "PATTERN", "NEXT EXECUTION TIME", "REMAINING EXECUTIONS", "CREATED AT"}, rows
}

func (a *app) cronCreateCmd(stateDir *string) *cobra.Command {
	var pattern, first, wfName, inputFile string
	var count int
	var inputs []string
	cmd := &cobra.Command{
		Use:   "create NAME FILE|SHIPPED [INPUT_JSON]",
		Short: "Create a cron trigger that runs a workflow of FILE (or a shipped one) on a schedule",
		Long: `Create a cron trigger with Mistral's semantics: --pattern is a 5-field cron
expression in UTC; --first-time 'YYYY-MM-DD HH:MM' (UTC) is the first fire
(alone, the trigger fires once); --count limits the number of fires, after
which the trigger is deleted. The workflow file is checked and copied into
the trigger, so later edits of FILE do not change it. fernetflow serve
fires the triggers of its --state-dir, each slot once.`,
		Example: `  # fernetflow's own rotation, fired by fernetflow serve --target local --nodes ...
  fernetflow cron-trigger create nightly rotate_fernet_keys --pattern '17 3 * * *' \
      --input max_active_keys=5 --input token_expiration=3600 --input allow_expired_window=172800
  fernetflow cron-trigger create nightly rotate.yaml '{"nodes": ["ctl1"]}' --pattern '0 3 * * *'
  fernetflow cron-trigger create once rotate.yaml --input nodes='["ctl1"]' --first-time '2030-01-01 03:00'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usagef("cron-trigger create takes NAME FILE [INPUT_JSON]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			file, src, err := workflowSource(args[1])
			if err != nil {
				return err
			}
			f, err := workflow.Load(file, src, actions.Engine(actions.Host{}))
			if err != nil {
				return err
			}
			w := f.Workflows[0]
			if wfName != "" {
				if w = f.Workflow(wfName); w == nil {
					return usagef("--workflow %s: %s does not define it", wfName, file)
				}
			}
			in, err := a.parseInputs(inputs, inputFile)
			if err != nil {
				return err
			}
			if len(args) == 3 {
				v, err := expr.UnmarshalJSON([]byte(args[2]))
				m, ok := v.(map[string]any)
				if err != nil || !ok {
					return usagef("INPUT_JSON %q: want a JSON object", args[2])
				}
				for k, x := range m {
					in[k] = x
				}
			}
			// The input must suit the workflow now, not at 3 a.m.
			if _, err := (&workflow.Engine{Registry: actions.Engine(actions.Host{}), File: f}).Start(w, in); err != nil {
				return usageError{err}
			}
			var firstTime *time.Time
			if first != "" {
				ft, err := time.Parse("2006-01-02 15:04", strings.TrimSpace(first))
				if err != nil {
					return usagef("--first-time %q: want YYYY-MM-DD HH:MM (UTC)", first)
				}
				firstTime = &ft
			}
			var remaining *int
			if cmd.Flags().Changed("count") {
				remaining = &count
			}
			t, err := workflow.NewCronTrigger(name, pattern, firstTime, remaining, time.Now())
			if err != nil {
				return usageError{err}
			}
			t.WorkflowName, t.WorkflowInput, t.Definition, t.SourceFile = w.Name, in, string(src), file
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			if err := st.CreateTrigger(t); err != nil {
				return err
			}
			return a.print(newCronView(t))
		},
	}
	cmd.Flags().StringVar(&pattern, "pattern", "", "cron pattern, 5 fields, UTC (e.g. '0 3 * * *')")
	cmd.Flags().StringVar(&first, "first-time", "", "first execution time, 'YYYY-MM-DD HH:MM' UTC")
	cmd.Flags().IntVar(&count, "count", 0, "number of executions, after which the trigger is deleted")
	cmd.Flags().StringVar(&wfName, "workflow", "", "which workflow of FILE (default: the first one)")
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "workflow input NAME=VALUE; repeatable")
	cmd.Flags().StringVar(&inputFile, "input-file", "", "JSON or YAML file of workflow input")
	return cmd
}

func (a *app) cronListCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List cron triggers",
		Example: `  fernetflow cron-trigger list -f json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			list, err := st.ListTriggers()
			if err != nil {
				return err
			}
			out := cronViews{}
			for _, t := range list {
				out = append(out, newCronView(t))
			}
			return a.print(out)
		},
	}
}

func (a *app) cronShowCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a cron trigger",
		Example: `  fernetflow cron-trigger show nightly`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("cron-trigger show takes one trigger name")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			t, err := st.GetTrigger(args[0])
			if err != nil {
				return err
			}
			return a.print(newCronView(t))
		},
	}
}

func (a *app) cronDeleteCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Short:   "Delete cron triggers",
		Example: `  fernetflow cron-trigger delete nightly`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("cron-trigger delete takes one or more trigger names")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			var firstErr error
			for _, n := range args {
				if err := st.DeleteTrigger(n); err != nil {
					fmt.Fprintln(a.stderr, err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				fmt.Fprintf(a.stdout, "Request to delete cron trigger %s has been accepted.\n", n)
			}
			return firstErr
		},
	}
}
