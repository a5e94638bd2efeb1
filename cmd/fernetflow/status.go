package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// statusFlags are what fernetflow status (and the metrics of rotate and
// serve) judge the fleet by.
type statusFlags struct {
	schedule   string
	primaryMax int
	grace      time.Duration
	// rules are the key rules; used when one of their flags is given.
	rules ops.Rules
	// rulesSet reports whether a key rule flag was given.
	rulesSet func() bool
}

// register adds the flags to cmd; prefix names what they are for on a
// command other than status ("--metrics-textfile: ").
func (sf *statusFlags) register(cmd *cobra.Command, withRules bool, prefix string) {
	cmd.Flags().StringVar(&sf.schedule, "schedule", "", prefix+"when rotations run, if not by a cron trigger of rotate_fernet_keys in the state directory: a cron pattern ('0 3 * * *', UTC) or a systemd timer's OnCalendar= (daily, weekly, '*-*-* 03:00')")
	cmd.Flags().IntVar(&sf.primaryMax, "primary-max-intervals", 2, prefix+"warn when the primary key is older than this many rotation intervals")
	cmd.Flags().DurationVar(&sf.grace, "grace", time.Hour, prefix+"how late a scheduled rotation may be before it is overdue")
	sf.rules = ops.Rules{MaxActiveKeys: keys.DefaultMaxActiveKeys, TokenExpiration: keys.DefaultTokenExpiration, AllowExpiredWindow: keys.DefaultAllowExpiredWindow, Source: "flags"}
	if withRules {
		cmd.Flags().IntVar(&sf.rules.MaxActiveKeys, "max-active-keys", sf.rules.MaxActiveKeys, "[fernet_tokens] max_active_keys (default: the last rotation's, else Keystone's 3)")
		cmd.Flags().Var(duration{&sf.rules.TokenExpiration}, "token-expiration", "[token] expiration (default: the last rotation's, else 1h)")
		cmd.Flags().Var(duration{&sf.rules.AllowExpiredWindow}, "allow-expired-window", "[token] allow_expired_window (default: the last rotation's, else 48h)")
	}
	sf.rulesSet = func() bool {
		return cmd.Flags().Changed("max-active-keys") || cmd.Flags().Changed("token-expiration") || cmd.Flags().Changed("allow-expired-window")
	}
}

// options turns the flags into ops.Options (without the nodes).
func (sf *statusFlags) options() (ops.Options, error) {
	o := ops.Options{PrimaryMaxIntervals: sf.primaryMax, Grace: sf.grace}
	if sf.primaryMax < 1 {
		return o, usagef("--primary-max-intervals %d: want 1 or more", sf.primaryMax)
	}
	if sf.schedule != "" {
		sc, err := ops.ParseSchedule(sf.schedule, "--schedule")
		if err != nil {
			return o, usageError{err}
		}
		o.Schedule = sc
	}
	if sf.rulesSet != nil && sf.rulesSet() {
		r := sf.rules
		if r.MaxActiveKeys < 1 {
			return o, usagef("--max-active-keys %d: Keystone needs at least 1", r.MaxActiveKeys)
		}
		if err := keys.CheckTokenDurations(r.TokenExpiration, r.AllowExpiredWindow); err != nil {
			return o, usageError{err}
		}
		o.Rules = &r
	}
	return o, nil
}

// existingStore opens the state directory's store when it exists (a
// status never creates one).
func (a *app) existingStore(stateDir string) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(stateDir, store.FileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return a.openStore(stateDir)
}

// fleetStatus builds the fleet's status: on the local target from every
// node's repository now; on Heat from fresh's report round when given,
// else from the newest report the store keeps, the servers listed by Heat.
//
// noNodes accepts a local target without --nodes (serve without a fleet:
// the master and the store only).
func (a *app) fleetStatus(ctx context.Context, f *fleetFlags, sf *statusFlags, fresh *rotation.Result, noNodes bool) (*ops.Status, error) {
	o, err := sf.options()
	if err != nil {
		return nil, err
	}
	o.Undercloud = &fleet.Undercloud{Dir: f.stateDir}
	st, err := a.existingStore(f.stateDir)
	if err != nil {
		return nil, err
	}
	o.Store = st
	now := time.Now()
	if a.now != nil {
		now, o.Now = a.now(), a.now
	}
	switch {
	case f.target == "local" && fresh == nil && len(f.nodes) == 0 && noNodes:
		// serve without a fleet: the master and the store only.
		o.Observed = ops.Observed{Source: ops.NodesRepositories}
	case f.target == "local" && fresh == nil:
		if len(f.nodes) == 0 {
			return nil, usagef("--target local needs --nodes DIR,DIR (the node directories)")
		}
		owner, err := resolveOwner(f.user, f.group)
		if err != nil {
			return nil, err
		}
		t := &local.Target{Nodes: f.nodes, Owner: owner}
		if o.Servers, err = t.Servers(ctx, fleet.Selection{}); err != nil {
			return nil, err
		}
		o.Observed = ops.InspectAll(t, o.Servers, now)
	case fresh != nil:
		obs, ok := ops.FromExecution(fresh.Execution, ops.NodesFreshReport)
		if !ok {
			obs = ops.Observed{Source: ops.NodesFreshReport}
		}
		o.Observed, o.Servers = obs, obs.Servers
	case f.target == "heat":
		if len(f.nodes) > 0 {
			return nil, usagef("--nodes is for --target local; the heat target finds the servers of --role in --stack")
		}
		t := &deploy.FleetTarget{Host: f.heat()}
		defer t.Close()
		if o.Servers, err = t.Servers(ctx, fleet.Selection{Stack: f.stack, Role: f.role}); err != nil {
			return nil, err
		}
		o.Observed = ops.Observed{Source: ops.NodesLastReport}
		if st != nil {
			obs, ok, err := ops.LastReport(st)
			if err != nil {
				return nil, err
			}
			if ok {
				o.Observed = obs
			}
		}
	default:
		return nil, usagef("--target %q: use local or heat", f.target)
	}
	return ops.Build(ctx, o)
}

func (a *app) statusCmd() *cobra.Command {
	var f fleetFlags
	var sf statusFlags
	var refresh bool
	checkTimeout := rotation.DefaultCheckTimeout
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every node against the master, the master's keys, the last and next rotation, and what needs attention",
		Long: `Show what an operator needs to know about the fleet's keys, changing nothing:

- every node: its generation, fingerprint, and whether it agrees with the
  master (the cause when it does not). On the local target, read from each
  node's repository now; on Heat, from the newest report round the state
  directory's execution store keeps, with its age (--refresh asks every node
  now: one report round, the check_fernet_keys workflow);
- the master's keys with their roles, when each was promoted and demoted,
  and when each becomes prunable;
- the last rotation (when, outcome, duration) and the next scheduled one
  (a cron trigger of rotate_fernet_keys, or --schedule for a systemd timer
  or crontab);
- warnings: max_active_keys too small for the schedule (Keystone's rule),
  rotation overdue, a node lagging or disagreeing, the primary older than
  --primary-max-intervals intervals, the last rotation refused or failed,
  the next rotation refused by the prune guard.

Exit codes (a Nagios-style check): 0 nothing needs attention; 3 a warning
(each is printed); 1 the status could not be built; 2 wrong usage.`,
		Example: `  fernetflow status --target local --nodes /srv/ctl0,/srv/ctl1,/srv/ctl2 --schedule daily
  fernetflow status --target heat --os-cloud undercloud --stack overcloud --refresh -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := sf.options(); err != nil {
				return err
			}
			var fresh *rotation.Result
			if refresh {
				res, err := a.runDefinition(cmd.Context(), &f, rotation.CheckInput{Fleet: f.selection(), CheckTimeout: checkTimeout})
				if err != nil {
					return err
				}
				fresh = res
			}
			s, err := a.fleetStatus(cmd.Context(), &f, &sf, fresh, false)
			if err != nil {
				return err
			}
			if err := a.printStatus(s); err != nil {
				return err
			}
			if s.NeedsAttention() {
				codes := make([]string, len(s.Warnings))
				for i, w := range s.Warnings {
					codes[i] = w.Code
				}
				return fmt.Errorf("%w: %s", rotation.ErrNeedsAttention, strings.Join(codes, ", "))
			}
			return nil
		},
	}
	f.register(a, cmd)
	sf.register(cmd, true, "")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask every node what it holds now (one report round: check_fernet_keys, recorded) instead of reading the last report")
	cmd.Flags().Var(duration{&checkTimeout}, "check-timeout", "--refresh: time allowed for every node to report")
	return cmd
}

// printStatus writes s as -f asks: JSON/YAML as is, or tables for people.
func (a *app) printStatus(s *ops.Status) error {
	if a.format != string(output.Table) {
		return a.print(s)
	}
	w := a.stdout
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "fleet (nodes from %s", s.NodesSource)
	if s.Report != nil {
		fmt.Fprintf(w, " of %s, %s ago", s.Report.At.Format(time.RFC3339), (time.Duration(s.Report.AgeSeconds) * time.Second).String())
	}
	fmt.Fprintln(w, ")")
	var rows [][]string
	for _, n := range s.Nodes {
		rows = append(rows, []string{n.Name, strconv.FormatUint(n.Generation, 10), n.Fingerprint, string(n.Status), n.Reason})
	}
	if err := output.Write(w, output.Table, tabler{[]string{"NODE", "GENERATION", "FINGERPRINT", "STATUS", "CAUSE"}, rows}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if m := s.Master; m != nil {
		fmt.Fprintf(w, "master: generation %d, fingerprint %s, confirmed %s\n", m.Generation, m.Fingerprint, ts(m.Confirmed))
		rows = nil
		for _, k := range m.Keys {
			demoted := ts(k.Demoted)
			if k.DemotedUnknown && k.Demoted != nil {
				demoted = "by " + demoted
			}
			rows = append(rows, []string{strconv.Itoa(k.Index), k.Role, k.KeyID, ts(k.Promoted), demoted, ts(k.PrunableAfter)})
		}
		if err := output.Write(w, output.Table, tabler{[]string{"INDEX", "ROLE", "KEY ID", "PROMOTED", "DEMOTED", "PRUNABLE AFTER"}, rows}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "master: %s\n", s.MasterError)
	}
	fmt.Fprintln(w)
	rows = [][]string{{"key rules", fmt.Sprintf("max_active_keys %d, token_expiration %s, allow_expired_window %s (%s)", s.Rules.MaxActiveKeys, s.Rules.TokenExpiration, s.Rules.AllowExpiredWindow, s.Rules.Source)}}
	if r := s.LastRotation; r != nil {
		rows = append(rows, []string{"last rotation", fmt.Sprintf("%s, %s, took %s (execution %s, from %s)", r.FinishedAt.Format(time.RFC3339), r.Outcome, time.Duration(r.DurationSeconds*float64(time.Second)).Round(time.Millisecond), r.Execution, r.Source)})
	} else {
		rows = append(rows, []string{"last rotation", "none recorded"})
	}
	if s.LastSuccess != nil {
		rows = append(rows, []string{"last success", fmt.Sprintf("%s (from %s)", ts(s.LastSuccess), s.LastSuccessSource)})
	}
	if n := s.NextRotation; n != nil {
		rows = append(rows, []string{"next rotation", fmt.Sprintf("%s (%s: %s)", n.At.Format(time.RFC3339), n.Source, n.Spec)})
	} else {
		rows = append(rows, []string{"next rotation", "no schedule known"})
	}
	for _, w := range s.Warnings {
		rows = append(rows, []string{"WARNING " + w.Code, w.Message})
	}
	for _, n := range s.Notes {
		rows = append(rows, []string{"note", n})
	}
	return output.Write(w, output.Table, tabler{[]string{"FIELD", "VALUE"}, rows})
}

// tabler is a ready table.
type tabler struct {
	header []string
	rows   [][]string
}

func (t tabler) Table() ([]string, [][]string) { return t.header, t.rows }
