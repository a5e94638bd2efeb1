package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Role is what a key does in a repository.
type Role int

// Keystone's roles: the staged key 0 becomes the next primary; the highest
// index is the primary, which signs new tokens; every other key is a
// secondary that still validates tokens.
const (
	Staged Role = iota
	Primary
	Secondary
)

func (r Role) String() string {
	switch r {
	case Staged:
		return "staged"
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Set is the content of a key repository: keys by file name (index).
type Set map[int]Key

// Indexes returns the indexes in ascending order.
func (s Set) Indexes() []int {
	return slices.Sorted(maps.Keys(s))
}

// Primary returns the index of the primary key, the highest index, as
// Keystone picks it. In a repository holding only 0, 0 is also the primary.
func (s Set) Primary() (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	return slices.Max(slices.Collect(maps.Keys(s))), true
}

// Role returns the role of the key at index i.
func (s Set) Role(i int) Role {
	p, _ := s.Primary()
	switch {
	case i == p:
		return Primary
	case i == 0:
		return Staged
	}
	return Secondary
}

// Clone returns a copy that can be changed independently.
func (s Set) Clone() Set { return maps.Clone(s) }

// Contains reports whether some index of s holds k.
func (s Set) Contains(k Key) bool {
	for _, v := range s {
		if v == k {
			return true
		}
	}
	return false
}

// Validate checks that s can be a token key repository: not empty and
// holding the staged key 0.
func (s Set) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("key set is empty")
	}
	if _, ok := s[0]; !ok {
		return fmt.Errorf("key set has no staged key 0")
	}
	return nil
}

// Fingerprint identifies a key set: the SHA-256 of one line per key in
// ascending index order, "<role> <index> <encoded key>\n". Two repositories
// have the same fingerprint exactly when they hold the same keys under the
// same names, so the same key is primary in both.
//
// In JSON (and any text encoding) the zero Fingerprint stands for "no
// set" (an empty or unreadable repository, a node that never installed
// one): it marshals as "", and "" unmarshals to it; any other Fingerprint
// marshals as its long form. So a struct with a Fingerprint field has the
// JSON it had when the field was that string; tag an optional one
// `omitzero`, not `omitempty`. String and Short always print the digest.
type Fingerprint [sha256.Size]byte

// Fingerprint computes the set's fingerprint.
func (s Set) Fingerprint() Fingerprint {
	h := sha256.New()
	for _, i := range s.Indexes() {
		fmt.Fprintf(h, "%s %d %s\n", s.Role(i), i, s[i].Encode())
	}
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// String is the long form, "sha256:" and 64 hex digits.
func (f Fingerprint) String() string { return "sha256:" + hex.EncodeToString(f[:]) }

// Short is the first 12 hex digits, for tables and logs.
func (f Fingerprint) Short() string { return hex.EncodeToString(f[:6]) }

// IsZero reports whether f is the zero Fingerprint, "no set" in JSON.
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// MarshalText is the long form, or nothing for the zero Fingerprint.
func (f Fingerprint) MarshalText() ([]byte, error) {
	if f.IsZero() {
		return []byte{}, nil
	}
	return []byte(f.String()), nil
}

// UnmarshalText reads the long form; an empty text is the zero
// Fingerprint.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = Fingerprint{}
		return nil
	}
	p, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// ParseFingerprint reads the long form printed by [Fingerprint.String].
// The empty string is not a fingerprint (UnmarshalText reads it as the
// zero one).
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	const prefix = "sha256:"
	if len(s) != len(prefix)+2*len(f) || s[:len(prefix)] != prefix {
		return f, fmt.Errorf("keys: fingerprint %q is not sha256:<64 hex digits>", s)
	}
	if _, err := hex.Decode(f[:], []byte(s[len(prefix):])); err != nil {
		return f, fmt.Errorf("keys: fingerprint %q is not sha256:<64 hex digits>", s)
	}
	return f, nil
}
