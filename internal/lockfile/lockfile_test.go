package lockfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo.fernetflow.lock")
	unlock, err := Lock(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %v, %v: want a regular file 0600", fi, err)
	}
	// flock(2) locks belong to the open file: a second open conflicts,
	// in this process as in another.
	if _, err := Lock(t.Context(), path, Options{}); !errors.Is(err, ErrHeld) {
		t.Fatalf("second lock: %v, want ErrHeld", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path, Options{Wait: true, Retry: 10 * time.Millisecond}); !errors.Is(err, ErrHeld) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting lock: %v", err)
	}
	done := make(chan error)
	go func() {
		u, err := Lock(t.Context(), path, Options{Wait: true, Retry: 5 * time.Millisecond})
		if err == nil {
			u()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("a waiter did not get the released lock: %v", err)
	}
}

// Issue 13, defect 5: what is planted where the lock file goes is refused
// and left alone, and nothing is created through it.
func TestLockRefusesPlantedFiles(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, path string)
		wantErr string
	}{
		{"symlink to a missing file", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "created-through-the-link"), path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"symlink to a file", func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target")
			os.WriteFile(target, []byte("precious"), 0o600)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"symlink to a directory", func(t *testing.T, path string) {
			if err := os.Symlink(t.TempDir(), path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file (a named pipe)"},
		{"directory", func(t *testing.T, path string) { os.Mkdir(path, 0o700) }, "is a directory"},
		{"hard link", func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target")
			os.WriteFile(target, []byte("precious"), 0o600)
			if err := os.Link(target, path); err != nil {
				t.Fatal(err)
			}
		}, "has 2 hard links"},
		{"someone else's file", func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			os.WriteFile(path, nil, 0o600)
			os.Chown(path, 4242, 4242)
		}, "is owned by uid 4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "repo.fernetflow.lock")
			tt.plant(t, path)
			before := listing(t, dir)
			unlock, err := Lock(t.Context(), path, Options{Wait: true})
			if err == nil {
				unlock()
				t.Fatal("locked a planted file")
			}
			if errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), path+" "+tt.wantErr) || !strings.Contains(err.Error(), "remove it") {
				t.Fatalf("error %q, want %q and the fix", err, tt.wantErr)
			}
			if after := listing(t, dir); after != before {
				t.Fatalf("the refusal changed the directory:\n%s\nwant\n%s", after, before)
			}
		})
	}
	t.Run("a configured owner's file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chown needs root")
		}
		path := filepath.Join(t.TempDir(), "lock")
		os.WriteFile(path, nil, 0o600)
		os.Chown(path, 4242, 4242)
		unlock, err := Lock(t.Context(), path, Options{Owners: []int{4242}})
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	})
}

// listing is every name in dir with its type and content.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b.WriteString(e.Name() + " " + e.Type().String())
		if e.Type().IsRegular() {
			c, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
	}
	return b.String()
}
