package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fernetflow/fernetflow/internal/lockfile"
)

// lockRetryDelay is how often a waiting writer retries the lock.
const lockRetryDelay = 50 * time.Millisecond

// lock takes the exclusive lock of the repository in dir. With WithWait it
// waits until ctx ends; otherwise a held lock is ErrLocked at once.
func lock(ctx context.Context, dir string, c *config) (unlock func(), err error) {
	path := LockPath(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("keys: lock %s: %w", path, err)
	}
	// The lock file is opened without following a link and must be a
	// regular file owned by this process's user or the Keystone user: a
	// link planted at DIR.fernetflow.lock cannot make root create a file
	// elsewhere (issue 13).
	o := lockfile.Options{Wait: c.wait, Retry: lockRetryDelay}
	if c.owner != nil {
		o.Owners = []int{c.owner.UID}
	}
	unlock, err = lockfile.Lock(ctx, path, o)
	switch {
	case errors.Is(err, lockfile.ErrHeld) && ctx.Err() != nil:
		return nil, fmt.Errorf("%w (%s): gave up waiting: %w", ErrLocked, path, ctx.Err())
	case errors.Is(err, lockfile.ErrHeld):
		return nil, fmt.Errorf("%w (%s)", ErrLocked, path)
	case err != nil:
		return nil, fmt.Errorf("keys: %w", err)
	}
	return unlock, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory that already has its final mode and owner, is fsynced, renamed
// over path, and made durable by fsyncing the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode, owner *Owner) error {
	dir := filepath.Dir(path)
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if owner != nil {
		if err := pf.Chown(owner.UID, owner.GID); err != nil {
			return fmt.Errorf("keys: chown %s to %d:%d: %w", path, owner.UID, owner.GID, err)
		}
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: fsync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: fsync %s: %w", dir, err)
	}
	return nil
}

// tempName matches the temporary files renameio leaves behind when a writer
// dies: "." and digits, a name Keystone ignores.
var tempName = regexp.MustCompile(`^\.[0-9]+$`)

// removeStaleTemps deletes temporary files of interrupted writes. It is
// called with the lock held, so no live writer owns them.
func removeStaleTemps(dir string, c *config) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if tempName.MatchString(e.Name()) && e.Type().IsRegular() {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				c.log.Info("removed a temporary file of an interrupted write", "file", filepath.Join(dir, e.Name()))
			}
		}
	}
}

// ensureDir creates dir (and parents) with mode 0700 and the configured
// owner, as keystone-manage fernet_setup does.
// An existing directory is left as it is (Open reports a bad mode).
func ensureDir(dir string, c *config) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("keys: chmod 0700 %s: %w", dir, err)
	}
	if c.owner != nil {
		if err := os.Chown(dir, c.owner.UID, c.owner.GID); err != nil {
			return fmt.Errorf("keys: chown %s: %w", dir, err)
		}
	}
	return nil
}

// apply moves the repository in dir from old to next in the safe order,
// so that every intermediate state on disk (which Keystone reads on every
// request) validates every token either set validates and signs with a key
// that next holds:
//
//  1. write each key of next other than 0 that is new or changed, highest
//     index (the new primary) first;
//  2. replace 0;
//  3. remove the keys next does not hold, lowest first.
//
// Each file is written atomically with its final mode and owner.
func apply(dir string, old, next Set, c *config) error {
	for _, i := range slices.Backward(next.Indexes()) {
		if k, ok := old[i]; i == 0 || (ok && k == next[i]) {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, strconv.Itoa(i)), next[i].Encode(), 0o600, c.owner); err != nil {
			return err
		}
		c.step("write " + strconv.Itoa(i))
	}
	if k, ok := old[0]; !ok || k != next[0] {
		if err := writeFileAtomic(filepath.Join(dir, "0"), next[0].Encode(), 0o600, c.owner); err != nil {
			return err
		}
		c.step("write 0")
	}
	removed := false
	for _, i := range old.Indexes() {
		if _, keep := next[i]; keep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, strconv.Itoa(i))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("keys: prune key %d: %w", i, err)
		}
		removed = true
		c.step("remove " + strconv.Itoa(i))
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}
