package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// exitEnv is one row's world: a key repository with keys, a local fleet
// of three nodes (rotated once, so it has a master), and a file where a
// directory belongs (the failure of most commands).
type exitEnv struct {
	t              *testing.T
	repo, emptyDir string
	state, file    string
	nodes          []string
	controlled     string // an execution a test process runs (serveExecution)
}

func newExitEnv(t *testing.T) *exitEnv {
	t.Helper()
	tmpl := exitTemplate(t)
	base := t.TempDir()
	if err := copyTree(base, tmpl); err != nil {
		t.Fatal(err)
	}
	return envAt(t, base)
}

func envAt(t *testing.T, base string) *exitEnv {
	e := &exitEnv{t: t, repo: filepath.Join(base, "fernet-keys"), emptyDir: filepath.Join(base, "empty"),
		state: filepath.Join(base, "undercloud"), file: filepath.Join(base, "a-file")}
	for i := range 3 {
		e.nodes = append(e.nodes, filepath.Join(base, "ctl"+string(rune('0'+i))))
	}
	return e
}

var exitTmpl struct {
	sync.Once
	dir string
	err error
}

// exitTemplate builds the world every row starts from once (a key
// repository, a fleet rotated once), for newExitEnv to copy: a rotation
// per row would make the test minutes long.
func exitTemplate(t *testing.T) string {
	exitTmpl.Do(func() {
		base, err := os.MkdirTemp("", "exitcodes-")
		if err != nil {
			exitTmpl.err = err
			return
		}
		e := envAt(t, base)
		if err := os.WriteFile(e.file, []byte("not a directory\n"), 0o600); err != nil {
			exitTmpl.err = err
			return
		}
		if _, errs, code := runCLI(t, "", "keys", "setup", "--key-repository", e.repo); code != 0 {
			exitTmpl.err = fmt.Errorf("keys setup: %s", errs)
			return
		}
		if _, errs, code := runCLI(t, "", e.fleet("rotate")...); code != 0 {
			exitTmpl.err = fmt.Errorf("rotate: %s", errs)
			return
		}
		exitTmpl.dir = base
	})
	if exitTmpl.err != nil {
		t.Fatal(exitTmpl.err)
	}
	return exitTmpl.dir
}

// copyTree copies src into dst keeping every mode (the key files' 0600
// and directories' 0700 matter).
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.MkdirAll(to, 0o700); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil // lock files are regular; nothing else lives here
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	})
}

// fleet is cmd run on the env's local fleet; flags given after it win.
func (e *exitEnv) fleet(cmd string, extra ...string) []string {
	args := []string{cmd, "--target", "local", "--nodes", strings.Join(e.nodes, ","), "--state-dir", e.state}
	if cmd == "rotate" {
		args = append(args, "--max-active-keys", "3", "--token-expiration", "1h", "--allow-expired-window", "0")
	}
	return append(args, extra...)
}

// hold takes the lock at path until the row ends.
func (e *exitEnv) hold(path string) func() {
	e.t.Helper()
	unlock, err := lockfile.Lock(context.Background(), path, lockfile.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return unlock
}

// drift changes ctl2's keys outside fernetflow, as keystone-manage
// fernet_rotate would.
func (e *exitEnv) drift() {
	e.t.Helper()
	if _, err := keys.Rotate(context.Background(), local.KeyRepository(e.nodes[2]), keys.RotateOptions{MaxActiveKeys: 5, Force: true}); err != nil {
		e.t.Fatal(err)
	}
}

// The exit code classes (README, "Exit codes").
const (
	clsSuccess = "success"
	clsUsage   = "usage"
	clsRefused = "refused"
	clsBusy    = "busy"
	clsFailure = "failure"
)

// exitRow is one command and exit class of TestExitCodes.
type exitRow struct {
	cmd   string
	class string
	na    string // why the class does not apply to cmd
	args  func(e *exitEnv) []string
	setup func(e *exitEnv) (release func())
}

// TestExitCodes: every command's exit code for success, wrong usage, a
// refusal as unsafe, a held lock and a failure, through the real command
// tree. A class that cannot happen to a command says why (na).
func TestExitCodes(t *testing.T) {
	t.Cleanup(func() { store.Timeout = 10 * time.Second })

	rows := []exitRow{
		{cmd: "keys setup", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"keys", "setup", "--key-repository", e.emptyDir}
		}},
		{cmd: "keys setup", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "setup", "--key-repository", e.emptyDir, "--no-such-flag"}
		}},
		{cmd: "keys setup", class: clsRefused, na: "setup rotates only a repository without key 0, whose keys signed nothing yet; one with key 0 is left alone"},
		{cmd: "keys setup", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"keys", "setup", "--key-repository", e.emptyDir}
		}, setup: func(e *exitEnv) func() { return e.hold(keys.LockPath(e.emptyDir)) }},
		{cmd: "keys setup", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"keys", "setup", "--key-repository", e.file}
		}},

		{cmd: "keys rotate", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"keys", "rotate", "--key-repository", e.repo}
		}},
		{cmd: "keys rotate", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "rotate", "--key-repository", e.repo, "an-argument"}
		}},
		{cmd: "keys rotate", class: clsRefused, args: func(e *exitEnv) []string {
			// Key 1 was primary until the first of two rotations, just now.
			runCLI(e.t, "", "keys", "rotate", "--key-repository", e.repo)
			return []string{"keys", "rotate", "--key-repository", e.repo, "--max-active-keys", "3", "--token-expiration", "1h", "--allow-expired-window", "0"}
		}},
		{cmd: "keys rotate", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"keys", "rotate", "--key-repository", e.repo}
		}, setup: func(e *exitEnv) func() { return e.hold(keys.LockPath(e.repo)) }},
		{cmd: "keys rotate", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"keys", "rotate", "--key-repository", e.emptyDir}
		}},

		{cmd: "keys list", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"keys", "list", "--key-repository", e.repo} }},
		{cmd: "keys list", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "list", "--key-repository", e.repo, "-f", "xml"}
		}},
		{cmd: "keys list", class: clsRefused, na: "reads only"},
		{cmd: "keys list", class: clsBusy, na: "reads without the lock (writes are atomic renames)"},
		{cmd: "keys list", class: clsFailure, args: func(e *exitEnv) []string { return []string{"keys", "list", "--key-repository", e.emptyDir} }},

		{cmd: "keys fingerprint", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"keys", "fingerprint", "--key-repository", e.repo}
		}},
		{cmd: "keys fingerprint", class: clsUsage, args: func(e *exitEnv) []string { return []string{"keys", "fingerprint", "--nope"} }},
		{cmd: "keys fingerprint", class: clsRefused, na: "reads only"},
		{cmd: "keys fingerprint", class: clsBusy, na: "reads without the lock"},
		{cmd: "keys fingerprint", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"keys", "fingerprint", "--key-repository", e.file}
		}},

		{cmd: "keys token verify", class: clsSuccess, args: func(e *exitEnv) []string {
			tok, _, _ := runCLI(e.t, "", "keys", "token", "issue", "--key-repository", e.repo)
			return []string{"keys", "token", "verify", "--key-repository", e.repo, strings.TrimSpace(tok)}
		}},
		{cmd: "keys token verify", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "token", "verify", "--key-repository", e.repo, "a", "b"}
		}},
		{cmd: "keys token verify", class: clsRefused, na: "reads only"},
		{cmd: "keys token verify", class: clsBusy, na: "reads without the lock"},
		{cmd: "keys token verify", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"keys", "token", "verify", "--key-repository", e.repo, "gAAAAAnotatoken"}
		}},

		{cmd: "rotate", class: clsSuccess, args: func(e *exitEnv) []string { return e.fleet("rotate") }},
		{cmd: "rotate", class: clsUsage, args: func(e *exitEnv) []string { return e.fleet("rotate", "--target", "nowhere") }},
		{cmd: "rotate", class: clsRefused, args: func(e *exitEnv) []string { e.drift(); return e.fleet("rotate") }},
		{cmd: "rotate", class: clsBusy, args: func(e *exitEnv) []string { return e.fleet("rotate") },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, rotation.RunLockFile)) }},
		{cmd: "rotate", class: clsFailure, args: func(e *exitEnv) []string { return e.fleet("rotate", "--state-dir", e.file) }},

		{cmd: "distribute", class: clsSuccess, args: func(e *exitEnv) []string { return e.fleet("distribute") }},
		{cmd: "distribute", class: clsUsage, args: func(e *exitEnv) []string { return e.fleet("distribute", "--max-active-keys", "3") }},
		{cmd: "distribute", class: clsRefused, args: func(e *exitEnv) []string { e.drift(); return e.fleet("distribute") }},
		{cmd: "distribute", class: clsBusy, args: func(e *exitEnv) []string { return e.fleet("distribute") },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, rotation.RunLockFile)) }},
		{cmd: "distribute", class: clsFailure, args: func(e *exitEnv) []string { return e.fleet("distribute", "--state-dir", e.file) }},

		{cmd: "check", class: clsSuccess, args: func(e *exitEnv) []string { return e.fleet("check") }},
		{cmd: "check", class: clsUsage, args: func(e *exitEnv) []string { return e.fleet("check", "extra") }},
		{cmd: "check", class: clsRefused, args: func(e *exitEnv) []string { e.drift(); return e.fleet("check") }},
		{cmd: "check", class: clsBusy, args: func(e *exitEnv) []string { return e.fleet("check") },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, rotation.RunLockFile)) }},
		{cmd: "check", class: clsFailure, args: func(e *exitEnv) []string { return e.fleet("check", "--state-dir", e.file) }},

		{cmd: "status", class: clsSuccess, args: func(e *exitEnv) []string { return e.fleet("status", "--schedule", "daily") }},
		{cmd: "status", class: clsUsage, args: func(e *exitEnv) []string { return e.fleet("status", "--schedule", "every full moon") }},
		{cmd: "status", class: clsRefused, args: func(e *exitEnv) []string { e.drift(); return e.fleet("status", "--schedule", "daily") }},
		{cmd: "status", class: clsBusy, args: func(e *exitEnv) []string { return e.fleet("status", "--refresh") },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, rotation.RunLockFile)) }},
		{cmd: "status", class: clsFailure, args: func(e *exitEnv) []string { return e.fleet("status", "--state-dir", e.file) }},

		{cmd: "enroll", class: clsSuccess, args: func(e *exitEnv) []string { return e.fleet("enroll") }},
		{cmd: "enroll", class: clsUsage, args: func(e *exitEnv) []string { return e.fleet("enroll", "--target", "nowhere") }},
		{cmd: "enroll", class: clsRefused, args: func(e *exitEnv) []string {
			// ctl1 rebuilt: a new identity, not the pinned one.
			os.Remove(filepath.Join(e.nodes[1], "state", node.IdentityFile))
			return e.fleet("enroll")
		}},
		{cmd: "enroll", class: clsBusy, args: func(e *exitEnv) []string { return e.fleet("enroll") },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, rotation.RunLockFile)) }},
		{cmd: "enroll", class: clsFailure, args: func(e *exitEnv) []string { return e.fleet("enroll", "--state-dir", e.file) }},

		{cmd: "signer init", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"signer", "init", "--state-dir", e.emptyDir} }},
		{cmd: "signer init", class: clsUsage, args: func(e *exitEnv) []string { return []string{"signer", "init", "--state-dir", e.emptyDir, "x"} }},
		{cmd: "signer init", class: clsRefused, na: "an existing signer is kept, never replaced"},
		{cmd: "signer init", class: clsBusy, na: "the signer is created with one exclusive create, no lock"},
		{cmd: "signer init", class: clsFailure, args: func(e *exitEnv) []string { return []string{"signer", "init", "--state-dir", e.file} }},

		{cmd: "signer public", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"signer", "public", "--state-dir", e.state} }},
		{cmd: "signer public", class: clsUsage, args: func(e *exitEnv) []string { return []string{"signer", "public", "--nope"} }},
		{cmd: "signer public", class: clsRefused, na: "reads only"},
		{cmd: "signer public", class: clsBusy, na: "reads only"},
		{cmd: "signer public", class: clsFailure, args: func(e *exitEnv) []string { return []string{"signer", "public", "--state-dir", e.emptyDir} }},

		{cmd: "execution list", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"execution", "list", "--state-dir", e.state} }},
		{cmd: "execution list", class: clsUsage, args: func(e *exitEnv) []string { return []string{"execution", "list", "--state-dir", e.state, "-f", "xml"} }},
		{cmd: "execution list", class: clsRefused, na: "reads only"},
		{cmd: "execution list", class: clsBusy, args: func(e *exitEnv) []string { return []string{"execution", "list", "--state-dir", e.state} },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, store.FileName)) }},
		{cmd: "execution list", class: clsFailure, args: func(e *exitEnv) []string { return []string{"execution", "list", "--state-dir", e.file} }},

		{cmd: "node enroll", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"node", "enroll", "--state-dir", e.emptyDir, "--server-id", "srv-9"}
		}},
		{cmd: "node enroll", class: clsUsage, args: func(e *exitEnv) []string { return []string{"node", "enroll", "--state-dir", e.emptyDir} }},
		{cmd: "node enroll", class: clsRefused, na: "an existing identity is kept, never replaced"},
		{cmd: "node enroll", class: clsBusy, na: "the identity is created with one exclusive create, no lock"},
		{cmd: "node enroll", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"node", "enroll", "--state-dir", e.file, "--server-id", "srv-9"}
		}},

		{cmd: "workflow validate", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"workflow", "validate", filepath.Join("..", "..", "workflow", "definitions", "rotate_fernet_keys.yaml")}
		}},
		{cmd: "workflow validate", class: clsUsage, args: func(e *exitEnv) []string { return []string{"workflow", "validate"} }},
		{cmd: "workflow validate", class: clsRefused, na: "reads only"},
		{cmd: "workflow validate", class: clsBusy, na: "reads only"},
		{cmd: "workflow validate", class: clsFailure, args: func(e *exitEnv) []string { return []string{"workflow", "validate", e.file} }},

		{cmd: "(unknown command)", class: clsUsage, args: func(e *exitEnv) []string { return []string{"keys", "no-such-command"} }},
	}
	rows = append(rows, moreExitRows()...)
	want := map[string]int{clsSuccess: exitOK, clsUsage: exitUsage, clsRefused: exitRefused, clsBusy: exitTempFail, clsFailure: exitFailure}
	for _, r := range rows {
		if r.na != "" {
			// Not a skipped test: the class cannot happen to the command.
			t.Logf("%s/%s does not apply: %s", r.cmd, r.class, r.na)
			continue
		}
		t.Run(r.cmd+"/"+r.class, func(t *testing.T) {
			// A held store is given up on quickly; elsewhere a loaded
			// machine's slow store (an execution's control loop reads it
			// too) must not look held (seen: execution cancel under CI).
			store.Timeout = 10 * time.Second
			if r.class == clsBusy {
				store.Timeout = 200 * time.Millisecond
			}
			e := newExitEnv(t)
			if r.setup != nil {
				defer r.setup(e)()
			}
			args := r.args(e)
			out, errs, code := runCLI(t, "", args...)
			if code != want[r.class] {
				t.Fatalf("fernetflow %s: exit %d, want %d (%s)\n%s\n%s", strings.Join(args, " "), code, want[r.class], r.class, out, errs)
			}
		})
	}
}

// TestErrorHints: the hint the CLI adds to a library error, keyed by
// errors.Is, is printed under the error.
func TestErrorHints(t *testing.T) {
	e := newExitEnv(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"keys", "list", "--key-repository", e.emptyDir}, []string{"does not exist", "hint: fernetflow keys setup"}},
		{[]string{"signer", "public", "--state-dir", e.emptyDir}, []string{"envelope: no signer in " + e.emptyDir, "hint: fernetflow signer init"}},
		{[]string{"node", "install", "--state-dir", e.emptyDir, "--key-repository", e.repo, "--signer-public-key", "ed25519:x", "--server-id", "s", "--envelope", "-"},
			[]string{"pass the line fernetflow signer public prints"}},
	} {
		_, errs, _ := runCLI(t, "", tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("fernetflow %s: stderr %q lacks %q", strings.Join(tc.args, " "), errs, w)
			}
		}
	}
}

// TestHintsTable: every hint of the table is printed for an error that
// wraps its library error.
func TestHintsTable(t *testing.T) {
	for _, h := range hints {
		if got := errorText(fmt.Errorf("lib: %w", h.err)); !strings.Contains(got, "\nhint: ") {
			t.Errorf("%v: no hint in %q", h.err, got)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if exitTmpl.dir != "" {
		os.RemoveAll(exitTmpl.dir)
	}
	os.Exit(code)
}
