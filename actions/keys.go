package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// keysOptions are what the keys.* actions need from their host.
type keysOptions struct {
	// DefaultRepository is rotated when the input names no repository:
	// the undercloud's master repository.
	DefaultRepository string
	// Owner, when set, owns every key file written (keystone-manage's
	// --keystone-user/--keystone-group).
	Owner *keys.Owner
	// CredentialRepositories are refused for token key operations.
	CredentialRepositories []string
	// Now is the clock of the master's metadata and its prune guard
	// (time.Now when nil); simulations run it on virtual time.
	Now func() time.Time
}

func (o keysOptions) options() []keys.Option {
	opts := []keys.Option{keys.WithCredentialRepositories(o.CredentialRepositories...), keys.WithWait()}
	if o.Owner != nil {
		opts = append(opts, keys.WithOwner(o.Owner.UID, o.Owner.GID))
	}
	if o.Now != nil {
		opts = append(opts, keys.WithClock(o.Now))
	}
	return opts
}

type keysStatusIn struct {
	KeyRepository string `json:"key_repository"`
}

// keysStatus reports a repository's generation, fingerprint and keys.
func keysStatus(o keysOptions) *funcAction {
	return typed("keys.status", "Report a key repository's generation, fingerprint, key roles and history (never key material).", false,
		func(_ context.Context, in keysStatusIn) (*keys.Status, error) {
			return keys.Inspect(in.KeyRepository, o.options()...)
		})
}

type keysRotateIn struct {
	KeyRepository      string `json:"key_repository"`
	MaxActiveKeys      *int   `json:"max_active_keys"`
	TokenExpiration    *int64 `json:"token_expiration"`
	AllowExpiredWindow *int64 `json:"allow_expired_window"`
	Force              bool   `json:"force"`
	DryRun             bool   `json:"dry_run"`
}

// keysRotate rotates the master key repository once (setting it up first
// when it is empty), under its lock, waiting for another writer until the
// task's context ends.
func keysRotate(o keysOptions) *funcAction {
	return typed("keys.rotate", "Rotate the master key repository once, as keystone-manage fernet_rotate, with the safe-prune guard; dry_run only plans.", false,
		func(ctx context.Context, in keysRotateIn) (*keys.Plan, error) {
			ro := keys.RotateOptions{
				MaxActiveKeys:      keys.DefaultMaxActiveKeys,
				TokenExpiration:    keys.DefaultTokenExpiration,
				AllowExpiredWindow: keys.DefaultAllowExpiredWindow,
				Force:              in.Force,
				DryRun:             in.DryRun,
			}
			if in.MaxActiveKeys != nil {
				ro.MaxActiveKeys = *in.MaxActiveKeys
			}
			// The schema bounds both; checked again here, before the
			// multiplication, so that no input can overflow it.
			for _, d := range []struct {
				name string
				in   *int64
				out  *time.Duration
			}{{"token_expiration", in.TokenExpiration, &ro.TokenExpiration}, {"allow_expired_window", in.AllowExpiredWindow, &ro.AllowExpiredWindow}} {
				if d.in == nil {
					continue
				}
				if *d.in < 0 || *d.in > keys.MaxTokenSeconds {
					return nil, fmt.Errorf("keys.rotate: %s is %d seconds, want 0 to %d (100 years)", d.name, *d.in, keys.MaxTokenSeconds)
				}
				*d.out = time.Duration(*d.in) * time.Second
			}
			repo := in.KeyRepository
			if repo == "" {
				repo = o.DefaultRepository
			}
			if repo == "" {
				return nil, fmt.Errorf("keys.rotate: no key_repository given and no master repository configured")
			}
			if _, err := keys.Inspect(repo, o.options()...); errors.Is(err, keys.ErrNotInitialized) {
				return keys.Setup(ctx, repo, ro, o.options()...)
			}
			return keys.Rotate(ctx, repo, ro, o.options()...)
		})
}
