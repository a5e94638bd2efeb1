package envelope

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary envelopes to Open (and Inspect): neither may
// panic, every error must wrap one sentinel, and whatever opens must be a
// valid set for the fixture server.
func FuzzOpen(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.age")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := os.ReadFile("testdata/identity")
	if err != nil {
		f.Fatal(err)
	}
	id, err := ParseIdentity(b)
	if err != nil {
		f.Fatal(err)
	}
	pinned, err := LoadPublicKey("testdata")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = Inspect(in)
		env, err := Open(in, id, pinned, fixtureServer)
		if err != nil {
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error wraps %d sentinels: %v", n, err)
			}
			return
		}
		if env.ServerID != fixtureServer || env.Generation == 0 || env.Keys.Validate() != nil || env.Keys.Fingerprint() != env.Fingerprint {
			t.Fatalf("opened an invalid envelope: %+v", env)
		}
	})
}
