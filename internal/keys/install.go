package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// InstallOptions govern Install.
type InstallOptions struct {
	// AllowFewer permits a set with fewer keys than the one it replaces
	// (an empty or truncated source once wiped whole clusters elsewhere).
	AllowFewer bool
	// Create makes the repository directory (0700) when it does not exist.
	Create bool
	// Repair replaces key files with malformed content (which break every
	// token request in Keystone) with next's key of that index, or removes
	// them when next has none. Use it when next is authoritative: a set
	// from a verified envelope. Structural defects (a symlink, a bad name,
	// a wrong owner or mode) are still refused.
	Repair bool
}

// lockToWrite is where every write of a whole set starts: next must be a
// valid set and dir not a credential repository; dir is made (0700) when
// create is set; then its lock is taken. what names the operation in
// the error of an invalid set.
func lockToWrite(ctx context.Context, dir string, next Set, create bool, what string, c *config) (unlock func(), err error) {
	if err := next.Validate(); err != nil {
		return nil, fmt.Errorf("keys: refuse to %s: %w", what, err)
	}
	if err := c.checkNotCredential(dir); err != nil {
		return nil, err
	}
	if create {
		if err := ensureDir(dir, c); err != nil {
			return nil, err
		}
	}
	return lock(ctx, dir, c)
}

// InstallResult says what Install did.
type InstallResult struct {
	Changed  bool
	Previous Fingerprint // zero when the repository was empty
	Current  Fingerprint
}

// Install replaces the keys of the repository in dir with next, as a node
// does when it receives a new key set. It writes in the safe order (the new
// primary first, then 0, then removals; see the package documentation),
// each file atomically with its final mode and owner, under the
// repository's lock. It refuses a set that is empty, lacks 0, or has fewer
// keys than the current one unless AllowFewer is set; a refusal leaves the
// repository untouched. Installing the set already on disk changes nothing.
func Install(ctx context.Context, dir string, next Set, io InstallOptions, opts ...Option) (*InstallResult, error) {
	c := newConfig(opts)
	c.lenient = io.Repair
	unlock, err := lockToWrite(ctx, dir, next, io.Create, "install", c)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := load(dir, c)
	if err != nil && !(errors.Is(err, ErrNotInitialized) && io.Create) {
		return nil, err
	}
	old := Set{}
	var corrupt []int
	if r != nil {
		old, corrupt = r.Keys, r.Corrupt
	}
	res := &InstallResult{Current: next.Fingerprint()}
	if len(old) > 0 {
		res.Previous = old.Fingerprint()
	}
	if res.Previous == res.Current && len(corrupt) == 0 {
		return res, nil
	}
	if len(next) < len(old) && !io.AllowFewer {
		return nil, fmt.Errorf("keys: refuse to install %d keys over %d in %s: a set with fewer keys can delete keys that still validate tokens; pass the allow-fewer option if this is intended", len(next), len(old), dir)
	}
	removeStaleTemps(dir, c)
	if err := apply(dir, old, next, c); err != nil {
		return nil, err
	}
	// Malformed files next did not overwrite go last, like pruned keys.
	for _, i := range corrupt {
		if _, rewritten := next[i]; rewritten {
			continue
		}
		if err := os.Remove(filepath.Join(dir, strconv.Itoa(i))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keys: remove malformed key file %d: %w", i, err)
		}
		c.step("remove " + strconv.Itoa(i))
	}
	res.Changed = true
	c.log.Info("installed key set", "repository", dir, "fingerprint", res.Current.Short(), "keys", len(next))
	return res, nil
}
