package keys

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	old := Set{0: testKey(0), 1: testKey(1)}
	tok, err := IssueToken(old, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(tok, "=") || !strings.HasPrefix(tok, "gAAAAA") {
		t.Fatalf("token %q is not Keystone-style (version 0x80, padding stripped)", tok)
	}
	rotated := Set{0: testKey(2), 1: testKey(1), 2: testKey(0)}
	tests := []struct {
		name      string
		set       Set
		token     string
		wantIndex int
		wantErr   error
	}{
		{"same set", old, tok, 1, nil},
		{"after a rotation the old primary is a secondary", rotated, tok, 1, nil},
		{"padded form", old, tok + strings.Repeat("=", (4-len(tok)%4)%4), 1, nil},
		{"surrounding white space", old, " " + tok + "\n", 1, nil},
		{"key pruned", Set{0: testKey(5), 6: testKey(6)}, tok, 0, ErrTokenInvalid},
		{"tampered", old, tok[:len(tok)-2] + flip(tok[len(tok)-2]), 0, ErrTokenInvalid},
		{"garbage", old, "not-a-token", 0, ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, idx, err := VerifyToken(tt.set, tt.token, 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (string(msg) != "payload" || idx != tt.wantIndex) {
				t.Fatalf("msg %q index %d, want payload from %d", msg, idx, tt.wantIndex)
			}
		})
	}
	// Staged keys validate tokens too: a node one rotation ahead signs
	// with what is 0 here.
	ahead, _ := IssueToken(rotated, []byte("x"))
	if _, idx, err := VerifyToken(Set{0: testKey(0), 1: testKey(1)}, ahead, 0); err != nil || idx != 0 {
		t.Fatalf("a token of the next primary does not validate with the staged key: %v %d", err, idx)
	}
	if _, _, err := VerifyToken(old, tok, time.Nanosecond); err == nil {
		// Fernet timestamps have one-second resolution; wait it out.
		time.Sleep(1100 * time.Millisecond)
		if _, _, err := VerifyToken(old, tok, time.Nanosecond); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("an expired token passed the ttl check: %v", err)
		}
	}
	if _, err := IssueToken(Set{}, nil); err == nil {
		t.Fatal("issued a token with no keys")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
