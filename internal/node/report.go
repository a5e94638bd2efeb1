package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// Observation is what a node holds at one moment, computed from its key
// repository then (never from the record of its last install alone), and
// what its repository makes of the fleet's probe tokens. It holds no key
// material: keys are named by index and keys.Key.ID, and Sealed, when set,
// is the repository's set encrypted to the undercloud (adoption).
type Observation struct {
	ServerID string `json:"server_id"`
	// Recipient is the node's age recipient (its identity is made on
	// first report: reporting enrolls).
	Recipient string `json:"recipient"`
	// Signer is the undercloud signer the node pins ("" when none: it
	// would refuse every envelope).
	Signer string `json:"signer"`
	// Installed is what installed.json records (nil: fernetflow never
	// installed a set on this node, or its state was wiped).
	Installed *Installed `json:"installed"`
	// Repository is what the key repository holds now.
	Repository Holding `json:"repository"`
	// Probe is this node's side of the token probe.
	Probe Probe `json:"probe"`
	// Sealed is the repository's key set sealed to the undercloud, when
	// an adopt request asked for it and the repository holds keys.
	Sealed string `json:"sealed,omitempty"`
}

// Installed is the record of the node's last install.
type Installed struct {
	Generation  uint64   `json:"generation"`
	Fingerprint string   `json:"fingerprint"`
	Keys        []KeyRef `json:"keys"`
}

// Holding is a key repository's content, by key id.
type Holding struct {
	// Fingerprint is the set's fingerprint ("" when it holds no keys or
	// cannot be read).
	Fingerprint string   `json:"fingerprint,omitempty"`
	Keys        []KeyRef `json:"keys"`
	// Error says why the repository cannot be read as Keystone would
	// (a malformed key file, a bad mode); Keys is then empty.
	Error string `json:"error,omitempty"`
}

// Probe is a node's side of the token probe: a token issued with its
// repository's primary key now, and which of the tokens it was given its
// repository rejects.
type Probe struct {
	Token string `json:"token,omitempty"`
	// Rejected are the positions, in the request, of the tokens no key of
	// the repository validates.
	Rejected []int `json:"rejected"`
	// Checked counts the tokens verified.
	Checked int `json:"checked"`
}

// probeMessage is what probe tokens carry: not a Keystone token payload, so
// a probe token is never accepted by Keystone as a credential.
func probeMessage(serverID string) []byte { return []byte("fernetflow probe " + serverID) }

// ReportOptions say what to observe.
type ReportOptions struct {
	StateDir      string
	KeyRepository string
	ServerID      string
	// Owner, when set, is the owner the key files must have.
	Owner *keys.Owner
	// ProbeTokens are verified against the repository.
	ProbeTokens []string
	// AdoptRequest, when set, asks for the repository's set sealed to the
	// undercloud; it must be signed by Signer.
	AdoptRequest string
	// Signer is the pinned undercloud public key (needed for
	// AdoptRequest); when nil, the one in STATE_DIR/signer.pub.
	Signer *envelope.PublicKey
	// Now is the clock for a new identity (time.Now when nil).
	Now func() time.Time
}

// Report enrolls the node if it has no identity and observes it. It waits
// for an install holding the state directory's lock, so that it never sees
// a half-written repository, until ctx ends. A repository that cannot be
// read is not an error: Holding.Error says why, for the undercloud to name.
func Report(ctx context.Context, o ReportOptions) (*Observation, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if o.KeyRepository == "" {
		return nil, fmt.Errorf("%w (Keystone's [fernet_tokens] key_repository)", ErrNoKeyRepository)
	}
	en, err := Enroll(o.StateDir, o.ServerID, now())
	if err != nil {
		return nil, err
	}
	unlock, err := lockState(ctx, o.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	obs := &Observation{ServerID: o.ServerID, Recipient: en.Recipient, Repository: Holding{Keys: []KeyRef{}}, Probe: Probe{Rejected: []int{}}}
	signer := o.Signer
	if signer == nil {
		// The signer a pin-signer deployment pinned (see PinSigner).
		if p, err := PinnedSigner(o.StateDir); err == nil {
			signer = &p
		}
	}
	if signer != nil {
		obs.Signer = signer.String()
	}
	st, err := ReadState(o.StateDir)
	if err != nil {
		return nil, err
	}
	set, err := observe(obs, st, o.KeyRepository, o.Owner, o.ProbeTokens)
	if err != nil {
		return nil, err
	}
	if o.AdoptRequest != "" && len(set) > 0 {
		if signer == nil {
			_, err := PinnedSigner(o.StateDir)
			return nil, fmt.Errorf("node: the undercloud asks for this node's keys (adoption), but no signer is pinned to check that it is the undercloud: %w", err)
		}
		rcpt, err := envelope.VerifyAdoptRequest(o.AdoptRequest, *signer, o.ServerID)
		if err != nil {
			return nil, err
		}
		sealed, err := envelope.SealHolding(set, o.ServerID, rcpt)
		if err != nil {
			return nil, err
		}
		obs.Sealed = string(sealed)
	}
	return obs, nil
}

// observeRepository fills h from the repository in dir and returns its set
// (empty when it holds none or cannot be read).
func observeRepository(dir string, owner *keys.Owner, h *Holding) (keys.Set, error) {
	var opts []keys.Option
	if owner != nil {
		opts = append(opts, keys.WithOwner(owner.UID, owner.GID))
	}
	r, err := keys.Open(dir, opts...)
	switch {
	case errors.Is(err, keys.ErrNotInitialized):
		return keys.Set{}, nil
	case err != nil:
		h.Error = err.Error()
		return keys.Set{}, nil
	}
	h.Fingerprint = r.Keys.Fingerprint().String()
	h.Keys = keyRefs(r.Keys)
	return r.Keys, nil
}

// probe issues this node's probe token and verifies the tokens given.
func probe(set keys.Set, serverID string, tokens []string, p *Probe) error {
	if len(set) == 0 {
		return nil
	}
	tok, err := keys.IssueToken(set, probeMessage(serverID))
	if err != nil {
		return fmt.Errorf("node: probe: %w", err)
	}
	p.Token = tok
	for i, t := range tokens {
		p.Checked++
		if _, _, err := keys.VerifyToken(set, t, 0); err != nil {
			p.Rejected = append(p.Rejected, i)
		}
	}
	return nil
}

// observe fills what obs says of the node's installed record (st, nil
// when none), its repository and its probe, and returns the repository's
// set (empty when it holds none or cannot be read).
func observe(obs *Observation, st *State, repo string, owner *keys.Owner, tokens []string) (keys.Set, error) {
	if st != nil {
		obs.Installed = &Installed{Generation: st.Generation, Fingerprint: st.Fingerprint, Keys: st.Keys}
	}
	set, err := observeRepository(repo, owner, &obs.Repository)
	if err != nil {
		return nil, err
	}
	return set, probe(set, obs.ServerID, tokens, &obs.Probe)
}

// observeAfterInstall observes the repository right after an install,
// under the install's lock; recipient is the node's, from the identity
// the install opened the envelope with.
func observeAfterInstall(o InstallOptions, st *State, recipient string) (*Observation, error) {
	obs := &Observation{ServerID: o.ServerID, Recipient: recipient, Signer: o.Signer.String(), Repository: Holding{Keys: []KeyRef{}}, Probe: Probe{Rejected: []int{}}}
	_, err := observe(obs, st, o.KeyRepository, o.Owner, o.ProbeTokens)
	return obs, err
}
