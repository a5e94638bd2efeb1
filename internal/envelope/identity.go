package envelope

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// GenerateIdentity makes a new node identity.
func GenerateIdentity() (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("envelope: generate a node identity: %w", err)
	}
	return id, nil
}

// MarshalIdentity returns id in age's identity file format, as age-keygen
// writes it, so that `age -d -i FILE` reads it.
func MarshalIdentity(id *age.X25519Identity, created time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# created: %s\n", created.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# public key: %s\n", id.Recipient())
	b.WriteString("# fernetflow node identity: it never leaves this node\n")
	b.WriteString(id.String())
	b.WriteString("\n")
	return []byte(b.String())
}

// ParseIdentity reads an identity file holding exactly one X25519 identity.
// Its errors never quote the file.
func ParseIdentity(b []byte) (*age.X25519Identity, error) {
	var found *age.X25519Identity
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("line %d: a second identity: a node identity file holds exactly one", n+1)
		}
		id, err := age.ParseX25519Identity(strings.TrimSpace(line))
		if err != nil {
			// age's error may quote part of the secret: do not wrap it.
			return nil, fmt.Errorf("line %d is not an age X25519 identity (AGE-SECRET-KEY-1...)", n+1)
		}
		found = id
	}
	if found == nil {
		return nil, errors.New("no identity found")
	}
	return found, nil
}

// LoadIdentity reads the node identity file at path. The file must not be
// readable by others.
func LoadIdentity(path string) (*age.X25519Identity, error) {
	b, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: enroll the node first", ErrNoIdentity, path)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: node identity: %w", err)
	}
	id, err := ParseIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("envelope: node identity %s: %w", path, err)
	}
	return id, nil
}

// InitIdentity makes a node identity at path (mode 0600; the directory,
// made 0700 if missing) unless one exists, and returns it; created says
// whether it is new. It is idempotent and safe to run concurrently: an
// existing identity is never replaced.
func InitIdentity(path string, now time.Time) (id *age.X25519Identity, created bool, err error) {
	dir := dirOf(path)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, false, fmt.Errorf("envelope: state directory: %w", err)
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		id, err := GenerateIdentity()
		if err != nil {
			return nil, false, err
		}
		switch err := createExclusive(path, MarshalIdentity(id, now), 0o600); {
		case err == nil:
			created = true
		case errors.Is(err, fs.ErrExist):
		default:
			return nil, false, fmt.Errorf("envelope: write %s: %w", path, err)
		}
	}
	id, err = LoadIdentity(path)
	if err != nil {
		return nil, false, err
	}
	return id, created, nil
}

// ParseRecipient reads a node's recipient, "age1...".
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	t := strings.TrimSpace(s)
	r, err := age.ParseX25519Recipient(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an age X25519 recipient (age1...)", ErrBadRecipient, abbreviate(t))
	}
	return r, nil
}
