// Package lockfile takes exclusive advisory locks (flock(2)) on lock files
// that sit beside what they protect: a key repository's DIR.fernetflow.lock,
// a node's STATE_DIR/lock, the undercloud's recipients.lock.
//
// Such a file is opened, and created when missing (mode 0600), without
// following a symbolic link, and is refused unless it is a regular file with
// one link, owned by one of the allowed users. So a link planted where the
// lock file goes cannot make a root process create or open a file anywhere
// else, and a FIFO planted there cannot hang it.
//
// Use Lock, and call the returned unlock function when done:
//
//	unlock, err := lockfile.Lock(ctx, path, lockfile.Options{Wait: true})
//	if errors.Is(err, lockfile.ErrHeld) { ... another process holds it ... }
//	defer unlock()
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"
)

// ErrHeld means another process (or another open of the file in this one)
// holds the lock: at once without Options.Wait, or until the context ended
// with it (then the error also wraps the context's error).
var ErrHeld = errors.New("lockfile: the lock is held by another process")

// Options govern Lock.
type Options struct {
	// Wait retries every Retry (50 ms when zero) until ctx ends, instead of
	// failing with ErrHeld at once.
	Wait  bool
	Retry time.Duration
	// Owners are the user ids allowed to own the lock file, besides the
	// process's effective user id (which creates it).
	Owners []int
}

// Lock opens (creating it 0600 when missing) the lock file at path without
// following a symbolic link, checks that it is a regular file with one link
// owned by the process's user or one of o.Owners, and takes an exclusive
// flock(2) on it. An error other than ErrHeld names the file and the fix.
func Lock(ctx context.Context, path string, o Options) (unlock func(), err error) {
	f, err := Open(path, o.Owners...)
	if err != nil {
		return nil, err
	}
	retry := o.Retry
	if retry <= 0 {
		retry = 50 * time.Millisecond
	}
	for {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() {
				_ = flock(f, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("lockfile: lock %s: %w", path, err)
		case !o.Wait:
			f.Close()
			return nil, ErrHeld
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w: gave up waiting: %w", ErrHeld, ctx.Err())
		case <-time.After(retry):
		}
	}
}

// Open opens the lock file at path as Lock does, creating it when missing,
// and checks it; it takes no lock.
func Open(path string, owners ...int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lockfile: %s is a symbolic link: a lock file must be a regular file (a link can point anywhere); remove it", path)
	}
	if errors.Is(err, syscall.EISDIR) {
		return nil, fmt.Errorf("lockfile: %s is a directory: a lock file must be a regular file; remove it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("lockfile: open %s: %w", path, err)
	}
	if err := check(path, f, owners); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func check(path string, f *os.File, owners []int) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("lockfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("lockfile: %s is not a regular file (%s): a lock file must be one; remove it", path, fileType(fi.Mode()))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Nlink != 1 {
		return fmt.Errorf("lockfile: %s has %d hard links: a lock file must have one (another may be anywhere); remove it", path, st.Nlink)
	}
	if uid := int(st.Uid); uid != os.Geteuid() && !slices.Contains(owners, uid) {
		want := append([]int{os.Geteuid()}, owners...)
		return fmt.Errorf("lockfile: %s is owned by uid %d, want one of %v: someone else made it; remove it", path, uid, want)
	}
	return nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// flock calls flock(2) on f, again when a signal interrupts it.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
