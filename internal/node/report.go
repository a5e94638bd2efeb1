package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/wire"
)

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
func Report(ctx context.Context, o ReportOptions) (*wire.Observation, error) {
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
	obs := &wire.Observation{ServerID: o.ServerID, Recipient: en.Recipient, Repository: wire.Holding{Keys: []wire.KeyRef{}}, Probe: wire.Probe{Rejected: []int{}}}
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
func observeRepository(dir string, owner *keys.Owner, h *wire.Holding) (keys.Set, error) {
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
	h.Fingerprint = r.Keys.Fingerprint()
	h.Keys = wire.KeyRefs(r.Keys)
	return r.Keys, nil
}

// probe issues this node's probe token and verifies the tokens given.
func probe(set keys.Set, serverID string, tokens []string, p *wire.Probe) error {
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
func observe(obs *wire.Observation, st *State, repo string, owner *keys.Owner, tokens []string) (keys.Set, error) {
	if st != nil {
		obs.Installed = &wire.Installed{Generation: st.Generation, Fingerprint: st.Fingerprint, Keys: st.Keys}
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
func observeAfterInstall(o InstallOptions, st *State, recipient string) (*wire.Observation, error) {
	obs := &wire.Observation{ServerID: o.ServerID, Recipient: recipient, Signer: o.Signer.String(), Repository: wire.Holding{Keys: []wire.KeyRef{}}, Probe: wire.Probe{Rejected: []int{}}}
	_, err := observe(obs, st, o.KeyRepository, o.Owner, o.ProbeTokens)
	return obs, err
}

// Inspect observes the node read-only, for a status view: what its
// installed record says and what its repository holds now, without making
// an identity, taking the state lock or issuing a probe token (so that a
// monitoring check never creates files on a node nor delays an install).
// An install running at the same moment may be seen half way; the
// undercloud's fleet.Classify reads such a state as an interrupted install.
func Inspect(stateDir, keyRepository, serverID string, owner *keys.Owner) (*wire.Observation, error) {
	if keyRepository == "" {
		return nil, fmt.Errorf("%w (Keystone's [fernet_tokens] key_repository)", ErrNoKeyRepository)
	}
	obs := &wire.Observation{ServerID: serverID, Repository: wire.Holding{Keys: []wire.KeyRef{}}, Probe: wire.Probe{Rejected: []int{}}}
	st, err := ReadState(stateDir)
	if err != nil {
		return nil, err
	}
	if st != nil {
		obs.Installed = &wire.Installed{Generation: st.Generation, Fingerprint: st.Fingerprint, Keys: st.Keys}
	}
	if _, err := observeRepository(keyRepository, owner, &obs.Repository); err != nil {
		return nil, err
	}
	return obs, nil
}
