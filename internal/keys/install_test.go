package keys

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallRepairsMalformedKeyFiles(t *testing.T) {
	next := Set{0: testKey(10), 1: testKey(1), 2: testKey(2)}
	dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
	os.WriteFile(filepath.Join(dir, "2"), []byte("garbage"), 0o600)      // next has 2: overwritten
	os.WriteFile(filepath.Join(dir, "5"), []byte("also garbage"), 0o600) // next has no 5: removed
	before := snapshot(t, dir)
	if _, err := Install(t.Context(), dir, next, InstallOptions{}); err == nil || !strings.Contains(err.Error(), "/2: ") {
		t.Fatalf("without Repair: %v, want the malformed file named", err)
	}
	if !sameSnapshot(before, snapshot(t, dir)) {
		t.Fatal("a refused install changed the repository")
	}
	res, err := Install(t.Context(), dir, next, InstallOptions{Repair: true})
	if err != nil || !res.Changed {
		t.Fatalf("repair: %+v %v", res, err)
	}
	r := mustOpen(t, dir)
	if r.Keys.Fingerprint() != next.Fingerprint() || len(mustEntries(t, dir)) != 3 {
		t.Fatalf("after repair: %v", mustEntries(t, dir))
	}
	// The same set again, once repaired, changes nothing.
	if res, err := Install(t.Context(), dir, next, InstallOptions{Repair: true}); err != nil || res.Changed {
		t.Fatalf("second install: %+v %v", res, err)
	}
	// Structural defects are still refused under Repair.
	os.Symlink(filepath.Join(dir, "1"), filepath.Join(dir, "7"))
	if _, err := Install(t.Context(), dir, next, InstallOptions{Repair: true}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("a symlink under Repair: %v", err)
	}
}

func TestAdoptAndObserve(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	if _, err := Setup(ctx, src, RotateOptions{MaxActiveKeys: 3}); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(src)
	dir := filepath.Join(t.TempDir(), "master")
	m, err := Adopt(ctx, dir, r.Keys, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Generation != 1 || m.Adopted == nil || m.Fingerprint != r.Keys.Fingerprint().String() {
		t.Fatalf("metadata %+v", m)
	}
	got, err := Open(dir)
	if err != nil || got.Keys.Fingerprint() != r.Keys.Fingerprint() {
		t.Fatalf("adopted %v", err)
	}
	if _, err := Adopt(ctx, dir, r.Keys, 0); !errors.Is(err, ErrInitialized) {
		t.Fatalf("adopt over keys: %v", err)
	}
	if _, err := Adopt(ctx, filepath.Join(t.TempDir(), "x"), Set{}, 0); err == nil {
		t.Fatal("adopted an empty set")
	}
	// Observe records a repository seeded by hand, once.
	os.Remove(MetadataPath(src))
	m, err = Observe(ctx, src)
	if err != nil || m.Generation != 1 || m.Adopted == nil {
		t.Fatalf("observe: %+v %v", m, err)
	}
	again, err := Observe(ctx, src)
	if err != nil || !again.Adopted.Equal(*m.Adopted) {
		t.Fatalf("observe again: %+v %v", again, err)
	}
}
