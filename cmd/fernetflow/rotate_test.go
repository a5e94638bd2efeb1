package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// downTarget is a fault-injecting wrapper (a fake for fault injection
// only): deliveries to the node named down fail while it is set.
type downTarget struct {
	*local.Target
	down *atomic.Value // string
}

func (d downTarget) Deliver(ctx context.Context, s fleet.Server, del fleet.Delivery) (fleet.Report, error) {
	if v, _ := d.down.Load().(string); v == s.ID {
		return fleet.Report{}, fmt.Errorf("fleet: deliver to %s: node unreachable (injected fault)", s.Name)
	}
	return d.Target.Deliver(ctx, s, del)
}

type fleetRig struct {
	t      *testing.T
	base   string
	nodes  []string
	down   atomic.Value
	tokens []string // one token per node per generation, never expired here
}

func newRig(t *testing.T, n int) *fleetRig {
	r := &fleetRig{t: t, base: t.TempDir()}
	for i := range n {
		r.nodes = append(r.nodes, filepath.Join(r.base, fmt.Sprintf("ctl%d", i)))
	}
	r.down.Store("")
	return r
}

func (r *fleetRig) run(args ...string) (string, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	a.wrapTarget = func(t fleet.Target) fleet.Target { return downTarget{t.(*local.Target), &r.down} }
	root := a.root()
	args = append(args, "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", filepath.Join(r.base, "undercloud"),
		"--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0")
	if args[0] == "distribute" || args[0] == "enroll" || args[0] == "check" {
		args = args[:len(args)-6]
	}
	root.SetArgs(args)
	err := root.ExecuteContext(r.t.Context())
	if err != nil {
		errb.WriteString(errorText(err))
	}
	return out.String(), errb.String(), exitCode(err)
}

// issue signs a token on every node and remembers it.
func (r *fleetRig) issue() {
	for _, n := range r.nodes {
		repo, err := keys.Open(local.KeyRepository(n))
		if err != nil {
			r.t.Fatal(err)
		}
		tok, err := keys.IssueToken(repo.Keys, []byte(n))
		if err != nil {
			r.t.Fatal(err)
		}
		r.tokens = append(r.tokens, tok)
	}
}

// verifyAll checks that every remembered token validates on every node:
// with max_active_keys 5 and hourly tokens, none may break in these tests.
func (r *fleetRig) verifyAll(when string) {
	r.t.Helper()
	for _, n := range r.nodes {
		repo, err := keys.Open(local.KeyRepository(n))
		if err != nil {
			r.t.Fatalf("%s: %s: %v", when, n, err)
		}
		for i, tok := range r.tokens {
			if _, _, err := keys.VerifyToken(repo.Keys, tok, 0); err != nil {
				r.t.Fatalf("%s: token %d is rejected by %s", when, i, filepath.Base(n))
			}
		}
	}
}

func (r *fleetRig) fingerprints() map[string]string {
	out := map[string]string{}
	for _, n := range r.nodes {
		repo, err := keys.Open(local.KeyRepository(n))
		if err != nil {
			r.t.Fatal(err)
		}
		out[filepath.Base(n)] = repo.Keys.Fingerprint().String()
	}
	return out
}

func TestRotateLocalEndToEnd(t *testing.T) {
	r := newRig(t, 3)
	for rotation := 1; rotation <= 4; rotation++ {
		out, errs, code := r.run("rotate", "-f", "json")
		if code != 0 {
			t.Fatalf("rotation %d: exit %d\n%s\n%s", rotation, code, out, errs)
		}
		var res fleetTable
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if res.State != "SUCCESS" || res.Generation != uint64(rotation) || len(res.Servers) != 3 {
			t.Fatalf("rotation %d: %+v", rotation, res)
		}
		fps := r.fingerprints()
		for name, fp := range fps {
			if fp != fps["ctl0"] || fp != res.Servers[0].Fingerprint.String() {
				t.Fatalf("rotation %d: %s holds %s, others %s", rotation, name, fp, fps["ctl0"])
			}
		}
		report, _ := json.Marshal(res.Report)
		if !strings.Contains(string(report), `"ok":true`) || !strings.Contains(string(report), `"checked":9`) {
			t.Fatalf("rotation %d: probe report %s", rotation, report)
		}
		r.verifyAll(fmt.Sprintf("after rotation %d", rotation))
		r.issue()
		if !strings.Contains(errs, "ctl2") || !strings.Contains(errs, "probe") {
			t.Fatalf("no live progress on stderr:\n%s", errs)
		}
	}
}

func TestRotateNodeDownThenDistribute(t *testing.T) {
	r := newRig(t, 3)
	for range 2 {
		if _, errs, code := r.run("rotate"); code != 0 {
			t.Fatal(errs)
		}
		r.issue()
	}
	// ctl1 is down during the third rotation's deploy.
	r.down.Store("ctl1")
	_, errs, code := r.run("rotate")
	if code != 1 || !strings.Contains(errs, "ctl1") || !strings.Contains(errs, "incomplete: generation 3 did not reach every node") {
		t.Fatalf("node down during deploy: exit %d\n%s", code, errs)
	}
	r.verifyAll("with ctl1 one generation behind")
	r.issue()
	// Still down: the next run must refuse to rotate, naming ctl1.
	before := r.fingerprints()
	_, errs, code = r.run("rotate")
	if code != exitRefused || !strings.Contains(errs, "refused to rotate") || !strings.Contains(errs, "ctl1") {
		t.Fatalf("rotation with a straggler: exit %d\n%s", code, errs)
	}
	if after := r.fingerprints(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused rotation changed a node")
	}
	r.verifyAll("after the refusal")
	// ctl1 is back: distribute heals it; then rotation works again.
	r.down.Store("")
	if out, errs, code := r.run("distribute"); code != 0 || !strings.Contains(out, "ctl1") {
		t.Fatalf("distribute: exit %d\n%s\n%s", code, out, errs)
	}
	fps := r.fingerprints()
	if fps["ctl0"] != fps["ctl1"] || fps["ctl1"] != fps["ctl2"] {
		t.Fatalf("after distribute the nodes differ: %v", fps)
	}
	r.verifyAll("after distribute")
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotation after the repair: %s", errs)
	}
	r.verifyAll("after the next rotation")
}

// A run killed between the master's rotation and the delivery leaves the
// master one generation ahead; the next run completes that generation and
// does not rotate again.
func TestRotateResumesAnInterruptedRotation(t *testing.T) {
	r := newRig(t, 2)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatal(errs)
	}
	r.issue()
	// The crash: the master rotated, no node received it.
	if _, err := keys.Rotate(t.Context(), filepath.Join(r.base, "undercloud", "master", "fernet-keys"), keys.RotateOptions{MaxActiveKeys: 5, TokenExpiration: 3600e9}); err != nil {
		t.Fatal(err)
	}
	out, errs, code := r.run("rotate", "-f", "json")
	if code != exitResumed || !strings.Contains(out, `"resumed": true`) || !strings.Contains(out, `"outcome": "resumed"`) {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	var res fleetTable
	json.Unmarshal([]byte(out), &res)
	if res.Generation != 2 {
		t.Fatalf("generation %d after the resumed run, want 2 (no second rotation)", res.Generation)
	}
	r.verifyAll("after the resumed run")
	if out, _, code := r.run("rotate", "-f", "json"); code != 0 || !strings.Contains(out, `"generation": 3`) {
		t.Fatalf("the run after: exit %d %s", code, out)
	}
}

func TestRotateDryRunChangesNothing(t *testing.T) {
	r := newRig(t, 3)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatal(errs)
	}
	before := hashTree(t, r.base)
	out, errs, code := r.run("rotate", "--dry-run", "--no-store", "-f", "json")
	if code != 0 || !strings.Contains(out, `"dry_run": true`) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	if after := hashTree(t, r.base); after != before {
		t.Fatal("the dry run changed a byte")
	}
}

func TestRotateRefusals(t *testing.T) {
	if _, errs, code := runCLI(t, "", "rotate", "--target", "local", "--nodes", "x", "--state-dir", t.TempDir(), "--token-expiration", "2000000h", "--allow-expired-window", "2000000h"); code != exitUsage || !strings.Contains(errs, "token_expiration is 2000000h0m0s, beyond") {
		t.Fatalf("overflowing durations: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "rotate", "--target", "nowhere", "--nodes", "x", "--state-dir", t.TempDir()); code != exitUsage || !strings.Contains(errs, "local or heat") {
		t.Fatalf("bad target: %d %s", code, errs)
	}
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	root.SetArgs([]string{"rotate", "--target", "local", "--state-dir", t.TempDir()})
	err := root.ExecuteContext(t.Context())
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--nodes") {
		t.Fatalf("no nodes: %v", err)
	}
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("no nodes is not a usage error: %v", err)
	}
}

// hashTree hashes every file's path, mode and content under dir.
func hashTree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		fmt.Fprintf(h, "%s %v\n", path, fi.Mode())
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// A rotation run over part of the fleet (an operator left ctl2 out) is not
// confirmed: the next full run completes it on ctl2 and does not rotate.
func TestRotateWithANodeLeftOut(t *testing.T) {
	r := newRig(t, 3)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatal(errs)
	}
	r.issue()
	all := r.nodes
	r.nodes = all[:2]
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("partial rotation: %s", errs)
	}
	r.issue()
	r.nodes = all
	r.verifyAll("with ctl2 left behind")
	out, errs, code := r.run("rotate", "-f", "json")
	if code != exitResumed || !strings.Contains(out, `"resumed": true`) || !strings.Contains(out, `"generation": 2`) {
		t.Fatalf("the full run after a partial one: exit %d\n%s\n%s", code, out, errs)
	}
	r.verifyAll("after ctl2 caught up")
}

// Every action the definitions call is described, with schemas that parse.
func TestActionListAndShow(t *testing.T) {
	out, _, code := runCLI(t, "", "action", "list", "-f", "json")
	var list []actionSummary
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("action list: %d %s", code, out)
	}
	names := map[string]bool{}
	for _, a := range list {
		names[a.Name] = a.Description != ""
	}
	for _, want := range []string{"keys.status", "keys.rotate", "keys.package", "keys.probe", "fleet.check", "fleet.servers", "fleet.deploy", "node.enroll", "heat.servers", "heat.deploy", "heat.wait", "heat.cleanup", "std.echo"} {
		if !names[want] {
			t.Errorf("action list lacks %s (or its description)", want)
		}
	}
	out, _, code = runCLI(t, "", "action", "show", "keys.rotate", "-f", "json")
	var d struct {
		Input  map[string]any `json:"input_schema"`
		Output map[string]any `json:"output_schema"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Input["properties"] == nil || d.Output["properties"] == nil {
		t.Fatalf("action show: %d %s", code, out)
	}
	if _, errs, code := runCLI(t, "", "action", "show", "keys.nope"); code != exitUsage || !strings.Contains(errs, "action list") {
		t.Fatalf("unknown action: %d %s", code, errs)
	}
}
