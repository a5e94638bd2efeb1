package keys

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testKey is a deterministic key for tests.
func testKey(i int) Key {
	return Key(sha256.Sum256([]byte("fernetflow test key " + strconv.Itoa(i))))
}

// writeRepo makes a repository holding set in a new directory with Keystone's modes.
func writeRepo(t testing.TB, set Set) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, k := range set {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), k.Encode(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyRepo copies a testdata repository into a new directory with
// Keystone's modes (git checks files out world-readable).
func copyRepo(t testing.TB, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot returns every file of dir by name, for byte-for-byte comparisons.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameSnapshot(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func mustOpen(t testing.TB, dir string, opts ...Option) *Repository {
	t.Helper()
	r, err := Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return r
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }
