package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// serveCmd runs fernetflow's long-lived duties: today, firing the cron
// triggers of its state directory.
func (a *app) serveCmd() *cobra.Command {
	var stateDir string
	var tick time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Fire cron triggers: run their workflows when their time comes",
		Long: `Run until interrupted, checking the cron triggers of --state-dir every
--tick and running the workflow of each trigger whose slot has come. Each
slot fires once: the trigger is advanced in the same store transaction
that claims it, so a restarted serve does not fire it again and two serve
processes on one state directory never both fire it. Executions are
recorded in the store (fernetflow execution list). On SIGINT or SIGTERM,
running executions are cancelled and serve exits.`,
		Example: `  fernetflow serve --state-dir /var/lib/fernetflow
  fernetflow serve --tick 5s -v`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(stateDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "fernetflow serve: firing cron triggers of %s every %s\n", st.Path(), tick)
			var wg sync.WaitGroup
			defer wg.Wait()
			ctx := cmd.Context()
			t := time.NewTicker(tick)
			defer t.Stop()
			for {
				claims, err := st.ClaimDue(time.Now().UTC())
				if err != nil {
					a.log.Error("claim cron triggers", "err", err)
				}
				for _, c := range claims {
					wg.Add(1)
					go func(c store.Claim) {
						defer wg.Done()
						a.fire(ctx, st, c)
					}(c)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db (executions and cron triggers)")
	cmd.Flags().DurationVar(&tick, "tick", time.Second, "how often to look for due triggers")
	a.serveActionFlags(cmd) // --listen: the HTTP action server for real Mistral (serve_actions.go)
	return cmd
}

// fire runs one claimed trigger slot and records the execution.
func (a *app) fire(ctx context.Context, st *store.Store, c store.Claim) {
	tr := c.Trigger
	log := a.log.With("trigger", tr.Name, "workflow", tr.WorkflowName, "slot", mistralTime(c.Slot))
	reg := a.cronRegistry
	if reg == nil {
		reg = actions.Engine(actions.Host{})
	}
	f, err := workflow.Load(tr.SourceFile, []byte(tr.Definition), reg)
	if err != nil {
		log.Error("cron trigger's workflow no longer loads", "err", err)
		fmt.Fprintf(a.stderr, "cron trigger %s: %v\n", tr.Name, err)
		return
	}
	w := f.Workflow(tr.WorkflowName)
	if w == nil {
		fmt.Fprintf(a.stderr, "cron trigger %s: workflow %s is not in its definition\n", tr.Name, tr.WorkflowName)
		return
	}
	e := &workflow.Engine{Registry: reg, File: f, Recorder: st}
	ex, err := e.Start(w, tr.WorkflowInput)
	if err != nil {
		fmt.Fprintf(a.stderr, "cron trigger %s: %v\n", tr.Name, err)
		return
	}
	desc, _ := json.Marshal(map[string]any{
		"description":  fmt.Sprintf("Workflow execution created by cron trigger '(%s)'.", tr.ID),
		"triggered_by": map[string]any{"type": "cron_trigger", "id": tr.ID, "name": tr.Name, "slot": mistralTime(c.Slot)},
	})
	ex.Description = string(desc)
	fmt.Fprintf(a.stderr, "%s cron trigger %s fired: execution %s of %s\n", time.Now().UTC().Format("15:04:05"), tr.Name, ex.ID, w.Name)
	ex = e.Continue(ctx, w, ex)
	outcome := ""
	if slices.Contains([]rotation.Workflow{rotation.Rotate, rotation.Distribute, rotation.Check, rotation.Enroll}, rotation.Workflow(w.Name)) {
		// One of fernetflow's own: say what it did, as rotate would.
		o, err := rotation.Judge(ex)
		outcome = " (" + string(o) + ")"
		if err != nil {
			outcome = " (" + string(o) + ": " + err.Error() + ")"
		}
	}
	fmt.Fprintf(a.stderr, "%s execution %s (cron trigger %s) ended %s%s\n", time.Now().UTC().Format("15:04:05"), ex.ID, tr.Name, ex.State, outcome)
	log.Info("cron trigger fired", "execution", ex.ID, "state", ex.State)
}
