package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// tokens signs one token with each key of the sets: the key's own token.
func tokens(t testing.TB, sets ...keys.Set) map[keys.Key]string {
	t.Helper()
	out := map[keys.Key]string{}
	for _, s := range sets {
		for _, k := range s {
			tok, err := keys.IssueToken(keys.Set{0: k}, []byte("token of "+k.ID()))
			if err != nil {
				t.Fatal(err)
			}
			out[k] = tok
		}
	}
	return out
}

// checkLive checks one on-disk state of the node's repository as Keystone
// would see it: it loads, validates every token signed by a key the old
// and new sets share, and, once the new primary is written, every token
// the new primary signs.
func checkLive(t testing.TB, repo string, old, next keys.Set, toks map[keys.Key]string, requirePrimary bool) keys.Set {
	t.Helper()
	r, err := keys.Open(repo)
	if err != nil {
		t.Fatalf("Keystone cannot load the repository: %v", err)
	}
	for _, k := range next {
		if !old.Contains(k) {
			continue
		}
		if _, _, err := keys.VerifyToken(r.Keys, toks[k], 0); err != nil {
			t.Fatalf("a token of key %s, which both sets hold, does not validate", k.ID())
		}
	}
	p, _ := next.Primary()
	if _, _, err := keys.VerifyToken(r.Keys, toks[next[p]], 0); err != nil && (requirePrimary || old.Contains(next[p])) {
		t.Fatalf("a token of the new primary %s does not validate", next[p].ID())
	}
	return r.Keys
}

// TestInstallModel walks every intermediate on-disk state of installs
// between many pairs of sets: one rotation, a jump of several generations
// (a node that missed some), growing and shrinking max_active_keys.
func TestInstallModel(t *testing.T) {
	for _, tc := range []struct {
		before, jump   int
		maxOld, maxNew int
		allowFewer     bool
	}{
		{0, 1, 3, 3, false},
		{1, 1, 3, 3, false},
		{4, 1, 3, 3, false},
		{4, 1, 5, 5, false},
		{2, 2, 4, 4, false},
		{5, 3, 4, 4, false},
		{5, 1, 5, 3, true},
		{3, 1, 3, 6, false},
		{6, 6, 3, 3, false},
	} {
		t.Run(fmt.Sprintf("%d rotations then %d, max %d to %d", tc.before, tc.jump, tc.maxOld, tc.maxNew), func(t *testing.T) {
			f := newFleet(t)
			for range tc.before {
				f.rotate(tc.maxOld)
			}
			if _, err := f.install(f.seal()); err != nil {
				t.Fatal(err)
			}
			old := f.nodeSet()
			for range tc.jump {
				f.rotate(tc.maxNew)
			}
			next := f.masterSet()
			toks := tokens(t, old, next)
			var steps []string
			o := f.options()
			o.AllowFewer = tc.allowFewer
			o.StepHook = func(step string) {
				steps = append(steps, step)
				checkLive(t, f.repo, old, next, toks, true)
			}
			checkLive(t, f.repo, old, next, toks, false)
			res, err := Install(context.Background(), f.seal(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed || f.nodeSet().Fingerprint() != next.Fingerprint() {
				t.Fatal("not installed")
			}
			if len(steps) < 2 || steps[len(steps)-1] != "state" || !strings.HasPrefix(steps[0], "write ") {
				t.Fatalf("steps %v", steps)
			}
			// The safe order: writes (the new primary first), then 0,
			// then removals.
			p, _ := next.Primary()
			if !old.Contains(next[p]) || old[p] != next[p] {
				if steps[0] != "write "+strconv.Itoa(p) {
					t.Fatalf("first step %q, want the new primary %d (%v)", steps[0], p, steps)
				}
			}
			phase := 0
			for _, s := range steps {
				n := 0
				switch {
				case s == "write 0":
					n = 1
				case strings.HasPrefix(s, "remove "):
					n = 2
				case s == "state":
					n = 3
				}
				if n < phase {
					t.Fatalf("steps out of the safe order: %v", steps)
				}
				phase = n
			}
		})
	}
}

// TestInstallKilledAtEachStep kills an install (SIGKILL, in a child
// process) after each durable step, and checks that the repository left
// behind loads, validates the tokens the model test requires, and that
// installing again completes the install.
func TestInstallKilledAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary once per step")
	}
	f := newFleet(t)
	for range 3 {
		f.rotate(4)
	}
	if _, err := f.install(f.seal()); err != nil {
		t.Fatal(err)
	}
	old := f.nodeSet()
	f.rotate(4)
	next := f.masterSet()
	toks := tokens(t, old, next)
	envPath := filepath.Join(t.TempDir(), "envelope.age")
	if err := os.WriteFile(envPath, f.seal(), 0o600); err != nil {
		t.Fatal(err)
	}
	base := filepath.Dir(f.stateDir)
	pristine := filepath.Join(t.TempDir(), "pristine")
	copyTree(t, base, pristine)

	for step := 1; ; step++ {
		os.RemoveAll(base)
		copyTree(t, pristine, base)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledInstall$", "-test.v")
		cmd.Env = append(os.Environ(),
			"FERNETFLOW_KILL_AT="+strconv.Itoa(step),
			"FERNETFLOW_ENVELOPE="+envPath,
			"FERNETFLOW_STATE="+f.stateDir,
			"FERNETFLOW_REPO="+f.repo,
			"FERNETFLOW_SERVER="+f.server,
			"FERNETFLOW_SIGNER="+f.signer.Public().String())
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		killed := ok && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if !killed {
			if err != nil {
				t.Fatalf("step %d: helper: %v\n%s", step, err, out)
			}
			if step < 3 {
				t.Fatalf("the install has only %d steps", step-1)
			}
			t.Logf("killed after each of %d steps", step-1)
			return
		}
		checkLive(t, f.repo, old, next, toks, true)
		st, err := ReadState(f.stateDir)
		if err != nil || (st.Generation != f.gen-1 && st.Generation != f.gen) {
			t.Fatalf("step %d: state %+v, %v", step, st, err)
		}
		env, _ := os.ReadFile(envPath)
		if _, err := f.install(env); err != nil {
			t.Fatalf("step %d: install after the kill: %v", step, err)
		}
		if f.nodeSet().Fingerprint() != next.Fingerprint() {
			t.Fatalf("step %d: install after the kill did not complete", step)
		}
		if st, _ := ReadState(f.stateDir); st.Generation != f.gen {
			t.Fatalf("step %d: state not at generation %d", step, f.gen)
		}
	}
}

// TestHelperKilledInstall is the child of TestInstallKilledAtEachStep.
func TestHelperKilledInstall(t *testing.T) {
	at, err := strconv.Atoi(os.Getenv("FERNETFLOW_KILL_AT"))
	if err != nil {
		t.Skip("helper process only")
	}
	env, err := os.ReadFile(os.Getenv("FERNETFLOW_ENVELOPE"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.ParsePublicKey(os.Getenv("FERNETFLOW_SIGNER"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err = Install(context.Background(), env, InstallOptions{
		StateDir: os.Getenv("FERNETFLOW_STATE"), KeyRepository: os.Getenv("FERNETFLOW_REPO"),
		ServerID: os.Getenv("FERNETFLOW_SERVER"), Signer: pub,
		StepHook: func(string) {
			if n++; n == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
