//go:build integration

package integration

// Differential tests of `fernetflow keys` against Debian's keystone-manage.
//
// Every rotation writes a new random staged key 0, so two tools cannot be
// compared over a whole sequence. Instead each step starts both tools from
// the same repository S: keystone-manage runs on one copy, fernetflow on
// another, and the results must hold the same file names with the same
// bytes in every file but 0 (the new random key; after a setup that had no
// 0, also the new key it promoted), which means the staged key was promoted
// to the same index and the same keys were pruned. Both then continue from
// keystone-manage's result.
//
// FERNETFLOW_KEYS_SEED=<n> replays a run; the seed is logged.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const keystoneManagePath = "/usr/bin/keystone-manage"

// keystoneEnv is Debian's PATH, so keystone-manage and anything it starts
// never pick up the pyenv python3 on the caller's PATH.
var keystoneEnv = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
	return strings.HasPrefix(kv, "PATH=")
}), "PATH=/usr/bin:/bin:/usr/sbin:/sbin")

func requireKeystone(t testing.TB) {
	t.Helper()
	requireTool(t, keystoneManagePath, "python3-keystone")
	requireTool(t, debianPython, "python3")
}

// keystoneConf is a throwaway keystone.conf whose [fernet_tokens] and
// [fernet_receipts] both name repo, so one fernet_rotate rotates repo once
// and never touches /etc/keystone.
type keystoneConf struct {
	root string // holds the conf, the log, the sqlite path and the credential repo
	conf string
	repo string
}

func newKeystone(t testing.TB, root, repo string) *keystoneConf {
	t.Helper()
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	return &keystoneConf{root: root, conf: filepath.Join(root, "keystone.conf"), repo: repo}
}

// ownerArgs are keystone-manage's --keystone-user/--keystone-group for the
// user running the tests, so both tools write files owned alike.
var ownerArgs = sync.OnceValues(func() ([]string, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, err
	}
	return []string{"--keystone-user", u.Username, "--keystone-group", g.Name}, nil
})

// manage runs `keystone-manage fernet_setup|fernet_rotate` with
// max_active_keys maxActive and fails the test when it exits non-zero.
// keystone-manage logs to log_file; its stderr holds eventlet noise at exit.
func (k *keystoneConf) manage(t testing.TB, command string, maxActive int) {
	t.Helper()
	conf := fmt.Sprintf(`[DEFAULT]
log_file = %[1]s/keystone.log
[database]
connection = sqlite:///%[1]s/keystone.db
[fernet_tokens]
key_repository = %[2]s
max_active_keys = %[3]d
[fernet_receipts]
key_repository = %[2]s
max_active_keys = %[3]d
[credential]
key_repository = %[1]s/credential-keys
`, k.root, k.repo, maxActive)
	if err := os.WriteFile(k.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	owner, err := ownerArgs()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(keystoneManagePath, append([]string{"--config-file", k.conf, command}, owner...)...)
	cmd.Env = keystoneEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(k.root, "keystone.log"))
		t.Fatalf("keystone-manage %s (max_active_keys %d): %v\n%s\nlog:\n%s", command, maxActive, err, out, log)
	}
}

// runFernetflow runs the binary and returns stdout, stderr and the error.
func runFernetflow(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := exec.Command(fernetflowBin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// fernetflowOK runs the binary and fails the test when it exits non-zero.
func fernetflowOK(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := runFernetflow(args...)
	if err != nil {
		t.Fatalf("fernetflow %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// repoEntry is one directory entry of a repository.
type repoEntry struct {
	mode fs.FileMode
	data []byte
}

// repoTree is the content of a repository directory (not recursive); nil when
// the directory does not exist.
type repoTree map[string]repoEntry

func readTree(t testing.TB, dir string) repoTree {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	tr := repoTree{}
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		e := repoEntry{mode: fi.Mode()}
		if fi.Mode().IsRegular() {
			if e.data, err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
		tr[de.Name()] = e
	}
	return tr
}

func (tr repoTree) names() []string { return slices.Sorted(maps.Keys(tr)) }

// origin says where a file's content was before a step: "=N" when it
// held the content of N, "empty" for an empty file, "new" otherwise.
func (tr repoTree) origin(data []byte) string {
	if len(data) == 0 {
		return "empty"
	}
	for _, n := range tr.names() {
		if bytes.Equal(tr[n].data, data) {
			return "=" + n
		}
	}
	return "new"
}

// describe lists a repoTree after a step with where each file came from, e.g.
// "0(new) 2(=1) 3(=0) foo(=foo)".
func (tr repoTree) describe(before repoTree) string {
	if tr == nil {
		return "(no directory)"
	}
	if len(tr) == 0 {
		return "(empty directory)"
	}
	var parts []string
	for _, n := range tr.names() {
		parts = append(parts, fmt.Sprintf("%s(%s)", n, before.origin(tr[n].data)))
	}
	return strings.Join(parts, " ")
}

// writeTree replaces dir with the content of tr (dir is removed when tr is
// nil). The directory gets mode 0700, as both tools create it.
func writeTree(t testing.TB, dir string, tr repoTree) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for n, e := range tr {
		if !e.mode.IsRegular() {
			t.Fatalf("writeTree: %s is not a regular file", n)
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, e.data, e.mode.Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, e.mode.Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// equalTree reports whether a and b hold the same names, modes and bytes.
func equalTree(a, b repoTree) bool {
	return (a == nil) == (b == nil) && maps.EqualFunc(a, b, func(x, y repoEntry) bool {
		return x.mode == y.mode && bytes.Equal(x.data, y.data)
	})
}

// isKey reports whether b is a key file as Keystone writes it: 44
// characters of URL-safe base64 decoding to 32 bytes.
func isKey(b []byte) bool {
	k, err := base64.URLEncoding.Strict().DecodeString(string(b))
	return err == nil && len(b) == 44 && len(k) == 32
}

// compareStep checks fernetflow's result ff against keystone-manage's ks
// for one step from before: the same names, the same mode for every file,
// and the same bytes in every file except where keystone-manage wrote a new
// random key (0, and after a setup that had no 0, the key it promoted),
// where fernetflow must have written a new, well-formed key too, a
// different one for each such file.
func compareStep(t testing.TB, step string, before, ks, ff repoTree) bool {
	t.Helper()
	if (ks == nil) != (ff == nil) {
		t.Errorf("%s: keystone-manage left %s, fernetflow left %s", step, ks.describe(before), ff.describe(before))
		return false
	}
	var problems []string
	if !slices.Equal(ks.names(), ff.names()) {
		problems = append(problems, fmt.Sprintf("file names differ: keystone-manage %v, fernetflow %v", ks.names(), ff.names()))
	}
	for _, n := range ks.names() {
		f, ok := ff[n]
		if !ok {
			continue
		}
		k := ks[n]
		if k.mode != f.mode {
			problems = append(problems, fmt.Sprintf("%s: mode %v (keystone-manage) vs %v (fernetflow)", n, k.mode, f.mode))
		}
		if before.origin(k.data) == "new" {
			switch {
			case before.origin(f.data) != "new":
				problems = append(problems, fmt.Sprintf("%s: keystone-manage wrote a new key there, fernetflow's holds %s", n, before.origin(f.data)))
			case !isKey(f.data):
				problems = append(problems, fmt.Sprintf("%s: fernetflow's is not a 44-character URL-safe base64 key", n))
			}
			for _, other := range ff.names() {
				if other < n && bytes.Equal(ff[other].data, f.data) && before.origin(ks[other].data) == "new" {
					problems = append(problems, fmt.Sprintf("fernetflow wrote the same new key to %s and %s", other, n))
				}
			}
			continue
		}
		if !bytes.Equal(k.data, f.data) {
			problems = append(problems, fmt.Sprintf("%s: keystone-manage's holds %s, fernetflow's holds %s", n, before.origin(k.data), before.origin(f.data)))
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s: fernetflow differs from keystone-manage:\n  %s\n  before:          %s\n  keystone-manage: %s\n  fernetflow:      %s",
			step, strings.Join(problems, "\n  "), before.describe(before), ks.describe(before), ff.describe(before))
		return false
	}
	return true
}

// differ runs steps on two copies of one repository: ks for keystone-manage,
// ff for fernetflow (its metadata file lands beside ff, never in ks).
type differ struct {
	ks     *keystoneConf
	ffRepo string
	// state is the repository both tools start the next step from.
	state repoTree
}

func newDiffer(t testing.TB, start repoTree) *differ {
	t.Helper()
	root := t.TempDir()
	d := &differ{
		ks:     newKeystone(t, filepath.Join(root, "keystone"), filepath.Join(root, "keystone", "fernet-keys")),
		ffRepo: filepath.Join(root, "fernetflow", "fernet-keys"),
		state:  start,
	}
	if err := os.MkdirAll(filepath.Dir(d.ffRepo), 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// step runs "setup" or "rotate" with max_active_keys n on both copies,
// compares, and continues from keystone-manage's result. It returns false
// when the results differ.
func (d *differ) step(t testing.TB, label, op string, n int) bool {
	t.Helper()
	writeTree(t, d.ks.repo, d.state)
	writeTree(t, d.ffRepo, d.state)
	d.ks.manage(t, "fernet_"+op, n)
	fernetflowOK(t, "keys", op, "--key-repository", d.ffRepo, "--max-active-keys", strconv.Itoa(n), "--force", "-f", "json")
	ks, ff := readTree(t, d.ks.repo), readTree(t, d.ffRepo)
	name := fmt.Sprintf("%s: %s max_active_keys=%d", label, op, n)
	t.Logf("%s: %s -> %s", name, d.state.describe(d.state), ks.describe(d.state))
	for _, n := range ff.names() {
		if strings.Contains(n, "fernetflow") {
			t.Errorf("%s: fernetflow wrote %s inside the repository, where Keystone reads it", name, n)
		}
	}
	same := compareStep(t, name, d.state, ks, ff)
	if ks != nil {
		kfi, err1 := os.Stat(d.ks.repo)
		ffi, err2 := os.Stat(d.ffRepo)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if kfi.Mode() != ffi.Mode() {
			t.Errorf("%s: the repository directory is %v after keystone-manage, %v after fernetflow", name, kfi.Mode(), ffi.Mode())
			same = false
		}
	}
	d.state = ks
	return same
}

// keystoneRepos caches the repositories keystoneRepo makes: each
// keystone-manage run costs seconds, so the tests share them.
var keystoneRepos struct {
	sync.Mutex
	byRotations map[int]repoTree
}

// keystoneRepo returns a repository made by keystone-manage fernet_setup
// and then rotations (at most 2) fernet_rotate runs, all with
// max_active_keys 3: 0 1 after setup, 0 1 2 after one rotation, 0 2 3
// after two. The first call makes all three.
func keystoneRepo(t testing.TB, rotations int) repoTree {
	t.Helper()
	keystoneRepos.Lock()
	defer keystoneRepos.Unlock()
	if keystoneRepos.byRotations == nil {
		root := t.TempDir()
		ks := newKeystone(t, root, filepath.Join(root, "fernet-keys"))
		ks.manage(t, "fernet_setup", 3)
		chain := map[int]repoTree{0: readTree(t, ks.repo)}
		for r := 1; r <= 2; r++ {
			ks.manage(t, "fernet_rotate", 3)
			chain[r] = readTree(t, ks.repo)
		}
		keystoneRepos.byRotations = chain
	}
	tr, ok := keystoneRepos.byRotations[rotations]
	if !ok {
		t.Fatalf("keystoneRepo: %d rotations: only 0..2 are made", rotations)
	}
	return maps.Clone(tr)
}

// withJunk adds what Keystone ignores: a file whose name is not an integer
// and empty integer-named files (one a rotation will promote over, one far
// above any index a sequence reaches).
func withJunk(tr repoTree) repoTree {
	out := maps.Clone(tr)
	out["foo"] = repoEntry{mode: 0o600, data: []byte("not a key, and not an integer name\n")}
	out["4"] = repoEntry{mode: 0o600}
	out["99"] = repoEntry{mode: 0o600}
	return out
}

// keysSeed returns the seed for the random sequences and logs it.
func keysSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FERNETFLOW_KEYS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FERNETFLOW_KEYS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with FERNETFLOW_KEYS_SEED=%d)", seed, seed)
	return seed
}

// startRepo is a starting repository of a sequence.
type startRepo struct {
	name    string
	content repoTree
	setup   bool // the first step must be setup (there is nothing to rotate)
}

// runSequences runs random sequences of steps of length steps from each
// start, in parallel. ops are the operations drawn from; every sequence
// uses max_active_keys=1 at one random step and 1..8 at the others.
func runSequences(t *testing.T, seed uint64, starts []startRepo, steps int, ops []string) {
	for i, st := range starts {
		t.Run(fmt.Sprintf("seq%d-%s", i, st.name), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			one := rng.IntN(steps)
			d := newDiffer(t, st.content)
			if _, has := st.content["foo"]; has {
				defer func() {
					if t.Failed() {
						return
					}
					for _, tr := range []repoTree{d.state, readTree(t, d.ffRepo)} {
						if !bytes.Equal(tr["foo"].data, st.content["foo"].data) {
							t.Errorf("foo was changed or deleted: Keystone ignores files whose names are not integers")
						}
					}
				}()
			}
			for s := range steps {
				op := ops[rng.IntN(len(ops))]
				if s == 0 && st.setup {
					op = "setup"
				}
				n := 1 + rng.IntN(8)
				if s == one {
					n = 1
				}
				if !d.step(t, fmt.Sprintf("step %d", s+1), op, n) {
					return // later steps would start from a state fernetflow never reached
				}
			}
		})
	}
}

// TestKeysDifferentialRotate compares `fernetflow keys rotate --force` with
// `keystone-manage fernet_rotate` step by step, over random sequences of
// rotations with max_active_keys 1..8, from a fresh fernet_setup
// repository and from one that also holds files Keystone ignores.
func TestKeysDifferentialRotate(t *testing.T) {
	requireKeystone(t)
	seed := keysSeed(t)
	fresh := keystoneRepo(t, 0)
	runSequences(t, seed, []startRepo{
		{name: "fresh", content: fresh},
		{name: "junk", content: withJunk(fresh)},
		{name: "full-junk", content: withJunk(keystoneRepo(t, 2))},
	}, 7, []string{"rotate"})
}

// TestKeysDifferential is the requirement: from the same starting
// repository, random sequences of setup / rotate / max_active_keys 1..8
// give the same file names and the same key moved to the same name. It
// starts from a missing directory, an empty one, a fresh fernet_setup
// repository, and one with files Keystone ignores.
func TestKeysDifferential(t *testing.T) {
	requireKeystone(t)
	seed := keysSeed(t)
	fresh := keystoneRepo(t, 0)
	runSequences(t, seed+1, []startRepo{
		{name: "missing", content: nil, setup: true},
		{name: "emptydir", content: repoTree{}, setup: true},
		{name: "fresh", content: fresh},
		{name: "junk", content: withJunk(fresh)},
	}, 6, []string{"setup", "rotate", "rotate"})
}

// TestKeysSetupMaxActiveKeys checks that `fernetflow keys setup` honours
// max_active_keys as keystone-manage fernet_setup does: setup ends with a
// rotation, which prunes like any other (max_active_keys=1 keeps only 0;
// a repository without 0 is pruned down to max_active_keys).
func TestKeysSetupMaxActiveKeys(t *testing.T) {
	requireKeystone(t)
	noStaged := keystoneRepo(t, 2) // 0 2 3
	delete(noStaged, "0")
	for _, c := range []struct {
		name  string
		start repoTree
		n     int
	}{
		{"empty-max1", nil, 1},
		{"no-staged-key-max2", noStaged, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newDiffer(t, c.start)
			d.step(t, c.name, "setup", c.n)
		})
	}
}

// TestKeysRotateOverEmptyKeyFile: an empty file at the index the staged key
// is promoted to. keystone-manage renames 0 over it; when max_active_keys=1
// then prunes the promoted key, the file is gone. fernetflow must leave the
// same names (random sequences hit this only now and then).
func TestKeysRotateOverEmptyKeyFile(t *testing.T) {
	requireKeystone(t)
	start := keystoneRepo(t, 2) // 0 2 3
	start["4"] = repoEntry{mode: 0o600}
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("max%d", n), func(t *testing.T) {
			t.Parallel()
			newDiffer(t, start).step(t, "empty 4", "rotate", n)
		})
	}
}

var (
	validUntil = regexp.MustCompile(`valid until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)`)
	keyNamed   = regexp.MustCompile(`\bkey (\d+)\b`)
)

// pruned returns the integer names in before that are not in after.
func pruned(before, after repoTree) []string {
	var out []string
	for _, n := range before.names() {
		if _, err := strconv.Atoi(n); err != nil {
			continue
		}
		if _, ok := after[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// TestKeysRotateGuard checks fernetflow's addition to Keystone: without
// --force, a rotation that would prune what keystone-manage prunes is
// refused with an error naming the key and when pruning becomes safe, and
// changes nothing; with --force the same rotation matches keystone-manage.
func TestKeysRotateGuard(t *testing.T) {
	requireKeystone(t)
	full := keystoneRepo(t, 2) // 0 2 3 at max_active_keys 3
	for _, c := range []struct {
		name string
		n    int
		// fragment the error must hold, besides the key's name
		want string
	}{
		// key 2, a secondary made by keystone-manage: its demotion time is unknown
		{"secondary-max3", 3, "valid until"},
		// max_active_keys 1 prunes the key this very rotation promotes
		{"promoted-max1", 1, "promotes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newDiffer(t, full)
			writeTree(t, d.ks.repo, full)
			d.ks.manage(t, "fernet_rotate", c.n)
			ks := readTree(t, d.ks.repo)
			gone := pruned(full, ks)
			if len(gone) == 0 {
				t.Fatalf("keystone-manage pruned nothing from %s: the case tests nothing", full.describe(full))
			}
			t.Logf("keystone-manage max_active_keys=%d: %s -> %s (pruned %v)", c.n, full.describe(full), ks.describe(full), gone)

			writeTree(t, d.ffRepo, full)
			start := time.Now()
			out, errOut, err := runFernetflow("keys", "rotate", "--key-repository", d.ffRepo, "--max-active-keys", strconv.Itoa(c.n))
			if err == nil {
				t.Fatalf("fernetflow rotated without --force although it prunes %v:\n%s", gone, out)
			}
			var named []string
			for _, m := range keyNamed.FindAllStringSubmatch(errOut, -1) {
				named = append(named, m[1])
			}
			for _, g := range gone {
				if !slices.Contains(named, g) {
					t.Errorf("the refusal does not name key %s, which keystone-manage prunes:\n%s", g, errOut)
				}
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("the refusal does not say %q:\n%s", c.want, errOut)
			}
			if m := validUntil.FindStringSubmatch(errOut); m != nil {
				at, err := time.Parse(time.RFC3339, m[1])
				if err != nil {
					t.Fatal(err)
				}
				// Keystone's defaults: 1 h tokens + 48 h allow_expired_window.
				life := 49 * time.Hour
				if at.Before(start.Add(life).Add(-2*time.Second)) || at.After(time.Now().Add(life).Add(2*time.Second)) {
					t.Errorf("the refusal says the key is safe to prune at %s; want about now + %s", at, life)
				}
			}
			if after := readTree(t, d.ffRepo); !equalTree(after, full) {
				t.Errorf("a refused rotation changed the repository: %s -> %s", full.describe(full), after.describe(full))
			}

			// The same rotation with --force matches keystone-manage.
			fernetflowOK(t, "keys", "rotate", "--key-repository", d.ffRepo, "--max-active-keys", strconv.Itoa(c.n), "--force")
			compareStep(t, "rotate --force", full, ks, readTree(t, d.ffRepo))
		})
	}
}

// TestKeysSetupGuard: setup on a repository that has keys but no staged
// key 0 ends with a rotation that prunes, as keystone-manage fernet_setup
// does. With Keystone's defaults on both sides (max_active_keys 3, 1 h
// tokens, 48 h allow_expired_window), fernetflow must guard that prune as
// rotate does: refuse without --force, name the key, change nothing.
func TestKeysSetupGuard(t *testing.T) {
	requireKeystone(t)
	start := keystoneRepo(t, 2) // 0 2 3
	delete(start, "0")
	d := newDiffer(t, start)
	writeTree(t, d.ks.repo, start)
	d.ks.manage(t, "fernet_setup", 3)
	ks := readTree(t, d.ks.repo)
	gone := pruned(start, ks)
	if len(gone) == 0 {
		t.Fatalf("keystone-manage fernet_setup pruned nothing from %s: the case tests nothing", start.describe(start))
	}
	t.Logf("keystone-manage fernet_setup max_active_keys=3: %s -> %s (pruned %v)", start.describe(start), ks.describe(start), gone)

	writeTree(t, d.ffRepo, start)
	out, errOut, err := runFernetflow("keys", "setup", "--key-repository", d.ffRepo)
	after := readTree(t, d.ffRepo)
	if err == nil {
		t.Fatalf("fernetflow keys setup pruned %v without --force, though tokens they signed may be valid for 49 h: %s -> %s\n%s",
			pruned(start, after), start.describe(start), after.describe(start), out)
	}
	for _, g := range gone {
		if !regexp.MustCompile(`\bkey ` + g + `\b`).MatchString(errOut) {
			t.Errorf("the refusal does not name key %s, which keystone-manage prunes:\n%s", g, errOut)
		}
	}
	if !equalTree(after, start) {
		t.Errorf("a refused setup changed the repository: %s -> %s", start.describe(start), after.describe(start))
	}
}

// TestKeysRotateGuardBecomesSafe checks the refusal's promise, "rotate after
// that time": once the time it names has passed, the same rotation goes
// through without --force. The token lifetime is cut to 1 s + 1 s so the
// test waits seconds, not days. It covers a repository fernetflow made and
// one keystone-manage made and fernetflow adopts.
func TestKeysRotateGuardBecomesSafe(t *testing.T) {
	requireKeystone(t)
	life := []string{"--token-expiration", "1s", "--allow-expired-window", "1s"}
	keystoneMade := keystoneRepo(t, 2) // 0 2 3 at max_active_keys 3
	for _, c := range []struct {
		name  string
		start func(t *testing.T, dir string)
	}{
		{"fernetflow-made", func(t *testing.T, dir string) {
			fernetflowOK(t, "keys", "setup", "--key-repository", dir)
			fernetflowOK(t, append([]string{"keys", "rotate", "--key-repository", dir, "--max-active-keys", "3"}, life...)...)
		}},
		{"keystone-made", func(t *testing.T, dir string) { writeTree(t, dir, keystoneMade) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "fernet-keys")
			c.start(t, dir)
			args := append([]string{"keys", "rotate", "--key-repository", dir, "--max-active-keys", "3"}, life...)
			for attempt := 1; ; attempt++ {
				before := readTree(t, dir)
				_, errOut, err := runFernetflow(args...)
				if err == nil {
					if attempt == 1 {
						t.Fatalf("the first rotation pruned %v without --force, within the token lifetime", pruned(before, readTree(t, dir)))
					}
					return
				}
				m := validUntil.FindStringSubmatch(errOut)
				if m == nil {
					t.Fatalf("attempt %d: the refusal does not say when pruning becomes safe:\n%s", attempt, errOut)
				}
				if attempt == 2 {
					t.Fatalf("attempt 2, after the time the first refusal named, is refused again: the time it names is not when pruning becomes safe:\n%s", errOut)
				}
				at, err := time.Parse(time.RFC3339, m[1])
				if err != nil {
					t.Fatal(err)
				}
				wait := time.Until(at) + 1100*time.Millisecond
				if wait > 10*time.Second {
					t.Fatalf("the refusal names %s, more than the 2 s token lifetime away", at)
				}
				t.Logf("attempt %d refused until %s; waiting %s", attempt, at.Format(time.RFC3339), wait.Round(time.Millisecond))
				time.Sleep(wait)
			}
		})
	}
}
