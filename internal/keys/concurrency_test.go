package keys

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestParallelRotations(t *testing.T) {
	for _, wait := range []bool{false, true} {
		name := map[bool]string{false: "losers get ErrLocked", true: "waiters all rotate in turn"}[wait]
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			ro := RotateOptions{MaxActiveKeys: 4, Force: true}
			if _, err := Setup(t.Context(), dir, ro); err != nil {
				t.Fatal(err)
			}
			const workers = 16
			var opts []Option
			if wait {
				opts = append(opts, WithWait())
			}
			var (
				mu          sync.Mutex
				generations []uint64
				locked      int
				promoted    []string
			)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					<-start
					p, err := Rotate(context.Background(), dir, ro, opts...)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case errors.Is(err, ErrLocked):
						locked++
					case err != nil:
						t.Errorf("rotate: %v", err)
					default:
						generations = append(generations, p.Generation)
						promoted = append(promoted, p.Promoted.KeyID)
					}
				})
			}
			close(start)
			wg.Wait()
			slices.Sort(generations)
			if len(generations)+locked != workers {
				t.Fatalf("%d rotated + %d locked != %d", len(generations), locked, workers)
			}
			if wait && locked != 0 {
				t.Fatalf("%d waiters got ErrLocked", locked)
			}
			for i, g := range generations { // exactly 2, 3, ...: no generation twice, none skipped
				if g != uint64(i+2) {
					t.Fatalf("generations %v, want 2..%d", generations, len(generations)+1)
				}
			}
			slices.Sort(promoted)
			if len(slices.Compact(promoted)) != len(generations) {
				t.Fatal("a staged key was promoted twice")
			}
			m, err := ReadMetadata(dir)
			if err != nil || m.Generation != uint64(len(generations)+1) {
				t.Fatalf("metadata generation %v (%v), want %d", m, err, len(generations)+1)
			}
			r := mustOpen(t, dir)
			wantKeys := min(4, 2+len(generations))
			if len(r.Keys) != wantKeys {
				t.Fatalf("%d keys after %d rotations, want %d", len(r.Keys), len(generations), wantKeys)
			}
			seen := map[Key]bool{}
			for _, k := range r.Keys {
				if seen[k] {
					t.Fatal("a key is duplicated")
				}
				seen[k] = true
			}
			if m.Stale(r.Keys) {
				t.Fatal("metadata does not describe the keys on disk")
			}
		})
	}
}

func TestWaitGivesUpWithTheContext(t *testing.T) {
	dir := writeRepo(t, Set{0: testKey(0), 1: testKey(1)})
	c := newConfig(nil)
	unlock, err := lock(t.Context(), dir, c)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = Rotate(ctx, dir, RotateOptions{}, WithWait())
	if !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrLocked and the deadline", err)
	}
	if _, err := Rotate(t.Context(), dir, RotateOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}
