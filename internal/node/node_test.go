package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// fleet is an undercloud (a signer and a master repository) and one node.
type fleet struct {
	t        testing.TB
	signer   *envelope.Signer
	master   string
	gen      uint64
	stateDir string
	repo     string
	server   string
	id       *age.X25519Identity
	logs     *bytes.Buffer
}

func newFleet(t testing.TB) *fleet {
	t.Helper()
	root := t.TempDir()
	s, _, err := envelope.InitSigner(filepath.Join(root, "undercloud"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, signer: s, master: filepath.Join(root, "master"), gen: 1,
		stateDir: filepath.Join(root, "node", "state"), repo: filepath.Join(root, "node", "fernet-keys"),
		server: "controller-0", logs: &bytes.Buffer{}}
	if _, err := keys.Setup(context.Background(), f.master, keys.RotateOptions{MaxActiveKeys: 3, Force: true}); err != nil {
		t.Fatal(err)
	}
	res, err := Enroll(f.stateDir, f.server, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(f.stateDir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	f.id, err = envelope.ParseIdentity(b)
	if err != nil || f.id.Recipient().String() != res.Recipient {
		t.Fatalf("enroll: %v", err)
	}
	return f
}

// rotate rotates the master repository: the next generation.
func (f *fleet) rotate(maxActive int) {
	f.t.Helper()
	if _, err := keys.Rotate(context.Background(), f.master, keys.RotateOptions{MaxActiveKeys: maxActive, Force: true}); err != nil {
		f.t.Fatal(err)
	}
	f.gen++
}

func (f *fleet) masterSet() keys.Set {
	f.t.Helper()
	r, err := keys.Open(f.master)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Keys
}

// seal seals the master set at the current generation for this node.
func (f *fleet) seal() []byte {
	f.t.Helper()
	env, err := envelope.Seal(f.masterSet(), f.gen, f.server, f.id.Recipient(), f.signer)
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

func (f *fleet) options() InstallOptions {
	return InstallOptions{StateDir: f.stateDir, KeyRepository: f.repo, ServerID: f.server, Signer: f.signer.Public(),
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func (f *fleet) install(env []byte) (*InstallResult, error) {
	return Install(context.Background(), env, f.options())
}

func (f *fleet) nodeSet() keys.Set {
	f.t.Helper()
	r, err := keys.Open(f.repo)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Keys
}

// snapshot records every file under dir: name, mode and content.
func snapshot(t testing.TB, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, _ := d.Info()
			fmt.Fprintf(&b, "%s %v %d\n", path, fi.Mode(), fi.ModTime().UnixNano())
			if d.Type().IsRegular() {
				c, _ := os.ReadFile(path)
				fmt.Fprintf(&b, "%x\n", c)
			}
			return nil
		})
	}
	return b.String()
}

func TestInstallRules(t *testing.T) {
	f := newFleet(t)
	g1 := f.seal()

	// First install: the repository does not exist yet.
	res, err := f.install(g1)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Generation != 1 || res.Fingerprint != f.masterSet().Fingerprint() {
		t.Fatalf("first install: %+v", res)
	}
	if f.nodeSet().Fingerprint() != f.masterSet().Fingerprint() {
		t.Fatal("node does not hold the master set")
	}
	st, err := ReadState(f.stateDir)
	if err != nil || st.Generation != 1 || st.Fingerprint != res.Fingerprint || st.ServerID != f.server {
		t.Fatalf("state %+v, %v", st, err)
	}
	if fi, _ := os.Stat(filepath.Join(f.stateDir, InstalledFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("installed.json mode %04o", fi.Mode().Perm())
	}

	// Replay of the same envelope, or the same set sealed again: a no-op.
	before := snapshot(t, f.repo)
	for _, env := range [][]byte{g1, f.seal()} {
		res, err = f.install(env)
		if err != nil || res.Changed || res.Generation != 1 {
			t.Fatalf("replay of the installed generation: %+v, %v", res, err)
		}
	}
	if snapshot(t, f.repo) != before {
		t.Fatal("a no-op changed the repository")
	}

	// Newer generation: installed.
	f.rotate(3)
	g2 := f.seal()
	if res, err = f.install(g2); err != nil || !res.Changed || res.Generation != 2 {
		t.Fatalf("newer generation: %+v, %v", res, err)
	}
	if f.nodeSet().Fingerprint() != f.masterSet().Fingerprint() {
		t.Fatal("node does not hold generation 2")
	}

	refuse := func(name string, env []byte, want error) {
		t.Helper()
		before := snapshot(t, f.repo, f.stateDir)
		_, err := f.install(env)
		if !errors.Is(err, want) {
			t.Fatalf("%s: err = %v, want %v", name, err, want)
		}
		if after := snapshot(t, f.repo, f.stateDir); after != before {
			t.Fatalf("%s: a refusal changed the disk", name)
		}
	}
	// Rollback: the generation 1 envelope replayed (a stack update).
	refuse("rollback", g1, ErrRollback)
	// Split brain: another set claiming generation 2.
	other := newFleet(t)
	other.rotate(3)
	fake, err := envelope.Seal(other.masterSet(), 2, f.server, f.id.Recipient(), f.signer)
	if err != nil {
		t.Fatal(err)
	}
	refuse("split brain", fake, ErrSplitBrain)
	// Not for this node, bad signature: refused by the envelope.
	forOther := other.seal()
	refuse("for another node", forOther, envelope.ErrNotForThisNode)
	f.rotate(3)
	byOther, err := envelope.Seal(f.masterSet(), f.gen, f.server, f.id.Recipient(), other.signer)
	if err != nil {
		t.Fatal(err)
	}
	refuse("another undercloud", byOther, envelope.ErrBadSignature)
	wrongServer, err := envelope.Seal(f.masterSet(), f.gen, "controller-1", f.id.Recipient(), f.signer)
	if err != nil {
		t.Fatal(err)
	}
	refuse("another server id", wrongServer, envelope.ErrNotForThisNode)
	damaged := bytes.Clone(f.seal())
	damaged[len(damaged)/2] ^= 1
	refuse("damaged", damaged, envelope.ErrDamaged)
}

func TestInstallRepairsHandEdits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, repo string)
		fewer bool
	}{
		{"staged key replaced", func(t *testing.T, repo string) {
			k, _ := keys.GenerateKey(nil)
			os.WriteFile(filepath.Join(repo, "0"), k.Encode(), 0o600)
		}, false},
		{"secondary deleted", func(t *testing.T, repo string) {
			os.Remove(filepath.Join(repo, "1"))
		}, false},
		{"primary emptied", func(t *testing.T, repo string) {
			os.WriteFile(filepath.Join(repo, "2"), nil, 0o600)
		}, false},
		{"primary corrupted (Keystone would fail every request)", func(t *testing.T, repo string) {
			os.WriteFile(filepath.Join(repo, "2"), []byte("not a key\n"), 0o600)
		}, false},
		{"stray malformed key file", func(t *testing.T, repo string) {
			os.WriteFile(filepath.Join(repo, "7"), []byte("0123456789abcdef"), 0o600)
		}, false},
		{"extra key added", func(t *testing.T, repo string) {
			k, _ := keys.GenerateKey(nil)
			os.WriteFile(filepath.Join(repo, "9"), k.Encode(), 0o600)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t)
			f.rotate(3)
			env := f.seal()
			if _, err := f.install(env); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, f.repo)
			if tc.fewer {
				// Deleting a key someone added needs the operator's word.
				if _, err := f.install(env); err == nil || !strings.Contains(err.Error(), "allow-fewer") {
					t.Fatalf("repair deleting a key without AllowFewer: %v", err)
				}
			}
			o := f.options()
			o.AllowFewer = tc.fewer
			res, err := Install(context.Background(), env, o)
			if err != nil || !res.Changed {
				t.Fatalf("repair: %+v, %v", res, err)
			}
			if f.nodeSet().Fingerprint() != f.masterSet().Fingerprint() {
				t.Fatal("not repaired")
			}
		})
	}
}

func TestInstallNeedsEnrollment(t *testing.T) {
	f := newFleet(t)
	env := f.seal()
	o := f.options()
	o.StateDir = t.TempDir()
	// The CLI adds the command that enrolls (cmd/fernetflow's hints).
	if _, err := Install(context.Background(), env, o); !errors.Is(err, envelope.ErrNoIdentity) || !strings.Contains(err.Error(), "enroll the node first") {
		t.Fatalf("install without identity: %v", err)
	}
	if _, err := os.Stat(f.repo); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused install created the repository")
	}
}

func TestEnroll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	r1, err := Enroll(dir, "controller-0", time.Now())
	if err != nil || !strings.HasPrefix(r1.Recipient, "age1") || r1.ServerID != "controller-0" {
		t.Fatalf("Enroll = %+v, %v", r1, err)
	}
	r2, err := Enroll(dir, "controller-0", time.Now())
	if err != nil || *r2 != *r1 {
		t.Fatalf("second Enroll = %+v, %v: not idempotent", r2, err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, IdentityFile): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if _, err := Enroll(dir, "", time.Now()); err == nil {
		t.Fatal("enrolled without a server id")
	}
}

func TestStateBelongsToOneServer(t *testing.T) {
	f := newFleet(t)
	if _, err := f.install(f.seal()); err != nil {
		t.Fatal(err)
	}
	if _, err := Enroll(f.stateDir, "controller-9", time.Now()); err == nil || !strings.Contains(err.Error(), "belongs to server") {
		t.Fatalf("enroll as another server: %v", err)
	}
}

func TestInstallLogsNoSecrets(t *testing.T) {
	f := newFleet(t)
	var errs []string
	for range 3 {
		if _, err := f.install(f.seal()); err != nil {
			t.Fatal(err)
		}
		f.rotate(3)
	}
	_, err := f.install(bytes.Replace(f.seal(), []byte("\n"), []byte("\r\n"), 1))
	errs = append(errs, err.Error())
	all := f.logs.String() + strings.Join(errs, "\n")
	if !strings.Contains(f.logs.String(), "installed") {
		t.Fatalf("nothing logged: %s", all)
	}
	st, _ := os.ReadFile(filepath.Join(f.stateDir, InstalledFile))
	all += string(st)
	for _, k := range f.masterSet() {
		for _, enc := range []string{string(k.Encode()), base64.StdEncoding.EncodeToString(k[:]), base64.RawURLEncoding.EncodeToString(k[:])} {
			if strings.Contains(all, enc) {
				t.Fatalf("a key reached the logs or errors:\n%s", all)
			}
		}
	}
	if strings.Contains(all, f.id.String()) || strings.Contains(all, "AGE-SECRET-KEY") {
		t.Fatal("the identity reached the logs")
	}
}

func TestInstallOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	f := newFleet(t)
	o := f.options()
	o.Owner = &keys.Owner{UID: 4242, GID: 4343}
	if _, err := Install(context.Background(), f.seal(), o); err != nil {
		t.Fatal(err)
	}
	f.rotate(3)
	if _, err := Install(context.Background(), f.seal(), o); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(f.repo)
	for _, e := range append(entries, nil) {
		path := f.repo
		if e != nil {
			path = filepath.Join(f.repo, e.Name())
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o600)
		if e == nil {
			want = 0o700
		}
		if st.Uid != 4242 || st.Gid != 4343 || fi.Mode().Perm() != want {
			t.Fatalf("%s: %d:%d %04o, want 4242:4343 %04o", path, st.Uid, st.Gid, fi.Mode().Perm(), want)
		}
	}
}

// FuzzReadState feeds arbitrary installed.json files to ReadState: it must
// not panic, and what it accepts must be usable by Install.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"format":1,"server_id":"c0","generation":3,"fingerprint":"sha256:` + strings.Repeat("ab", 32) + `","key_repository":"/k","installed_at":"2026-11-23T15:47:37Z","keys":[{"index":0,"id":"aa2beb2904d8"}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, InstalledFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := ReadState(dir)
		if err != nil || st == nil {
			return
		}
		if st.Generation == 0 || st.Format != stateFormat {
			t.Fatalf("accepted %+v", st)
		}
		if _, err := keys.ParseFingerprint(st.Fingerprint.String()); err != nil {
			t.Fatalf("accepted fingerprint %q", st.Fingerprint)
		}
	})
}

// TestInstallTampered flips each byte of an armored envelope, and each byte
// of its decrypted document re-encrypted to the node: every install is
// refused, and nothing on disk changes.
func TestInstallTampered(t *testing.T) {
	f := newFleet(t)
	if _, err := f.install(f.seal()); err != nil {
		t.Fatal(err)
	}
	f.rotate(3)
	env := f.seal()
	before := snapshot(t, f.repo, f.stateDir)
	for i := range env {
		bad := bytes.Clone(env)
		bad[i] ^= 0x01
		if _, err := f.install(bad); err == nil {
			t.Fatalf("armored byte %d flipped: installed", i)
		}
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(env)), f.id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for i := 0; i < len(plain); i += step {
		bad := bytes.Clone(plain)
		bad[i] ^= 0x01
		var out bytes.Buffer
		aw := armor.NewWriter(&out)
		w, _ := age.Encrypt(aw, f.id.Recipient())
		w.Write(bad)
		w.Close()
		aw.Close()
		if _, err := f.install(out.Bytes()); err == nil {
			t.Fatalf("plaintext byte %d flipped: installed", i)
		}
	}
	if snapshot(t, f.repo, f.stateDir) != before {
		t.Fatal("a refused install changed the disk")
	}
	// The untampered envelope still installs.
	if res, err := f.install(env); err != nil || !res.Changed {
		t.Fatalf("install: %+v, %v", res, err)
	}
}

// TestInstallRefusesKeysKeystoneReadsByOtherNames: a file Keystone reads as
// a key under a name that is not canonical (Python's int() takes any
// script's digits) is neither ignored nor overwritten: install refuses, with
// the file and the fix, and leaves the disk as it was.
func TestInstallRefusesKeysKeystoneReadsByOtherNames(t *testing.T) {
	for _, name := range []string{"９９９", "٢", "1_0", " 3", "+4", "07"} {
		t.Run(name, func(t *testing.T) {
			f := newFleet(t)
			if _, err := f.install(f.seal()); err != nil {
				t.Fatal(err)
			}
			k, _ := keys.GenerateKey(nil)
			if err := os.WriteFile(filepath.Join(f.repo, name), k.Encode(), 0o600); err != nil {
				t.Fatal(err)
			}
			f.rotate(3)
			env := f.seal()
			before := snapshot(t, f.repo, f.stateDir)
			for _, allowFewer := range []bool{false, true} {
				o := f.options()
				o.AllowFewer = allowFewer
				_, err := Install(context.Background(), env, o)
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("file named %q", name)) || !strings.Contains(err.Error(), "remove") {
					t.Fatalf("install (allow fewer %v) over a planted %q: %v", allowFewer, name, err)
				}
			}
			if snapshot(t, f.repo, f.stateDir) != before {
				t.Fatal("a refused install changed the disk")
			}
		})
	}
}

// Issue 13, defect 5: a link planted at STATE_DIR/lock is refused, and
// nothing is created through it.
func TestInstallRefusesASymlinkedLock(t *testing.T) {
	f := newFleet(t)
	planted := filepath.Join(t.TempDir(), "planted")
	if err := os.Symlink(planted, filepath.Join(f.stateDir, LockFile)); err != nil {
		t.Fatal(err)
	}
	_, err := f.install(f.seal())
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link") || errors.Is(err, ErrBusy) {
		t.Fatalf("install with a symlinked lock: %v", err)
	}
	if _, err := os.Lstat(planted); err == nil {
		t.Fatal("the lock was created through the planted link")
	}
	if _, err := os.Stat(f.repo); err == nil {
		t.Fatal("install went on without the lock")
	}
}
