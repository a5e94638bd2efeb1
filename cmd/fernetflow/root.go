package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// app carries what every command shares: the streams, the output format and
// the logger. It is built once in main and passed to each command's
// constructor; there is no package-level state.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	format  string
	verbose bool
	// keepExecutions bounds the executions kept in executions.db
	// (--keep-executions; 0 keeps them all).
	keepExecutions int
	log            *slog.Logger

	// cronRegistry, when serve was given a fleet, is the registry its cron
	// triggers run with (fernetflow's own actions on that fleet); nil means
	// actions.Engine(actions.Host{}), whose fleet actions refuse to run.
	cronRegistry workflow.Registry
	// cronUndercloud is that fleet's state: a trigger of one of
	// fernetflow's own workflows takes its run lock, as rotate does.
	cronUndercloud *fleet.Undercloud

	// fireTriggers, when serve runs the Mistral API, fires the cron
	// triggers instead of the Firer's Run (mistralapi.Server.FireTriggers).
	fireTriggers func(ctx context.Context, fallback *store.Firer, tick time.Duration) error

	// metrics, when serve has --metrics-listen, is the registry its
	// /metrics serves and its HTTP servers are timed in.
	metrics *ops.Metrics
	// tally counts the deliveries of serve's cron-fired runs.
	tally *deliveryTally
	// serveFleet, set by serve's action flags, gives serve's fleet flags
	// (nil, false when serve was given no fleet).
	serveFleet func() (*fleetFlags, bool)

	// now, when set (by tests only), is the clock status judges by.
	now func() time.Time

	// wrapTarget, when set (by tests only), wraps the fleet target of
	// rotate/distribute/enroll, to inject faults.
	wrapTarget func(fleet.Target) fleet.Target
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.DiscardHandler)}
}

func (a *app) root() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fernetflow",
		Short: "Rotate Keystone Fernet keys across every Keystone node, safely",
		Long: `fernetflow rotates OpenStack Keystone Fernet keys on every Keystone node of a
cloud with zero downtime. Keys never travel or rest in plaintext outside a
node's key repository: each node receives its key set sealed to its own key
and signed by the undercloud.`,
		Example: `  # Create a key repository, then rotate it as keystone-manage would
  fernetflow keys setup  --key-repository /etc/keystone/fernet-keys
  fernetflow keys rotate --key-repository /etc/keystone/fernet-keys --max-active-keys 3`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := output.ParseFormat(a.format); err != nil {
				return usageError{err}
			}
			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
	}
	cmd.SetIn(a.stdin)
	cmd.SetOut(a.stdout)
	cmd.SetErr(a.stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.PersistentFlags().StringVarP(&a.format, "format", "f", string(output.Table), "output format: "+output.Formats)
	cmd.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log progress to stderr")
	cmd.PersistentFlags().IntVar(&a.keepExecutions, "keep-executions", store.DefaultMaxExecutions, "executions kept in STATE_DIR/executions.db: recording a new one drops the oldest finished ones beyond this; 0 keeps them all (see also execution delete --older-than)")
	cmd.AddCommand(
		a.keysCmd(),
		a.demoCmd(),
		a.rotateCmd(),
		a.distributeCmd(),
		a.checkCmd(),
		a.statusCmd(),
		a.enrollCmd(),
		a.actionCmd(),
		a.workflowCmd(),
		a.executionCmd(),
		a.cronTriggerCmd(),
		a.serveCmd(),
		a.signerCmd(),
		a.envelopeCmd(),
		a.nodeCmd(),
		a.heatCmd(),
		a.mistralCmd(),
	)
	argsAreUsage(cmd)
	return cmd
}

// argsAreUsage makes wrong arguments a usage error (exit code 2) on every
// command of the tree: an argument a command does not take, and an
// unknown subcommand (which cobra would otherwise answer with the group's
// help and exit code 0, or with a plain error).
func argsAreUsage(cmd *cobra.Command) {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, a []string) error {
			if len(a) == 0 {
				return c.Help()
			}
			return usagef("unknown command %q for %q", a[0], c.CommandPath())
		}
	}
	for _, c := range cmd.Commands() {
		argsAreUsage(c)
	}
}

// print writes a command's result in the format chosen with -f.
func (a *app) print(v any) error {
	f, err := output.ParseFormat(a.format)
	if err != nil {
		return usageError{err}
	}
	return output.Write(a.stdout, f, v)
}

// usagef reports a wrongly called command (exit code 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}
