package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// testSet makes a realistic key set: set up, then rotated n times.
func testSet(t testing.TB, rotations int) keys.Set {
	t.Helper()
	dir := t.TempDir() + "/keys"
	ctx := context.Background()
	ro := keys.RotateOptions{MaxActiveKeys: 4, Force: true}
	if _, err := keys.Setup(ctx, dir, ro); err != nil {
		t.Fatal(err)
	}
	for range rotations {
		if _, err := keys.Rotate(ctx, dir, ro); err != nil {
			t.Fatal(err)
		}
	}
	r, err := keys.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Keys
}

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newSignerT(t testing.TB) *Signer {
	t.Helper()
	s, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	signer := newSignerT(t)
	set := testSet(t, 3)
	for n := 1; n <= 10; n++ {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			ids := make([]*age.X25519Identity, n)
			envs := make([][]byte, n)
			for i := range ids {
				ids[i] = newIdentity(t)
				env, err := Seal(set, 7, fmt.Sprintf("server-%d", i), ids[i].Recipient(), signer)
				if err != nil {
					t.Fatal(err)
				}
				envs[i] = env
			}
			for i := range ids {
				for j := range envs {
					got, err := Open(envs[j], ids[i], signer.Public(), fmt.Sprintf("server-%d", i))
					if i != j {
						if !errors.Is(err, ErrNotForThisNode) {
							t.Fatalf("node %d opened node %d's envelope: err = %v, want ErrNotForThisNode", i, j, err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if got.Generation != 7 || got.ServerID != fmt.Sprintf("server-%d", i) || got.Fingerprint != set.Fingerprint() || len(got.Keys) != len(set) {
						t.Fatalf("opened %+v", got)
					}
					for k, v := range set {
						if got.Keys[k] != v {
							t.Fatalf("key %d differs", k)
						}
					}
					if time.Since(got.Issued) > time.Minute {
						t.Fatalf("issued %v", got.Issued)
					}
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	signer, other := newSignerT(t), newSignerT(t)
	a, b := newIdentity(t), newIdentity(t)
	set := testSet(t, 2)
	envA, err := Seal(set, 3, "node-a", a.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	envOther, err := Seal(set, 3, "node-a", a.Recipient(), other)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		env      []byte
		id       *age.X25519Identity
		pinned   PublicKey
		server   string
		want     error
		contains string
	}{
		{"for node A opened by node B", envA, b, signer.Public(), "node-a", ErrNotForThisNode, "not sealed to this node's identity"},
		{"sealed for another server id", envA, a, signer.Public(), "node-b", ErrNotForThisNode, `sealed for server "node-a", this is server "node-b"`},
		{"signed by another undercloud", envOther, a, signer.Public(), "node-a", ErrBadSignature, "this node pins"},
		{"empty input", nil, a, signer.Public(), "node-a", ErrDamaged, "does not start with"},
		{"truncated", envA[:len(envA)/2], a, signer.Public(), "node-a", ErrDamaged, "truncated"},
		{"crlf line endings", bytes.ReplaceAll(envA, []byte("\n"), []byte("\r\n")), a, signer.Public(), "node-a", ErrDamaged, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.env, tc.id, tc.pinned, tc.server)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.contains)
			}
			assertNoSecrets(t, err.Error(), set, a, b)
		})
	}
	// A trailing newline added or stripped on the way is tolerated.
	for _, env := range [][]byte{bytes.TrimRight(envA, "\n"), append(bytes.Clone(envA), "\n\n"...), append([]byte("\n"), envA...)} {
		if _, err := Open(env, a, signer.Public(), "node-a"); err != nil {
			t.Fatalf("blank lines around the envelope: %v", err)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	signer, id := newSignerT(t), newIdentity(t)
	set := testSet(t, 1)
	noStaged := set.Clone()
	delete(noStaged, 0)
	for _, tc := range []struct {
		name   string
		set    keys.Set
		gen    uint64
		server string
	}{
		{"empty set", keys.Set{}, 1, "s"},
		{"no staged key", noStaged, 1, "s"},
		{"generation 0", set, 0, "s"},
		{"empty server id", set, 1, ""},
		{"server id with a space", set, 1, "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Seal(tc.set, tc.gen, tc.server, id.Recipient(), signer); err == nil {
				t.Fatal("sealed")
			}
		})
	}
}

// TestTamperArmored flips every byte of an armored envelope, several ways:
// each result must be refused.
func TestTamperArmored(t *testing.T) {
	signer, id := newSignerT(t), newIdentity(t)
	set := testSet(t, 2)
	env, err := Seal(set, 5, "node-a", id.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	flips := []func(byte) byte{
		func(c byte) byte { return c ^ 0x01 },
		func(c byte) byte { return c ^ 0x20 },
		func(c byte) byte { return c ^ 0x80 },
		func(byte) byte { return '\r' },
		func(byte) byte { return ' ' },
		func(byte) byte { return '\t' },
		func(byte) byte { return 'A' },
		func(byte) byte { return '=' },
	}
	if testing.Short() {
		flips = flips[:1]
	}
	for i := range env {
		for f, flip := range flips {
			c := flip(env[i])
			if c == env[i] {
				continue
			}
			bad := bytes.Clone(env)
			bad[i] = c
			if _, err := Open(bad, id, signer.Public(), "node-a"); err == nil {
				t.Fatalf("byte %d changed from %q to %q (flip %d): opened", i, env[i], c, f)
			} else {
				assertNoSecrets(t, err.Error(), set, id)
			}
		}
	}
}

// TestTamperPlaintext flips every byte of the decrypted document and
// re-encrypts it to the same node: each result must be refused.
func TestTamperPlaintext(t *testing.T) {
	signer, id := newSignerT(t), newIdentity(t)
	set := testSet(t, 2)
	env, err := Seal(set, 5, "node-a", id.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	plain := decryptT(t, env, id)
	for i := range plain {
		for _, x := range []byte{0x01, 0x20} {
			if testing.Short() && x != 0x01 {
				continue
			}
			bad := bytes.Clone(plain)
			bad[i] ^= x
			_, err := Open(encryptT(t, bad, id.Recipient()), id, signer.Public(), "node-a")
			if err == nil {
				t.Fatalf("plaintext byte %d changed from %q to %q: opened", i, plain[i], bad[i])
			}
			if errors.Is(err, ErrNotForThisNode) && !strings.Contains(err.Error(), "sealed for server") {
				t.Fatalf("plaintext byte %d: %v", i, err)
			}
			assertNoSecrets(t, err.Error(), set, id)
		}
	}
}

func decryptT(t testing.TB, env []byte, id *age.X25519Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(env)), id)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encryptT(t testing.TB, plain []byte, r *age.X25519Recipient) []byte {
	t.Helper()
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// assertNoSecrets fails when s holds any key of set, in any encoding, or an
// identity.
func assertNoSecrets(t testing.TB, s string, set keys.Set, ids ...*age.X25519Identity) {
	t.Helper()
	for i, k := range set {
		for _, enc := range []string{string(k.Encode()), base64.StdEncoding.EncodeToString(k[:]), base64.RawURLEncoding.EncodeToString(k[:]), fmt.Sprintf("%x", [32]byte(k))} {
			if strings.Contains(s, enc) {
				t.Fatalf("output holds key %d: %s", i, s)
			}
		}
	}
	for _, id := range ids {
		if strings.Contains(s, id.String()) || strings.Contains(strings.ToLower(s), "age-secret-key") {
			t.Fatalf("output holds an identity: %s", s)
		}
	}
}

func TestEnvelopeIsPrintableAndRedacted(t *testing.T) {
	signer, id := newSignerT(t), newIdentity(t)
	set := testSet(t, 1)
	env, err := Seal(set, 1, "node-a", id.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(env, []byte(armor.Header+"\n")) || !bytes.HasSuffix(env, []byte(armor.Footer+"\n")) {
		t.Fatalf("not armored:\n%s", env)
	}
	got, err := Open(env, id, signer.Public(), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, fmt.Sprintf("%v %+v %#v %s", got, got, got, signer), set, id)
	// The plaintext is the documented canonical document.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(decryptT(t, env, id), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"format", "signer", "signed", "signature"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("document lacks %q", f)
		}
	}
}

func TestInspect(t *testing.T) {
	signer, id := newSignerT(t), newIdentity(t)
	set := testSet(t, 1)
	env, err := Seal(set, 1, "node-a", id.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(env)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "age-encryption.org/v1" || len(info.Recipients) != 1 || info.Recipients[0] != "X25519" || !info.Fernetflow || info.PayloadBytes <= 0 || info.Bytes != len(env) {
		t.Fatalf("info = %+v", info)
	}
	b, _ := json.Marshal(info)
	assertNoSecrets(t, string(b), set, id)
	if strings.Contains(string(b), "node-a") {
		t.Fatalf("inspect shows the server id, which is inside the encryption: %s", b)
	}
	if _, err := Inspect([]byte("hello")); !errors.Is(err, ErrDamaged) {
		t.Fatalf("err = %v", err)
	}
}

func TestPublicKeyParse(t *testing.T) {
	s := newSignerT(t)
	p, err := ParsePublicKey(" " + s.Public().String() + "\n")
	if err != nil || p != s.Public() {
		t.Fatalf("ParsePublicKey = %v, %v", p, err)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:AAAA", "ssh-ed25519 AAAA", strings.Replace(s.Public().String(), "ed25519:", "ed448:", 1)} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", bad)
		}
	}
}
