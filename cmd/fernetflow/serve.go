package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// serveCmd runs fernetflow's long-lived duties: today, firing the cron
// triggers of its state directory.
func (a *app) serveCmd() *cobra.Command {
	var stateDir, metricsListen string
	var tick time.Duration
	var sf statusFlags
	a.tally = &deliveryTally{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Fire cron triggers; with --listen, serve Mistral's v2 API and the Go actions over HTTP",
		Long: `Run until interrupted, checking the cron triggers of --state-dir every
--tick and running the workflow of each trigger whose slot has come. Each
slot fires once: the trigger is advanced in the same store transaction
that claims it, so a restarted serve does not fire it again and two serve
processes on one state directory never both fire it. Executions are
recorded in the store (fernetflow execution list). On SIGINT or SIGTERM,
serve fires nothing more; the executions its triggers started are
cancelled, and those of the Mistral API (--listen) may end on their own
for 30 s (new ones are refused meanwhile) before they are stopped in ERROR
with the reason; then serve exits.

With --listen, serve also answers Mistral's v2 REST API at /v2 (workflows,
workbooks, executions, tasks, actions, action executions, cron triggers,
environments, services), with fernetflow's own workflows as public system
workflows. Event triggers (/v2/event_triggers) are stored, listed and
validated but never fired: serve listens to no notification bus.`,
		Example: `  fernetflow serve --state-dir /var/lib/fernetflow
  fernetflow serve --tick 5s -v`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if metricsListen == "" {
				return nil
			}
			if _, err := sf.options(); err != nil {
				return err
			}
			a.metrics = ops.NewMetrics(func(ctx context.Context) (*ops.Status, error) { return a.serveStatus(ctx, stateDir, &sf) }, true)
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(stateDir)
			if err != nil {
				return err
			}
			if metricsListen != "" {
				ms, err := startMetricsServer(cmd.Context(), metricsListen, a.metrics, func(context.Context) error {
					_, err := st.ListTriggers()
					return err
				})
				if err != nil {
					return err
				}
				defer ms.stop()
				fmt.Fprintf(a.stderr, "fernetflow serve: /metrics, /healthz and /readyz on http://%s (no authentication)\n", ms.addr)
			}
			fmt.Fprintf(a.stderr, "fernetflow serve: firing cron triggers of %s every %s\n", st.Path(), tick)
			if a.fireTriggers != nil { // the Mistral API (--listen) fires its own triggers and these
				return a.fireTriggers(cmd.Context(), a.firer(st, tick), tick)
			}
			return a.firer(st, tick).Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", fleet.DefaultStateDir(), "directory of executions.db (executions and cron triggers)")
	cmd.Flags().DurationVar(&tick, "tick", time.Second, "how often to look for due triggers")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus /metrics, /healthz and /readyz on this address (such as 127.0.0.1:9189), WITHOUT authentication: bind it to a management network; empty: none")
	sf.register(cmd, false, "/metrics: ")
	a.serveActionFlags(cmd) // --listen: the HTTP action server for real Mistral (serve_actions.go)
	return cmd
}

// firer fires st's cron triggers, saying on stderr (and in the log) when
// each fires and how it ended: for fernetflow's own workflows, with the
// outcome rotate would give.
func (a *app) firer(st *store.Store, tick time.Duration) *store.Firer {
	reg := a.cronRegistry
	if reg == nil {
		reg = actions.Engine(actions.Host{})
	}
	stamp := func() string { return time.Now().UTC().Format("15:04:05") }
	own := func(name string) bool {
		return slices.Contains([]rotation.Workflow{rotation.Rotate, rotation.Distribute, rotation.Check, rotation.Enroll}, rotation.Workflow(name))
	}
	return &store.Firer{Store: st, Registry: reg, Tick: tick,
		Guard: func(ctx context.Context, c store.Claim) (func(), error) {
			if a.cronUndercloud == nil || !own(c.Trigger.WorkflowName) {
				return func() {}, nil
			}
			return rotation.Lock(ctx, a.cronUndercloud) // not while fernetflow rotate runs on the same state
		},
		OnStart: func(c store.Claim, ex *workflow.Execution) {
			if own(ex.WorkflowName) && a.tally != nil {
				a.tally.start()
			}
			fmt.Fprintf(a.stderr, "%s cron trigger %s fired: execution %s of %s\n", stamp(), c.Trigger.Name, ex.ID, ex.WorkflowName)
		},
		OnEnd: func(c store.Claim, ex *workflow.Execution) {
			if own(ex.WorkflowName) {
				var d map[string]int
				if a.tally != nil {
					d = a.tally.end()
				}
				a.recordRun(st, ex, d)
			}
			outcome := ""
			if own(ex.WorkflowName) {
				// One of fernetflow's own: say what it did, as rotate would.
				o, err := rotation.Judge(ex)
				outcome = " (" + string(o) + ")"
				if err != nil {
					outcome = " (" + string(o) + ": " + err.Error() + ")"
				}
			}
			fmt.Fprintf(a.stderr, "%s execution %s (cron trigger %s) ended %s%s\n", stamp(), ex.ID, c.Trigger.Name, ex.State, outcome)
			a.log.Info("cron trigger fired", "trigger", c.Trigger.Name, "workflow", ex.WorkflowName, "slot", mistralTime(c.Slot), "execution", ex.ID, "state", ex.State)
		},
		OnError: func(c store.Claim, err error) {
			a.log.Error("cron trigger", "trigger", c.Trigger.Name, "err", err)
			fmt.Fprintln(a.stderr, err)
		},
	}
}

// serveStatus is the status serve's /metrics reports: the fleet given to
// serve (--target, --nodes, ...), or, without one, the master and the store
// of --state-dir only.
func (a *app) serveStatus(ctx context.Context, stateDir string, sf *statusFlags) (*ops.Status, error) {
	f := &fleetFlags{target: "local", stateDir: stateDir}
	if a.serveFleet != nil {
		if ff, given := a.serveFleet(); given {
			cp := *ff
			f = &cp
		}
	}
	f.stateDir = stateDir
	return a.fleetStatus(ctx, f, sf, nil, true)
}
