package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/output"
)

// defaultCredentialRepository is Keystone's default [credential]
// key_repository; token commands always refuse it.
const defaultCredentialRepository = "/etc/keystone/credential-keys"

// repoFlags are the flags every keys command shares.
type repoFlags struct {
	dir            string
	user, group    string
	credentialDirs []string
	wait           bool
}

func (f *repoFlags) register(cmd *cobra.Command, writes bool) {
	cmd.Flags().StringVar(&f.dir, "key-repository", "/etc/keystone/fernet-keys", "Keystone's [fernet_tokens] key_repository")
	cmd.Flags().StringVar(&f.user, "keystone-user", "", "user (name or id) that owns the key files, as keystone-manage's --keystone-user")
	cmd.Flags().StringVar(&f.group, "keystone-group", "", "group (name or id) that owns the key files, as keystone-manage's --keystone-group")
	cmd.Flags().StringSliceVar(&f.credentialDirs, "credential-repository", []string{defaultCredentialRepository}, "Keystone's [credential] key_repository: refused for token key operations")
	if writes {
		cmd.Flags().BoolVar(&f.wait, "wait", false, "wait for another fernetflow writer to finish instead of failing with exit code 75")
	}
}

func (f *repoFlags) options(a *app) ([]keys.Option, error) {
	opts := []keys.Option{keys.WithLogger(a.log), keys.WithCredentialRepositories(f.credentialDirs...)}
	owner, err := resolveOwner(f.user, f.group)
	if err != nil {
		return nil, err
	}
	if owner != nil {
		opts = append(opts, keys.WithOwner(owner.UID, owner.GID))
	}
	if f.wait {
		opts = append(opts, keys.WithWait())
	}
	return opts, nil
}

// open loads the repository the flags name.
func (f *repoFlags) open(a *app) (*keys.Repository, error) {
	opts, err := f.options(a)
	if err != nil {
		return nil, err
	}
	return keys.Open(f.dir, opts...)
}

// rotateFlags are the knobs of setup and rotate, named as in keystone.conf.
type rotateFlags struct {
	ro keys.RotateOptions
}

func (f *rotateFlags) register(cmd *cobra.Command) {
	f.ro.TokenExpiration = keys.DefaultTokenExpiration
	f.ro.AllowExpiredWindow = keys.DefaultAllowExpiredWindow
	cmd.Flags().IntVar(&f.ro.MaxActiveKeys, "max-active-keys", keys.DefaultMaxActiveKeys, "[fernet_tokens] max_active_keys: keys kept, staged key 0 included")
	cmd.Flags().Var(duration{&f.ro.TokenExpiration}, "token-expiration", "[token] expiration, seconds or a duration")
	cmd.Flags().Var(duration{&f.ro.AllowExpiredWindow}, "allow-expired-window", "[token] allow_expired_window, seconds or a duration")
	cmd.Flags().BoolVar(&f.ro.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&f.ro.Force, "force", false, "prune keys even when they may have signed tokens that are still valid")
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage a Keystone Fernet key repository on this host",
		Long: `Manage a Keystone Fernet key repository with keystone-manage's exact
semantics (0 is the staged key, the highest index the primary, the rest
secondaries), but with atomic, locked writes, metadata beside the
repository (DIR.fernetflow.json), and a guard against pruning keys that
may still have signed valid tokens.`,
	}
	cmd.AddCommand(a.keysSetupCmd(), a.keysRotateCmd(), a.keysListCmd(), a.keysFingerprintCmd(), a.keysMaxActiveCmd(), a.keysTokenCmd())
	return cmd
}

// planFunc is keys.Setup or keys.Rotate.
type planFunc func(ctx context.Context, dir string, ro keys.RotateOptions, opts ...keys.Option) (*keys.Plan, error)

// runPlan runs setup or rotate with the command's flags and prints the plan.
func (a *app) runPlan(f planFunc, rf *repoFlags, kf *rotateFlags) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		opts, err := rf.options(a)
		if err != nil {
			return err
		}
		p, err := f(cmd.Context(), rf.dir, kf.ro, opts...)
		if err != nil {
			return err
		}
		return a.print(p)
	}
}

func (a *app) keysSetupCmd() *cobra.Command {
	var rf repoFlags
	var kf rotateFlags
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Create a key repository (keys 0 and 1), as keystone-manage fernet_setup",
		Long: `Create a key repository as keystone-manage fernet_setup does: when 0 is
missing, write a new 0 and rotate once, so an empty repository ends with 0
(staged) and 1 (primary). A repository that has 0 is left alone. Like
fernet_setup, the rotation honours --max-active-keys and can prune; the
prune guard and --force work as for rotate.`,
		Example: `  fernetflow keys setup --key-repository /etc/keystone/fernet-keys \
      --keystone-user keystone --keystone-group keystone`,
		Args: cobra.NoArgs,
		RunE: a.runPlan(keys.Setup, &rf, &kf),
	}
	rf.register(cmd, true)
	kf.register(cmd) // fernet_setup rotates once, and can prune like fernet_rotate
	return cmd
}

func (a *app) keysRotateCmd() *cobra.Command {
	var rf repoFlags
	var kf rotateFlags
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the keys once, as keystone-manage fernet_rotate, safely",
		Long: `Promote the staged key 0 to primary (highest index + 1), write a new staged
key 0, and prune the lowest-numbered keys until --max-active-keys remain.
Files are written in a safe order, atomically, under a lock.

A key is pruned only when every token it may have signed has expired:
--token-expiration + --allow-expired-window after it stopped being primary.
Otherwise the rotation is refused with the time it becomes safe, unless
--force is given. Exit code 75 means another fernetflow process holds the
lock (retry, or pass --wait).`,
		Example: `  # See what a rotation would do, then do it
  fernetflow keys rotate --key-repository /etc/keystone/fernet-keys --max-active-keys 5 \
      --token-expiration 1h --allow-expired-window 48h --dry-run
  fernetflow keys rotate --key-repository /etc/keystone/fernet-keys --max-active-keys 5 \
      --keystone-user keystone --keystone-group keystone`,
		Args: cobra.NoArgs,
		RunE: a.runPlan(keys.Rotate, &rf, &kf),
	}
	rf.register(cmd, true)
	kf.register(cmd)
	return cmd
}

func (a *app) keysListCmd() *cobra.Command {
	var rf repoFlags
	var nodeState string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys of a repository with their roles and history",
		Long: `List the keys of a repository with their roles and, where fernetflow
recorded it, their history. On a Keystone node whose repository fernetflow
installs (--node-state-dir holds an installed.json for this repository),
the generation is the one the node installed, and the keys are checked
against it.`,
		Example: `  fernetflow keys list --key-repository /etc/keystone/fernet-keys -f json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := rf.options(a)
			if err != nil {
				return err
			}
			s, err := keys.Inspect(rf.dir, opts...)
			if err != nil {
				return err
			}
			nodeManaged(s, nodeState)
			if err := a.print(s); err != nil {
				return err
			}
			if a.format == string(output.Table) {
				fmt.Fprintf(a.stdout, "\ngeneration %d, fingerprint %s\n", s.Generation, s.Fingerprint)
				for _, w := range s.Warnings {
					fmt.Fprintln(a.stderr, "warning:", w)
				}
			}
			return nil
		},
	}
	rf.register(cmd, false)
	cmd.Flags().StringVar(&nodeState, "node-state-dir", node.DefaultStateDir, "on a node: the state directory of fernetflow node install (its installed.json names the repository it manages)")
	return cmd
}

// nodeManaged tells a node's repository that fernetflow installs apart
// from one nobody manages: both have no metadata beside them, but the
// node's installed.json records the generation it installed there.
func nodeManaged(s *keys.Status, stateDir string) {
	st, err := node.ReadState(stateDir)
	if err != nil || st == nil || !samePath(st.KeyRepository, s.Repository) {
		return
	}
	i := slices.Index(s.Warnings, keys.WarnNoMetadata)
	if i < 0 {
		return
	}
	installed := filepath.Join(stateDir, node.InstalledFile)
	if st.Fingerprint == s.Fingerprint {
		s.Generation = st.Generation
		s.Warnings = slices.Delete(s.Warnings, i, i+1)
		return
	}
	s.Warnings[i] = fmt.Sprintf("the keys differ from generation %d that fernetflow installed on this node on %s (%s): changed outside fernetflow (keystone-manage fernet_rotate, a key deleted or added by hand); the next fernetflow run reports this node as drifted",
		st.Generation, st.InstalledAt.UTC().Format(time.RFC3339), installed)
}

func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	if errA != nil || errB != nil {
		return false
	}
	if ra, err := filepath.EvalSymlinks(a); err == nil {
		a = ra
	}
	if rb, err := filepath.EvalSymlinks(b); err == nil {
		b = rb
	}
	return a == b
}

type fingerprintResult struct {
	Repository string `json:"key_repository"`
	Short      string `json:"short"`
	Long       string `json:"fingerprint"`
}

func (a *app) keysFingerprintCmd() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print the fingerprint of a repository's key set (short and long)",
		Long: `Print the SHA-256 fingerprint of the key set: equal fingerprints mean the same
keys under the same names, so the same primary. Compare it across nodes.`,
		Example: `  fernetflow keys fingerprint --key-repository /etc/keystone/fernet-keys`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rf.open(a)
			if err != nil {
				return err
			}
			fp := r.Keys.Fingerprint()
			res := fingerprintResult{Repository: r.Dir, Short: fp.Short(), Long: fp.String()}
			if a.format == string(output.Table) {
				_, err := fmt.Fprintf(a.stdout, "%s  %s\n", res.Short, res.Long)
				return err
			}
			return a.print(res)
		},
	}
	rf.register(cmd, false)
	return cmd
}

type maxActiveResult struct {
	TokenExpiration    string `json:"token_expiration"`
	AllowExpiredWindow string `json:"allow_expired_window"`
	RotationInterval   string `json:"rotation_interval"`
	MaxActiveKeys      int    `json:"max_active_keys"`
	Configured         int    `json:"configured,omitempty"`
	OK                 *bool  `json:"ok,omitempty"`
	Explanation        string `json:"explanation"`
}

func (a *app) keysMaxActiveCmd() *cobra.Command {
	exp, window, interval := keys.DefaultTokenExpiration, keys.DefaultAllowExpiredWindow, 24*time.Hour
	var configured int
	cmd := &cobra.Command{
		Use:   "max-active",
		Short: "Compute max_active_keys from token lifetime and rotation interval",
		Long: `Compute the max_active_keys a deployment needs, by Keystone's FAQ rule

  max_active_keys = (token_expiration + allow_expired_window) / rotation_interval + 2

rounded up: the staged key, the primary, and enough secondaries to validate
every token signed during a token's life. With --max-active-keys, check a
configured value: exit code 1 when it breaks the rule.`,
		Example: `  # Daily rotation, 1 h tokens, Keystone's 2-day allow_expired_window
  fernetflow keys max-active --token-expiration 1h --allow-expired-window 48h --rotation-interval 24h
  # Check what keystone.conf says
  fernetflow keys max-active --rotation-interval 1h --max-active-keys 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := keys.MaxActiveKeys(exp, window, interval)
			if err != nil {
				return usageError{err}
			}
			res := maxActiveResult{
				TokenExpiration: exp.String(), AllowExpiredWindow: window.String(), RotationInterval: interval.String(),
				MaxActiveKeys: n,
				Explanation: fmt.Sprintf("a token lives up to %s (expiration) + %s (allow_expired_window) = %s; rotating every %s, %d rotations can happen in that time, so keep %d secondaries plus the primary and the staged key",
					exp, window, exp+window, interval, n-2, n-2),
			}
			var broken error
			if cmd.Flags().Changed("max-active-keys") {
				ok := configured >= n
				res.Configured, res.OK = configured, &ok
				if !ok {
					broken = fmt.Errorf("max_active_keys = %d is too low: tokens stop validating before they expire; set it to at least %d, or rotate less often", configured, n)
				}
			}
			if err := a.print(res); err != nil {
				return err
			}
			return broken
		},
	}
	cmd.Flags().Var(duration{&exp}, "token-expiration", "[token] expiration, seconds or a duration")
	cmd.Flags().Var(duration{&window}, "allow-expired-window", "[token] allow_expired_window, seconds or a duration")
	cmd.Flags().Var(duration{&interval}, "rotation-interval", "time between rotations, seconds or a duration")
	cmd.Flags().IntVar(&configured, "max-active-keys", 0, "a configured value to check against the rule")
	return cmd
}

func (a *app) keysTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue or verify a test token with a repository's keys",
	}
	var rf repoFlags
	var message string
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Print a Keystone-style (unpadded) Fernet token signed by the primary key",
		Example: `  T=$(fernetflow keys token issue --key-repository /etc/keystone/fernet-keys)
  fernetflow keys token verify --key-repository /srv/node2/fernet-keys "$T"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rf.open(a)
			if err != nil {
				return err
			}
			tok, err := keys.IssueToken(r.Keys, []byte(message))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, tok)
			return err
		},
	}
	rf.register(issue, false)
	issue.Flags().StringVar(&message, "message", "fernetflow test token", "the token's plaintext payload")

	var vf repoFlags
	var ttl time.Duration
	verify := &cobra.Command{
		Use:   "verify TOKEN|-",
		Short: "Exit 0 only when some key of the repository validates the token",
		Long: `Verify a Fernet token against every key of the repository, as Keystone does
(the '=' padding Keystone strips is restored). Give - to read the token
from stdin. Exit code 0: valid; 1: no key validates it.`,
		Example: `  fernetflow keys token verify --key-repository /etc/keystone/fernet-keys "$T"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok := args[0]
			if tok == "-" {
				line, err := bufio.NewReader(io.LimitReader(a.stdin, 1<<16)).ReadString('\n')
				if err != nil && err != io.EOF {
					return err
				}
				tok = strings.TrimSpace(line)
			}
			r, err := vf.open(a)
			if err != nil {
				return err
			}
			_, idx, err := keys.VerifyToken(r.Keys, tok, ttl)
			if err != nil {
				return fmt.Errorf("%w in %s", err, r.Dir)
			}
			return a.print(struct {
				Valid bool   `json:"valid"`
				Index int    `json:"key_index"`
				Role  string `json:"role"`
			}{true, idx, r.Keys.Role(idx).String()})
		},
	}
	vf.register(verify, false)
	verify.Flags().DurationVar(&ttl, "ttl", 0, "also refuse tokens older than this (0: no age check)")
	cmd.AddCommand(issue, verify)
	return cmd
}
