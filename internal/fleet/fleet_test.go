package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// localFleet makes an undercloud and n local nodes.
func localFleet(t *testing.T, n int) (*Undercloud, *Local, []Server) {
	t.Helper()
	base := t.TempDir()
	u := &Undercloud{Dir: filepath.Join(base, "undercloud")}
	signer, err := u.Signer()
	if err != nil {
		t.Fatal(err)
	}
	l := &Local{Signer: signer.Public()}
	for i := range n {
		l.Nodes = append(l.Nodes, filepath.Join(base, "ctl"+string(rune('0'+i))))
	}
	servers, err := l.Servers(context.Background(), Selection{})
	if err != nil {
		t.Fatal(err)
	}
	return u, l, servers
}

func enrollAll(t *testing.T, u *Undercloud, l *Local, servers []Server) {
	t.Helper()
	for _, s := range servers {
		r, err := l.Enroll(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Pin(context.Background(), Enrollment{s, r, false}); err != nil {
			t.Fatal(err)
		}
	}
}

func deliverAll(t *testing.T, u *Undercloud, l *Local, servers []Server) {
	t.Helper()
	sealed, err := u.Package(servers)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sealed {
		if _, err := l.Deliver(context.Background(), s.Server, []byte(s.Envelope)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalFleetRotations(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 3)
	enrollAll(t, u, l, servers)
	if _, err := u.Master(); !errors.Is(err, ErrMasterNotReady) {
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
		m, err := u.Master()
		if err != nil || m.Generation != uint64(gen) {
			t.Fatalf("master %+v %v, want generation %d", m, err, gen)
		}
		before, _ := Check(ctx, l, servers, m.Generation, m.Fingerprint.String())
		if before.OK() || len(before.Stragglers) != 3 {
			t.Fatalf("generation %d before delivery: %s", gen, before.Summary())
		}
		deliverAll(t, u, l, servers)
		after, err := Check(ctx, l, servers, m.Generation, m.Fingerprint.String())
		if err != nil || !after.OK() {
			t.Fatalf("generation %d after delivery: %s %v", gen, after.Summary(), err)
		}
		p, err := Probe(ctx, l, servers)
		if err != nil || !p.OK() || p.Checked != 6 {
			t.Fatalf("probe at generation %d: %+v %v", gen, p, err)
		}
		for _, s := range servers {
			set, _ := l.KeySet(ctx, s)
			if set.Fingerprint() != m.Fingerprint {
				t.Fatalf("%s holds another set", s.Name)
			}
		}
	}
}

func TestCheckNamesStragglers(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 3)
	enrollAll(t, u, l, servers)
	ro := keys.RotateOptions{MaxActiveKeys: 4, Force: true}
	keys.Setup(ctx, u.MasterRepository(), ro)
	deliverAll(t, u, l, servers)
	keys.Rotate(ctx, u.MasterRepository(), ro)
	sealed, _ := u.Package(servers)
	for _, s := range sealed[:2] { // ctl2 misses generation 2
		if _, err := l.Deliver(ctx, s.Server, []byte(s.Envelope)); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := u.Master()
	res, _ := Check(ctx, l, servers, m.Generation, m.Fingerprint.String())
	if res.OK() || len(res.Stragglers) != 1 || res.Stragglers[0].Name != "ctl2" || !strings.Contains(res.Summary(), "ctl2: at generation 1, behind the master's 2") {
		t.Fatalf("check: %s", res.Summary())
	}
	// A straggler one generation behind still validates the others'
	// tokens: that is why one rotation of lag is safe.
	if p, _ := Probe(ctx, l, servers); !p.OK() {
		t.Fatalf("one generation of lag broke tokens: %v", p.Failures)
	}
	// Replaying generation 1 to an up-to-date node is refused.
	os.RemoveAll(filepath.Join(u.Dir, "master"))
	if _, err := keys.Setup(ctx, u.MasterRepository(), ro); err != nil {
		t.Fatal(err)
	}
	stale, _ := u.Package(servers[:1])
	if _, err := l.Deliver(ctx, servers[0], []byte(stale[0].Envelope)); !errors.Is(err, node.ErrRollback) && !errors.Is(err, node.ErrSplitBrain) {
		t.Fatalf("an old generation was delivered: %v", err)
	}
}

func TestRecipientPinning(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 1)
	enrollAll(t, u, l, servers)
	// The node is rebuilt: a new identity.
	if err := os.RemoveAll(StateDir(l.Nodes[0])); err != nil {
		t.Fatal(err)
	}
	r, err := l.Enroll(ctx, servers[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Pin(ctx, Enrollment{servers[0], r, false}); !errors.Is(err, ErrRecipientChanged) || !strings.Contains(err.Error(), "--reenroll") {
		t.Fatalf("a changed recipient: %v", err)
	}
	if changed, err := u.Pin(ctx, Enrollment{servers[0], r, true}); err != nil || !changed[0] {
		t.Fatalf("re-enroll: %v %v", changed, err)
	}
	if changed, err := u.Pin(ctx, Enrollment{servers[0], r, false}); err != nil || changed[0] {
		t.Fatalf("the same recipient again: %v %v", changed, err)
	}
	if _, err := u.Pin(ctx, Enrollment{servers[0], "age1notarecipient", false}); err == nil {
		t.Fatal("a malformed recipient was pinned")
	}
	if _, err := u.Package([]Server{{Name: "ghost", ID: "ghost"}}); err == nil {
		t.Fatal("packaged for an unenrolled node")
	}
}

func TestLocalServers(t *testing.T) {
	l := &Local{Nodes: []string{"/a/ctl1", "/b/ctl1"}}
	if _, err := l.Servers(context.Background(), Selection{}); err == nil {
		t.Fatal("two nodes with one name were accepted")
	}
	if _, err := (&Local{}).Servers(context.Background(), Selection{}); err == nil || !strings.Contains(err.Error(), "--nodes") {
		t.Fatalf("no nodes: %v", err)
	}
	l = &Local{Nodes: []string{"/x/ctl1"}}
	if _, err := l.Status(context.Background(), Server{ID: "nope"}); !errors.Is(err, ErrUnknownServer) {
		t.Fatalf("unknown server: %v", err)
	}
}

// Probe finds a node whose set cannot validate another's tokens, however
// the nodes group by fingerprint.
func TestProbeFindsABrokenPair(t *testing.T) {
	ctx := context.Background()
	u, l, servers := localFleet(t, 3)
	enrollAll(t, u, l, servers)
	ro := keys.RotateOptions{MaxActiveKeys: 3, Force: true}
	keys.Setup(ctx, u.MasterRepository(), ro)
	deliverAll(t, u, l, servers)
	// ctl2's repository is replaced by a foreign one (hand-made, unrelated keys).
	foreign := filepath.Join(t.TempDir(), "foreign")
	keys.Setup(ctx, foreign, ro)
	repo := KeyRepository(l.Nodes[2])
	os.RemoveAll(repo)
	if err := os.Rename(foreign, repo); err != nil {
		t.Fatal(err)
	}
	p, err := Probe(ctx, l, servers)
	if err != nil {
		t.Fatal(err)
	}
	if p.OK() || p.Checked != 6 || len(p.Failures) != 2 || !strings.Contains(strings.Join(p.Failures, ";"), "ctl2") {
		t.Fatalf("probe %+v", p)
	}
}
