package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files of a signer directory.
const (
	// SignerKeyFile holds the private key: PKCS #8 in PEM, mode 0600.
	SignerKeyFile = "signer.key"
	// SignerPublicFile holds the public key as one line (see PublicKey.String).
	SignerPublicFile = "signer.pub"
)

const publicKeyPrefix = "ed25519:"

// PublicKey is the undercloud signer's Ed25519 public key, which nodes pin.
type PublicKey [ed25519.PublicKeySize]byte

// String returns the one-line form nodes pin: "ed25519:" and the standard
// base64 (with padding) of the 32-byte key.
func (p PublicKey) String() string {
	return publicKeyPrefix + base64.StdEncoding.EncodeToString(p[:])
}

// ParsePublicKey reads the form printed by [PublicKey.String]. Surrounding
// white space is ignored.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	t := strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(t, publicKeyPrefix)
	if !ok {
		return p, fmt.Errorf("%w: %q does not start with %q", ErrBadPublicKey, abbreviate(t), publicKeyPrefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != len(p) {
		return p, fmt.Errorf("%w: %q is not ed25519: and the base64 of 32 bytes", ErrBadPublicKey, abbreviate(t))
	}
	copy(p[:], b)
	return p, nil
}

// abbreviate shortens user input quoted in an error.
func abbreviate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Signer is the undercloud's Ed25519 signing key. Its fmt verbs print only
// the public key.
type Signer struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

// GenerateSigner makes a new signer from crypto/rand.
func GenerateSigner() (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("envelope: generate a signer: %w", err)
	}
	return newSigner(priv), nil
}

func newSigner(priv ed25519.PrivateKey) *Signer {
	s := &Signer{priv: priv}
	copy(s.pub[:], priv.Public().(ed25519.PublicKey))
	return s
}

// Public returns the public key to pin on nodes.
func (s *Signer) Public() PublicKey { return s.pub }

// Format prints the signer as its public key, for every verb.
func (s *Signer) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "envelope.Signer(%s)", s.pub)
}

func (s *Signer) sign(msg []byte) []byte { return ed25519.Sign(s.priv, msg) }

// marshalPrivate returns the PKCS #8 PEM form of the private key.
func (s *Signer) marshalPrivate() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// InitSigner makes a signer in dir (created 0700 if missing) unless one
// exists there, and returns it; created says whether it is new. The private
// key is written to dir/signer.key with mode 0600 and the public key to
// dir/signer.pub. It is idempotent and safe to run concurrently: an
// existing key is never replaced.
func InitSigner(dir string) (s *Signer, created bool, err error) {
	if err := ensurePrivateDir(dir); err != nil {
		return nil, false, fmt.Errorf("envelope: signer directory: %w", err)
	}
	keyPath := filepath.Join(dir, SignerKeyFile)
	if _, err := os.Lstat(keyPath); errors.Is(err, fs.ErrNotExist) {
		s, err = GenerateSigner()
		if err != nil {
			return nil, false, err
		}
		pemBytes, err := s.marshalPrivate()
		if err != nil {
			return nil, false, fmt.Errorf("envelope: encode the signer key: %w", err)
		}
		switch err := createExclusive(keyPath, pemBytes, 0o600); {
		case err == nil:
			created = true
		case errors.Is(err, fs.ErrExist):
			// Another process made it first: use theirs.
		default:
			return nil, false, fmt.Errorf("envelope: write %s: %w", keyPath, err)
		}
	}
	s, err = LoadSigner(dir)
	if err != nil {
		return nil, false, err
	}
	if err := writePublic(dir, s.Public()); err != nil {
		return nil, false, err
	}
	return s, created, nil
}

// writePublic writes dir/signer.pub when it is missing and checks it
// otherwise.
func writePublic(dir string, pub PublicKey) error {
	path := filepath.Join(dir, SignerPublicFile)
	line := []byte(pub.String() + "\n")
	err := createExclusive(path, line, 0o644)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("envelope: write %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(line)) {
		return fmt.Errorf("%w: %s does not match %s: it is not this signer's public key; remove %s, and initializing the signer again rewrites it", ErrSignerMismatch, path, filepath.Join(dir, SignerKeyFile), path)
	}
	return nil
}

// LoadSigner reads the signer in dir (dir/signer.key).
func LoadSigner(dir string) (*Signer, error) {
	path := filepath.Join(dir, SignerKeyFile)
	b, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoSigner, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: signer key: %w", err)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("envelope: %s is not one PEM \"PRIVATE KEY\" block: restore it from backup", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("envelope: %s is not a PKCS #8 private key: restore it from backup", path)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("envelope: %s is not an Ed25519 key (%T): restore it from backup", path, k)
	}
	return newSigner(priv), nil
}

// LoadPublicKey returns the public key of the signer in dir: derived from
// dir/signer.key when this host holds it, else read from dir/signer.pub.
func LoadPublicKey(dir string) (PublicKey, error) {
	if s, err := LoadSigner(dir); err == nil {
		return s.Public(), nil
	} else if _, serr := os.Stat(filepath.Join(dir, SignerKeyFile)); serr == nil {
		return PublicKey{}, err
	}
	path := filepath.Join(dir, SignerPublicFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return PublicKey{}, fmt.Errorf("%w in %s", ErrNoSigner, dir)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("envelope: %w", err)
	}
	return ParsePublicKey(string(b))
}
