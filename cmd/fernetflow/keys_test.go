package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// runCLI runs fernetflow with args and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb)
	root := a.root()
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	if err != nil {
		errb.WriteString(errorText(err))
	}
	return out.String(), errb.String(), exitCode(err)
}

func TestKeysCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	repo := "--key-repository=" + dir

	out, errs, code := runCLI(t, "", "keys", "setup", repo, "-f", "json")
	if code != 0 {
		t.Fatalf("setup: %d %s", code, errs)
	}
	var plan keys.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Generation != 1 || len(plan.Keys) != 2 {
		t.Fatalf("setup -f json: %v %s", err, out)
	}

	out, _, code = runCLI(t, "", "keys", "rotate", repo, "--dry-run", "-f", "yaml")
	if code != 0 || !strings.Contains(out, "dry_run: true") || !strings.Contains(out, "generation: 2") {
		t.Fatalf("rotate --dry-run -f yaml: %d\n%s", code, out)
	}
	if r, _ := keys.Open(dir); len(r.Keys) != 2 {
		t.Fatal("dry run rotated")
	}

	out, errs, code = runCLI(t, "", "keys", "rotate", repo, "--max-active-keys", "3", "--token-expiration", "3600", "--allow-expired-window", "0")
	if code != 0 || !strings.Contains(out, "promoted") {
		t.Fatalf("rotate: %d %s %s", code, out, errs)
	}

	out, _, code = runCLI(t, "", "keys", "list", repo)
	if code != 0 || !strings.Contains(out, "primary") || !strings.Contains(out, "generation 2") {
		t.Fatalf("list: %d\n%s", code, out)
	}

	out, _, code = runCLI(t, "", "keys", "fingerprint", repo, "-f", "json")
	r, _ := keys.Open(dir)
	if code != 0 || !strings.Contains(out, r.Keys.Fingerprint().String()) {
		t.Fatalf("fingerprint: %s", out)
	}

	// The guard: key 1 was demoted just now; tokens live 1h.
	_, errs, code = runCLI(t, "", "keys", "rotate", repo, "--max-active-keys", "3", "--token-expiration", "1h", "--allow-expired-window", "0")
	if code != exitRefused || !strings.Contains(errs, "key 1") || !strings.Contains(errs, "--force") {
		t.Fatalf("unsafe prune: exit %d, %s", code, errs)
	}
	// Issue 13: durations whose sum overflowed put "safe after" in 1898
	// and pruned key 1 without --force.
	for _, d := range []string{"2000000h", "3153600001", "9223372036854775807"} {
		_, errs, code = runCLI(t, "", "keys", "rotate", repo, "--max-active-keys", "3", "--token-expiration", d, "--allow-expired-window", d)
		if code == 0 || strings.Contains(errs, "1898") || (!strings.Contains(errs, "beyond 3153600000 seconds") && !strings.Contains(errs, "beyond what a duration holds")) {
			t.Fatalf("--token-expiration %s --allow-expired-window %s: exit %d, %s", d, d, code, errs)
		}
		if r, _ := keys.Open(dir); len(r.Keys) != 3 {
			t.Fatalf("durations of %s rotated", d)
		}
	}
	if _, _, code = runCLI(t, "", "keys", "rotate", repo, "--max-active-keys", "3", "--force"); code != 0 {
		t.Fatalf("rotate --force: exit %d", code)
	}

	// Tokens: issued here, verified here and against another repository.
	tok, _, code := runCLI(t, "", "keys", "token", "issue", repo)
	tok = strings.TrimSpace(tok)
	if code != 0 || tok == "" || strings.HasSuffix(tok, "=") {
		t.Fatalf("token issue: %d %q", code, tok)
	}
	if out, errs, code := runCLI(t, "", "keys", "token", "verify", repo, tok, "-f", "json"); code != 0 || !strings.Contains(out, `"role": "primary"`) {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	if _, _, code := runCLI(t, tok+"\n", "keys", "token", "verify", repo, "-"); code != 0 {
		t.Fatalf("verify from stdin: %d", code)
	}
	other := filepath.Join(t.TempDir(), "other")
	runCLI(t, "", "keys", "setup", "--key-repository", other)
	if _, errs, code := runCLI(t, "", "keys", "token", "verify", "--key-repository", other, tok); code != 1 || !strings.Contains(errs, "no key") {
		t.Fatalf("verify against a foreign repository: %d %s", code, errs)
	}
}

func TestKeysExitCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	runCLI(t, "", "keys", "setup", "--key-repository", dir)

	fl := flock.New(keys.LockPath(dir))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, "", "keys", "rotate", "--key-repository", dir)
	fl.Unlock()
	if code != exitTempFail || !strings.Contains(errs, "--wait") {
		t.Fatalf("locked: exit %d %s, want %d", code, errs, exitTempFail)
	}
	if _, _, code := runCLI(t, "", "keys", "list", "--key-repository", dir, "-f", "xml"); code != exitUsage {
		t.Fatalf("bad -f: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runCLI(t, "", "keys", "rotate", "--key-repository", dir, "--keystone-user", "root"); code != exitUsage {
		t.Fatalf("user without group: exit %d, want %d", code, exitUsage)
	}
	if _, errs, code := runCLI(t, "", "keys", "rotate", "--key-repository", dir, "--credential-repository", dir); code != 1 || !strings.Contains(errs, "credential") {
		t.Fatalf("credential repository: exit %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "keys", "list", "--key-repository", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errs, "keys setup") {
		t.Fatalf("missing repository: exit %d %s", code, errs)
	}
}

func TestKeysMaxActive(t *testing.T) {
	out, _, code := runCLI(t, "", "keys", "max-active", "--token-expiration", "1h", "--allow-expired-window", "48h", "--rotation-interval", "24h", "-f", "json")
	if code != 0 || !strings.Contains(out, `"max_active_keys": 5`) {
		t.Fatalf("%d %s", code, out)
	}
	_, errs, code := runCLI(t, "", "keys", "max-active", "--rotation-interval", "1h", "--token-expiration", "1h", "--allow-expired-window", "0", "--max-active-keys", "2")
	if code != 1 || !strings.Contains(errs, "at least 3") {
		t.Fatalf("a broken configuration: exit %d %s", code, errs)
	}
	if _, _, code := runCLI(t, "", "keys", "max-active", "--rotation-interval", "0"); code != exitUsage {
		t.Fatalf("zero interval: exit %d", code)
	}
	// Issue 13: this printed a negative number.
	out, errs, code = runCLI(t, "", "keys", "max-active", "--token-expiration", "2000000h", "--allow-expired-window", "2000000h", "--rotation-interval", "1h")
	if code != exitUsage || !strings.Contains(errs, "beyond 3153600000 seconds") || strings.Contains(out, "-") {
		t.Fatalf("overflowing durations: exit %d %s %s", code, out, errs)
	}
}

// Every command a person runs shows a real example in --help.
func TestEveryCommandHasAnExample(t *testing.T) {
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		// A group (keys, node, ...) runs only to print its help or refuse
		// an unknown subcommand (argsAreUsage): its subcommands have the
		// examples.
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" && c.Name() != "help" && c.Name() != "completion" && !strings.HasPrefix(c.CommandPath(), "fernetflow completion") {
			t.Errorf("%s has no example in --help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.root())
}

func TestDemoCommand(t *testing.T) {
	out, errs, code := runCLI(t, "", "demo")
	if code != 0 || !strings.Contains(out, "OK: every token issued on any node validated") || !strings.Contains(out, "exit 3: refuse") {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errs)
	}
	out, _, code = runCLI(t, "", "demo", "-f", "json")
	var rep demoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || len(rep.Steps) != 7 {
		t.Fatalf("demo -f json: %d %v %+v", code, err, rep)
	}
}
