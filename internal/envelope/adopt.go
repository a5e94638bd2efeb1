package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Adoption: the first run on a cloud whose nodes already share keys (made
// by keystone-manage) must take those keys as the master, not replace
// them. The undercloud asks each node for its set with an
// [AdoptRequest]: the undercloud's own age recipient and the server id,
// signed by the undercloud's signer. The node checks the signature against
// its pinned signer (so it never hands its keys to anyone else), then
// seals its set to that recipient with [SealHolding]; the undercloud opens
// it with [OpenHolding]. Like an envelope, a sealed holding is safe to
// carry in a Heat output or a workflow's history.

const (
	adoptContext   = "fernetflow adopt request v1\x00"
	holdingContext = "fernetflow holding v1"
)

// AdoptRequest is the signed request, as text.
type adoptRequest struct {
	Format    int    `json:"format"`
	ServerID  string `json:"server_id"`
	Recipient string `json:"recipient"`
	Issued    string `json:"issued"`
}

// SignAdoptRequest asks server serverID to seal its key set to recipient
// (the undercloud's identity), signed by signer. The result is one line of
// text: base64 of the request, a dot, base64 of the signature.
func SignAdoptRequest(signer *Signer, serverID string, recipient *age.X25519Recipient, now time.Time) (string, error) {
	if signer == nil || recipient == nil {
		return "", errors.New("envelope: adopt request: no signer or no recipient")
	}
	if err := checkServerID(serverID); err != nil {
		return "", fmt.Errorf("envelope: adopt request: %w", err)
	}
	b, err := json.Marshal(adoptRequest{Format: Format, ServerID: serverID, Recipient: recipient.String(), Issued: now.UTC().Truncate(time.Second).Format(time.RFC3339)})
	if err != nil {
		return "", err
	}
	sig := signer.sign(append([]byte(adoptContext), b...))
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifyAdoptRequest checks a request against the pinned signer and this
// node's server id and returns the recipient to seal to. Its errors wrap
// [ErrBadSignature] (not from the pinned signer, or altered),
// [ErrNotForThisNode] (for another server) or [ErrDamaged].
func VerifyAdoptRequest(req string, pinned PublicKey, serverID string) (*age.X25519Recipient, error) {
	body, sig, ok := strings.Cut(strings.TrimSpace(req), ".")
	if !ok || len(req) > 4096 {
		return nil, fmt.Errorf("%w: the adopt request is not two base64 parts joined by a dot", ErrDamaged)
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: the adopt request is not base64", ErrDamaged)
	}
	if len(s) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(pinned[:]), append([]byte(adoptContext), b...), s) {
		return nil, fmt.Errorf("%w: the adopt request is not signed by the pinned signer %s: this node hands its keys only to its own undercloud", ErrBadSignature, pinned)
	}
	var r adoptRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || r.Format != Format {
		return nil, fmt.Errorf("%w: the adopt request is not in format %d: upgrade fernetflow on this node", ErrUnknownVersion, Format)
	}
	if r.ServerID != serverID {
		return nil, fmt.Errorf("%w: the adopt request is for server %q, this is server %q", ErrNotForThisNode, abbreviate(r.ServerID), serverID)
	}
	rcpt, err := ParseRecipient(r.Recipient)
	if err != nil {
		return nil, fmt.Errorf("%w: the adopt request's recipient: %v", ErrDamaged, err)
	}
	return rcpt, nil
}

// holding is the plaintext of a sealed holding.
type holding struct {
	Context     string            `json:"context"`
	ServerID    string            `json:"server_id"`
	Keys        map[string]string `json:"keys"`
	Fingerprint string            `json:"fingerprint"`
}

// SealHolding encrypts the key set a node holds to the undercloud's
// recipient, bound to the node's server id, and armors it.
func SealHolding(set keys.Set, serverID string, recipient *age.X25519Recipient) ([]byte, error) {
	if recipient == nil {
		return nil, errors.New("envelope: seal holding: no recipient")
	}
	if err := checkServerID(serverID); err != nil {
		return nil, fmt.Errorf("envelope: seal holding: %w", err)
	}
	if len(set) > maxKeys {
		return nil, fmt.Errorf("envelope: seal holding: %d keys, at most %d", len(set), maxKeys)
	}
	h := holding{Context: holdingContext, ServerID: serverID, Keys: encodeKeys(set), Fingerprint: set.Fingerprint().String()}
	plain, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out, err := encrypt(plain, recipient)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal holding: %w", err)
	}
	return out, nil
}

// OpenHolding decrypts a holding sealed by server serverID to identity and
// returns its keys. Its errors wrap [ErrDamaged], [ErrNotForThisNode] or
// [ErrMalformedKey], and never quote key material.
func OpenHolding(armored []byte, identity *age.X25519Identity, serverID string) (keys.Set, error) {
	plain, err := decrypt(armored, identity)
	if err != nil {
		return nil, err
	}
	var h holding
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || h.Context != holdingContext {
		return nil, fmt.Errorf("%w: the sealed holding is not a fernetflow holding", ErrDamaged)
	}
	if h.ServerID != serverID {
		return nil, fmt.Errorf("%w: the holding was sealed by server %q, expected %q", ErrNotForThisNode, abbreviate(h.ServerID), serverID)
	}
	set, err := decodeKeys(h.Keys)
	if err != nil {
		return nil, err
	}
	if fp := set.Fingerprint().String(); fp != h.Fingerprint {
		return nil, fmt.Errorf("%w: the keys do not match the holding's fingerprint", ErrMalformedKey)
	}
	return set, nil
}

// encrypt encrypts plain to recipient with age and armors it; its errors
// are age's, for the caller to wrap.
func encrypt(plain []byte, recipient *age.X25519Recipient) ([]byte, error) {
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, recipient)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
