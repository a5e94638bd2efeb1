package rotation_test

// The property test's on-disk mode: one schedule in FERNETFLOW_SIM_REAL_EVERY
// (see simDiskEvery; 0: none) runs every node on disk too, through the product's
// real node path: a node directory of package local's target (node.Report
// for every report, which also makes the node's identity), and node.Install
// for every delivery, with the options the local target uses. The in-memory
// node stays the oracle the invariants read; the disk must agree with it:
//
//   - every report and every delivery's report says what the in-memory
//     node says (identity, installed.json, repository, probe), and the
//     disk's report is what the workflow sees;
//   - node.Install accepts what the in-memory node accepts, and refuses a
//     replayed generation as it does; after each delivery installed.json
//     and the key repository hold the in-memory node's state and keys;
//   - after every durable step of every install (node.Install's StepHook:
//     each key file written or removed, then installed.json), the key
//     repository, loaded as Keystone loads it (keys.Open), validates every
//     live token: invariant 1 for every intermediate state on disk;
//   - every probe of the schedule verifies every live token against every
//     node's repository on disk as well.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// simDiskEvery is the default of FERNETFLOW_SIM_REAL_EVERY: schedules
// 0, 250, 500... run on disk (40 of CI's 10,000, 4 of the default 1,000,
// the first of make test's 50).
const simDiskEvery = 250

// onDisk is a schedule's nodes on disk.
type onDisk struct {
	local *local.Target
}

// newOnDisk makes the node directories under dir; s.mu need not be held
// (the schedule has not started).
func newOnDisk(s *sim, dir string) *onDisk {
	d := &onDisk{local: &local.Target{
		Signer: s.signerPub,
		// The clock of installed.json and of a new identity; node.Report
		// and node.Install run with s.mu held.
		Now: func() time.Time { return s.now },
	}}
	for _, n := range s.nodes {
		d.local.Nodes = append(d.local.Nodes, filepath.Join(dir, n.srv.ID))
	}
	return d
}

func (d *onDisk) dir(n *simNode) string {
	dir, err := d.local.Dir(n.srv.ID)
	if err != nil {
		panic(err) // every node has a directory
	}
	return dir
}

// seed writes keystone-manage's set into node n's repository (an adopt
// schedule).
func (d *onDisk) seed(s *sim, n *simNode) error {
	dir := d.dir(n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, err := keys.Install(s.ctx, local.KeyRepository(dir), n.set, keys.InstallOptions{Create: true})
	return err
}

// observe is node.Report on node n's directory (the local target's
// Observe); once it made the node's identity, the in-memory node opens
// envelopes with it. s.mu is held.
func (d *onDisk) observe(s *sim, n *simNode, req fleet.ObserveRequest) (fleet.Report, error) {
	r, err := d.local.Observe(s.ctx, n.srv, req)
	if err != nil {
		return r, fmt.Errorf("on disk: %w", err)
	}
	if n.id == nil {
		if n.id, err = envelope.LoadIdentity(filepath.Join(local.StateDir(d.dir(n)), node.IdentityFile)); err != nil {
			return r, fmt.Errorf("on disk: %s: %w", n.srv.Name, err)
		}
	}
	s.stats["on-disk report"]++
	return r, nil
}

// install is node.Install on node n's directory with the local target's
// options, walking every intermediate state; s.mu is held, and the
// in-memory node has not applied the envelope yet.
func (d *onDisk) install(s *sim, n *simNode, armored []byte, allowFewer bool, probe []string) (*node.InstallResult, error) {
	dir := d.dir(n)
	serving := len(n.set) > 0 // Keystone has keys to serve tokens with
	s.stats["on-disk install"]++
	return node.Install(s.ctx, armored, node.InstallOptions{
		StateDir: local.StateDir(dir), KeyRepository: local.KeyRepository(dir), ServerID: n.srv.ID,
		Signer: d.local.Signer, Owner: d.local.Owner, Now: d.local.Now, ProbeTokens: probe, AllowFewer: allowFewer,
		StepHook: func(step string) {
			if !serving {
				return
			}
			// Keystone re-reads the repository on every request: every
			// intermediate state must validate every live token.
			s.stats["on-disk step checked"]++
			set, err := keys.Open(local.KeyRepository(dir))
			if err != nil {
				s.fail(1, "%s on disk after install step %q: Keystone cannot load the repository: %v", n.srv.Name, step, err)
				return
			}
			for _, tok := range s.live() {
				if _, _, err := keys.VerifyToken(set.Keys, tok.token, 0); err != nil {
					s.fail(1, "%s on disk after install step %q rejects token %d, usable until %s (issued by %s with key %d:%s); the repository holds %s",
						n.srv.Name, step, tok.id, s.since(tok.expires), s.nodes[tok.issuer].srv.Name, tok.index, tok.key.ID()[:6], describe(set.Keys))
				}
			}
		},
	})
}

// agreeInstall checks that node.Install (res, err) did what the in-memory
// node did (memErr) and that the disk holds what the in-memory node holds;
// s.mu is held.
func (d *onDisk) agreeInstall(s *sim, n *simNode, res *node.InstallResult, err, memErr error, changed bool) error {
	switch {
	case (err == nil) != (memErr == nil):
		return fmt.Errorf("on disk: %s: node.Install says %v, the in-memory node %v", n.srv.Name, err, memErr)
	case errors.Is(err, node.ErrRollback) != errors.Is(memErr, node.ErrRollback),
		errors.Is(err, node.ErrSplitBrain) != errors.Is(memErr, node.ErrSplitBrain):
		return fmt.Errorf("on disk: %s: node.Install refuses with %v, the in-memory node with %v", n.srv.Name, err, memErr)
	case err == nil && (res.Fingerprint != n.fp || n.state == nil || res.Generation != n.state.Generation):
		return fmt.Errorf("on disk: %s: node.Install reports generation %d %s, the in-memory node holds %s %s", n.srv.Name, res.Generation, res.Fingerprint.Short(), genString(n.state), setDesc(n.set))
	case err == nil && res.Changed != changed:
		return fmt.Errorf("on disk: %s: node.Install says changed %v, the in-memory node %v", n.srv.Name, res.Changed, changed)
	}
	return d.agreeNode(n)
}

// agreeNode checks that node n's installed.json and repository on disk
// are the in-memory node's.
func (d *onDisk) agreeNode(n *simNode) error {
	dir := d.dir(n)
	st, err := node.ReadState(local.StateDir(dir))
	if err != nil {
		return fmt.Errorf("on disk: %s: %w", n.srv.Name, err)
	}
	switch {
	case (st == nil) != (n.state == nil):
		return fmt.Errorf("on disk: %s: installed.json records %s, the in-memory node %s", n.srv.Name, genString(st), genString(n.state))
	case st != nil && (st.Generation != n.state.Generation || st.Fingerprint != n.state.Fingerprint || !slices.Equal(st.Keys, n.state.Keys)):
		return fmt.Errorf("on disk: %s: installed.json records generation %d %s, the in-memory node generation %d %s", n.srv.Name, st.Generation, st.Fingerprint.Short(), n.state.Generation, n.state.Fingerprint.Short())
	}
	r, err := keys.Open(local.KeyRepository(dir))
	switch {
	case errors.Is(err, keys.ErrNotInitialized) && len(n.set) == 0:
		return nil
	case err != nil:
		return fmt.Errorf("on disk: %s: %w (the in-memory node holds %s)", n.srv.Name, err, setDesc(n.set))
	case r.Keys.Fingerprint() != n.fp:
		return fmt.Errorf("on disk: %s holds %s, the in-memory node %s", n.srv.Name, describe(r.Keys), describe(n.set))
	}
	return nil
}

// agreeObservation checks that what node n reported from disk is what the
// in-memory node reports (probe tokens aside: each issues its own).
func agreeObservation(n *simNode, disk, mem *wire.Observation) error {
	inst := func(i *wire.Installed) string {
		if i == nil {
			return "nothing installed"
		}
		return fmt.Sprintf("generation %d %s %v", i.Generation, i.Fingerprint.Short(), i.Keys)
	}
	switch {
	case disk.ServerID != mem.ServerID || disk.Recipient != mem.Recipient || disk.Signer != mem.Signer:
		return fmt.Errorf("on disk: %s reports server %s, recipient %s, signer %s; the in-memory node %s, %s, %s", n.srv.Name, disk.ServerID, disk.Recipient, disk.Signer, mem.ServerID, mem.Recipient, mem.Signer)
	case inst(disk.Installed) != inst(mem.Installed):
		return fmt.Errorf("on disk: %s reports %s installed, the in-memory node %s", n.srv.Name, inst(disk.Installed), inst(mem.Installed))
	case disk.Repository.Error != "" || disk.Repository.Fingerprint != mem.Repository.Fingerprint || !slices.Equal(disk.Repository.Keys, mem.Repository.Keys):
		return fmt.Errorf("on disk: %s reports a repository holding %v %s (error %q), the in-memory node %v %s", n.srv.Name, disk.Repository.Keys, disk.Repository.Fingerprint.Short(), disk.Repository.Error, mem.Repository.Keys, mem.Repository.Fingerprint.Short())
	case disk.Probe.Checked != mem.Probe.Checked || !slices.Equal(disk.Probe.Rejected, mem.Probe.Rejected) || (disk.Probe.Token == "") != (mem.Probe.Token == ""):
		return fmt.Errorf("on disk: %s's probe checked %d and rejected %v, the in-memory node's %d and %v", n.srv.Name, disk.Probe.Checked, disk.Probe.Rejected, mem.Probe.Checked, mem.Probe.Rejected)
	case (disk.Sealed == "") != (mem.Sealed == ""):
		return fmt.Errorf("on disk: %s sealed its keys %v, the in-memory node %v", n.srv.Name, disk.Sealed != "", mem.Sealed != "")
	}
	return nil
}

// probe verifies every live token against every serving node's
// repository on disk; s.mu is held.
func (d *onDisk) probe(s *sim) error {
	for _, n := range s.nodes {
		if len(n.set) == 0 {
			continue
		}
		r, err := keys.Open(local.KeyRepository(d.dir(n)))
		if err != nil {
			return fmt.Errorf("on disk: %s: %w", n.srv.Name, err)
		}
		for _, tok := range s.live() {
			s.stats["on-disk verification"]++
			if _, _, err := keys.VerifyToken(r.Keys, tok.token, 0); err != nil {
				s.fail(1, "%s on disk rejects token %d, usable until %s; it holds %s", n.srv.Name, tok.id, s.since(tok.expires), describe(r.Keys))
			}
		}
	}
	return nil
}
