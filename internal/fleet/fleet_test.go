package fleet_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// localFleet makes an undercloud and n local nodes.
func localFleet(t *testing.T, n int) (*fleet.Undercloud, *local.Target, []fleet.Server) {
	t.Helper()
	base := t.TempDir()
	u := &fleet.Undercloud{Dir: filepath.Join(base, "undercloud")}
	signer, err := u.Signer()
	if err != nil {
		t.Fatal(err)
	}
	l := &local.Target{Signer: signer.Public()}
	for i := range n {
		l.Nodes = append(l.Nodes, filepath.Join(base, "ctl"+string(rune('0'+i))))
	}
	servers, err := l.Servers(context.Background(), fleet.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	return u, l, servers
}

func enrollAll(t *testing.T, u *fleet.Undercloud, l *local.Target, servers []fleet.Server) {
	t.Helper()
	for _, s := range servers {
		r, err := l.Observe(context.Background(), s, fleet.ObserveRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Pin(context.Background(), fleet.Enrollment{s, r.Observation.Recipient, false}); err != nil {
			t.Fatal(err)
		}
	}
}

func deliverAll(t *testing.T, u *fleet.Undercloud, l *local.Target, servers []fleet.Server) []fleet.Report {
	t.Helper()
	sealed, err := u.Package(servers)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := u.Master()
	tokens, _ := fleet.FleetToken(m)
	var out []fleet.Report
	for _, s := range sealed {
		r, err := l.Deliver(context.Background(), s.Server, fleet.Delivery{Envelope: []byte(s.Envelope), ProbeTokens: tokens})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func mustMaster(t *testing.T, u *fleet.Undercloud) *fleet.Master {
	t.Helper()
	m, err := u.Master()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func check(t *testing.T, u *fleet.Undercloud, l *local.Target, servers []fleet.Server) *fleet.CheckResult {
	t.Helper()
	m := mustMaster(t, u)
	tokens, _ := fleet.FleetToken(m)
	res, err := fleet.Check(context.Background(), l, servers, m, fleet.ObserveRequest{ProbeTokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLocalFleetRotations(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 3)
	enrollAll(t, u, l, servers)
	if _, err := u.Master(); !errors.Is(err, fleet.ErrMasterNotReady) {
		t.Fatalf("master before setup: %v", err)
	}
	ro := keys.RotateOptions{MaxActiveKeys: 4, Force: true}
	if _, err := keys.Setup(ctx, u.MasterRepository(), ro); err != nil {
		t.Fatal(err)
	}
	for gen := 1; gen <= 5; gen++ {
		if gen > 1 {
			if _, err := keys.Rotate(ctx, u.MasterRepository(), ro); err != nil {
				t.Fatal(err)
			}
		}
		m := mustMaster(t, u)
		if m.Generation != uint64(gen) {
			t.Fatalf("master at %d, want generation %d", m.Generation, gen)
		}
		if before := check(t, u, l, servers); before.OK() || len(before.Stragglers) != 3 {
			t.Fatalf("generation %d before delivery: %s", gen, before.Summary())
		}
		reports := deliverAll(t, u, l, servers)
		if after := fleet.Compare(m, servers, reports, nil, 0); !after.OK() {
			t.Fatalf("generation %d after delivery: %s", gen, after.Summary())
		}
		// 3 nodes: each token checked against the 2 others, and each
		// node checked the fleet's token.
		if p := fleet.Probe(m, servers, reports); !p.OK() || p.Checked != 9 {
			t.Fatalf("probe at generation %d: %+v", gen, p)
		}
	}
}

// rig is a fleet at generation 2 with every node holding it.
func rig(t *testing.T) (*fleet.Undercloud, *local.Target, []fleet.Server) {
	t.Helper()
	ctx := context.Background()
	u, l, servers := localFleet(t, 3)
	enrollAll(t, u, l, servers)
	ro := keys.RotateOptions{MaxActiveKeys: 4, Force: true}
	keys.Setup(ctx, u.MasterRepository(), ro)
	deliverAll(t, u, l, servers)
	keys.Rotate(ctx, u.MasterRepository(), ro)
	deliverAll(t, u, l, servers)
	return u, l, servers
}

// Every way a node can stand against the master, from its repository.
func TestClassifyFromTheRepository(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		change   func(t *testing.T, u *fleet.Undercloud, l *local.Target, servers []fleet.Server)
		status   fleet.Status
		reason   string
		discards bool
	}{
		{"in sync", func(*testing.T, *fleet.Undercloud, *local.Target, []fleet.Server) {}, fleet.StatusOK, "", false},
		{"behind: missed a delivery", func(t *testing.T, u *fleet.Undercloud, l *local.Target, s []fleet.Server) {
			keys.Rotate(ctx, u.MasterRepository(), keys.RotateOptions{MaxActiveKeys: 4, Force: true})
			deliverAll(t, u, l, s[:2])
		}, fleet.StatusBehind, "at generation 2, behind the master's 3", false},
		{"keystone-manage fernet_rotate by hand", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			if _, err := keys.Rotate(ctx, local.KeyRepository(l.Nodes[2]), keys.RotateOptions{MaxActiveKeys: 5, Force: true}); err != nil {
				t.Fatal(err)
			}
		}, fleet.StatusDrifted, "changed outside fernetflow since it installed generation 2: against that set, key files 3 added, key files 0 replaced (a keystone-manage fernet_rotate?)", false},
		{"keystone-manage fernet_rotate twice by hand", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			for range 2 {
				if _, err := keys.Rotate(ctx, local.KeyRepository(l.Nodes[2]), keys.RotateOptions{MaxActiveKeys: 5, Force: true}); err != nil {
					t.Fatal(err)
				}
			}
		}, fleet.StatusDrifted, "overwriting it removes its keys 4, and the tokens it signed with them stop validating", true},
		{"a key deleted by hand", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			os.Remove(filepath.Join(local.KeyRepository(l.Nodes[2]), "1"))
		}, fleet.StatusDrifted, "key files 1 deleted", false},
		{"state wiped, other keys", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			os.Remove(filepath.Join(local.StateDir(l.Nodes[2]), node.InstalledFile))
			keys.Rotate(ctx, local.KeyRepository(l.Nodes[2]), keys.RotateOptions{MaxActiveKeys: 5, Force: true})
		}, fleet.StatusDrifted, "holds keys fernetflow never installed there", false},
		{"state wiped, same keys", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			os.Remove(filepath.Join(local.StateDir(l.Nodes[2]), node.InstalledFile))
		}, fleet.StatusOK, "", false},
		{"repository emptied", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			os.RemoveAll(local.KeyRepository(l.Nodes[2]))
		}, fleet.StatusNew, "its key repository is empty, though generation 2 was installed", false},
		{"a malformed key file", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			os.WriteFile(filepath.Join(local.KeyRepository(l.Nodes[2]), "1"), []byte("garbage"), 0o600)
		}, fleet.StatusDrifted, "cannot be read as Keystone reads it", false},
		// Keystone reads "９９９" as key 999 (Python's int() takes any
		// script's digits): this node's primary, signing tokens no other
		// node validates. It must be a straggler, never agreement.
		{"a primary planted in full-width digits", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			k, _ := keys.GenerateKey(nil)
			os.WriteFile(filepath.Join(local.KeyRepository(l.Nodes[2]), "９９９"), k.Encode(), 0o600)
		}, fleet.StatusDrifted, `Keystone reads the file named "９９９" as key 999: rename it to 999 (or remove it)`, false},
		{"a key named in Arabic-Indic digits", func(t *testing.T, _ *fleet.Undercloud, l *local.Target, _ []fleet.Server) {
			k, _ := keys.GenerateKey(nil)
			os.WriteFile(filepath.Join(local.KeyRepository(l.Nodes[2]), "٣"), k.Encode(), 0o600)
		}, fleet.StatusDrifted, `Keystone reads the file named "٣" as key 3`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, l, servers := rig(t)
			c.change(t, u, l, servers)
			res := check(t, u, l, servers)
			if c.status == fleet.StatusOK {
				if !res.OK() {
					t.Fatalf("want all in sync: %s", res.Summary())
				}
				return
			}
			if len(res.Stragglers) != 1 {
				t.Fatalf("want one straggler: %s", res.Summary())
			}
			s := res.Stragglers[0]
			if s.Status != c.status || !strings.Contains(s.Reason, c.reason) || (len(s.Discards) > 0) != c.discards {
				t.Fatalf("got %s %q discards %v", s.Status, s.Reason, s.Discards)
			}
			repair, refuse := res.Decide(nil)
			if s.Repairable() != (len(repair) == 1) || s.Repairable() == (len(refuse) == 1) {
				t.Fatalf("decide: repair %v refuse %v", repair, refuse)
			}
			if repair, _ := res.Decide([]string{s.Name}); len(repair) != 1 && s.Status == fleet.StatusDrifted {
				t.Fatal("--overwrite-drifted did not repair the drifted node")
			}
		})
	}
}

// An install interrupted after its new primary was written is completed,
// not taken for drift.
func TestClassifyInterruptedInstall(t *testing.T) {
	ctx := context.Background()
	u, l, servers := rig(t)
	keys.Rotate(ctx, u.MasterRepository(), keys.RotateOptions{MaxActiveKeys: 4, Force: true})
	m := mustMaster(t, u)
	p, _ := m.Keys.Primary()
	// The first step of the safe order: the new primary file.
	os.WriteFile(filepath.Join(local.KeyRepository(l.Nodes[1]), "3"), m.Keys[p].Encode(), 0o600)
	res := check(t, u, l, servers)
	for _, s := range res.Stragglers {
		if s.Status != fleet.StatusBehind {
			t.Fatalf("%s: %s %s", s.Name, s.Status, s.Reason)
		}
	}
	if !strings.Contains(res.Summary(), "ctl1: an install of generation 3 was interrupted") {
		t.Fatal(res.Summary())
	}
}

// Replaying an older generation to an up-to-date node is refused.
func TestReplayRefused(t *testing.T) {
	ctx := context.Background()
	u, l, servers := rig(t)
	os.RemoveAll(filepath.Join(u.Dir, "master"))
	if _, err := keys.Setup(ctx, u.MasterRepository(), keys.RotateOptions{MaxActiveKeys: 4}); err != nil {
		t.Fatal(err)
	}
	stale, _ := u.Package(servers[:1])
	if _, err := l.Deliver(ctx, servers[0], fleet.Delivery{Envelope: []byte(stale[0].Envelope)}); !errors.Is(err, node.ErrRollback) && !errors.Is(err, node.ErrSplitBrain) {
		t.Fatalf("an old generation was delivered: %v", err)
	}
}

func TestRecipientPinning(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 1)
	enrollAll(t, u, l, servers)
	// The node is rebuilt: a new identity.
	if err := os.RemoveAll(local.StateDir(l.Nodes[0])); err != nil {
		t.Fatal(err)
	}
	r, err := l.Observe(ctx, servers[0], fleet.ObserveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rc := r.Observation.Recipient
	if _, err := u.Pin(ctx, fleet.Enrollment{servers[0], rc, false}); !errors.Is(err, fleet.ErrRecipientChanged) || !strings.Contains(err.Error(), "re-enroll it") { // the CLI adds fernetflow enroll --reenroll
		t.Fatalf("a changed recipient: %v", err)
	}
	if changed, err := u.Pin(ctx, fleet.Enrollment{servers[0], rc, true}); err != nil || !changed[0] {
		t.Fatalf("re-enroll: %v %v", changed, err)
	}
	if changed, err := u.Pin(ctx, fleet.Enrollment{servers[0], rc, false}); err != nil || changed[0] {
		t.Fatalf("the same recipient again: %v %v", changed, err)
	}
	if _, err := u.Pin(ctx, fleet.Enrollment{servers[0], "age1notarecipient", false}); err == nil {
		t.Fatal("a malformed recipient was pinned")
	}
	if _, err := u.Package([]fleet.Server{{Name: "ghost", ID: "ghost"}}); err == nil {
		t.Fatal("packaged for an unenrolled node")
	}
}

func TestLocalServers(t *testing.T) {
	l := &local.Target{Nodes: []string{"/a/ctl1", "/b/ctl1"}}
	if _, err := l.Servers(context.Background(), fleet.Selection{}); err == nil {
		t.Fatal("two nodes with one name were accepted")
	}
	if _, err := (&local.Target{}).Servers(context.Background(), fleet.Selection{}); err == nil || !strings.Contains(err.Error(), "--nodes") {
		t.Fatalf("no nodes: %v", err)
	}
	l = &local.Target{Nodes: []string{"/x/ctl1"}}
	if _, err := l.Observe(context.Background(), fleet.Server{ID: "nope"}, fleet.ObserveRequest{}); !errors.Is(err, fleet.ErrUnknownServer) {
		t.Fatalf("unknown server: %v", err)
	}
}

// The probe fails when one node's repository is tampered with, from the
// nodes' own tokens, and a probe that checked nothing is not a success.
func TestProbeFindsATamperedNode(t *testing.T) {
	ctx := context.Background()
	u, l, servers := rig(t)
	m := mustMaster(t, u)
	tokens, _ := fleet.FleetToken(m)
	reports, errs := fleet.Observe(ctx, l, servers, fleet.ObserveRequest{ProbeTokens: tokens})
	if p := fleet.Probe(m, servers, reports); len(errs) > 0 || !p.OK() || p.Checked != 9 {
		t.Fatalf("probe of a sound fleet: %+v %v", p, errs)
	}
	// ctl2's primary key file is replaced by another key.
	p, _ := m.Keys.Primary()
	other, _ := keys.GenerateKey(nil)
	os.WriteFile(filepath.Join(local.KeyRepository(l.Nodes[2]), strconvI(p)), other.Encode(), 0o600)
	reports, _ = fleet.Observe(ctx, l, servers, fleet.ObserveRequest{ProbeTokens: tokens})
	pr := fleet.Probe(m, servers, reports)
	all := strings.Join(pr.Failures, "; ")
	if pr.OK() || !strings.Contains(all, "a token issued by ctl2") || !strings.Contains(all, "ctl2 rejects a token signed with the master's primary key: tokens issued by ctl0, ctl1 fail there") {
		t.Fatalf("probe of a tampered node: %+v", pr)
	}
	if pr := fleet.Probe(m, servers, nil); pr.OK() || pr.Checked != 0 || len(pr.Failures) != 3 {
		t.Fatalf("a probe without reports: %+v", pr)
	}
}

func strconvI(i int) string { return string(rune('0' + i)) }

// The first run adopts the keys the nodes share; nodes that differ are a
// refusal unless one set is chosen.
func TestPlanAdoption(t *testing.T) {
	ctx := context.Background()
	setup := func(dir string) { keys.Setup(ctx, dir, keys.RotateOptions{MaxActiveKeys: 3}) }
	copyRepo := func(t *testing.T, from, to string) {
		os.MkdirAll(to, 0o700)
		r, err := keys.Open(from)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Install(ctx, to, r.Keys, keys.InstallOptions{Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name      string
		prepare   func(t *testing.T, l *local.Target)
		adoptFrom string
		discard   bool
		action    string
		reason    string
	}{
		{"no node holds keys", func(*testing.T, *local.Target) {}, "", false, "setup", "no node holds keys"},
		{"all share keystone-manage keys", func(t *testing.T, l *local.Target) {
			setup(local.KeyRepository(l.Nodes[0]))
			copyRepo(t, local.KeyRepository(l.Nodes[0]), local.KeyRepository(l.Nodes[1]))
			copyRepo(t, local.KeyRepository(l.Nodes[0]), local.KeyRepository(l.Nodes[2]))
		}, "", false, "adopt", "ctl0, ctl1, ctl2 share one key set"},
		{"a new node beside two that share keys", func(t *testing.T, l *local.Target) {
			setup(local.KeyRepository(l.Nodes[0]))
			copyRepo(t, local.KeyRepository(l.Nodes[0]), local.KeyRepository(l.Nodes[1]))
		}, "", false, "adopt", "ctl0, ctl1 share one key set"},
		{"different sets", func(t *testing.T, l *local.Target) {
			setup(local.KeyRepository(l.Nodes[0]))
			copyRepo(t, local.KeyRepository(l.Nodes[0]), local.KeyRepository(l.Nodes[1]))
			setup(local.KeyRepository(l.Nodes[2]))
		}, "", false, "refuse", "2 different key sets: ctl0, ctl1 hold"},
		{"different sets, one chosen", func(t *testing.T, l *local.Target) {
			setup(local.KeyRepository(l.Nodes[0]))
			setup(local.KeyRepository(l.Nodes[2]))
		}, "ctl2", false, "adopt", "adopting the set ctl2 holds, as asked"},
		{"discarded", func(t *testing.T, l *local.Target) {
			setup(local.KeyRepository(l.Nodes[0]))
		}, "", true, "setup", "discarding the existing keys, as asked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, l, servers := localFleet(t, 3)
			c.prepare(t, l)
			reqs, err := u.AdoptRequests(servers)
			if err != nil {
				t.Fatal(err)
			}
			reports, errs := fleet.Observe(ctx, l, servers, fleet.ObserveRequest{AdoptRequest: reqs})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			for _, r := range reports {
				if r.Observation.Sealed != "" && strings.Contains(r.Observation.Sealed, "=") && !strings.HasPrefix(r.Observation.Sealed, "-----BEGIN AGE ENCRYPTED FILE-----") {
					t.Fatal("keys travel unsealed")
				}
			}
			a, set, err := u.PlanAdoption(reports, c.adoptFrom, c.discard, false)
			if err != nil {
				t.Fatal(err)
			}
			if p, pset, err := u.PlanAdoption(reports, c.adoptFrom, c.discard, true); err != nil || p.Action != a.Action || p.Reason != a.Reason || pset != nil {
				t.Fatalf("the plan (a dry run) differs: %+v %v %v", p, pset, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(a.Action) != c.action || !strings.Contains(a.Reason, c.reason) {
				t.Fatalf("got %s: %s", a.Action, a.Reason)
			}
			if (set != nil) != (c.action == "adopt") {
				t.Fatalf("set %v for %s", set, a.Action)
			}
			if set == nil {
				return
			}
			if err := u.Adopt(ctx, set, a.Generation); err != nil {
				t.Fatal(err)
			}
			m := mustMaster(t, u)
			if m.Generation != 1 || m.Fingerprint != a.Fingerprint {
				t.Fatalf("master after adoption: %d %s", m.Generation, m.Fingerprint.Short())
			}
			if err := u.Adopt(ctx, set, 1); !errors.Is(err, keys.ErrInitialized) {
				t.Fatalf("a second adoption: %v", err)
			}
		})
	}
}

// Issue 13, defect 5: a link planted at recipients.lock is refused, and
// nothing is created through it.
func TestPinRefusesASymlinkedLock(t *testing.T) {
	u, l, servers := localFleet(t, 1)
	planted := filepath.Join(t.TempDir(), "planted")
	r, err := l.Observe(context.Background(), servers[0], fleet.ObserveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(u.Dir, 0o700)
	if err := os.Symlink(planted, filepath.Join(u.Dir, "recipients.lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Pin(context.Background(), fleet.Enrollment{servers[0], r.Observation.Recipient, false}); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("pin with a symlinked lock: %v", err)
	}
	if _, err := os.Lstat(planted); err == nil {
		t.Fatal("the lock was created through the planted link")
	}
}
