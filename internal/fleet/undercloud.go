package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
)

// ErrRecipientChanged means a node enrolled with a recipient other than
// the one pinned for it: a rebuilt node, or an impostor.
var ErrRecipientChanged = errors.New("fleet: the node's recipient changed")

// ErrMasterNotReady means the master repository cannot be packaged as it is.
var ErrMasterNotReady = errors.New("fleet: the master key repository is not ready")

// Undercloud is the undercloud's state directory (see the package
// documentation).
type Undercloud struct {
	Dir string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu     sync.Mutex
	signer *envelope.Signer // once made or loaded: it never changes in place
}

// DefaultStateDir is /var/lib/fernetflow for root and
// $XDG_STATE_HOME/fernetflow (or ~/.local/state/fernetflow) for others.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/fernetflow"
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "fernetflow")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "fernetflow")
	}
	return "/var/lib/fernetflow"
}

func (u *Undercloud) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// MasterRepository is the master key repository.
func (u *Undercloud) MasterRepository() string { return filepath.Join(u.Dir, "master", "fernet-keys") }

func (u *Undercloud) ensure() error {
	for _, d := range []string{u.Dir, filepath.Dir(u.MasterRepository())} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("fleet: state directory: %w", err)
		}
	}
	return nil
}

// Signer returns the undercloud's signer, making it on first use. The
// signer is read once per Undercloud (every envelope of a run needs it).
func (u *Undercloud) Signer() (*envelope.Signer, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.signer != nil {
		return u.signer, nil
	}
	if err := u.ensure(); err != nil {
		return nil, err
	}
	s, _, err := envelope.InitSigner(u.Dir)
	if err != nil {
		return nil, err
	}
	u.signer = s
	return s, nil
}

// Master is the master repository's current set with its generation and
// fingerprint.
type Master struct {
	Keys        keys.Set
	Generation  uint64
	Fingerprint keys.Fingerprint
	// Confirmed is when the whole fleet was seen at Generation; nil while
	// the latest rotation has not reached every node (it is pending).
	Confirmed *time.Time
}

// Master reads the master repository. It fails with ErrMasterNotReady
// when the repository holds no keys yet (the first run adopts the nodes'
// keys, see PlanAdoption) or changed outside fernetflow since it was
// recorded (its generation would be ambiguous).
func (u *Undercloud) Master() (*Master, error) {
	r, err := keys.Open(u.MasterRepository())
	if errors.Is(err, keys.ErrNotInitialized) {
		return nil, fmt.Errorf("%w: %s holds no keys yet: the first rotation adopts the keys the nodes share", ErrMasterNotReady, u.MasterRepository())
	}
	if err != nil {
		return nil, err
	}
	m, err := keys.ReadMetadata(r.Dir)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s holds keys fernetflow has not recorded (seeded by hand?): the next rotation records them as generation 1 and compares every node with them", ErrMasterNotReady, r.Dir)
	}
	if m.Stale(r.Keys) {
		return nil, fmt.Errorf("%w: %s changed outside fernetflow since generation %d was recorded, so the nodes cannot be compared with it: restore its keys from a backup of generation %d, or move the directory and %s away, and the next rotation adopts the keys the nodes hold", ErrMasterNotReady, r.Dir, m.Generation, m.Generation, keys.MetadataPath(r.Dir))
	}
	return &Master{Keys: r.Keys, Generation: m.Generation, Fingerprint: r.Keys.Fingerprint(), Confirmed: m.Confirmed}, nil
}

// pinned is recipients.json.
type pinned struct {
	Format int                  `json:"format"`
	Nodes  map[string]PinnedKey `json:"nodes"`
}

// PinnedKey is a node's pinned recipient.
type PinnedKey struct {
	Name      string    `json:"name"`
	Recipient string    `json:"recipient"`
	PinnedAt  time.Time `json:"pinned_at"`
}

func (u *Undercloud) recipientsPath() string { return filepath.Join(u.Dir, "recipients.json") }

func (u *Undercloud) readPinned() (*pinned, error) {
	p := &pinned{Format: 1, Nodes: map[string]PinnedKey{}}
	b, err := os.ReadFile(u.recipientsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("fleet: %s is not valid JSON (%v): restore it from backup, or re-enroll every node", u.recipientsPath(), err)
	}
	if p.Nodes == nil {
		p.Nodes = map[string]PinnedKey{}
	}
	return p, nil
}

// Enrollment is one node's reported recipient, for Pin.
type Enrollment struct {
	Server    Server
	Recipient string
	// Reenroll accepts a recipient that differs from the pinned one (the
	// operator re-enrolls a rebuilt node).
	Reenroll bool
}

// Pin records nodes' recipients in one locked update of recipients.json.
// The first recipient a node reports is trusted; a different one later is
// refused with ErrRecipientChanged unless Reenroll is set, and then nothing
// is recorded for any node. It reports, per enrollment, whether it pinned
// something new.
func (u *Undercloud) Pin(ctx context.Context, es ...Enrollment) ([]bool, error) {
	for _, e := range es {
		if _, err := envelope.ParseRecipient(e.Recipient); err != nil {
			return nil, fmt.Errorf("fleet: node %s reported recipient %q: %w", e.Server.Name, e.Recipient, err)
		}
	}
	if err := u.ensure(); err != nil {
		return nil, err
	}
	unlock, err := lockfile.Lock(ctx, filepath.Join(u.Dir, "recipients.lock"), lockfile.Options{Wait: true, Retry: 20 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("fleet: lock the pinned recipients: %w", err)
	}
	defer unlock()
	p, err := u.readPinned()
	if err != nil {
		return nil, err
	}
	changed := make([]bool, len(es))
	dirty := false
	for i, e := range es {
		old, known := p.Nodes[e.Server.ID]
		switch {
		case known && old.Recipient == e.Recipient:
			continue
		case known && !e.Reenroll:
			return nil, fmt.Errorf("%w: %s (%s) was pinned to %s on %s and now reports %s: if the node was rebuilt, re-enroll it; otherwise investigate before it receives keys",
				ErrRecipientChanged, e.Server.Name, e.Server.ID, old.Recipient, old.PinnedAt.UTC().Format(time.RFC3339), e.Recipient)
		}
		p.Nodes[e.Server.ID] = PinnedKey{Name: e.Server.Name, Recipient: e.Recipient, PinnedAt: u.now().UTC()}
		changed[i], dirty = true, true
	}
	if !dirty {
		return changed, nil
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := renameio.WriteFile(u.recipientsPath(), append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("fleet: write %s: %w", u.recipientsPath(), err)
	}
	return changed, nil
}

// Recipients returns the pinned recipients by server id.
func (u *Undercloud) Recipients() (map[string]PinnedKey, error) {
	p, err := u.readPinned()
	if err != nil {
		return nil, err
	}
	return p.Nodes, nil
}

// Sealed is one node's envelope. The envelope is sealed to the node and
// signed: it is safe to log, persist and send through Heat.
type Sealed struct {
	Server
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	Envelope    string           `json:"envelope"`
	// AllowFewer lets the node replace more keys than the envelope holds:
	// set for nodes the operator chose to overwrite.
	AllowFewer bool `json:"allow_fewer"`
}

// Package seals the master set to every server's pinned recipient; the
// envelopes of the servers named in overwrite (by id) allow fewer keys.
func (u *Undercloud) Package(servers []Server, overwrite ...string) ([]Sealed, error) {
	m, err := u.Master()
	if err != nil {
		return nil, err
	}
	signer, err := u.Signer()
	if err != nil {
		return nil, err
	}
	pins, err := u.Recipients()
	if err != nil {
		return nil, err
	}
	out := make([]Sealed, 0, len(servers))
	for _, s := range servers {
		pin, ok := pins[s.ID]
		if !ok {
			return nil, fmt.Errorf("%w: %s (%s): enroll it first", ErrNotEnrolled, s.Name, s.ID)
		}
		rcpt, err := envelope.ParseRecipient(pin.Recipient)
		if err != nil {
			return nil, fmt.Errorf("fleet: pinned recipient of %s: %w", s.Name, err)
		}
		env, err := envelope.Seal(m.Keys, m.Generation, s.ID, rcpt, signer)
		if err != nil {
			return nil, fmt.Errorf("fleet: seal for %s: %w", s.Name, err)
		}
		out = append(out, Sealed{Server: s, Generation: m.Generation, Fingerprint: m.Fingerprint, Envelope: string(env), AllowFewer: slices.Contains(overwrite, s.ID)})
	}
	return out, nil
}
