package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors a caller may branch on.
var (
	// ErrLocked means another process holds the repository's lock.
	ErrLocked = errors.New("keys: the key repository is locked by another fernetflow process")
	// ErrUnsafePrune means a rotation would delete a key that may still
	// have signed live tokens; the error text says when it becomes safe.
	ErrUnsafePrune = errors.New("keys: pruning would delete a key that may have signed tokens still valid")
	// ErrCredentialRepository means a token operation was asked of a
	// credential-encryption key repository.
	ErrCredentialRepository = errors.New("keys: this is a credential key repository, not a token key repository")
	// ErrNotInitialized means the repository is missing or holds no keys.
	ErrNotInitialized = errors.New("keys: the key repository is not initialized")
	// ErrNoStagedKey means the repository has keys but no staged key 0.
	ErrNoStagedKey = errors.New("keys: no staged key")
	// ErrNotAKey means a key file's content cannot be repaired into a key
	// (hex, not base64): it must be replaced by a new key. Its text is
	// the defect alone.
	ErrNotAKey = errors.New("keys: not a Fernet key")
)

// notAKey is an error that is ErrNotAKey, with its own text.
type notAKey string

func (e notAKey) Error() string      { return string(e) }
func (notAKey) Is(target error) bool { return target == ErrNotAKey }

// Repository is a key repository as loaded from disk.
type Repository struct {
	// Dir is the repository's directory, cleaned.
	Dir string
	// Keys holds every valid key by index.
	Keys Set
	// Skipped lists empty integer-named files, which Keystone ignores.
	Skipped []string
	// Ignored lists files whose names are not integers, which Keystone ignores.
	Ignored []string
	// Corrupt lists key files with malformed content, by index; only a
	// lenient load (Install with Repair) returns them instead of failing.
	Corrupt []int
}

// Open loads and validates the repository in dir exactly as Keystone reads
// it: files whose names are not integers are ignored, empty files are
// skipped with a warning, every other integer-named file must hold one key
// in Keystone's format (see [ParseKey]), and 0 must exist. Anything Keystone
// would choke on, or that suggests tampering (a symlinked key file, a
// world-readable directory, a file not owned by the [WithOwner] user), is an
// error naming the file and the fix.
func Open(dir string, opts ...Option) (*Repository, error) {
	return open(dir, newConfig(opts))
}

func open(dir string, c *config) (*Repository, error) {
	r, err := load(dir, c)
	if err != nil {
		return nil, err
	}
	if len(r.Keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no keys", ErrNotInitialized, r.Dir)
	}
	if _, ok := r.Keys[0]; !ok {
		return nil, fmt.Errorf("%w: %s has no staged key 0, so the next rotation has nothing to promote: copy 0 from another Keystone node, or add a new one (other nodes must receive it before it becomes primary)", ErrNoStagedKey, r.Dir)
	}
	return r, nil
}

// load reads and validates every file of the repository; it does not
// require any key to be present.
func load(dir string, c *config) (*Repository, error) {
	dir = filepath.Clean(dir)
	if err := c.checkNotCredential(dir); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s does not exist", ErrNotInitialized, dir)
	case err != nil:
		return nil, fmt.Errorf("keys: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("keys: %s is not a directory: a key repository is the directory that holds the key files", dir)
	case fi.Mode().Perm()&0o007 != 0:
		return nil, fmt.Errorf("keys: %s is world-accessible (mode %04o): Keystone's keys must be readable by Keystone only; chmod 0700 %s", dir, fi.Mode().Perm(), dir)
	}
	if err := c.checkOwner(dir, fi); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", dir, err)
	}
	r := &Repository{Dir: dir, Keys: Set{}}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		present[e.Name()] = true
	}
	names := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		index, ok := pythonInt(name)
		if !ok {
			r.Ignored = append(r.Ignored, name)
			continue
		}
		if err := checkCanonical(dir, name, index, present); err != nil {
			return nil, err
		}
		if prev, dup := names[index]; dup {
			return nil, fmt.Errorf("keys: %s and %s are both key %d: remove one", prev, path, index)
		}
		names[index] = path
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("keys: %s is a symlink: key files must be regular files in the repository (a link can point anywhere); replace it with a copy of the key", path)
		case fi.IsDir():
			return nil, fmt.Errorf("keys: %s is a directory: Keystone ignores it, but an integer name is reserved for a key; move it out of the repository", path)
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("keys: %s is not a regular file: move it out of the repository", path)
		case fi.Mode().Perm()&0o007 != 0:
			return nil, fmt.Errorf("keys: %s is world-readable (mode %04o): chmod 0600 %s", path, fi.Mode().Perm(), path)
		}
		if err := c.checkOwner(path, fi); err != nil {
			return nil, err
		}
		b, err := readSmall(path)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if len(b) == 0 {
			c.log.Warn("ignoring an empty key file, as Keystone does; remove it", "file", path)
			r.Skipped = append(r.Skipped, name)
			continue
		}
		k, err := ParseKey(b)
		if err != nil && c.lenient {
			c.log.Warn("a malformed key file will be replaced", "file", path)
			r.Corrupt = append(r.Corrupt, index)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", path, err)
		}
		r.Keys[index] = k
	}
	return r, nil
}

// checkCanonical refuses a file that Keystone reads as a key (Python's
// int() accepts its name) but whose name is not the canonical decimal form
// fernetflow reads and writes: " 7", "07", "+7", "1_0", "-1", "٢" or "９９９".
// Ignoring it would leave a key that Keystone signs or validates with and
// that no fingerprint, check or install accounts for.
func checkCanonical(dir, name string, index int, present map[string]bool) error {
	switch canonical := strconv.Itoa(index); {
	case index > maxIndex:
		return fmt.Errorf("keys: %s: Keystone reads the file named %q as a key, but its index is beyond %d: remove it", dir, name, maxIndex)
	case index < 0:
		return fmt.Errorf("keys: %s: Keystone reads the file named %q as key %d, and key indexes are never negative: remove it", dir, name, index)
	case canonical == name:
		return nil
	case present[canonical]:
		return fmt.Errorf("keys: %s: Keystone reads the file named %q as key %d, like the file %s: remove one of them", dir, name, index, canonical)
	default:
		return fmt.Errorf("keys: %s: Keystone reads the file named %q as key %d: rename it to %s (or remove it)", dir, name, index, canonical)
	}
}

// readSmall reads at most a little more than a key, so a huge file planted
// in the repository cannot exhaust memory.
func readSmall(path string) ([]byte, error) {
	const limit = 4 * EncodedKeySize
	b, err := readFile(path, limit)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%s: file is over %d bytes, want %d: it is not a key; move it out of the repository", path, limit, EncodedKeySize)
	}
	return b, err
}

var errTooLarge = errors.New("file too large")

// readFile reads the regular file at path, refusing a symbolic link (it
// is opened with O_NOFOLLOW, so one swapped in after a check is refused
// too), anything but a regular file (a FIFO or /dev/zero would block or
// never end: O_NONBLOCK keeps the open from hanging) and more than limit
// bytes (errTooLarge).
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, which fernetflow does not follow (a link can point anywhere)", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes: %w", path, limit, errTooLarge)
	}
	return b, err
}

func (c *config) checkOwner(path string, fi fs.FileInfo) error {
	if c.owner == nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != c.owner.UID || int(st.Gid) != c.owner.GID {
		return fmt.Errorf("keys: %s is owned by %d:%d, want %d:%d (the Keystone user and group): chown %d:%d %s", path, st.Uid, st.Gid, c.owner.UID, c.owner.GID, c.owner.UID, c.owner.GID, path)
	}
	return nil
}

func (c *config) checkNotCredential(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	for _, cr := range c.credentialRepos {
		crAbs, err := filepath.Abs(cr)
		if err != nil {
			continue
		}
		if same(abs, crAbs) {
			return fmt.Errorf("%w: %s is [credential] key_repository; rotating it like token keys makes every stored credential unreadable: use keystone-manage credential_rotate and credential_migrate", ErrCredentialRepository, dir)
		}
	}
	return nil
}

// same reports whether two absolute paths name the same directory.
func same(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// maxIndex bounds key indexes: a repository rotated once a minute for a
// thousand years stays far below it.
const maxIndex = 1 << 31

// pythonInt parses a file name as CPython's int() does, which is how
// Keystone decides whether a file is a key (fernet_utils._get_key_files):
//
//   - surrounding white space is skipped: ASCII \t \n \v \f \r and space, and
//     in a name that is not pure ASCII also Unicode white space (U+00A0,
//     U+3000, ...), but never the ASCII separators \x1c to \x1f;
//   - then an optional ASCII sign;
//   - then decimal digits of any script (Unicode category Nd: "٢" and "９"
//     are digits to Python), single underscores allowed between digits.
//
// It reports whether Python would accept s and, if so, its value; beyond
// maxIndex the value is only known to be larger than maxIndex. Where Go's
// Unicode tables are newer than a node's Python, a digit Python does not know
// yet is accepted here: that can only turn an ignored file into an error,
// never a key into an ignored file.
func pythonInt(s string) (int, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	isSpace := func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', ' ':
			return true
		}
		return !ascii && r >= utf8.RuneSelf && r != utf8.RuneError && unicode.IsSpace(r)
	}
	t := strings.TrimFunc(s, isSpace)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") {
		return 0, false
	}
	n := 0
	for _, ch := range t {
		if ch == '_' {
			continue
		}
		d, ok := decimalValue(ch)
		if !ok {
			return 0, false
		}
		if n <= maxIndex {
			n = n*10 + d
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// decimalValue is the value of a decimal digit of any script, as CPython's
// Py_UNICODE_TODECIMAL gives it. Unicode encodes every decimal digit
// (category Nd) in runs of ten, 0 to 9, so in each range of the Nd table
// (whose ranges are unions of such runs; a test checks it) a digit's value
// is its offset from the range's start, modulo 10.
func decimalValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < utf8.RuneSelf || r == utf8.RuneError {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	return 0, false
}
