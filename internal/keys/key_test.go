package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"
)

func TestParseKey(t *testing.T) {
	good := testKey(1)
	enc := string(good.Encode())
	raw := good[:]
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"keystone format", enc, ""},
		{"empty", "", "empty"},
		{"trailing newline", enc + "\n", "newline"},
		{"trailing CRLF", enc + "\r\n", "newline"},
		{"hex", hex.EncodeToString(raw), "hex-encoded"},
		{"standard base64", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "standard base64"},
		{"slash only", strings.Repeat("/", 43) + "=", "holds + or /"},
		{"31 bytes", base64.URLEncoding.EncodeToString(raw[:31]), "31 bytes, want 32"},
		{"33 bytes", base64.URLEncoding.EncodeToString(append(raw, 0)), "33 bytes, want 32"},
		{"unpadded 44 chars", strings.TrimRight(enc, "=") + "A", "33 bytes, want 32"},
		{"missing padding", strings.TrimRight(enc, "="), "43 bytes, want 44"},
		{"bad character", "!" + enc[1:], "byte 1 is not in the alphabet"},
		{"garbage", "not a key", "9 bytes, want 44"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if k != good {
					t.Fatal("decoded a different key")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseKey error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Fatalf("error quotes the key material: %v", err)
			}
		})
	}
}

// fernet.DecodeKey takes formats Keystone's files never hold; ParseKey must not.
func TestParseKeyStricterThanFernetGo(t *testing.T) {
	k := testKey(2)
	for _, lenient := range []string{hex.EncodeToString(k[:]), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))} {
		if _, err := fernet.DecodeKey(lenient); err != nil {
			t.Fatalf("fernet.DecodeKey(%q) failed; the premise of this test is gone: %v", lenient, err)
		}
		if _, err := ParseKey([]byte(lenient)); err == nil {
			t.Errorf("ParseKey(%q) accepted a format Keystone does not write", lenient)
		}
	}
}

func TestKeyRedactsItself(t *testing.T) {
	k := testKey(3)
	enc := string(k.Encode())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(out, enc) || strings.Contains(out, hex.EncodeToString(k[:])) || strings.Contains(strings.ToLower(out), hex.EncodeToString(k[:4])) {
			t.Errorf("Sprintf(%s) leaks the key: %s", verb, out)
		}
		if !strings.Contains(out, k.ID()) {
			t.Errorf("Sprintf(%s) = %s, want the key ID", verb, out)
		}
	}
	s := Set{0: k}
	if out := fmt.Sprintf("%v %+v", s, s); strings.Contains(out, enc) {
		t.Errorf("a Set leaks its keys: %s", out)
	}
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKey(nil)
	if a == b {
		t.Fatal("two random keys are equal")
	}
	if _, err := ParseKey(a.Encode()); err != nil {
		t.Fatalf("a generated key does not parse: %v", err)
	}
	if _, err := GenerateKey(strings.NewReader("short")); err == nil {
		t.Fatal("GenerateKey with a short reader succeeded")
	}
}

func TestFingerprint(t *testing.T) {
	base := Set{0: testKey(0), 1: testKey(1), 2: testKey(2)}
	tests := []struct {
		name string
		set  Set
		same bool
	}{
		{"same keys, new map", Set{2: testKey(2), 0: testKey(0), 1: testKey(1)}, true},
		{"one key differs", Set{0: testKey(0), 1: testKey(1), 2: testKey(9)}, false},
		{"same keys, other names", Set{0: testKey(0), 1: testKey(1), 3: testKey(2)}, false},
		{"roles swapped", Set{0: testKey(2), 1: testKey(1), 2: testKey(0)}, false},
		{"a key more", Set{0: testKey(0), 1: testKey(1), 2: testKey(2), 3: testKey(3)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set.Fingerprint() == base.Fingerprint(); got != tt.same {
				t.Fatalf("equal fingerprints = %v, want %v", got, tt.same)
			}
		})
	}
	fp := base.Fingerprint()
	back, err := ParseFingerprint(fp.String())
	if err != nil || back != fp {
		t.Fatalf("ParseFingerprint(String()) = %v, %v", back, err)
	}
	if len(fp.Short()) != 12 || !strings.HasPrefix(fp.String(), "sha256:"+fp.Short()) {
		t.Fatalf("Short %q is not the start of %q", fp.Short(), fp.String())
	}
	for _, bad := range []string{"", "sha256:", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("g", 64)} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) succeeded", bad)
		}
	}
}

func TestFingerprintGolden(t *testing.T) {
	// The fingerprint is a wire contract (nodes report it): pin its definition.
	s := Set{0: testKey(0), 1: testKey(1)}
	var b strings.Builder
	fmt.Fprintf(&b, "staged 0 %s\nprimary 1 %s\n", testKey(0).Encode(), testKey(1).Encode())
	want := fmt.Sprintf("sha256:%x", sha256Sum(b.String()))
	if got := s.Fingerprint().String(); got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}

func TestRoles(t *testing.T) {
	s := Set{0: testKey(0), 3: testKey(3), 4: testKey(4), 5: testKey(5)}
	want := map[int]Role{0: Staged, 3: Secondary, 4: Secondary, 5: Primary}
	for i, r := range want {
		if got := s.Role(i); got != r {
			t.Errorf("Role(%d) = %s, want %s", i, got, r)
		}
	}
	if p, _ := (Set{0: testKey(0)}).Primary(); p != 0 {
		t.Errorf("a set of only 0 has primary %d, want 0 (Keystone uses the highest index)", p)
	}
	if _, ok := (Set{}).Primary(); ok {
		t.Error("an empty set has a primary")
	}
}
