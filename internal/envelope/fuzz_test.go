package envelope

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	pinned := fixturePinned(f)
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

// FuzzParsePublicKey: no panic; what parses prints back to itself.
func FuzzParsePublicKey(f *testing.F) {
	f.Add("ed25519:H/lLGEodpLYPfrCnNNLTp8ijrlQ17XJ+sU76j3hqjLA=")
	f.Add("ed25519:")
	f.Add("ssh-ed25519 AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		q, err := ParsePublicKey(p.String())
		if err != nil || q != p {
			t.Fatalf("%q parsed, but its String %q does not round-trip", s, p.String())
		}
	})
}

// FuzzParseIdentity: no panic, and an error never quotes the input's
// secret-looking lines.
func FuzzParseIdentity(f *testing.F) {
	b, err := os.ReadFile("testdata/identity")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("# comment\nAGE-SECRET-KEY-1QQQQ\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := ParseIdentity(in)
		if err == nil {
			if id.Recipient() == nil {
				t.Fatal("identity without recipient")
			}
			return
		}
		for _, line := range strings.Split(string(in), "\n") {
			if len(line) >= 16 && strings.Contains(err.Error(), line) && !strings.Contains("(AGE-SECRET-KEY-1...)", line) {
				t.Fatalf("error quotes the input: %v", err)
			}
		}
	})
}
