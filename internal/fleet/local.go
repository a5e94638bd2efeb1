package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// Local is the target whose nodes are directories on this host. A node
// directory holds fernet-keys/ (its Keystone key repository) and state/
// (its identity and installed.json); the server id and name are the
// directory's base name. Delivery runs node.Install, exactly what
// `fernetflow node install` runs on a real node.
type Local struct {
	// Nodes are the node directories, created on first use.
	Nodes []string
	// Signer is the undercloud's public key, pinned on every node.
	Signer envelope.PublicKey
	// Owner, when set, owns the key files written on the nodes.
	Owner *keys.Owner
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var (
	_ Target    = (*Local)(nil)
	_ KeyReader = (*Local)(nil)
)

// KeyRepository is a local node's Keystone key repository.
func KeyRepository(nodeDir string) string { return filepath.Join(nodeDir, "fernet-keys") }

// StateDir is a local node's state directory.
func StateDir(nodeDir string) string { return filepath.Join(nodeDir, "state") }

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Servers implements Target.
func (l *Local) Servers(ctx context.Context, _ Selection) ([]Server, error) {
	if len(l.Nodes) == 0 {
		return nil, fmt.Errorf("fleet: the local target has no nodes: pass --nodes DIR,DIR")
	}
	seen := map[string]string{}
	out := make([]Server, 0, len(l.Nodes))
	for _, dir := range l.Nodes {
		id := filepath.Base(filepath.Clean(dir))
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("fleet: local nodes %s and %s have one name %q: node directories need distinct base names", prev, dir, id)
		}
		seen[id] = dir
		out = append(out, Server{Name: id, ID: id})
	}
	slices.SortFunc(out, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
	return out, ctx.Err()
}

func (l *Local) dir(id string) (string, error) {
	for _, d := range l.Nodes {
		if filepath.Base(filepath.Clean(d)) == id {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w %q: it is not one of --nodes", ErrUnknownServer, id)
}

// Enroll implements Target.
func (l *Local) Enroll(ctx context.Context, s Server) (string, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	res, err := node.Enroll(StateDir(dir), s.ID, l.now())
	if err != nil {
		return "", fmt.Errorf("fleet: enroll %s: %w", s.Name, err)
	}
	return res.Recipient, nil
}

// Status implements Target. It reports what installed.json records, but
// with the fingerprint of the keys actually on disk, so a node whose
// repository was changed or broken since is not taken for up to date.
func (l *Local) Status(ctx context.Context, s Server) (Report, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return Report{}, err
	}
	st, err := node.ReadState(StateDir(dir))
	if err != nil {
		return Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	r := Report{Server: s}
	if st == nil {
		return r, ctx.Err()
	}
	r.Generation = st.Generation
	repo, err := keys.Open(KeyRepository(dir))
	if err != nil {
		return Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	r.Fingerprint = repo.Keys.Fingerprint().String()
	return r, ctx.Err()
}

// Deliver implements Target.
func (l *Local) Deliver(ctx context.Context, s Server, env []byte) (Report, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return Report{}, err
	}
	res, err := node.Install(ctx, env, node.InstallOptions{
		StateDir: StateDir(dir), KeyRepository: KeyRepository(dir), ServerID: s.ID,
		Signer: l.Signer, Owner: l.Owner, Now: l.Now,
	})
	if err != nil {
		return Report{}, fmt.Errorf("fleet: deliver to %s: %w", s.Name, err)
	}
	return Report{Server: s, Generation: res.Generation, Fingerprint: res.Fingerprint, Changed: res.Changed}, nil
}

// KeySet implements KeyReader.
func (l *Local) KeySet(ctx context.Context, s Server) (keys.Set, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return nil, err
	}
	r, err := keys.Open(KeyRepository(dir))
	if err != nil {
		return nil, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	return r.Keys, ctx.Err()
}
