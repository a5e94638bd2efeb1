package envelope

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInitSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "signer")
	s1, created, err := InitSigner(dir)
	if err != nil || !created {
		t.Fatalf("InitSigner = %v, %v", created, err)
	}
	for name, want := range map[string]os.FileMode{SignerKeyFile: 0o600, SignerPublicFile: 0o644, ".": 0o700} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", name, fi.Mode().Perm(), want)
		}
	}
	s2, created, err := InitSigner(dir)
	if err != nil || created || s2.Public() != s1.Public() {
		t.Fatalf("second InitSigner = %v, %v, %v: not idempotent", s2, created, err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, SignerPublicFile))
	if err != nil || string(pub) != s1.Public().String()+"\n" {
		t.Fatalf("signer.pub = %q, %v", pub, err)
	}
	// A host holding only signer.pub can still print it.
	pubOnly := t.TempDir()
	os.WriteFile(filepath.Join(pubOnly, SignerPublicFile), pub, 0o644)
	if p, err := LoadPublicKey(pubOnly); err != nil || p != s1.Public() {
		t.Fatalf("LoadPublicKey = %v, %v", p, err)
	}
	// A lost signer.pub is rewritten from the key.
	os.Remove(filepath.Join(dir, SignerPublicFile))
	if _, _, err := InitSigner(dir); err != nil {
		t.Fatal(err)
	}
	// A signer.pub of another key is an error, not silently replaced.
	other := newSignerT(t)
	os.WriteFile(filepath.Join(dir, SignerPublicFile), []byte(other.Public().String()+"\n"), 0o644)
	if _, _, err := InitSigner(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched signer.pub: %v", err)
	}
}

func TestInitSignerConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	pubs := make([]PublicKey, 8)
	for i := range pubs {
		wg.Go(func() {
			s, _, err := InitSigner(dir)
			if err != nil {
				t.Error(err)
				return
			}
			pubs[i] = s.Public()
		})
	}
	wg.Wait()
	for _, p := range pubs {
		if p != pubs[0] {
			t.Fatal("concurrent InitSigner made two signers")
		}
	}
}

func TestLoadSignerRefuses(t *testing.T) {
	dir := t.TempDir()
	// The CLI adds how to make one (cmd/fernetflow's hints).
	if _, err := LoadSigner(dir); !errors.Is(err, ErrNoSigner) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing signer: %v", err)
	}
	if _, _, err := InitSigner(dir); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, SignerKeyFile), 0o644)
	if _, err := LoadSigner(dir); err == nil || !strings.Contains(err.Error(), "chmod 0600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SignerKeyFile), []byte("garbage"), 0o600)
	if _, err := LoadSigner(dir); err == nil || strings.Contains(err.Error(), "garbage") {
		t.Fatalf("garbage key: %v", err)
	}
}

func TestInitIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "identity")
	id, created, err := InitIdentity(path, time.Now())
	if err != nil || !created {
		t.Fatalf("InitIdentity = %v, %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %04o", fi.Mode().Perm())
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %04o", di.Mode().Perm())
	}
	id2, created, err := InitIdentity(path, time.Now())
	if err != nil || created || id2.Recipient().String() != id.Recipient().String() {
		t.Fatalf("second InitIdentity: not idempotent (%v, %v)", created, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "# public key: "+id.Recipient().String()) {
		t.Fatalf("identity file lacks age-keygen's public key comment")
	}
	os.Chmod(path, 0o640)
	if _, err := LoadIdentity(path); err == nil {
		t.Fatal("group-readable identity loaded")
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("AGE-SECRET-KEY-1QQQQ\n"), 0o600)
	if _, err := LoadIdentity(path); err == nil || strings.Contains(err.Error(), "QQQQ") {
		t.Fatalf("bad identity: %v", err)
	}
	if _, err := ParseRecipient("age1nope"); err == nil {
		t.Fatal("bad recipient parsed")
	}
	if r, err := ParseRecipient(" " + id.Recipient().String() + "\n"); err != nil || r.String() != id.Recipient().String() {
		t.Fatalf("ParseRecipient: %v", err)
	}
}
