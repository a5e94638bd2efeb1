package keys

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every directory in testdata/broken is a repository with one defect;
// error.golden beside it (in testdata/broken-errors) is Open's error with
// the repository path written as DIR. Refresh with go test -update.
//
// A file NAME.fernetflow.json or NAME.fernetflow.lock beside the directory
// NAME (often a symlink) is copied beside the repository, as its metadata
// or lock file; when the keys themselves are sound, the golden is the error
// of a forced Rotate, which takes the lock and reads the metadata.
func TestOpenBrokenRepositories(t *testing.T) {
	entries, err := os.ReadDir("testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Fatalf("only %d broken repositories in testdata", len(entries))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir := copyRepo(t, filepath.Join("testdata/broken", e.Name()))
			beside := copyBeside(t, filepath.Join("testdata/broken", e.Name()), dir)
			before := snapshot(t, dir)
			besideBefore := listBeside(t, dir)
			_, openErr := Open(dir)
			gotErr := openErr
			if openErr == nil {
				if !beside {
					t.Fatal("Open succeeded on a broken repository")
				}
				if _, gotErr = Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3, Force: true}); gotErr == nil {
					t.Fatal("Rotate succeeded beside broken metadata or lock file")
				}
			}
			got := strings.ReplaceAll(gotErr.Error(), dir, "DIR") + "\n"
			golden := filepath.Join("testdata/broken-errors", e.Name()+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error\n%s\nwant\n%s", got, want)
			}
			if openErr != nil {
				// A failed Open, Rotate or Install changes nothing.
				if _, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3, Force: true}); err == nil {
					t.Error("Rotate succeeded on a broken repository")
				}
				// Installing a full set repairs a repository that only lacks
				// keys; over a corrupt one it is refused.
				if !errors.Is(openErr, ErrNotInitialized) && !errors.Is(openErr, ErrNoStagedKey) {
					if _, err := Install(t.Context(), dir, Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3)}, InstallOptions{}); err == nil {
						t.Error("Install succeeded over a broken repository")
					}
				}
			}
			if !sameSnapshot(before, snapshot(t, dir)) {
				t.Error("a refused operation changed the repository")
			}
			if !beside {
				return
			}
			// Nothing created or changed through a planted link either.
			if after := listBeside(t, dir); after != besideBefore {
				t.Errorf("a refused operation changed what is beside the repository:\n%s\nwas\n%s", after, besideBefore)
			}
		})
	}
}

// copyBeside copies src.fernetflow.json and src.fernetflow.lock, when they
// exist, beside dir as its metadata and lock file, symlinks as symlinks.
func copyBeside(t *testing.T, src, dir string) bool {
	t.Helper()
	found := false
	for _, pair := range [][2]string{{src + ".fernetflow.json", MetadataPath(dir)}, {src + ".fernetflow.lock", LockPath(dir)}} {
		fi, err := os.Lstat(pair[0])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found = true
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(pair[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, pair[1]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pair[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// listBeside lists the directory holding dir, without following links:
// each name, its type, and a link's target; but for a regular lock file.
func listBeside(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() == filepath.Base(LockPath(dir)) {
			continue // a lock file is made by design
		}
		b.WriteString(e.Name() + " " + e.Type().String())
		if target, err := os.Readlink(filepath.Join(filepath.Dir(dir), e.Name())); err == nil {
			b.WriteString(" -> " + target)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestOpenKeystoneLike(t *testing.T) {
	dir := copyRepo(t, "testdata/good/keystone-like")
	var logs bytes.Buffer
	r, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Keys.Indexes(); len(got) != 4 || got[0] != 0 || got[3] != 5 {
		t.Errorf("indexes %v, want [0 3 4 5]", got)
	}
	if p, _ := r.Keys.Primary(); p != 5 {
		t.Errorf("primary %d, want 5: an empty file 9 must not count", p)
	}
	if len(r.Skipped) != 1 || r.Skipped[0] != "9" {
		t.Errorf("skipped %v, want [9]", r.Skipped)
	}
	if !strings.Contains(logs.String(), "empty key file") {
		t.Errorf("no warning for the empty file; logs: %s", logs.String())
	}
	if len(r.Ignored) != 2 {
		t.Errorf("ignored %v, want 0.tmp and foo", r.Ignored)
	}
}

func TestOpenFilesystemDefects(t *testing.T) {
	valid := Set{0: testKey(0), 1: testKey(1)}
	tests := []struct {
		name    string
		mangle  func(t *testing.T, dir string)
		opts    []Option
		wantErr string
		is      error
	}{
		{"missing directory", func(t *testing.T, dir string) { os.RemoveAll(dir) }, nil, "does not exist", ErrNotInitialized},
		{"empty directory", func(t *testing.T, dir string) { os.Remove(dir + "/0"); os.Remove(dir + "/1") }, nil, "holds no keys", ErrNotInitialized},
		{"not a directory", func(t *testing.T, dir string) { os.RemoveAll(dir); os.WriteFile(dir, nil, 0o600) }, nil, "is not a directory", nil},
		{"world-readable directory", func(t *testing.T, dir string) { os.Chmod(dir, 0o755) }, nil, "chmod 0700", nil},
		{"world-readable key", func(t *testing.T, dir string) { os.Chmod(dir+"/1", 0o644) }, nil, "chmod 0600", nil},
		{"symlinked key", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "elsewhere")
			os.WriteFile(other, testKey(5).Encode(), 0o600)
			os.Symlink(other, dir+"/2")
		}, nil, "is a symlink", nil},
		{"directory with a key name", func(t *testing.T, dir string) { os.Mkdir(dir+"/2", 0o700) }, nil, "is a directory", nil},
		{"file not owned by the keystone user", func(t *testing.T, dir string) {
			if os.Getuid() != 0 {
				t.Skip("chown needs root")
			}
			os.Chown(dir+"/1", 4242, 4242)
		}, []Option{WithOwner(os.Getuid(), os.Getgid())}, "owned by 4242:4242", nil},
		{"directory not owned by the keystone user", func(t *testing.T, dir string) {}, []Option{WithOwner(4243, 4243)}, "want 4243:4243", nil},
		{"credential repository", func(t *testing.T, dir string) {}, nil, "credential_migrate", ErrCredentialRepository},
		{"duplicate index by white space", func(t *testing.T, dir string) { os.WriteFile(dir+"/ 1", testKey(7).Encode(), 0o600) }, nil, "like the file 1: remove one of them", nil},
		{"key name in Arabic-Indic digits", func(t *testing.T, dir string) { os.WriteFile(dir+"/٢", testKey(7).Encode(), 0o600) }, nil, `Keystone reads the file named "٢" as key 2: rename it to 2`, nil},
		{"primary in full-width digits", func(t *testing.T, dir string) { os.WriteFile(dir+"/９９９", testKey(7).Encode(), 0o600) }, nil, `Keystone reads the file named "９９９" as key 999: rename it to 999`, nil},
		{"key name in Unicode white space", func(t *testing.T, dir string) { os.WriteFile(dir+"/1　", testKey(7).Encode(), 0o600) }, nil, `the file named "1\u3000" as key 1, like the file 1`, nil},
		{"huge index", func(t *testing.T, dir string) { os.WriteFile(dir+"/99999999999", testKey(7).Encode(), 0o600) }, nil, "beyond", nil},
		{"huge file", func(t *testing.T, dir string) { os.WriteFile(dir+"/1", bytes.Repeat([]byte("A"), 1<<20), 0o600) }, nil, "it is not a key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeRepo(t, valid)
			tt.mangle(t, dir)
			opts := tt.opts
			if tt.is == ErrCredentialRepository {
				opts = append(opts, WithCredentialRepositories(dir+"/"))
			}
			_, err := Open(dir, opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestPythonInt(t *testing.T) {
	tests := []struct {
		in    string
		n     int
		isInt bool
	}{
		{"0", 0, true}, {"12", 12, true}, {"01", 1, true}, {" 3", 3, true}, {"3\n", 3, true},
		{"+4", 4, true}, {"-1", -1, true}, {"1_0", 10, true},
		{"0.tmp", 0, false}, {"foo", 0, false}, {".0123", 0, false}, {"1__0", 0, false},
		{"_1", 0, false}, {"1_", 0, false}, {"", 0, false}, {"-", 0, false}, {"1e3", 0, false},
		{"٢", 2, true}, {"９９９", 999, true}, {"𝟗", 9, true}, {"１_２", 12, true}, {" 7　", 7, true},
		{"\x1c7", 0, false}, {"\x1c\u00a07", 0, false}, {"1 2", 0, false}, {"²", 0, false}, {"ÿ7", 0, false},
	}
	for _, tt := range tests {
		n, ok := pythonInt(tt.in)
		if ok != tt.isInt || (ok && n != tt.n) {
			t.Errorf("pythonInt(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.isInt)
		}
	}
}

// Issue 13, defect 4: the metadata file is read without following a link,
// only if it is a regular file, and only up to maxMetadataSize; defect 5:
// the lock file is never created or opened through a link.
func TestMetadataAndLockFileDefects(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, dir string)
		wantErr string
	}{
		{"metadata is a link to /dev/zero", func(t *testing.T, dir string) { os.Symlink("/dev/zero", MetadataPath(dir)) }, "is a symbolic link"},
		{"metadata is a link to a regular file", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "meta.json")
			os.WriteFile(other, []byte(`{"format":1}`), 0o600)
			os.Symlink(other, MetadataPath(dir))
		}, "is a symbolic link"},
		{"metadata is a named pipe", func(t *testing.T, dir string) { syscall.Mkfifo(MetadataPath(dir), 0o600) }, "is not a regular file"},
		{"metadata is huge", func(t *testing.T, dir string) {
			os.WriteFile(MetadataPath(dir), bytes.Repeat([]byte(" "), maxMetadataSize+1), 0o600)
		}, "is over 4194304 bytes"},
		{"lock file is a dangling link", func(t *testing.T, dir string) { os.Symlink(dir+".planted", LockPath(dir)) }, "is a symbolic link"},
		{"lock file is someone else's", func(t *testing.T, dir string) {
			os.WriteFile(LockPath(dir), nil, 0o600)
			os.Chown(LockPath(dir), 4244, 4244)
		}, "is owned by uid 4244"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "someone else") && os.Getuid() != 0 {
				t.Skip("chown needs root")
			}
			dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
			tt.plant(t, dir)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := Rotate(ctx, dir, RotateOptions{MaxActiveKeys: 3, Force: true})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rotate: %v, want %q", err, tt.wantErr)
			}
			if _, err := os.Lstat(dir + ".planted"); err == nil {
				t.Fatal("a file was created through the planted link")
			}
			if strings.HasPrefix(tt.name, "metadata") {
				if _, err := ReadMetadata(dir); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadMetadata: %v, want %q", err, tt.wantErr)
				}
			}
		})
	}
	// The Keystone user's lock file is accepted with WithOwner.
	if os.Getuid() == 0 {
		dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
		os.Chown(dir, 4245, 4245)
		for _, f := range []string{"0", "1"} {
			os.Chown(filepath.Join(dir, f), 4245, 4245)
		}
		os.WriteFile(LockPath(dir), nil, 0o600)
		os.Chown(LockPath(dir), 4245, 4245)
		if _, err := Rotate(t.Context(), dir, RotateOptions{MaxActiveKeys: 3, Force: true}, WithOwner(4245, 4245)); err != nil {
			t.Fatalf("a lock file of the Keystone user: %v", err)
		}
	}
}
