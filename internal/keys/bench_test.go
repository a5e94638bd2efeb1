package keys

import (
	"context"
	"testing"
)

func BenchmarkOpen(b *testing.B) {
	dir := writeRepo(b, Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3), 4: testKey(4)})
	for b.Loop() {
		if _, err := Open(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotate measures one locked, fsynced rotation with metadata.
func BenchmarkRotate(b *testing.B) {
	dir := writeRepo(b, Set{0: testKey(0), 1: testKey(1), 2: testKey(2)})
	ro := RotateOptions{MaxActiveKeys: 3, Force: true}
	for b.Loop() {
		if _, err := Rotate(context.Background(), dir, ro); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	s := Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3), 4: testKey(4)}
	for b.Loop() {
		s.Fingerprint()
	}
}
