package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
)

// demoStep is one step of the demo's story, for -f json.
type demoStep struct {
	Title    string                  `json:"title"`
	Command  string                  `json:"command"`
	State    workflow.State          `json:"state"`
	ExitCode int                     `json:"exit_code"`
	Error    string                  `json:"error,omitempty"`
	Fleet    []rotation.ServerStatus `json:"fleet"`
	Tokens   int                     `json:"tokens_checked"`
	TokensOK bool                    `json:"tokens_ok"`
}

type demoReport struct {
	Dir   string     `json:"dir"`
	Steps []demoStep `json:"steps"`
	OK    bool       `json:"ok"`
}

// demo is the story fernetflow demo tells, on a throwaway fleet.
type demo struct {
	a      *app
	w      io.Writer // the narrative (stdout for tables, discarded for -f json)
	f      fleetFlags
	tokens []string
	report demoReport
	down   int // index of a node whose disk failed, -1 for none
}

func (a *app) demoCmd() *cobra.Command {
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole story on a throwaway fleet of three local nodes (no cloud)",
		Long: `Build a throwaway fleet of three local Keystone nodes (directories), enroll
them, rotate their keys several times with the rotate_fernet_keys workflow on
the embedded engine, and after every step prove that every token issued so
far, on any node, validates on every node. Then one node's disk fails: the
rotation is refused, naming it; the disk is replaced empty, distribute
restores its keys from a sealed envelope, and rotation goes on.`,
		Example: `  fernetflow demo
  fernetflow demo --dir /tmp/fleet --keep -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				tmp, err := os.MkdirTemp("", "fernetflow-demo-")
				if err != nil {
					return err
				}
				dir = tmp
				if !keep {
					defer os.RemoveAll(tmp)
				}
			}
			d := &demo{a: a, w: a.stdout, down: -1}
			if a.format != string(output.Table) {
				d.w = io.Discard
			}
			d.f = fleetFlags{target: "local", stateDir: filepath.Join(dir, "undercloud"), stack: "overcloud", role: "Controller"}
			for _, n := range []string{"ctl0", "ctl1", "ctl2"} {
				d.f.nodes = append(d.f.nodes, filepath.Join(dir, n))
			}
			d.report.Dir = dir
			err := d.run(cmd.Context())
			if a.format != string(output.Table) {
				if perr := a.print(d.report); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "where the throwaway fleet goes (default: a new temporary directory, removed at the end)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	return cmd
}

func (d *demo) run(ctx context.Context) error {
	fmt.Fprintf(d.w, "fernetflow demo: three Keystone nodes as directories under %s\n", d.report.Dir)
	fmt.Fprintf(d.w, "(the same workflow runs against Heat with --target heat)\n")
	if err := d.step(ctx, "Enroll the nodes: each makes its own key pair; the undercloud pins the public half", rotation.EnrollInput{}, 0); err != nil {
		return err
	}
	for i := 1; i <= 3; i++ {
		if err := d.step(ctx, fmt.Sprintf("Rotation %d", i), demoRotation, 0); err != nil {
			return err
		}
	}
	// ctl2's disk fails: its key repository is gone and a file sits in its place.
	ctl2 := local.KeyRepository(d.f.nodes[2])
	if err := os.Rename(ctl2, ctl2+".failed-disk"); err != nil {
		return err
	}
	if err := os.WriteFile(ctl2, []byte("I/O error\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(d.w, "\n*** ctl2's disk fails (its key repository is unreadable) ***\n")
	d.dropNode(2)
	if err := d.step(ctx, "Rotation 4, with ctl2 down: refused, because rotating past a node that disagrees is how tokens break", demoRotation, exitRefused); err != nil {
		return err
	}
	if err := os.Remove(ctl2); err != nil {
		return err
	}
	if err := os.RemoveAll(ctl2 + ".failed-disk"); err != nil {
		return err
	}
	if err := os.Mkdir(ctl2, 0o700); err != nil {
		return err
	}
	fmt.Fprintf(d.w, "\n*** ctl2 gets a new, empty disk: its keys are lost ***\n")
	d.restoreNode()
	if err := d.step(ctx, "Distribute: ctl2 gets the current keys again, from an envelope only it can open", rotation.DistributeInput{}, 0); err != nil {
		return err
	}
	if err := d.step(ctx, "Rotation 4, the fleet agreeing again", demoRotation, 0); err != nil {
		return err
	}
	d.report.OK = true
	for _, s := range d.report.Steps {
		d.report.OK = d.report.OK && s.TokensOK
	}
	if !d.report.OK {
		return fmt.Errorf("demo: a token stopped validating")
	}
	fmt.Fprintf(d.w, "\nOK: every token issued on any node validated on every node at every step (%d tokens).\n", len(d.tokens))
	return nil
}

// dropNode marks a node whose disk failed: it issues no tokens and is not
// asked to validate any until restoreNode.
func (d *demo) dropNode(i int) { d.down = i }
func (d *demo) restoreNode()   { d.down = -1 }

// demoRotation is the demo's key rules: five keys, one-hour tokens, no
// expired-token window.
var demoRotation = rotation.RotateInput{MaxActiveKeys: 5, TokenExpiration: time.Hour}

// step runs one workflow, prints its table and checks every token so far.
func (d *demo) step(ctx context.Context, title string, in rotation.Input, wantCode int) error {
	wf := in.Workflow()
	fmt.Fprintf(d.w, "\n== %s\n$ fernetflow %s\n", title, demoCommand(wf))
	quiet := *d.a
	quiet.stderr = io.Discard
	res, err := quiet.runDefinition(ctx, &d.f, in)
	if err != nil {
		return err
	}
	ex := res.Execution
	step := demoStep{Title: title, Command: "fernetflow " + demoCommand(wf), State: ex.State}
	t, _ := res.Status(ctx, fleet.Selection{})
	step.Fleet = t.Servers
	var re *rotation.RunError
	if errors.As(res.Err, &re) {
		step.Error = re.Reason()
		step.ExitCode = exitCode(res.Err)
	}
	if step.ExitCode != wantCode {
		return fmt.Errorf("demo: %s ended %s (exit %d, want %d): %s", wf, ex.State, step.ExitCode, wantCode, step.Error)
	}
	if d.w != io.Discard {
		if err := output.Write(d.w, output.Table, fleetTable{t}); err != nil {
			return err
		}
		if step.Error != "" {
			fmt.Fprintf(d.w, "exit %d: %s\n", step.ExitCode, step.Error)
		}
	}
	step.TokensOK = true
	if wf != rotation.Enroll {
		step.Tokens, step.TokensOK = d.checkTokens()
		fmt.Fprintf(d.w, "tokens: %d checks of every token issued so far on every node: %s\n", step.Tokens, map[bool]string{true: "all valid", false: "SOME REJECTED"}[step.TokensOK])
	}
	d.report.Steps = append(d.report.Steps, step)
	return nil
}

func demoCommand(wf rotation.Workflow) string {
	switch wf {
	case rotation.Enroll:
		return "enroll --nodes ctl0,ctl1,ctl2"
	case rotation.Distribute:
		return "distribute --nodes ctl0,ctl1,ctl2"
	}
	return "rotate --nodes ctl0,ctl1,ctl2 --max-active-keys 5 --token-expiration 1h --allow-expired-window 0"
}

// checkTokens issues a token on every working node, then verifies every
// token issued so far against every working node's repository, as each
// node's Keystone would.
func (d *demo) checkTokens() (int, bool) {
	var sets []keys.Set
	for i, n := range d.f.nodes {
		if i == d.down {
			continue
		}
		r, err := keys.Open(local.KeyRepository(n))
		if err != nil {
			return 0, false
		}
		tok, err := keys.IssueToken(r.Keys, []byte("demo token from "+filepath.Base(n)))
		if err != nil {
			return 0, false
		}
		d.tokens = append(d.tokens, tok)
		sets = append(sets, r.Keys)
	}
	checks, ok := 0, true
	for _, s := range sets {
		for _, tok := range d.tokens {
			checks++
			if _, _, err := keys.VerifyToken(s, tok, 0); err != nil {
				ok = false
			}
		}
	}
	return checks, ok
}
