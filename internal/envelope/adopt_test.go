package envelope

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

func TestAdoptRequestAndHolding(t *testing.T) {
	signer, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateSigner()
	uc, _ := GenerateIdentity()
	node, _ := GenerateIdentity()
	req, err := SignAdoptRequest(signer, "ctl0", uc.Recipient(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(req)
	tampered[3] ^= 1
	cases := []struct {
		name   string
		req    string
		pinned PublicKey
		server string
		want   error
	}{
		{"good", req, signer.Public(), "ctl0", nil},
		{"another signer", req, other.Public(), "ctl0", ErrBadSignature},
		{"another server", req, signer.Public(), "ctl1", ErrNotForThisNode},
		{"tampered", string(tampered), signer.Public(), "ctl0", nil /* any error */},
		{"not a request", "hello", signer.Public(), "ctl0", ErrDamaged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcpt, err := VerifyAdoptRequest(c.req, c.pinned, c.server)
			switch {
			case c.name == "good" && (err != nil || rcpt.String() != uc.Recipient().String()):
				t.Fatalf("got %v, %v", rcpt, err)
			case c.name != "good" && err == nil:
				t.Fatal("accepted")
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}

	set := keys.Set{0: mustKey(t, 1), 1: mustKey(t, 2), 2: mustKey(t, 3)}
	sealed, err := SealHolding(set, "ctl0", uc.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for i := range set {
		if strings.Contains(string(sealed), string(set[i].Encode())) {
			t.Fatal("a key is in the sealed holding in plaintext")
		}
	}
	got, err := OpenHolding(sealed, uc, "ctl0")
	if err != nil || got.Fingerprint() != set.Fingerprint() {
		t.Fatalf("open: %v", err)
	}
	if _, err := OpenHolding(sealed, uc, "ctl1"); !errors.Is(err, ErrNotForThisNode) {
		t.Fatalf("another server: %v", err)
	}
	if _, err := OpenHolding(sealed, node, "ctl0"); !errors.Is(err, ErrNotForThisNode) {
		t.Fatalf("another identity: %v", err)
	}
	// An envelope is not a holding.
	env, err := Seal(set, 1, "ctl0", uc.Recipient(), signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHolding(env, uc, "ctl0"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("an envelope opened as a holding: %v", err)
	}
}

func mustKey(t *testing.T, b byte) keys.Key {
	t.Helper()
	var k keys.Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// FuzzVerifyAdoptRequest: no panic; only the signer's request for this
// server verifies.
func FuzzVerifyAdoptRequest(f *testing.F) {
	signer, _ := GenerateSigner()
	uc, _ := GenerateIdentity()
	good, _ := SignAdoptRequest(signer, "ctl0", uc.Recipient(), time.Unix(0, 0))
	f.Add(good)
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, req string) {
		rcpt, err := VerifyAdoptRequest(req, signer.Public(), "ctl0")
		if err == nil && (req != good || rcpt.String() != uc.Recipient().String()) {
			t.Fatalf("accepted a request the signer did not make: %q", req)
		}
	})
}

// FuzzOpenHolding: no panic; what opens is the set of the server named.
func FuzzOpenHolding(f *testing.F) {
	uc, _ := GenerateIdentity()
	set := keys.Set{0: {1}, 1: {2}}
	sealed, _ := SealHolding(set, "ctl0", uc.Recipient())
	f.Add(sealed)
	f.Add([]byte("-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := OpenHolding(in, uc, "ctl0")
		if err == nil && got.Fingerprint().String() == "" {
			t.Fatal("opened an empty holding")
		}
	})
}
