package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The signal-key file is refused when others may read it, when it is a
// symlink or not a regular file, or when it is far larger than a key.
func TestLoadSignalKeyRefusals(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"group-readable", func(t *testing.T, p string) { write(t, p, key, 0o640) }, "accessible to group or others"},
		{"world-readable", func(t *testing.T, p string) { write(t, p, key, 0o604) }, "accessible to group or others"},
		{"symlink", func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "elsewhere")
			write(t, target, key, 0o600)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"huge", func(t *testing.T, p string) { write(t, p, bytes.Repeat([]byte{1}, 1<<20), 0o600) }, "at most 1024"},
		{"short", func(t *testing.T, p string) { write(t, p, key[:16], 0o600) }, "want at least 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "signal.key")
			c.setup(t, p)
			_, err := LoadOrCreateSignalKey(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	t.Run("0600 is read", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "signal.key")
		write(t, p, key, 0o600)
		if got, err := LoadOrCreateSignalKey(p); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("%x %v", got, err)
		}
	})
	t.Run("a new key is 0600", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "signal.key")
		if _, err := LoadOrCreateSignalKey(p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%v %v", fi.Mode(), err)
		}
	})
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
