package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/fernetflow/fernetflow/internal/keys"
)

var update = flag.Bool("update", false, "rewrite testdata/*.age and *.err")

// The fixtures' node and server. testdata/identity and testdata/signer.key
// are throwaway test keys.
const fixtureServer = "controller-0"

var sentinels = map[string]error{
	"ErrNotForThisNode": ErrNotForThisNode,
	"ErrBadSignature":   ErrBadSignature,
	"ErrUnknownVersion": ErrUnknownVersion,
	"ErrMalformedKey":   ErrMalformedKey,
	"ErrDamaged":        ErrDamaged,
}

// fixturePinned reads the fixture signer's public key from signer.pub:
// LoadPublicKey would prefer signer.key, which git checks out world-readable
// and which LoadSigner then (rightly) refuses.
func fixturePinned(t testing.TB) PublicKey {
	t.Helper()
	b, err := os.ReadFile("testdata/signer.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestTestdata opens every testdata/*.age with the fixture identity and
// signer, and checks the result against the .err beside it: the sentinel
// on the first line, the exact message on the second ("ok" when the
// envelope must open).
func TestTestdata(t *testing.T) {
	if *update {
		writeTestdata(t)
	}
	// git does not keep the fixtures' 0600 modes: read them directly.
	b, err := os.ReadFile("testdata/identity")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	pinned := fixturePinned(t)
	files, _ := filepath.Glob("testdata/*.age")
	if len(files) < 10 {
		t.Fatalf("only %d testdata envelopes", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".age")
		t.Run(name, func(t *testing.T) {
			env, _ := os.ReadFile(f)
			want, err := os.ReadFile(strings.TrimSuffix(f, ".age") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			sentinel, msg, _ := strings.Cut(strings.TrimRight(string(want), "\n"), "\n")
			_, err = Open(env, id, pinned, fixtureServer)
			if sentinel == "ok" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("opened, want %s", sentinel)
			}
			if !errors.Is(err, sentinels[sentinel]) {
				t.Fatalf("err = %v, want %s", err, sentinel)
			}
			if err.Error() != msg {
				t.Fatalf("err =\n%s\nwant\n%s", err, msg)
			}
		})
	}
}

func writeTestdata(t *testing.T) {
	t.Helper()
	os.Chmod("testdata", 0o755)
	os.Chmod("testdata/signer.key", 0o600)
	os.Chmod("testdata/identity", 0o600)
	signer, _, err := InitSigner("testdata")
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := InitIdentity("testdata/identity", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	other, stranger := newSignerT(t), newIdentity(t)
	set := testSet(t, 2)
	good, err := Seal(set, 4, fixtureServer, id.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	plain := decryptT(t, good, id)
	var doc document
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(doc.Signed, &p)
	// resign re-signs a changed payload, as a broken sealer holding the
	// real signer would.
	resign := func(change func(p map[string]any)) []byte {
		q := map[string]any{}
		b, _ := json.Marshal(p)
		json.Unmarshal(b, &q)
		change(q)
		signed, _ := json.Marshal(q)
		d := document{Format: Format, Signer: signer.Public().String(), Signed: signed,
			Signature: base64.StdEncoding.EncodeToString(signer.sign(append([]byte(signatureContext), signed...)))}
		out, _ := marshalDocument(d)
		return encryptT(t, out, id.Recipient())
	}
	seal := func(set keys.Set, server string, r *age.X25519Recipient, s *Signer) []byte {
		env, err := Seal(set, 4, server, r, s)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	keysOf := func(q map[string]any) map[string]any { return q["keys"].(map[string]any) }
	anyKey := func(q map[string]any) string {
		for k := range keysOf(q) {
			if k != "0" {
				return k
			}
		}
		return ""
	}
	cases := map[string][]byte{
		"valid":                           good,
		"valid-trailing-newline-stripped": bytes.Clone(bytes.TrimRight(good, "\n")),
		"for-another-node":                seal(set, fixtureServer, stranger.Recipient(), signer),
		"for-another-server-id":           seal(set, "controller-1", id.Recipient(), signer),
		"signed-by-another-undercloud":    seal(set, fixtureServer, id.Recipient(), other),
		"signer-field-forged": func() []byte {
			// Another undercloud claims to be ours: the signature fails.
			env := seal(set, fixtureServer, id.Recipient(), other)
			pl := bytes.Replace(decryptT(t, env, id), []byte(other.Public().String()), []byte(signer.Public().String()), 1)
			return encryptT(t, pl, id.Recipient())
		}(),
		"payload-altered": encryptT(t, bytes.Replace(plain, []byte(`"generation":4`), []byte(`"generation":9`), 1), id.Recipient()),
		"signature-altered": func() []byte {
			sig, _ := base64.StdEncoding.DecodeString(doc.Signature)
			sig[0] ^= 1
			d := doc
			d.Signature = base64.StdEncoding.EncodeToString(sig)
			out, _ := marshalDocument(d)
			return encryptT(t, out, id.Recipient())
		}(),
		"document-not-canonical":   encryptT(t, bytes.Replace(plain, []byte(`{"format":1,`), []byte(`{"format":1, `), 1), id.Recipient()),
		"document-unknown-version": encryptT(t, bytes.Replace(plain, []byte(`{"format":1,`), []byte(`{"format":2,`), 1), id.Recipient()),
		"document-not-json":        encryptT(t, []byte("hello\n"), id.Recipient()),
		"payload-unknown-version":  resign(func(q map[string]any) { q["format"] = 2 }),
		"payload-generation-zero":  resign(func(q map[string]any) { q["generation"] = 0 }),
		"payload-unknown-field":    resign(func(q map[string]any) { q["extra"] = true }),
		"key-hex-encoded": resign(func(q map[string]any) {
			keysOf(q)[anyKey(q)] = strings.Repeat("ab", 32)
		}),
		"key-too-short": resign(func(q map[string]any) { keysOf(q)[anyKey(q)] = "c2hvcnQ=" }),
		"key-index-not-canonical": resign(func(q map[string]any) {
			k := anyKey(q)
			keysOf(q)["0"+k] = keysOf(q)[k]
			delete(keysOf(q), k)
		}),
		"key-index-negative": resign(func(q map[string]any) { keysOf(q)["-1"] = keysOf(q)["0"] }),
		"no-staged-key":      resign(func(q map[string]any) { delete(keysOf(q), "0") }),
		"fingerprint-wrong": resign(func(q map[string]any) {
			q["fingerprint"] = "sha256:" + strings.Repeat("0", 64)
		}),
		"truncated":           bytes.Clone(good[:len(good)/2]),
		"ciphertext-altered":  flipInBody(good, len(good)-60),
		"header-altered":      flipInBody(good, len("-----BEGIN AGE ENCRYPTED FILE-----\n")+40),
		"crlf-line-endings":   bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")),
		"final-newline-to-cr": append(bytes.Clone(bytes.TrimRight(good, "\n")), '\r'),
		"not-armored":         []byte("age-encryption.org/v1\n"),
		"trailing-garbage":    append(bytes.Clone(good), "x\n"...),
	}
	for name, env := range cases {
		if err := os.WriteFile(filepath.Join("testdata", name+".age"), env, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(env, id, signer.Public(), fixtureServer)
		want := "ok\n"
		if err != nil {
			s := "unknown"
			for n, e := range sentinels {
				if errors.Is(err, e) {
					s = n
				}
			}
			want = fmt.Sprintf("%s\n%s\n", s, err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name+".err"), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// flipInBody changes one base64 character at offset i to another valid one.
func flipInBody(env []byte, i int) []byte {
	b := bytes.Clone(env)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return b
}
