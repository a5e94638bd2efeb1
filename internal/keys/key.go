package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/fernet/fernet-go"
)

// KeySize is the size of a decoded Fernet key: a 16-byte HMAC key followed
// by a 16-byte AES key.
const KeySize = 32

// EncodedKeySize is the size of a key file: URL-safe base64 with padding,
// no newline, exactly as Keystone writes it.
const EncodedKeySize = 44

// Key is one Fernet key. Its fmt verbs print a redacted form, so a Key that
// reaches a log line or an error by mistake never shows its bytes; use
// [Key.Encode] to get the file content and [Key.ID] to name it in logs.
type Key [KeySize]byte

// GenerateKey reads a new random key from r (crypto/rand.Reader when nil).
func GenerateKey(r io.Reader) (Key, error) {
	if r == nil {
		r = rand.Reader
	}
	var k Key
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return Key{}, fmt.Errorf("keys: generate a key: %w", err)
	}
	return k, nil
}

// Encode returns the key as Keystone stores it in a key file.
func (k Key) Encode() []byte {
	b := make([]byte, EncodedKeySize)
	base64.URLEncoding.Encode(b, k[:])
	return b
}

// ID names a key without revealing it: the first 12 hex digits of a
// domain-separated SHA-256 of the key. It is safe to log and to store.
func (k Key) ID() string {
	h := sha256.New()
	h.Write([]byte("fernetflow key id v1\x00"))
	h.Write(k[:])
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Format prints a redacted form for every verb, so that %v, %s, %x and %#v
// never leak key material.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "keys.Key(%s)", k.ID())
}

func (k Key) fernet() *fernet.Key {
	fk := fernet.Key(k)
	return &fk
}

// ParseKey checks that b is one key in Keystone's exact on-disk format and
// decodes it. fernet.DecodeKey is more lenient (it takes hex and standard
// base64), so it must not be used to validate a repository. The error names
// the defect and the fix, never the key's content.
func ParseKey(b []byte) (Key, error) {
	switch {
	case len(b) == 0:
		return Key{}, fmt.Errorf("key file is empty: Keystone skips it; remove it")
	case bytes.HasSuffix(b, []byte("\n")) || bytes.HasSuffix(b, []byte("\r")):
		if _, err := ParseKey(bytes.TrimRight(b, "\r\n")); err == nil {
			return Key{}, fmt.Errorf("key ends with a newline: Keystone writes keys without one; rewrite the file without it (printf %%s)")
		}
	}
	if isHex(b) && len(b) == 2*KeySize {
		return Key{}, notAKey("key is hex-encoded: Keystone needs URL-safe base64 (A-Z a-z 0-9 - _ with = padding); replace the file with a new key")
	}
	if bytes.ContainsAny(b, "+/") {
		if k, err := base64.StdEncoding.Strict().DecodeString(string(b)); err == nil && len(k) == KeySize {
			return Key{}, fmt.Errorf("key is in standard base64 (+ and /): Keystone writes URL-safe base64; replace + with - and / with _")
		}
		return Key{}, notAKey("key is not URL-safe base64: it holds + or /; replace the file with a new key")
	}
	if len(b) != EncodedKeySize {
		if n, err := base64.URLEncoding.Strict().DecodeString(string(b)); err == nil {
			return Key{}, fmt.Errorf("key is %d bytes, want %d: a Fernet key is %d random bytes in URL-safe base64 (%d characters)", len(n), KeySize, KeySize, EncodedKeySize)
		}
		return Key{}, fmt.Errorf("key file is %d bytes, want %d characters of URL-safe base64", len(b), EncodedKeySize)
	}
	raw, err := base64.URLEncoding.Strict().DecodeString(string(b))
	if err != nil {
		return Key{}, notAKey(fmt.Sprintf("key is not URL-safe base64 (%s): replace the file with a new key", describeBase64Error(b)))
	}
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("key is %d bytes, want %d: a Fernet key is %d random bytes in URL-safe base64 with one = of padding", len(raw), KeySize, KeySize)
	}
	return Key(raw), nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return false
		}
	}
	return len(b) > 0
}

// describeBase64Error says where a key stops being base64 without quoting it.
func describeBase64Error(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i, c := range b {
		if c == '=' && i >= EncodedKeySize-2 {
			continue
		}
		if !strings.ContainsRune(alphabet, rune(c)) {
			return fmt.Sprintf("byte %d is not in the alphabet", i+1)
		}
	}
	return "bad padding"
}
