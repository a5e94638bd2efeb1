package envelope

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxSmallFile bounds what is read from a key or identity file.
const maxSmallFile = 64 << 10

// readPrivate reads a private file, refusing one that others can read.
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %04o): it holds a private key; chmod 0600 %s", path, fi.Mode().Perm(), path)
	}
	return io.ReadAll(io.LimitReader(f, maxSmallFile))
}

// ensurePrivateDir creates dir with mode 0700 when it does not exist, and
// refuses an existing one that others can write to.
func ensurePrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		return os.Chmod(dir, 0o700)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %04o): it holds private keys; chmod 0700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// createExclusive writes data to path with mode perm unless path exists,
// atomically: the file appears complete or not at all, and an existing file
// is never replaced (it returns an error wrapping fs.ErrExist). Two
// processes racing to create the same file both succeed or see ErrExist.
func createExclusive(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// link(2) fails with EEXIST instead of replacing, unlike rename(2).
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func dirOf(path string) string { return filepath.Dir(path) }
