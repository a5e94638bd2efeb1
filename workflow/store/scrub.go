package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Armor lines of an age envelope (filippo.io/age/armor).
const (
	armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----"
	armorEnd   = "-----END AGE ENCRYPTED FILE-----"
)

// ScrubEnvelopes returns s with every armored age envelope in it replaced
// by "<age envelope sha256:HEX, not stored>", HEX being the SHA-256 of the
// armored text (with its final newline), as fernetflow envelope inspect
// prints it. An envelope cut short (no END line) is replaced up to the end
// of s.
func ScrubEnvelopes(s string) string {
	if !strings.Contains(s, armorBegin) {
		return s
	}
	var out strings.Builder
	for {
		i := strings.Index(s, armorBegin)
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		rest := s[i:]
		n := len(rest)
		if j := strings.Index(rest, armorEnd); j >= 0 {
			n = j + len(armorEnd)
			if n < len(rest) && rest[n] == '\n' {
				n++
			}
		}
		sum := sha256.Sum256([]byte(rest[:n]))
		out.WriteString("<age envelope sha256:" + hex.EncodeToString(sum[:]) + ", not stored>")
		s = rest[n:]
	}
}

// scrubJSON applies ScrubEnvelopes to every string (and object key) of the
// JSON document b.
func scrubJSON(b []byte) ([]byte, error) {
	if !bytes.Contains(b, []byte(armorBegin)) {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(scrubValue(v))
}

func scrubValue(v any) any {
	switch x := v.(type) {
	case string:
		return ScrubEnvelopes(x)
	case []any:
		for i, e := range x {
			x[i] = scrubValue(e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[ScrubEnvelopes(k)] = scrubValue(e)
		}
		return out
	}
	return v
}
