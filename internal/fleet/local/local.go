// Package local is the fleet.Target whose nodes are directories on this
// host: the embedded default, the test and demo fleet, and a real
// deployment for an all-in-one or single-controller cloud.
//
// A node directory holds fernet-keys/ (its Keystone key repository,
// KeyRepository) and state/ (its identity and installed.json, StateDir);
// the server id and name are the directory's base name. Delivery runs
// node.Install and observation node.Report, exactly what `fernetflow node
// install` and `node collect` run on a real node: this package is where the
// undercloud and the node agent meet in one process, which is why it is
// not part of package fleet (the undercloud side of a Heat cloud never
// compiles the node agent).
package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// Target is the fleet.Target whose nodes are the directories Nodes.
type Target struct {
	// Nodes are the node directories, created on first use.
	Nodes []string
	// Signer is the undercloud's public key, pinned on every node.
	Signer envelope.PublicKey
	// Owner, when set, owns the key files written on the nodes.
	Owner *keys.Owner
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var _ fleet.Target = (*Target)(nil)

// KeyRepository is a local node's Keystone key repository.
func KeyRepository(nodeDir string) string { return filepath.Join(nodeDir, "fernet-keys") }

// StateDir is a local node's state directory.
func StateDir(nodeDir string) string { return filepath.Join(nodeDir, "state") }

// Servers implements fleet.Target; it ignores sel.
func (l *Target) Servers(ctx context.Context, _ fleet.Selection) ([]fleet.Server, error) {
	if len(l.Nodes) == 0 {
		return nil, fmt.Errorf("fleet: the local target has no nodes: pass --nodes DIR,DIR")
	}
	seen := map[string]string{}
	out := make([]fleet.Server, 0, len(l.Nodes))
	for _, dir := range l.Nodes {
		id := filepath.Base(filepath.Clean(dir))
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("fleet: local nodes %s and %s have one name %q: node directories need distinct base names", prev, dir, id)
		}
		seen[id] = dir
		out = append(out, fleet.Server{Name: id, ID: id})
	}
	slices.SortFunc(out, func(a, b fleet.Server) int { return strings.Compare(a.Name, b.Name) })
	return out, ctx.Err()
}

// Dir is the directory of the node whose server id is id.
func (l *Target) Dir(id string) (string, error) {
	for _, d := range l.Nodes {
		if filepath.Base(filepath.Clean(d)) == id {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w %q: it is not one of --nodes", fleet.ErrUnknownServer, id)
}

// Observe implements fleet.Target: node.Report on the node directory.
func (l *Target) Observe(ctx context.Context, s fleet.Server, req fleet.ObserveRequest) (fleet.Report, error) {
	dir, err := l.Dir(s.ID)
	if err != nil {
		return fleet.Report{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fleet.Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	signer := l.Signer
	obs, err := node.Report(ctx, node.ReportOptions{
		StateDir: StateDir(dir), KeyRepository: KeyRepository(dir), ServerID: s.ID, Owner: l.Owner,
		ProbeTokens: req.ProbeTokens, AdoptRequest: req.AdoptRequest[s.ID], Signer: &signer, Now: l.Now,
	})
	if err != nil {
		return fleet.Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	return fleet.ReportFrom(s, obs), nil
}

// Close implements fleet.Target: a local target holds nothing.
func (l *Target) Close() error { return nil }

// Deliver implements fleet.Target.
func (l *Target) Deliver(ctx context.Context, s fleet.Server, d fleet.Delivery) (fleet.Report, error) {
	dir, err := l.Dir(s.ID)
	if err != nil {
		return fleet.Report{}, err
	}
	res, err := node.Install(ctx, d.Envelope, node.InstallOptions{
		StateDir: StateDir(dir), KeyRepository: KeyRepository(dir), ServerID: s.ID,
		Signer: l.Signer, Owner: l.Owner, Now: l.Now, ProbeTokens: d.ProbeTokens, AllowFewer: d.AllowFewer,
	})
	if err != nil {
		return fleet.Report{}, fmt.Errorf("fleet: deliver to %s: %w", s.Name, err)
	}
	r := fleet.ReportFrom(s, res.Observation)
	r.Changed = res.Changed
	return r, nil
}

// Inspect reports what the node's repository and installed record hold
// now, read-only (node.Inspect): no identity is made, no lock taken, no
// probe token issued. A node directory that does not exist holds nothing.
func (l *Target) Inspect(s fleet.Server) (fleet.Report, error) {
	dir, err := l.Dir(s.ID)
	if err != nil {
		return fleet.Report{}, err
	}
	obs, err := node.Inspect(StateDir(dir), KeyRepository(dir), s.ID, l.Owner)
	if err != nil {
		return fleet.Report{}, fmt.Errorf("fleet: node %s: %w", s.Name, err)
	}
	return fleet.ReportFrom(s, obs), nil
}
