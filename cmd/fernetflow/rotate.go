package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// fleetFlags choose the target and the undercloud state for the commands
// that run fernetflow's workflows.
type fleetFlags struct {
	target      string
	nodes       []string
	stateDir    string
	user, group string
	stack, role string
	noStore     bool
	// heat builds the Heat target's host (--os-cloud, --signal-listen).
	heat func() *deploy.Host
	// deliveryTimeout bounds each Heat deployment's wait.
	deliveryTimeout time.Duration
}

func (f *fleetFlags) register(a *app, cmd *cobra.Command) {
	f.heat = a.heatHostFlags(cmd)
	cmd.Flags().StringVar(&f.target, "target", "local", "how nodes are reached: local (node directories on this host) or heat")
	cmd.Flags().StringSliceVar(&f.nodes, "nodes", nil, "local target: node directories (each holds fernet-keys/ and state/), comma-separated")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", fleet.DefaultStateDir(), "the undercloud's state: master repository, signer, pinned recipients, executions")
	cmd.Flags().StringVar(&f.user, "keystone-user", "", "local target: user (name or id) owning the nodes' key files")
	cmd.Flags().StringVar(&f.group, "keystone-group", "", "local target: group (name or id) owning the nodes' key files")
	cmd.Flags().StringVar(&f.stack, "stack", "overcloud", "heat target: the overcloud stack")
	cmd.Flags().StringVar(&f.role, "role", "Controller", "heat target: the role whose servers run Keystone")
	cmd.Flags().BoolVar(&f.noStore, "no-store", false, "do not record the execution in STATE_DIR/executions.db")
}

// selection is the nodes' Heat stack and role.
func (f *fleetFlags) selection() rotation.Fleet { return rotation.Fleet{Stack: f.stack, Role: f.role} }

// host builds the fleet actions' host for the chosen target.
func (f *fleetFlags) host(a *app) (*actions.FleetHost, error) {
	u := &fleet.Undercloud{Dir: f.stateDir}
	switch f.target {
	case "local":
		signer, err := u.Signer()
		if err != nil {
			return nil, err
		}
		owner, err := resolveOwner(f.user, f.group)
		if err != nil {
			return nil, err
		}
		if len(f.nodes) == 0 {
			return nil, usagef("--target local needs --nodes DIR,DIR (the node directories)")
		}
		var t fleet.Target = &local.Target{Nodes: f.nodes, Signer: signer.Public(), Owner: owner}
		if a.wrapTarget != nil {
			t = a.wrapTarget(t)
		}
		return &actions.FleetHost{Undercloud: u, Target: t}, nil
	case "heat":
		if len(f.nodes) > 0 {
			return nil, usagef("--nodes is for --target local; the heat target finds the servers of --role in --stack")
		}
		var t fleet.Target = &deploy.FleetTarget{Host: f.heat(), Timeout: f.deliveryTimeout}
		if a.wrapTarget != nil {
			t = a.wrapTarget(t)
		}
		return &actions.FleetHost{Undercloud: u, Target: t}, nil
	}
	return nil, usagef("--target %q: use local or heat", f.target)
}

// runDefinition runs one of fernetflow's workflows (rotation.Run) with
// live per-task and per-server progress on stderr.
func (a *app) runDefinition(ctx context.Context, f *fleetFlags, in rotation.Input) (*rotation.Result, error) {
	h, err := f.host(a)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	progress := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(a.stderr, "%s  %s\n", time.Now().Format("15:04:05"), line)
	}
	o := rotation.Options{Undercloud: h.Undercloud, Target: h.Target}
	deliveries := map[string]int{}
	var st *store.Store // the run's, when it has one (opened below)
	o.OnDeliver = func(r fleet.Report, err error) {
		mu.Lock()
		deliveries[rotation.DeliveryResult(r, err)]++
		mu.Unlock()
		a.countDelivery(st, r, err)
		if err != nil {
			progress(fmt.Sprintf("  %-22s FAILED  %s", r.Name, firstLineOf(err.Error())))
			return
		}
		progress(fmt.Sprintf("  %-22s generation %d  %s  changed=%v", r.Name, r.Generation, shortFingerprint(r.Fingerprint), r.Changed))
	}
	o.OnTask = func(te *workflow.TaskExecution) {
		if te.State == workflow.Running {
			progress(te.Name)
			return
		}
		line := fmt.Sprintf("%-24s %s", te.Name, te.State)
		if te.State != workflow.Success && te.StateInfo != "" {
			line += "  " + firstLineOf(te.StateInfo)
		} else if s := rotation.CheckSummary(te); s != "" {
			line += "  " + s
		}
		progress(line)
	}
	defer h.Target.Close() // stops Heat's signal receiver
	if !f.noStore {
		st, err = a.openStore(f.stateDir)
		if err != nil {
			return nil, fmt.Errorf("%w (or use --no-store)", err)
		}
		defer st.Close()
		o.Recorder = st
	}
	res, err := rotation.Run(ctx, in.Workflow(), in.Map(), o)
	if err != nil {
		return nil, usageError{err}
	}
	if st != nil {
		// What status and /metrics report of this run (its outcome,
		// duration, refusal reasons, deliveries).
		mu.Lock()
		rec := rotation.NewRunRecord(res, deliveries)
		mu.Unlock()
		if err := ops.RecordRun(st, rec); err != nil {
			a.log.Warn("could not record the run for status and metrics", "execution", res.Execution.ID, "error", err)
		}
	}
	return res, nil
}

// shortFingerprint is f's short form for a table, nothing for a node that
// holds no set.
func shortFingerprint(f keys.Fingerprint) string {
	if f.IsZero() {
		return ""
	}
	return f.Short()
}

// fleetTable prints a run's rotation.Status.
type fleetTable struct{ *rotation.Status }

func (t fleetTable) Table() ([]string, [][]string) {
	var rows [][]string
	for _, s := range t.Servers {
		rows = append(rows, []string{s.Name, strconv.FormatUint(s.Generation, 10), shortFingerprint(s.Fingerprint), s.State})
	}
	if t.Outcome != "" {
		rows = append(rows, []string{"", "", "", "outcome: " + string(t.Outcome)})
	}
	if t.Summary != "" {
		rows = append(rows, []string{"", "", "", t.Summary})
	}
	return []string{"SERVER", "GENERATION", "FINGERPRINT", "STATE"}, rows
}

// resumedError is a run that completed an interrupted rotation and did not
// rotate again: its own exit code, so that a timer can tell it from a
// rotation.
type resumedError struct{ error }

func (resumedError) ExitCode() int { return exitResumed }

// runResult prints a workflow run's outcome and turns it into the exit code.
func (a *app) runResult(ctx context.Context, res *rotation.Result, f *fleetFlags) error {
	t, sumErr := res.Status(ctx, fleet.Selection{Stack: f.stack, Role: f.role})
	if a.format == string(output.Table) && len(t.Servers) > 0 {
		fmt.Fprintln(a.stdout)
	}
	if err := a.print(fleetTable{t}); err != nil {
		return err
	}
	if sumErr != nil {
		a.log.Warn("could not read the fleet's final state", "error", sumErr)
	}
	if res.Outcome == rotation.Resumed {
		return resumedError{fmt.Errorf("execution %s completed generation %d, which an earlier run had not delivered to every node, and did not rotate again: the next run rotates", res.Execution.ID, t.Generation)}
	}
	return res.Err
}

func (a *app) rotateCmd() *cobra.Command {
	var f fleetFlags
	var sf statusFlags
	var textfile string
	in := rotation.DefaultRotateInput()
	in.Concurrency, in.Timeout, in.CheckTimeout = 10, 10*time.Minute, rotation.DefaultCheckTimeout
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the Fernet keys of every Keystone node (the rotate_fernet_keys workflow)",
		Long: `Run the rotate_fernet_keys workflow on the embedded engine: list the nodes;
check what needs only the master (the prune guard); ask every node what its
key repository holds now (one round, which also enrolls new nodes); repair
stragglers; rotate the master, seal one envelope per node, deliver them; check
what every node then holds and probe that a token of every node validates on
every other.

First run on a cloud that already has keys: when the master is empty and the
nodes share one key set (made by keystone-manage fernet_setup, say), that set
becomes the master and the run goes on as a rotation: no token is lost. When
the nodes hold different sets the run refuses, naming each node and its set;
--adopt-from SERVER chooses one. Only --discard-existing-keys replaces the
nodes' keys with new ones.

A node whose keys changed outside fernetflow (a stray keystone-manage
fernet_rotate, a key deleted by hand) is drifted: the run refuses and names
what changed, and the node's repository stays as it is; --overwrite-drifted
SERVER puts the master's keys there anyway.

Exit codes: 0 rotated; 3 refused, nothing changed (a node drifted, silent for
--check-timeout, or split; the prune guard; the message says why and what to
run); 4 resumed: this run completed a rotation an earlier run had not
delivered to every node, and did not rotate again; 1 failed; 2 wrong usage. --dry-run
shows the plan and changes nothing anywhere.`,
		Example: `  # The overcloud's controllers, through Heat software deployments
  fernetflow rotate --target heat --os-cloud undercloud --stack overcloud --role Controller \
      --max-active-keys 5 --token-expiration 1h --allow-expired-window 48h
  # All-in-one or a few controllers on this host (a safe fernet_rotate cron job)
  fernetflow rotate --target local --nodes /srv/ctl0,/srv/ctl1,/srv/ctl2 \
      --state-dir /var/lib/fernetflow --max-active-keys 5 --token-expiration 1h --allow-expired-window 48h
  fernetflow rotate --target local --nodes /srv/ctl0 --dry-run -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.Validate(); err != nil {
				return usageError{err}
			}
			if _, err := sf.options(); err != nil {
				return err
			}
			in.Fleet = f.selection()
			f.deliveryTimeout = in.Timeout
			res, err := a.runDefinition(cmd.Context(), &f, in)
			if err != nil {
				return err
			}
			runErr := a.runResult(cmd.Context(), res, &f)
			if textfile != "" {
				sf.rules = ops.Rules{MaxActiveKeys: in.MaxActiveKeys, TokenExpiration: in.TokenExpiration, AllowExpiredWindow: in.AllowExpiredWindow, Source: "flags"}
				sf.rulesSet = func() bool { return true }
				// A metrics file that cannot be written does not change
				// the run's exit code: a timer retrying a rotation that
				// succeeded would rotate again. The file then goes stale,
				// which the example alert FernetKeyRotationOverdue sees.
				if err := a.writeMetricsTextfile(cmd.Context(), &f, &sf, res, textfile); err != nil {
					fmt.Fprintf(a.stderr, "fernetflow: %v\n", err)
					a.log.Error("metrics textfile not written", "file", textfile, "error", err)
				}
			}
			return runErr
		},
	}
	f.register(a, cmd)
	sf.register(cmd, false, "--metrics-textfile: ")
	cmd.Flags().StringVar(&textfile, "metrics-textfile", "", "after the run, write the metrics of /metrics to this file, atomically, for node-exporter's textfile collector (such as /var/lib/prometheus/node-exporter/fernetflow.prom)")
	cmd.Flags().IntVar(&in.MaxActiveKeys, "max-active-keys", in.MaxActiveKeys, "[fernet_tokens] max_active_keys")
	cmd.Flags().Var(duration{&in.TokenExpiration}, "token-expiration", "[token] expiration, seconds or a duration")
	cmd.Flags().Var(duration{&in.AllowExpiredWindow}, "allow-expired-window", "[token] allow_expired_window, seconds or a duration")
	cmd.Flags().IntVar(&in.Concurrency, "concurrency", in.Concurrency, "deliveries at once")
	cmd.Flags().Var(duration{&in.Timeout}, "timeout", "time allowed for each delivery step")
	cmd.Flags().BoolVar(&in.DryRun, "dry-run", false, "show the plan (one report round: what every node holds, adoption, repairs); change nothing anywhere")
	cmd.Flags().Var(duration{&in.CheckTimeout}, "check-timeout", "time allowed for every node to report before anything changes; a node silent for that long is a refusal (exit 3). Allow a few os-collect-config polling intervals")
	cmd.Flags().StringVar(&in.AdoptFrom, "adopt-from", "", "first run only, when the nodes hold different key sets: adopt the set this server (name or id) holds; the others are overwritten and tokens signed with keys only they hold stop validating")
	cmd.Flags().BoolVar(&in.DiscardExistingKeys, "discard-existing-keys", false, "first run only: set up a brand new key set instead of adopting the keys the nodes hold: EVERY TOKEN ISSUED SO FAR STOPS VALIDATING")
	cmd.Flags().StringSliceVar(&in.OverwriteDrifted, "overwrite-drifted", nil, "servers (name or id) whose keys changed outside fernetflow and may be overwritten with the master's: tokens signed with the keys the refusal named stop validating")
	cmd.Flags().BoolVar(&in.Force, "force", false, "let the prune guard delete a key that may still have signed valid tokens (when you know those tokens are gone)")
	return cmd
}

func (a *app) distributeCmd() *cobra.Command {
	var f fleetFlags
	in := rotation.DistributeInput{Concurrency: 10, Timeout: 10 * time.Minute, CheckTimeout: rotation.DefaultCheckTimeout}
	cmd := &cobra.Command{
		Use:   "distribute",
		Short: "Deliver the current key set to every node without rotating (distribute_fernet_keys)",
		Long: `Run the distribute_fernet_keys workflow: seal the master's current generation
to the nodes that lack it: every node first reports what its key repository
holds; nodes that missed a delivery are repaired (after which rotate works
again) and new nodes brought in. A node whose keys changed outside fernetflow
is refused unless named in --overwrite-drifted. It never rotates.

Exit codes: 0 done; 3 refused (a node drifted, unreachable or split; nothing
changed); 1 failed.`,
		Example: `  fernetflow distribute --target local --nodes /srv/ctl0,/srv/ctl1,/srv/ctl2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Fleet = f.selection()
			f.deliveryTimeout = in.Timeout
			res, err := a.runDefinition(cmd.Context(), &f, in)
			if err != nil {
				return err
			}
			return a.runResult(cmd.Context(), res, &f)
		},
	}
	f.register(a, cmd)
	cmd.Flags().IntVar(&in.Concurrency, "concurrency", in.Concurrency, "deliveries at once")
	cmd.Flags().Var(duration{&in.Timeout}, "timeout", "time allowed for the delivery step")
	cmd.Flags().Var(duration{&in.CheckTimeout}, "check-timeout", "time allowed for every node to report; a node silent for that long is a refusal (exit 3)")
	cmd.Flags().StringSliceVar(&in.OverwriteDrifted, "overwrite-drifted", nil, "servers (name or id) whose keys changed outside fernetflow and may be overwritten with the master's")
	return cmd
}

func (a *app) checkCmd() *cobra.Command {
	var f fleetFlags
	in := rotation.CheckInput{CheckTimeout: rotation.DefaultCheckTimeout}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check what every node's key repository holds, and probe that tokens cross nodes (check_fernet_keys)",
		Long: `Run the check_fernet_keys workflow: every node reports what its key
repository holds now (one round), which is compared with the master, and the
probe checks that a token issued with each node's real primary key validates
against every other node's keys. It changes nothing anywhere.

Exit codes: 0 every node agrees and every token crosses; 3 a node needs
attention (behind, drifted, silent for --check-timeout, split) or a token
does not cross; 1 the check could not run; 2 wrong usage.`,
		Example: `  fernetflow check --target heat --os-cloud undercloud --stack overcloud --role Controller
  fernetflow check --target local --nodes /srv/ctl0,/srv/ctl1,/srv/ctl2 -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Fleet = f.selection()
			res, err := a.runDefinition(cmd.Context(), &f, in)
			if err != nil {
				return err
			}
			return a.runResult(cmd.Context(), res, &f)
		},
	}
	f.register(a, cmd)
	cmd.Flags().Var(duration{&in.CheckTimeout}, "check-timeout", "time allowed for every node to report; a node silent for that long needs attention (exit 3)")
	return cmd
}

func (a *app) enrollCmd() *cobra.Command {
	var f fleetFlags
	var in rotation.EnrollInput
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Enroll the nodes and pin their recipients (enroll_nodes)",
		Long: `Run the enroll_nodes workflow: each node makes its identity if it has none
and reports its public recipient, which the undercloud pins (trust on first
use). A node whose recipient changed is refused unless named in --reenroll.`,
		Example: `  fernetflow enroll --target local --nodes /srv/ctl0,/srv/ctl1
  fernetflow enroll --target local --nodes /srv/ctl0,/srv/ctl1 --reenroll ctl1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Fleet = f.selection()
			res, err := a.runDefinition(cmd.Context(), &f, in)
			if err != nil {
				return err
			}
			if err := a.print(newExecView(res.Execution)); err != nil {
				return err
			}
			return res.Err
		},
	}
	f.register(a, cmd)
	cmd.Flags().StringSliceVar(&in.Reenroll, "reenroll", nil, "server ids whose changed recipient is accepted (rebuilt nodes)")
	return cmd
}

// writeMetricsTextfile writes the fleet's metrics after a run (rotate
// --metrics-textfile): the nodes from their repositories on the local
// target, from this run's own report round on Heat.
func (a *app) writeMetricsTextfile(ctx context.Context, f *fleetFlags, sf *statusFlags, res *rotation.Result, path string) error {
	var fresh *rotation.Result
	if f.target != "local" {
		fresh = res
	}
	m := ops.NewMetrics(func(ctx context.Context) (*ops.Status, error) { return a.fleetStatus(ctx, f, sf, fresh, false) }, false)
	if err := m.WriteTextfile(path); err != nil {
		return fmt.Errorf("--metrics-textfile %s: %w", path, err)
	}
	return nil
}
