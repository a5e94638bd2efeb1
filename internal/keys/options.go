package keys

import (
	"io"
	"log/slog"
	"time"
)

// Option configures Open, Setup, Rotate and Install.
type Option func(*config)

type config struct {
	owner           *Owner
	log             *slog.Logger
	credentialRepos []string
	wait            bool
	now             func() time.Time
	rand            io.Reader

	stepHook func(step string)

	// lenient makes load record malformed key files in
	// Repository.Corrupt instead of failing (Install's Repair).
	lenient bool
}

// Owner is a numeric user and group, as keystone-manage's
// --keystone-user/--keystone-group resolve to.
type Owner struct {
	UID, GID int
}

// WithOwner makes every written file and directory owned by uid:gid, and
// makes Open refuse files and directories owned by anyone else.
func WithOwner(uid, gid int) Option {
	return func(c *config) { c.owner = &Owner{UID: uid, GID: gid} }
}

// WithLogger sends warnings (empty key files, stale metadata, a broken
// max_active_keys rule) and progress to l. Key material is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// WithCredentialRepositories names Keystone credential-key repositories
// ([credential] key_repository). A token operation on one of them is
// refused with [ErrCredentialRepository].
func WithCredentialRepositories(dirs ...string) Option {
	return func(c *config) { c.credentialRepos = append(c.credentialRepos, dirs...) }
}

// WithWait makes a writer wait for the repository lock (until its context
// ends) instead of failing at once with [ErrLocked].
func WithWait() Option {
	return func(c *config) { c.wait = true }
}

// WithClock sets the clock used for metadata times and the prune guard.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithRand sets the source of new keys (crypto/rand.Reader by default).
func WithRand(r io.Reader) Option {
	return func(c *config) { c.rand = r }
}

// WithStepHook calls hook after every durable step of a write ("write 3",
// "write 0", "remove 1", "metadata"), with the lock held. Tests use it to
// inspect or kill the process at every intermediate on-disk state.
func WithStepHook(hook func(step string)) Option {
	return func(c *config) { c.stepHook = hook }
}

func newConfig(opts []Option) *config {
	c := &config{log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *config) step(name string) {
	if c.stepHook != nil {
		c.stepHook(name)
	}
}
