package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// Sentinel errors a caller may branch on.
var (
	// ErrRollback means the envelope holds an older generation than the
	// one installed: a replayed deployment or a stack update re-sending an
	// old envelope. The node keeps its keys.
	ErrRollback = errors.New("node: refuse to roll keys back")
	// ErrSplitBrain means the envelope holds another key set for the
	// generation installed: two undercloud states disagree. The node keeps
	// its keys.
	ErrSplitBrain = errors.New("node: refuse a second key set for one generation")
	// ErrBusy means another install held the state directory's lock until
	// the context ended: try again later.
	ErrBusy = errors.New("node: another install is running")
)

// InstallOptions say where and how to install.
type InstallOptions struct {
	// StateDir holds the identity and installed.json (see the package
	// documentation).
	StateDir string
	// KeyRepository is Keystone's [fernet_tokens] key_repository; it is
	// created (0700) when missing.
	KeyRepository string
	// ServerID is this node's server id; the envelope must name it.
	ServerID string
	// Signer is the pinned undercloud public key; when zero, Install uses
	// the one pinned in STATE_DIR/signer.pub (see PinSigner) and fails
	// with ErrNoSigner when there is none.
	Signer envelope.PublicKey
	// Owner, when set, owns every key file written (keystone-manage's
	// --keystone-user/--keystone-group), and the existing files must be
	// owned by it.
	Owner *keys.Owner
	// AllowFewer permits a set with fewer keys than the repository holds
	// (see keys.InstallOptions).
	AllowFewer bool
	// Logger receives progress; never key material. Discarded when nil.
	Logger *slog.Logger
	// StepHook, when set, is called after every durable step: the steps
	// of keys.Install ("write 3", "write 0", "remove 1") and "state" once
	// installed.json is written. Tests use it to walk or kill every
	// intermediate state.
	StepHook func(step string)
	// Now is the clock for installed.json (time.Now when nil).
	Now func() time.Time
	// ProbeTokens are verified against the repository once installed
	// (see wire.Observation.Probe).
	ProbeTokens []string
}

// InstallResult is what an install reports: the JSON printed by
// `fernetflow node install`.
type InstallResult struct {
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	// Changed is true when the key repository on disk was modified.
	Changed bool `json:"changed"`
	// Observation is what the node holds once the install is done, read
	// back from its repository.
	Observation *wire.Observation `json:"observation"`
}

// Install opens the armored envelope with the node's identity and installs
// its key set into the key repository by the generation rules of the
// package documentation. A refusal ([ErrRollback], [ErrSplitBrain], or an
// error of envelope.Open) leaves the repository and the state untouched.
// Install waits for another install holding the state directory's lock
// until ctx ends.
func Install(ctx context.Context, armored []byte, o InstallOptions) (*InstallResult, error) {
	if err := checkArgs(o.StateDir, o.ServerID); err != nil {
		return nil, err
	}
	if o.KeyRepository == "" {
		return nil, fmt.Errorf("%w (Keystone's [fernet_tokens] key_repository)", ErrNoKeyRepository)
	}
	o, err := resolveSigner(o)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	id, err := envelope.LoadIdentity(filepath.Join(o.StateDir, IdentityFile))
	if err != nil {
		return nil, err
	}
	unlock, err := lockState(ctx, o.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	env, err := envelope.Open(armored, id, o.Signer, o.ServerID)
	if err != nil {
		return nil, err
	}
	log = log.With("server", o.ServerID, "generation", env.Generation, "fingerprint", env.Fingerprint.Short())
	st, err := ReadState(o.StateDir)
	if err != nil {
		return nil, err
	}
	if st != nil && st.ServerID != o.ServerID {
		return nil, wrongServer(o.StateDir, st.ServerID, o.ServerID)
	}
	// Decide's "nothing new" (the same set again) still goes through
	// keys.Install below: it is a no-op on an intact repository and
	// repairs one edited by hand. The envelope is verified, so its set is
	// authoritative: Repair replaces key files Keystone cannot load.
	if _, err := Decide(st, env.Generation, env.Fingerprint); err != nil {
		return nil, err
	}

	var kopts []keys.Option
	kopts = append(kopts, keys.WithLogger(log), keys.WithWait())
	if o.Owner != nil {
		kopts = append(kopts, keys.WithOwner(o.Owner.UID, o.Owner.GID))
	}
	if o.StepHook != nil {
		kopts = append(kopts, keys.WithStepHook(o.StepHook))
	}
	allowFewer := o.AllowFewer || resuming(st, o.KeyRepository, env.Keys, kopts)
	res, err := keys.Install(ctx, o.KeyRepository, env.Keys, keys.InstallOptions{AllowFewer: allowFewer, Create: true, Repair: true}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("node: install generation %d: %w", env.Generation, err)
	}
	if res.Changed {
		log.Info("installed a new key set", "repository", o.KeyRepository, "keys", len(env.Keys))
	}
	abs, err := filepath.Abs(o.KeyRepository)
	if err != nil {
		abs = o.KeyRepository
	}
	next := &State{Format: stateFormat, ServerID: o.ServerID, Generation: env.Generation, Fingerprint: env.Fingerprint, KeyRepository: abs, Keys: wire.KeyRefs(env.Keys)}
	if st == nil || st.Generation != next.Generation || st.Fingerprint != next.Fingerprint || st.KeyRepository != next.KeyRepository {
		next.InstalledAt = now().UTC().Truncate(time.Second)
		if err := writeState(o.StateDir, next); err != nil {
			return nil, err
		}
		if o.StepHook != nil {
			o.StepHook("state")
		}
	}
	obs, err := observeAfterInstall(o, next, id.Recipient().String())
	if err != nil {
		return nil, err
	}
	return &InstallResult{Generation: env.Generation, Fingerprint: env.Fingerprint, Changed: res.Changed, Observation: obs}, nil
}

// Decide applies the generation rules of the package documentation to an
// envelope holding generation and fingerprint, against installed, the
// state of the last install (nil for a node that never installed a set).
// It is pure: Install calls it before touching the disk, and simulations
// of a fleet call it to model a node without one.
//
//   - no state, or a newer generation: install is true;
//   - the same generation with the same fingerprint: install is false,
//     nothing new (Install still re-applies the set, a no-op unless the
//     repository was edited by hand);
//   - an older generation: [ErrRollback];
//   - the same generation with another fingerprint: [ErrSplitBrain].
func Decide(installed *State, generation uint64, fingerprint keys.Fingerprint) (install bool, err error) {
	switch {
	case installed == nil || generation > installed.Generation:
		return true, nil
	case generation < installed.Generation:
		return false, fmt.Errorf("%w: the envelope holds generation %d, but generation %d (%s) is installed: an old envelope was replayed (a repeated deployment or a stack update); seal the current generation for this node", ErrRollback, generation, installed.Generation, installed.Fingerprint.Short())
	case fingerprint != installed.Fingerprint:
		return false, fmt.Errorf("%w: generation %d is installed with fingerprint %s, the envelope holds fingerprint %s: two key sets claim one generation; check which undercloud repository is right, then rotate it so that every node receives a newer generation", ErrSplitBrain, installed.Generation, installed.Fingerprint.Short(), fingerprint.Short())
	}
	return false, nil
}

// resuming reports whether installing next over the repository finishes an
// install that a crash interrupted: the repository then holds more keys
// than next (the new keys are written before the pruned ones are deleted),
// which keys.Install refuses without AllowFewer. It is safe to allow when
// next has no fewer keys than the set recorded as installed, and every key
// the install would delete belongs to that recorded set: exactly the
// deletions the interrupted install was going to make. A key added by hand
// still needs the operator's AllowFewer.
func resuming(st *State, repo string, next keys.Set, opts []keys.Option) bool {
	if st == nil || len(st.Keys) == 0 || len(next) < len(st.Keys) {
		return false
	}
	r, err := keys.Open(repo, opts...)
	if err != nil || len(r.Keys) <= len(next) {
		return false
	}
	recorded := map[wire.KeyRef]bool{}
	for _, k := range st.Keys {
		recorded[k] = true
	}
	for i, k := range r.Keys {
		if _, kept := next[i]; kept {
			continue
		}
		if !recorded[wire.KeyRef{Index: i, ID: k.ID()}] {
			return false
		}
	}
	return true
}

// lockState takes STATE_DIR/lock, waiting until ctx ends.
func lockState(ctx context.Context, stateDir string) (func(), error) {
	path := filepath.Join(stateDir, LockFile)
	if _, err := os.Stat(stateDir); err != nil {
		return nil, fmt.Errorf("node: state directory: %w", err)
	}
	// Opened without following a link, and only a regular file of ours
	// (see lockfile): a link planted there cannot redirect it.
	unlock, err := lockfile.Lock(ctx, path, lockfile.Options{Wait: true, Retry: 50 * time.Millisecond})
	switch {
	case errors.Is(err, lockfile.ErrHeld) && ctx.Err() != nil:
		return nil, fmt.Errorf("%w (it holds %s): gave up waiting: %w", ErrBusy, path, ctx.Err())
	case errors.Is(err, lockfile.ErrHeld):
		return nil, fmt.Errorf("%w (it holds %s)", ErrBusy, path)
	case err != nil:
		return nil, fmt.Errorf("node: %w", err)
	}
	return unlock, nil
}
