package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// envelopeFlow is an undercloud (signer, master repository) and two nodes
// driven through the CLI, with every byte the CLI printed kept for the
// secrets check.
type envelopeFlow struct {
	t                   *testing.T
	signerDir, master   string
	pub                 string
	printed             strings.Builder
	stateDirs, repos    []string
	recipients, servers []string
}

func (f *envelopeFlow) run(stdin string, args ...string) (string, string, int) {
	f.t.Helper()
	out, errs, code := runCLI(f.t, stdin, args...)
	f.printed.WriteString(strings.Join(args, " ") + "\n" + out + errs)
	return out, errs, code
}

func (f *envelopeFlow) mustRun(stdin string, args ...string) string {
	f.t.Helper()
	out, errs, code := f.run(stdin, args...)
	if code != 0 {
		f.t.Fatalf("fernetflow %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func newEnvelopeFlow(t *testing.T, nodes int) *envelopeFlow {
	root := t.TempDir()
	f := &envelopeFlow{t: t, signerDir: filepath.Join(root, "signer"), master: filepath.Join(root, "master")}
	f.pub = strings.TrimSpace(f.mustRun("", "signer", "init", "--state-dir", f.signerDir))
	if !strings.HasPrefix(f.pub, "ed25519:") || strings.Contains(f.pub, "\n") {
		t.Fatalf("signer init printed %q", f.pub)
	}
	f.mustRun("", "keys", "setup", "--key-repository", f.master)
	for i := range nodes {
		server := "controller-" + string(rune('0'+i))
		state := filepath.Join(root, server, "state")
		out := f.mustRun("", "node", "enroll", "--state-dir", state, "--server-id", server)
		var res node.EnrollResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.ServerID != server || !strings.HasPrefix(res.Recipient, "age1") {
			t.Fatalf("node enroll printed %q (%v)", out, err)
		}
		f.stateDirs = append(f.stateDirs, state)
		f.repos = append(f.repos, filepath.Join(root, server, "fernet-keys"))
		f.recipients = append(f.recipients, res.Recipient)
		f.servers = append(f.servers, server)
	}
	return f
}

func (f *envelopeFlow) seal(i int, extra ...string) string {
	f.t.Helper()
	args := append([]string{"envelope", "seal", "-v", "--key-repository", f.master, "--signer-dir", f.signerDir,
		"--recipient", f.recipients[i], "--server-id", f.servers[i]}, extra...)
	return f.mustRun("", args...)
}

func (f *envelopeFlow) installArgs(i int, extra ...string) []string {
	return append([]string{"node", "install", "-v", "--state-dir", f.stateDirs[i], "--key-repository", f.repos[i],
		"--signer-public-key", f.pub, "--server-id", f.servers[i]}, extra...)
}

func (f *envelopeFlow) install(i int, env string) (node.InstallResult, string, int) {
	f.t.Helper()
	out, errs, code := f.run(env, f.installArgs(i, "--envelope", "-")...)
	var res node.InstallResult
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			f.t.Fatalf("node install printed %q: %v", out, err)
		}
	}
	return res, errs, code
}

func TestEnvelopeCLIFlow(t *testing.T) {
	f := newEnvelopeFlow(t, 2)

	// Idempotent signer and enrollment.
	if again := strings.TrimSpace(f.mustRun("", "signer", "init", "--state-dir", f.signerDir)); again != f.pub {
		t.Fatalf("signer init again printed another key %q", again)
	}
	if pub := strings.TrimSpace(f.mustRun("", "signer", "public", "--state-dir", f.signerDir)); pub != f.pub {
		t.Fatalf("signer public = %q", pub)
	}
	out := f.mustRun("", "signer", "public", "--state-dir", f.signerDir, "-f", "json")
	if !strings.Contains(out, `"public_key": "`+f.pub+`"`) {
		t.Fatalf("signer public -f json = %s", out)
	}
	out = f.mustRun("", "node", "enroll", "--state-dir", f.stateDirs[0], "--server-id", f.servers[0], "-f", "yaml")
	if !strings.Contains(out, "recipient: "+f.recipients[0]) {
		t.Fatalf("node enroll -f yaml = %s", out)
	}

	// Generation 1 to both nodes: from stdin, from a file, from the environment.
	env0 := f.seal(0)
	if res, errs, code := f.install(0, env0); code != 0 || !res.Changed || res.Generation != 1 {
		t.Fatalf("install: %d %+v %s", code, res, errs)
	}
	envFile := filepath.Join(t.TempDir(), "env.age")
	os.WriteFile(envFile, []byte(f.seal(1)), 0o600)
	out = f.mustRun("", f.installArgs(1, "--envelope", envFile)...)
	if !strings.Contains(out, `"changed": true`) {
		t.Fatalf("install from a file: %s", out)
	}
	t.Setenv("FERNETFLOW_TEST_ENVELOPE", env0)
	out = f.mustRun("", f.installArgs(0, "--envelope-env", "FERNETFLOW_TEST_ENVELOPE")...)
	if !strings.Contains(out, `"changed": false`) {
		t.Fatalf("replayed install: %s", out)
	}

	// Inspect shows the outer metadata only; open shows IDs, not keys.
	out = f.mustRun(env0, "envelope", "inspect", "--envelope", "-", "-f", "json")
	if !strings.Contains(out, `"X25519"`) || strings.Contains(out, f.servers[0]) {
		t.Fatalf("inspect: %s", out)
	}
	out = f.mustRun(env0, "envelope", "open", "--envelope", "-", "--state-dir", f.stateDirs[0], "--server-id", f.servers[0], "--signer-public-key", filepath.Join(f.signerDir, "signer.pub"))
	if !strings.Contains(out, "generation") || !strings.Contains(out, "primary") {
		t.Fatalf("open: %s", out)
	}

	// Node 1 refuses node 0's envelope; refusals change nothing.
	before := snapshotDir(t, f.repos[1])
	if _, errs, code := f.install(1, env0); code != 1 || !strings.Contains(errs, "not for this node") {
		t.Fatalf("node 1 installing node 0's envelope: %d %s", code, errs)
	}
	// Rotate: generation 2 installs, then generation 1 is a rollback.
	f.mustRun("", "keys", "rotate", "--key-repository", f.master, "--force")
	env2 := f.seal(0)
	if res, errs, code := f.install(0, env2); code != 0 || res.Generation != 2 || !res.Changed {
		t.Fatalf("generation 2: %d %+v %s", code, res, errs)
	}
	if _, errs, code := f.install(0, env0); code != 1 || !strings.Contains(errs, "refuse to roll keys back") {
		t.Fatalf("rollback: %d %s", code, errs)
	}
	// Split brain: another set sealed as generation 2.
	other := t.TempDir() + "/other"
	f.mustRun("", "keys", "setup", "--key-repository", other)
	out = f.mustRun("", "envelope", "seal", "--key-repository", other, "--signer-dir", f.signerDir, "--recipient", f.recipients[0], "--server-id", f.servers[0], "--generation", "2")
	if _, errs, code := f.install(0, out); code != 1 || !strings.Contains(errs, "second key set for one generation") {
		t.Fatalf("split brain: %d %s", code, errs)
	}
	if snapshotDir(t, f.repos[1]) != before {
		t.Fatal("a refused install changed node 1's repository")
	}

	// Tokens issued on node 0 validate on node 1 once it has generation 2.
	if _, _, code := f.install(1, f.seal(1)); code != 0 {
		t.Fatal("node 1 generation 2")
	}
	tok := strings.TrimSpace(f.mustRun("", "keys", "token", "issue", "--key-repository", f.repos[0]))
	f.mustRun("", "keys", "token", "verify", tok, "--key-repository", f.repos[1])

	// keys list on a node's repository knows fernetflow manages it: the
	// generation the node installed, and no "adopts it" warning; a key
	// added by hand is called out against that generation.
	out, errs, code := runCLI(t, "", "keys", "list", "--key-repository", f.repos[1], "--node-state-dir", f.stateDirs[1])
	if code != 0 || !strings.Contains(out, "generation 2,") || strings.Contains(errs, "metadata") {
		t.Fatalf("keys list on a node: %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(f.repos[1], "1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.repos[1], "9"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code = runCLI(t, "", "keys", "list", "--key-repository", f.repos[1], "--node-state-dir", f.stateDirs[1])
	if code != 0 || !strings.Contains(errs, "the keys differ from generation 2 that fernetflow installed on this node") {
		t.Fatalf("keys list on a changed node: %d %s", code, errs)
	}

	// Secrets: no key, identity or signing key in anything printed, logged
	// (-v) or passed as an argument.
	if !strings.Contains(f.printed.String(), "level=INFO") {
		t.Fatal("the verbose logs were not captured")
	}
	checkNoSecrets(t, f.printed.String(), append(append([]string{}, f.repos...), f.master, other), append(append([]string{}, f.stateDirs...), f.signerDir))
}

func TestEnvelopeCLIUsage(t *testing.T) {
	f := newEnvelopeFlow(t, 1)
	for _, tc := range [][]string{
		f.installArgs(0),
		f.installArgs(0, "--envelope", "-", "--envelope-env", "X"),
		f.installArgs(0, "--envelope-env", "FERNETFLOW_UNSET_VARIABLE"),
		{"node", "install", "--envelope", "-", "--server-id", "x"},
		{"node", "enroll", "--state-dir", t.TempDir()},
		{"envelope", "seal", "--key-repository", f.master, "--recipient", "age1bad", "--server-id", "x", "--signer-dir", f.signerDir},
		f.installArgs(0, "--envelope", "-", "--keystone-user", "root"),
	} {
		if _, errs, code := f.run("", tc...); code != exitUsage {
			t.Errorf("fernetflow %s: exit %d, want %d (%s)", strings.Join(tc, " "), code, exitUsage, errs)
		}
	}
	for _, c := range [][]string{{"signer", "init"}, {"signer", "public"}, {"node", "enroll"}, {"node", "install"}, {"envelope", "seal"}, {"envelope", "open"}, {"envelope", "inspect"}} {
		out := f.mustRun("", append(c, "--help")...)
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "fernetflow "+strings.Join(c, " ")) {
			t.Errorf("%v --help has no real example:\n%s", c, out)
		}
	}
}

// snapshotDir records names, modes and contents of the files in dir.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		c, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + " " + fi.Mode().String() + " " + string(c) + "\n")
	}
	return b.String()
}

// checkNoSecrets fails when printed holds a key of any repository (in any
// base64 form), a node identity or a signing key.
func checkNoSecrets(t *testing.T, printed string, repos, privateDirs []string) {
	t.Helper()
	n := 0
	for _, dir := range repos {
		r, err := keys.Open(dir)
		if err != nil {
			continue
		}
		for i, k := range r.Keys {
			n++
			for _, enc := range []string{string(k.Encode()), base64.StdEncoding.EncodeToString(k[:]), base64.RawURLEncoding.EncodeToString(k[:])} {
				if strings.Contains(printed, enc) {
					t.Fatalf("key %d of %s was printed", i, dir)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no keys to look for")
	}
	if strings.Contains(printed, "AGE-SECRET-KEY") || strings.Contains(printed, "PRIVATE KEY") {
		t.Fatal("an identity or signing key was printed")
	}
	for _, dir := range privateDirs {
		for _, name := range []string{"identity", "signer.key"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if len(line) > 20 && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "-----") && strings.Contains(printed, line) {
					t.Fatalf("a line of %s was printed", filepath.Join(dir, name))
				}
			}
		}
	}
}

func TestNodeInstallBusy(t *testing.T) {
	f := newEnvelopeFlow(t, 1)
	env := f.seal(0)
	fl := flock.New(filepath.Join(f.stateDirs[0], node.LockFile))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer fl.Unlock()
	if _, errs, code := f.run(env, f.installArgs(0, "--envelope", "-", "--timeout", "200ms")...); code != exitTempFail || !strings.Contains(errs, "another install is running") {
		t.Fatalf("install while another holds the lock: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(f.repos[0]); !os.IsNotExist(err) {
		t.Fatal("a busy install touched the repository")
	}
}
