package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// shareKeys gives every node of r the same keys, made the way
// keystone-manage fernet_setup makes them (the real keystone-manage does it
// in the integration suite), as an existing cloud has them.
func (r *fleetRig) shareKeys(nodes ...string) {
	r.t.Helper()
	ctx := context.Background()
	src := filepath.Join(r.base, "keystone-manage-setup")
	os.RemoveAll(src)
	if _, err := keys.Setup(ctx, src, keys.RotateOptions{MaxActiveKeys: 3}); err != nil {
		r.t.Fatal(err)
	}
	os.Remove(keys.MetadataPath(src)) // keystone-manage keeps none
	set, err := keys.Open(src)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, n := range nodes {
		if _, err := keys.Install(ctx, local.KeyRepository(n), set.Keys, keys.InstallOptions{Create: true}); err != nil {
			r.t.Fatal(err)
		}
		os.Remove(keys.MetadataPath(local.KeyRepository(n)))
	}
}

// The first run on a cloud whose nodes already share keys adopts them: a
// token issued before it stays valid everywhere. Then a stray
// keystone-manage fernet_rotate on one node makes the next run refuse,
// naming it, with its repository untouched, until the operator chooses to
// overwrite it.
func TestRotateAdoptsExistingKeysThenRefusesDrift(t *testing.T) {
	r := newRig(t, 3)
	r.shareKeys(r.nodes...)
	r.issue()
	master := filepath.Join(r.base, "undercloud", "master", "fernet-keys")

	out, errs, code := r.run("rotate", "--dry-run", "-f", "json")
	if code != 0 || !strings.Contains(out, `"action": "adopt"`) || !strings.Contains(out, "ctl0, ctl1, ctl2 share one key set") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	// The table says it too, and so does the progress.
	out, errs, _ = r.run("rotate", "--dry-run")
	if !strings.Contains(out, "ctl0, ctl1, ctl2 share one key set") || !strings.Contains(errs, "check                    SUCCESS  the master is empty and ctl0, ctl1, ctl2 share one key set") {
		t.Fatalf("dry run table:\n%s\n%s", out, errs)
	}
	if _, err := keys.Open(master); err == nil {
		t.Fatal("the dry run wrote the master")
	}
	if _, err := os.Stat(filepath.Join(r.base, "undercloud", fleet.IdentityFile)); err == nil {
		t.Fatal("the dry run asked the nodes for their keys (it made the identity they are sealed to)")
	}

	out, errs, code = r.run("rotate", "-f", "json")
	if code != 0 || !strings.Contains(out, `"outcome": "rotated"`) || !strings.Contains(out, `"action": "adopt"`) {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	var res fleetTable
	json.Unmarshal([]byte(out), &res)
	if res.Generation != 2 {
		t.Fatalf("generation %d after adopting (1) and rotating, want 2", res.Generation)
	}
	r.verifyAll("after the first run")
	r.issue()

	// Someone runs keystone-manage fernet_rotate on ctl2.
	ctl2 := local.KeyRepository(r.nodes[2])
	if _, err := keys.Rotate(context.Background(), ctl2, keys.RotateOptions{MaxActiveKeys: 5, Force: true}); err != nil {
		t.Fatal(err)
	}
	before := r.fingerprints()["ctl2"]
	for _, cmd := range []string{"rotate", "distribute"} {
		out, errs, code = r.run(cmd, "-f", "json")
		if code != exitRefused || !strings.Contains(errs, "ctl2: its keys changed outside fernetflow") ||
			!strings.Contains(errs, "keystone-manage fernet_rotate?") || !strings.Contains(errs, "--overwrite-drifted ctl2") {
			t.Fatalf("%s after drift: exit %d\n%s\n%s", cmd, code, out, errs)
		}
		if !strings.Contains(out, `"outcome": "refused"`) {
			t.Fatalf("%s after drift: %s", cmd, out)
		}
		if after := r.fingerprints()["ctl2"]; after != before {
			t.Fatalf("%s overwrote the drifted node", cmd)
		}
	}

	out, errs, code = r.run("rotate", "--overwrite-drifted", "ctl2", "-f", "json")
	if code != 0 {
		t.Fatalf("overwrite: exit %d\n%s\n%s", code, out, errs)
	}
	fps := r.fingerprints()
	if fps["ctl2"] != fps["ctl0"] || fps["ctl1"] != fps["ctl0"] {
		t.Fatalf("after overwriting: %v", fps)
	}
}

// Nodes that hold different keys are a refusal on the first run, naming
// each; --adopt-from chooses; --discard-existing-keys starts afresh.
func TestRotateRefusesToGuessWhichKeysToAdopt(t *testing.T) {
	r := newRig(t, 3)
	r.shareKeys(r.nodes[0], r.nodes[1])
	r.shareKeys(r.nodes[2])
	r.issue()
	master := filepath.Join(r.base, "undercloud", "master", "fernet-keys")
	// The dry run says what the run would do: refuse.
	out, errs, code := r.run("rotate", "--dry-run")
	if code != exitRefused || !strings.Contains(errs, "dry run: the run would refuse") || !strings.Contains(out, "outcome: refused") {
		t.Fatalf("dry run with different sets: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = r.run("rotate", "-f", "json")
	if code != exitRefused || !strings.Contains(errs, "2 different key sets: ctl0, ctl1 hold") || !strings.Contains(errs, "ctl2 hold") || !strings.Contains(errs, "--adopt-from SERVER") {
		t.Fatalf("different sets: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := keys.Open(master); err == nil {
		t.Fatal("a refusal wrote the master")
	}
	out, errs, code = r.run("rotate", "--adopt-from", "ctl0", "-f", "json")
	if code != 0 {
		t.Fatalf("--adopt-from ctl0: exit %d\n%s\n%s", code, out, errs)
	}
	// ctl0's and ctl1's tokens survive; ctl2's were given up.
	r.tokens = r.tokens[:2]
	r.verifyAll("after adopting ctl0's keys")
}

func TestRotateDiscardExistingKeys(t *testing.T) {
	r := newRig(t, 2)
	r.shareKeys(r.nodes...)
	r.issue()
	out, errs, code := r.run("rotate", "--discard-existing-keys", "-f", "json")
	if code != 0 || !strings.Contains(out, `"action": "setup"`) {
		t.Fatalf("discard: exit %d\n%s\n%s", code, out, errs)
	}
	repo, _ := keys.Open(local.KeyRepository(r.nodes[0]))
	if _, _, err := keys.VerifyToken(repo.Keys, r.tokens[0], 0); err == nil {
		t.Fatal("the old keys are still there")
	}
	// Only on the first run.
	if _, errs, code := r.run("rotate", "--discard-existing-keys"); code == 0 || !strings.Contains(errs, "for the first run") {
		t.Fatalf("discard again: exit %d %s", code, errs)
	}
}

// fernetflow check reads the repositories and probes; a tampered node
// needs attention (exit 3), and the check changes nothing.
func TestCheckFindsATamperedNode(t *testing.T) {
	r := newRig(t, 3)
	if _, errs, code := r.run("check"); code != 1 || !strings.Contains(errs, "the master holds no keys yet") {
		t.Fatalf("check before any rotation: exit %d %s", code, errs)
	}
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %s", errs)
	}
	out, errs, code := r.run("check", "-f", "json")
	if code != 0 || !strings.Contains(out, `"outcome": "in-sync"`) || !strings.Contains(out, `"checked": 9`) {
		t.Fatalf("check of a sound fleet: exit %d\n%s\n%s", code, out, errs)
	}
	// ctl1's primary key file is overwritten with another key.
	repo, _ := keys.Open(local.KeyRepository(r.nodes[1]))
	p, _ := repo.Keys.Primary()
	other, _ := keys.GenerateKey(nil)
	path := filepath.Join(local.KeyRepository(r.nodes[1]), fmt.Sprint(p))
	if err := os.WriteFile(path, other.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	before := r.fingerprints()
	out, errs, code = r.run("check", "-f", "json")
	if code != exitRefused || !strings.Contains(out, `"outcome": "needs-attention"`) || !strings.Contains(errs, "ctl1: its keys changed outside fernetflow") {
		t.Fatalf("check of a tampered node: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "a token issued by ctl1") {
		t.Fatalf("the probe did not name ctl1:\n%s", out)
	}
	if after := r.fingerprints(); after["ctl1"] != before["ctl1"] {
		t.Fatal("check changed a repository")
	}
}

// A master that was lost (its state directory moved away) is rebuilt from
// the nodes at the generation fernetflow had installed there, instead of
// taking them for nodes "ahead" of a new master; and a refused first run
// writes no master.
func TestRotateRebuildsALostMaster(t *testing.T) {
	r := newRig(t, 3)
	for range 2 {
		if _, errs, code := r.run("rotate"); code != 0 {
			t.Fatalf("rotate: %s", errs)
		}
	}
	r.issue()
	master := filepath.Join(r.base, "undercloud", "master")
	if err := os.Rename(master, master+".lost"); err != nil {
		t.Fatal(err)
	}
	// Nodes that hold two sets: a refusal, and nothing written.
	ctl2 := local.KeyRepository(r.nodes[2])
	before, _ := keys.Open(ctl2)
	if _, err := keys.Rotate(context.Background(), ctl2, keys.RotateOptions{MaxActiveKeys: 6, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := r.run("rotate", "--adopt-from", "ctl2"); code != exitRefused || !strings.Contains(errs, "ctl0: at generation 2, ahead of the master's 1") {
		t.Fatalf("adopt-from a drifted node: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(master, "fernet-keys")); err == nil {
		t.Fatal("a refused first run wrote the master")
	}
	// Put ctl2 back as it was: the nodes agree again.
	os.RemoveAll(ctl2)
	if _, err := keys.Install(context.Background(), ctl2, before.Keys, keys.InstallOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	out, errs, code := r.run("rotate", "-f", "json")
	if code != 0 || !strings.Contains(out, "it is rebuilt from them at generation 2") || !strings.Contains(out, `"generation": 3`) {
		t.Fatalf("rebuilding the master: exit %d\n%s\n%s", code, out, errs)
	}
	r.verifyAll("after rebuilding the master")
}
