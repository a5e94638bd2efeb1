package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// executionCmd groups the commands over recorded workflow executions, like
// openstack workflow execution list|show|delete.
func (a *app) executionCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "execution",
		Short: "List, show and delete recorded workflow executions; pause, resume and cancel running ones",
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db")
	cmd.AddCommand(a.executionListCmd(&stateDir), a.executionShowCmd(&stateDir), a.executionDeleteCmd(&stateDir),
		a.executionControlCmd(&stateDir, "pause", workflow.Paused),
		a.executionControlCmd(&stateDir, "resume", workflow.Running),
		a.executionControlCmd(&stateDir, "cancel", workflow.Cancelled))
	return cmd
}

type execRow struct {
	ID           string         `json:"id"`
	WorkflowName string         `json:"workflow_name"`
	State        workflow.State `json:"state"`
	StateInfo    *string        `json:"state_info"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
}

type execRows []execRow

func (r execRows) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(r))
	for _, e := range r {
		info := ""
		if e.StateInfo != nil {
			info = firstLineOf(*e.StateInfo)
		}
		rows = append(rows, []string{e.ID, e.WorkflowName, string(e.State), info, e.CreatedAt, e.UpdatedAt})
	}
	return []string{"ID", "WORKFLOW NAME", "STATE", "STATE INFO", "CREATED AT", "UPDATED AT"}, rows
}

func (a *app) executionListCmd(stateDir *string) *cobra.Command {
	var workflowName string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recorded executions, newest first",
		Example: `  fernetflow execution list
  fernetflow execution list --workflow rotate_fernet_keys -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.List()
			if err != nil {
				return err
			}
			rows := execRows{}
			for _, ex := range list {
				if workflowName != "" && ex.WorkflowName != workflowName {
					continue
				}
				rows = append(rows, rowOf(ex))
			}
			return a.print(rows)
		},
	}
	cmd.Flags().StringVar(&workflowName, "workflow", "", "only executions of this workflow")
	return cmd
}

func (a *app) executionShowCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an execution: state, input, output and its tasks with their published values",
		Example: `  fernetflow execution show 63010b4f
  fernetflow execution show 63010b4f-8a1e-4c55-9d0e-2b7f5c7e1a42 -f json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("execution show takes one execution id (or a unique prefix)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			ex, err := st.Get(args[0])
			if err != nil {
				return err
			}
			return a.print(newExecView(ex))
		},
	}
}

func (a *app) executionDeleteCmd(stateDir *string) *cobra.Command {
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "delete {ID... | --older-than DURATION}",
		Short: "Delete recorded executions, by id or by age",
		Long: `Delete recorded executions: those named by id, or with --older-than every
finished execution (SUCCESS, ERROR, CANCELLED) last updated more than
DURATION ago (a Go duration: 720h is 30 days). Running executions are kept.

Recording a new execution also drops the oldest finished ones beyond
--keep-executions (1000 by default).`,
		Example: `  fernetflow execution delete 63010b4f-8a1e-4c55-9d0e-2b7f5c7e1a42
  fernetflow execution delete --older-than 720h`,
		Args: func(cmd *cobra.Command, args []string) error {
			older := cmd.Flags().Changed("older-than")
			switch {
			case older && len(args) > 0:
				return usagef("execution delete takes ids or --older-than, not both")
			case older && olderThan <= 0:
				return usagef("--older-than %s: want a positive duration, such as 720h", olderThan)
			case !older && len(args) == 0:
				return usagef("execution delete takes one or more execution ids, or --older-than DURATION")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			if cmd.Flags().Changed("older-than") {
				ids, err := st.DeleteOlderThan(time.Now().Add(-olderThan))
				if err != nil {
					return err
				}
				for _, id := range ids {
					fmt.Fprintf(a.stdout, "Request to delete execution %s has been accepted.\n", id)
				}
				fmt.Fprintf(a.stderr, "%d executions older than %s deleted\n", len(ids), olderThan)
				return nil
			}
			var firstErr error
			for _, id := range args {
				if err := st.Delete(id); err != nil {
					fmt.Fprintln(a.stderr, err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				fmt.Fprintf(a.stdout, "Request to delete execution %s has been accepted.\n", id)
			}
			return firstErr
		},
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "delete every finished execution last updated longer ago than this (such as 720h)")
	return cmd
}

// executionControlCmd is execution pause|resume|cancel: a request left in
// the store for the process that runs the execution (store.ServeControl).
// fernetflow has no daemon: an execution lives in the process that runs
// it, a serve or a workflow run, and only that process can change it.
func (a *app) executionControlCmd(stateDir *string, verb string, state workflow.State) *cobra.Command {
	var wait time.Duration
	var message string
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: map[string]string{"pause": "Pause a running execution", "resume": "Resume a paused execution", "cancel": "Cancel a running or paused execution"}[verb],
		Long: `Ask the process that runs an execution to ` + verb + ` it, as
openstack workflow execution update -s ` + string(state) + ` does.

fernetflow has no daemon: an execution lives in the process that runs it,
a fernetflow serve (executions started through its Mistral API or by its
cron triggers) or a fernetflow workflow run that records to the same
--state-dir. This command leaves the request in STATE_DIR/executions.db;
that process takes it within a second and applies it (Mistral's rules:
pause lets running tasks finish and holds what follows; cancel stops the
running tasks and ends the execution CANCELLED). When no process takes it
within --wait, the request is withdrawn and the command fails: the process
that ran the execution has exited, and the execution stays as it was
recorded.`,
		Example: `  fernetflow execution ` + verb + ` 63010b4f`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("execution %s takes one execution id (or a unique prefix)", verb)
			}
			if wait <= 0 {
				return usagef("--wait %s: want a positive duration", wait)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(*stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			ex, err := st.Get(args[0])
			if err != nil {
				return err
			}
			switch {
			case ex.State.Done():
				return fmt.Errorf("execution %s is %s: only a RUNNING or PAUSED execution can be %s", ex.ID, ex.State, map[string]string{"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[verb])
			case state == workflow.Paused && ex.State == workflow.Paused, state == workflow.Running && ex.State == workflow.Running:
				// Mistral does nothing either.
				fmt.Fprintf(a.stderr, "execution %s is already %s\n", ex.ID, ex.State)
				return a.print(execRows{rowOf(ex)})
			}
			req := store.ControlRequest{ExecutionID: ex.ID, State: state, Message: message, RequestedAt: time.Now().UTC()}
			if err := st.RequestControl(req); err != nil {
				return err
			}
			if err := st.WaitControl(cmd.Context(), ex.ID, wait); err != nil {
				if errors.Is(err, store.ErrNotTaken) {
					return fmt.Errorf("execution %s (%s): no process running it took the request within %s, so it was withdrawn: "+
						"only the fernetflow serve or workflow run that runs an execution can %s it, and the one that ran this one has exited "+
						"(an execution does not outlive its process; it stays as recorded)", ex.ID, ex.State, wait, verb)
				}
				return err
			}
			// The process applies it at once; the recorded state follows
			// (a cancel, once the running tasks have stopped).
			deadline := time.Now().Add(wait)
			for {
				cur, err := st.Get(ex.ID)
				if err != nil {
					return err
				}
				ex = cur
				if ex.State == state || ex.State.Done() || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			fmt.Fprintf(a.stderr, "Request to %s execution %s has been accepted.\n", verb, ex.ID)
			return a.print(execRows{rowOf(ex)})
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the process running the execution to take the request")
	if state == workflow.Cancelled {
		cmd.Flags().StringVar(&message, "message", "", "the cancelled execution's state_info (Mistral: none)")
	}
	return cmd
}

func rowOf(ex *workflow.Execution) execRow {
	return execRow{ID: ex.ID, WorkflowName: ex.WorkflowName, State: ex.State, StateInfo: strPtr(ex.StateInfo),
		CreatedAt: mistralTime(ex.CreatedAt), UpdatedAt: mistralTime(ex.UpdatedAt)}
}
