package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Format is the version of the envelope format this package writes and
// reads, both of the plaintext document and of the signed payload.
const Format = 1

// Size limits. An envelope for Keystone's largest sensible repository is a
// few kilobytes; anything much bigger is refused before it is decrypted.
const (
	MaxEnvelopeSize = 256 << 10 // armored
	maxPlaintext    = 128 << 10
	maxKeys         = 1000
	maxServerID     = 255
)

// signatureContext is prefixed to the payload before signing, so that an
// Ed25519 signature made for anything else can never pass as one of ours.
const signatureContext = "fernetflow envelope v1\x00"

// Sentinel errors a caller may branch on. Every error of Open wraps exactly
// one of them.
var (
	// ErrNotForThisNode means the envelope is sealed to another node's
	// identity, or names another server.
	ErrNotForThisNode = errors.New("envelope: not for this node")
	// ErrBadSignature means the payload is not signed by the pinned
	// signer: it was altered, or sealed by another undercloud.
	ErrBadSignature = errors.New("envelope: bad signature")
	// ErrUnknownVersion means the envelope is in a format this version of
	// fernetflow does not read.
	ErrUnknownVersion = errors.New("envelope: unknown format version")
	// ErrMalformedKey means a correctly signed payload holds an invalid
	// key, index, generation or fingerprint: the sealer is broken.
	ErrMalformedKey = errors.New("envelope: malformed key set")
	// ErrDamaged means the input is not a complete armored age envelope,
	// or failed age's authentication: it was truncated, altered or
	// mangled in transit.
	ErrDamaged = errors.New("envelope: damaged")

	// ErrNoIdentity means the node has no identity: it was not enrolled.
	ErrNoIdentity = errors.New("envelope: no node identity")
	// ErrBadRecipient means a recipient is not a node's age recipient.
	ErrBadRecipient = errors.New("envelope: not a node recipient")
	// ErrBadPublicKey means a signer public key is not one.
	ErrBadPublicKey = errors.New("envelope: not a signer public key")
	// ErrNoSigner means the state directory holds no signer.
	ErrNoSigner = errors.New("envelope: no signer")
	// ErrSignerMismatch means a signer's public key file does not match
	// its private key.
	ErrSignerMismatch = errors.New("envelope: the signer's files do not match")
)

// Envelope is the content of an opened envelope. Its keys print redacted.
type Envelope struct {
	ServerID    string
	Generation  uint64
	Issued      time.Time
	Keys        keys.Set
	Fingerprint keys.Fingerprint
}

// document is the plaintext inside age.
type document struct {
	Format    int             `json:"format"`
	Signer    string          `json:"signer"`
	Signed    json.RawMessage `json:"signed"`
	Signature string          `json:"signature"`
}

// payload is the signed part.
type payload struct {
	Format      int               `json:"format"`
	ServerID    string            `json:"server_id"`
	Generation  uint64            `json:"generation"`
	Issued      string            `json:"issued"`
	Keys        map[string]string `json:"keys"`
	Fingerprint string            `json:"fingerprint"`
}

// Seal signs the key set for server serverID at generation with signer, then
// encrypts it to the node's recipient and returns it ASCII-armored. The
// envelope holds the issue time (now, to the second).
func Seal(set keys.Set, generation uint64, serverID string, recipient *age.X25519Recipient, signer *Signer) ([]byte, error) {
	return seal(set, generation, serverID, recipient, signer, time.Now())
}

func seal(set keys.Set, generation uint64, serverID string, recipient *age.X25519Recipient, signer *Signer, now time.Time) ([]byte, error) {
	switch {
	case signer == nil:
		return nil, errors.New("envelope: seal: no signer")
	case recipient == nil:
		return nil, errors.New("envelope: seal: no recipient")
	case generation == 0:
		return nil, errors.New("envelope: seal: generation 0: generations start at 1")
	case len(set) > maxKeys:
		return nil, fmt.Errorf("envelope: seal: %d keys, at most %d fit in an envelope", len(set), maxKeys)
	}
	if err := checkServerID(serverID); err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	p := payload{
		Format:      Format,
		ServerID:    serverID,
		Generation:  generation,
		Issued:      now.UTC().Truncate(time.Second).Format(time.RFC3339),
		Fingerprint: set.Fingerprint().String(),
	}
	p.Keys = encodeKeys(set)
	signed, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	doc := document{
		Format:    Format,
		Signer:    signer.Public().String(),
		Signed:    signed,
		Signature: base64.StdEncoding.EncodeToString(signer.sign(append([]byte(signatureContext), signed...))),
	}
	plain, err := marshalDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	out, err := encrypt(plain, recipient)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	return out, nil
}

// encodeKeys is a set as the JSON of envelopes and holdings carries it:
// Keystone's file name to the key file's content.
func encodeKeys(set keys.Set) map[string]string {
	out := make(map[string]string, len(set))
	for i, k := range set {
		out[strconv.Itoa(i)] = string(k.Encode())
	}
	return out
}

// decodeKeys is the inverse of encodeKeys, refusing what is not a key
// (its errors wrap ErrMalformedKey and never quote a key).
func decodeKeys(m map[string]string) (keys.Set, error) {
	if len(m) > maxKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrMalformedKey, len(m), maxKeys)
	}
	set := keys.Set{}
	for name, enc := range m {
		i, err := strconv.Atoi(name)
		if err != nil || i < 0 || strconv.Itoa(i) != name {
			return nil, fmt.Errorf("%w: key index %q is not a non-negative integer in canonical form", ErrMalformedKey, abbreviate(name))
		}
		k, err := keys.ParseKey([]byte(enc))
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrMalformedKey, i, err)
		}
		set[i] = k
	}
	return set, nil
}

// marshalDocument is the one canonical encoding of a document: compact
// JSON and a newline.
func marshalDocument(d document) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func checkServerID(id string) error {
	if id == "" {
		return errors.New("the server id is empty: pass the Nova server id of the node")
	}
	if len(id) > maxServerID {
		return fmt.Errorf("the server id is %d bytes, at most %d", len(id), maxServerID)
	}
	for _, r := range id {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("the server id %q holds a space, control or invalid character", id)
		}
	}
	return nil
}

// Open decrypts an armored envelope with the node's identity, verifies its
// signature against the pinned signer, checks that it names serverID and is
// in a known format, and validates every key and the fingerprint. Each
// failure wraps one sentinel: [ErrDamaged], [ErrNotForThisNode],
// [ErrBadSignature], [ErrUnknownVersion] or [ErrMalformedKey]. Open does
// not check the generation against what the node holds: package node does.
func Open(armored []byte, identity *age.X25519Identity, pinned PublicKey, serverID string) (*Envelope, error) {
	if identity == nil {
		return nil, errors.New("envelope: open: no identity")
	}
	if err := checkServerID(serverID); err != nil {
		return nil, fmt.Errorf("envelope: open: %w", err)
	}
	plain, err := decrypt(armored, identity)
	if err != nil {
		return nil, err
	}
	doc, err := parseDocument(plain)
	if err != nil {
		return nil, err
	}
	if doc.Signer != pinned.String() {
		return nil, fmt.Errorf("%w: the envelope says it was signed by %s, but this node pins %s: seal with the pinned signer, or pin this undercloud's key", ErrBadSignature, abbreviate(doc.Signer), pinned)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(doc.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize ||
		!ed25519.Verify(ed25519.PublicKey(pinned[:]), append([]byte(signatureContext), doc.Signed...), sig) {
		return nil, fmt.Errorf("%w: the payload is not signed by %s: the envelope was altered after sealing, or sealed by another undercloud", ErrBadSignature, pinned)
	}
	return parsePayload(doc.Signed, serverID)
}

// decrypt checks the armor strictly and decrypts.
func decrypt(armored []byte, identity *age.X25519Identity) ([]byte, error) {
	if len(armored) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: the envelope is %d bytes, at most %d", ErrDamaged, len(armored), MaxEnvelopeSize)
	}
	// Tolerate blank lines around the envelope (a trailing newline added
	// or stripped on the way), nothing else: age's armor reader also skips
	// other white space, which would let a changed byte pass unnoticed.
	in := bytes.Trim(armored, "\n")
	if !bytes.HasPrefix(in, []byte(armor.Header+"\n")) {
		return nil, fmt.Errorf("%w: the input does not start with %q, as an armored envelope does", ErrDamaged, armor.Header)
	}
	if !bytes.HasSuffix(in, []byte("\n"+armor.Footer)) {
		return nil, fmt.Errorf("%w: the input does not end with %q: the envelope was truncated, or has data after its end", ErrDamaged, armor.Footer)
	}
	for i, c := range in {
		if !armorByte(c) {
			return nil, fmt.Errorf("%w: byte %d is not part of an armored envelope: it was mangled in transit", ErrDamaged, i+1)
		}
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(in)), identity)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, fmt.Errorf("%w: it is not sealed to this node's identity (%s): seal it to the recipient this node printed at enrollment", ErrNotForThisNode, identity.Recipient())
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxPlaintext+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	case len(plain) > maxPlaintext:
		return nil, fmt.Errorf("%w: the plaintext is over %d bytes", ErrDamaged, maxPlaintext)
	}
	return plain, nil
}

func armorByte(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return c == '+' || c == '/' || c == '=' || c == '-' || c == ' ' || c == '\n'
}

// parseDocument reads the plaintext, accepting only its canonical encoding.
func parseDocument(plain []byte) (*document, error) {
	var version struct {
		Format json.RawMessage `json:"format"`
	}
	if err := json.Unmarshal(plain, &version); err != nil {
		return nil, fmt.Errorf("%w: the decrypted document is not JSON: it was not sealed by fernetflow", ErrDamaged)
	}
	if string(version.Format) != strconv.Itoa(Format) {
		return nil, fmt.Errorf("%w: the document has format %s, this fernetflow reads format %d: upgrade fernetflow on this node", ErrUnknownVersion, abbreviate(string(version.Format)), Format)
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: the decrypted document is not a fernetflow envelope (%v)", ErrDamaged, err)
	}
	canonical, err := marshalDocument(doc)
	if err != nil || !bytes.Equal(canonical, plain) {
		return nil, fmt.Errorf("%w: the decrypted document is not in its canonical form: it was altered after sealing", ErrBadSignature)
	}
	return &doc, nil
}

// parsePayload reads and validates a payload whose signature is verified.
func parsePayload(signed []byte, serverID string) (*Envelope, error) {
	var version struct {
		Format json.RawMessage `json:"format"`
	}
	if err := json.Unmarshal(signed, &version); err != nil {
		return nil, fmt.Errorf("%w: the signed payload is not JSON", ErrMalformedKey)
	}
	if string(version.Format) != strconv.Itoa(Format) {
		return nil, fmt.Errorf("%w: the payload has format %s, this fernetflow reads format %d: upgrade fernetflow on this node", ErrUnknownVersion, abbreviate(string(version.Format)), Format)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(signed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		// The decoder's error may quote a value: keep only its kind.
		return nil, fmt.Errorf("%w: the signed payload does not decode as format %d", ErrMalformedKey, Format)
	}
	if p.ServerID != serverID {
		return nil, fmt.Errorf("%w: it was sealed for server %q, this is server %q: deliver each server its own envelope", ErrNotForThisNode, abbreviate(p.ServerID), serverID)
	}
	if p.Generation == 0 {
		return nil, fmt.Errorf("%w: generation 0: generations start at 1", ErrMalformedKey)
	}
	issued, err := time.Parse(time.RFC3339, p.Issued)
	if err != nil {
		return nil, fmt.Errorf("%w: the issue time is not RFC 3339", ErrMalformedKey)
	}
	set, err := decodeKeys(p.Keys)
	if err != nil {
		return nil, err
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	fp, err := keys.ParseFingerprint(p.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("%w: the fingerprint is not sha256:<64 hex digits>", ErrMalformedKey)
	}
	if got := set.Fingerprint(); got != fp {
		return nil, fmt.Errorf("%w: the keys have fingerprint %s, the payload says %s", ErrMalformedKey, got.Short(), fp.Short())
	}
	return &Envelope{ServerID: p.ServerID, Generation: p.Generation, Issued: issued, Keys: set, Fingerprint: fp}, nil
}
