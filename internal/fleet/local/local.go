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

var _ Target = (*Local)(nil)

// KeyRepository is a local node's Keystone key repository.
func KeyRepository(nodeDir string) string { return filepath.Join(nodeDir, "fernet-keys") }

// StateDir is a local node's state directory.
func StateDir(nodeDir string) string { return filepath.Join(nodeDir, "state") }

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

// Observe implements Target: node.Report on the node directory.
func (l *Local) Observe(ctx context.Context, s Server, req ObserveRequest) (Report, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return Report{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	signer := l.Signer
	obs, err := node.Report(ctx, node.ReportOptions{
		StateDir: StateDir(dir), KeyRepository: KeyRepository(dir), ServerID: s.ID, Owner: l.Owner,
		ProbeTokens: req.ProbeTokens, AdoptRequest: req.AdoptRequest[s.ID], Signer: &signer, Now: l.Now,
	})
	if err != nil {
		return Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	return ReportFrom(s, obs), nil
}

// Close implements Target: a local target holds nothing.
func (l *Local) Close() error { return nil }

// Deliver implements Target.
func (l *Local) Deliver(ctx context.Context, s Server, d Delivery) (Report, error) {
	dir, err := l.dir(s.ID)
	if err != nil {
		return Report{}, err
	}
	res, err := node.Install(ctx, d.Envelope, node.InstallOptions{
		StateDir: StateDir(dir), KeyRepository: KeyRepository(dir), ServerID: s.ID,
		Signer: l.Signer, Owner: l.Owner, Now: l.Now, ProbeTokens: d.ProbeTokens, AllowFewer: d.AllowFewer,
	})
	if err != nil {
		return Report{}, fmt.Errorf("fleet: deliver to %s: %w", s.Name, err)
	}
	r := ReportFrom(s, res.Observation)
	r.Changed = res.Changed
	return r, nil
}
