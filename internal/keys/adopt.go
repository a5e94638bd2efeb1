package keys

import (
	"context"
	"errors"
	"fmt"
)

// ErrInitialized means Adopt found keys in the repository already.
var ErrInitialized = errors.New("keys: the key repository holds keys already")

// Adopt writes set into the empty repository in dir and records it as
// adopted at generation (1 when 0), every secondary's demotion time
// unknown (so the prune guard counts their token life from now). It is how the undercloud's
// master takes over the keys a cloud's nodes already share, so that the
// first fernetflow rotation keeps every token valid. A repository that
// holds keys is ErrInitialized and stays untouched.
func Adopt(ctx context.Context, dir string, set Set, generation uint64, opts ...Option) (*Metadata, error) {
	c := newConfig(opts)
	unlock, err := lockToWrite(ctx, dir, set, true, "adopt", c)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch r, err := load(dir, c); {
	case err == nil && len(r.Keys)+len(r.Corrupt) > 0:
		return nil, fmt.Errorf("%w: %s: adopt only into an empty repository", ErrInitialized, dir)
	case err != nil && !errors.Is(err, ErrNotInitialized):
		return nil, err
	}
	if err := apply(dir, Set{}, set, c); err != nil {
		return nil, err
	}
	m := observed(nil, set, c.now())
	if generation > 0 {
		m.Generation = generation
	}
	if err := writeMetadata(dir, m, c); err != nil {
		return nil, err
	}
	c.log.Info("adopted a key set", "repository", dir, "keys", len(set), "fingerprint", set.Fingerprint().Short())
	return m, nil
}

// Observe records the keys of the repository in dir as fernetflow found
// them, when it has no metadata yet (a repository seeded by hand, or made
// by keystone-manage): generation 1, adopted now. A repository with
// metadata is left alone and its metadata returned.
func Observe(ctx context.Context, dir string, opts ...Option) (*Metadata, error) {
	c := newConfig(opts)
	unlock, err := lock(ctx, dir, c)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := open(dir, c)
	if err != nil {
		return nil, err
	}
	m, err := ReadMetadata(r.Dir)
	if err != nil || m != nil {
		return m, err
	}
	m = observed(nil, r.Keys, c.now())
	if err := writeMetadata(r.Dir, m, c); err != nil {
		return nil, err
	}
	return m, nil
}
