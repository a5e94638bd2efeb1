package rotation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
)

type rig struct {
	t *testing.T
	o Options
	l *local.Target
}

func newRig(t *testing.T) *rig {
	base := t.TempDir()
	u := &fleet.Undercloud{Dir: filepath.Join(base, "undercloud")}
	s, err := u.Signer()
	if err != nil {
		t.Fatal(err)
	}
	l := &local.Target{Signer: s.Public()}
	for _, n := range []string{"ctl0", "ctl1", "ctl2"} {
		l.Nodes = append(l.Nodes, filepath.Join(base, n))
	}
	return &rig{t: t, o: Options{Undercloud: u, Target: l}, l: l}
}

func (r *rig) run(wf Workflow, in map[string]any) *Result {
	r.t.Helper()
	if in == nil {
		in = map[string]any{}
	}
	if wf == Rotate {
		for k, v := range map[string]any{"max_active_keys": int64(3), "token_expiration": int64(3600), "allow_expired_window": int64(0)} {
			if _, ok := in[k]; !ok {
				in[k] = v
			}
		}
	}
	res, err := Run(context.Background(), wf, in, r.o)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// Every outcome, and the typed cause of every failed one, with no text
// matching: what the CLI turns into exit codes.
func TestOutcomes(t *testing.T) {
	r := newRig(t)
	want := func(res *Result, o Outcome, cause error) {
		t.Helper()
		if res.Outcome != o || (cause == nil) != (res.Err == nil) || (cause != nil && !errors.Is(res.Err, cause)) {
			t.Fatalf("got %s %v, want %s %v", res.Outcome, res.Err, o, cause)
		}
	}
	want(r.run(Check, nil), Failed, ErrFailed) // no master yet: nothing to check against
	want(r.run(Enroll, nil), Enrolled, nil)
	want(r.run(Rotate, map[string]any{"dry_run": true}), DryRun, nil)
	want(r.run(Rotate, nil), Rotated, nil)
	want(r.run(Distribute, nil), InSync, nil)
	want(r.run(Check, nil), InSync, nil)

	// The prune guard: generation 3 would prune a key demoted moments ago.
	want(r.run(Rotate, nil), Rotated, nil)
	res := r.run(Rotate, map[string]any{"token_expiration": int64(86400)})
	want(res, Refused, ErrRefused)
	if !errors.Is(res.Err, keys.ErrUnsafePrune) {
		t.Fatalf("the guard's refusal does not wrap keys.ErrUnsafePrune: %v", res.Err)
	}

	// Drift: a key file deleted by hand on ctl1.
	os.Remove(filepath.Join(local.KeyRepository(r.l.Nodes[1]), "1"))
	want(r.run(Rotate, nil), Refused, ErrRefused)
	want(r.run(Check, nil), NeedsAttention, ErrNeedsAttention)
	want(r.run(Rotate, map[string]any{"overwrite_drifted": []any{"ctl1"}, "max_active_keys": int64(6)}), Rotated, nil)

	// A rebuilt node: its identity changed.
	os.RemoveAll(local.StateDir(r.l.Nodes[2]))
	res = r.run(Enroll, nil)
	want(res, Refused, ErrRefused)
	if !errors.Is(res.Err, fleet.ErrRecipientChanged) {
		t.Fatalf("enroll of a rebuilt node: %v", res.Err)
	}
	want(r.run(Enroll, map[string]any{"reenroll": []any{"ctl2"}}), Enrolled, nil)
}
