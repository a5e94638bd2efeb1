package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/fleet"
)

// executionCmd groups the commands over recorded workflow executions, like
// openstack workflow execution list|show|delete.
func (a *app) executionCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "execution",
		Short: "List, show and delete recorded workflow executions",
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db")
	cmd.AddCommand(a.executionListCmd(&stateDir), a.executionShowCmd(&stateDir), a.executionDeleteCmd(&stateDir))
	return cmd
}

type execRow struct {
	ID           string  `json:"id"`
	WorkflowName string  `json:"workflow_name"`
	State        string  `json:"state"`
	StateInfo    *string `json:"state_info"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
}

type execRows []execRow

func (r execRows) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(r))
	for _, e := range r {
		info := ""
		if e.StateInfo != nil {
			info = firstLineOf(*e.StateInfo)
		}
		rows = append(rows, []string{e.ID, e.WorkflowName, e.State, info, e.CreatedAt, e.UpdatedAt})
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
			st, err := openStore(*stateDir)
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
				rows = append(rows, execRow{ID: ex.ID, WorkflowName: ex.WorkflowName, State: ex.State, StateInfo: strPtr(ex.StateInfo),
					CreatedAt: mistralTime(ex.CreatedAt), UpdatedAt: mistralTime(ex.UpdatedAt)})
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
			st, err := openStore(*stateDir)
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
	return &cobra.Command{
		Use:     "delete ID...",
		Short:   "Delete recorded executions",
		Example: `  fernetflow execution delete 63010b4f-8a1e-4c55-9d0e-2b7f5c7e1a42`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("execution delete takes one or more execution ids")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(*stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
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
}
