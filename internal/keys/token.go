package keys

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fernet/fernet-go"
)

// ErrTokenInvalid means no key of the set validates a token.
var ErrTokenInvalid = errors.New("keys: no key of the set validates the token")

// IssueToken signs and encrypts msg with the set's primary key and returns
// the token as Keystone issues it: URL-safe base64 with the '=' padding
// stripped. It is for checking a repository, not for issuing real tokens.
func IssueToken(s Set, msg []byte) (string, error) {
	p, ok := s.Primary()
	if !ok {
		return "", fmt.Errorf("keys: issue a token: the key set is empty")
	}
	tok, err := fernet.EncryptAndSign(msg, s[p].fernet())
	if err != nil {
		return "", fmt.Errorf("keys: issue a token: %w", err)
	}
	return strings.TrimRight(string(tok), "="), nil
}

// VerifyToken checks a token (Keystone-style, padding stripped or not)
// against every key of the set, as Keystone does, and returns its message
// and the index of the key that validated it. A ttl of zero skips the age
// check. It fails with ErrTokenInvalid when no key validates the token.
func VerifyToken(s Set, token string, ttl time.Duration) (msg []byte, index int, err error) {
	tok := strings.TrimSpace(token)
	tok += strings.Repeat("=", (4-len(tok)%4)%4)
	for _, i := range s.Indexes() {
		if m := fernet.VerifyAndDecrypt([]byte(tok), ttl, []*fernet.Key{s[i].fernet()}); m != nil {
			return m, i, nil
		}
	}
	return nil, 0, ErrTokenInvalid
}
