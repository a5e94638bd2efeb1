package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// Status is how a node stands against the master.
type Status string

// The statuses of a node. Only StatusOK agrees; StatusBehind and StatusNew
// are repaired by delivering the master's set (no token is lost: the node
// holds nothing the master lacks but keys fernetflow pruned); every other
// status is a refusal until the operator acts.
const (
	StatusOK Status = "ok"
	// StatusBehind: the node holds an older set fernetflow installed (or
	// an install of the master's set was interrupted).
	StatusBehind Status = "behind"
	// StatusNew: the node holds no keys.
	StatusNew Status = "new"
	// StatusDrifted: the node's keys were changed outside fernetflow (a
	// stray keystone-manage fernet_rotate, a key deleted by hand, keys
	// fernetflow never installed). Overwriting it can reject tokens.
	StatusDrifted Status = "drifted"
	// StatusSplitBrain: the node holds another set of the master's
	// generation, installed by another undercloud state.
	StatusSplitBrain Status = "split-brain"
	// StatusAhead: the node holds a newer generation than the master.
	StatusAhead Status = "ahead"
	// StatusUnreachable: the node did not report.
	StatusUnreachable Status = "unreachable"
	// StatusRecipientChanged: the node's identity is not the pinned one.
	StatusRecipientChanged Status = "recipient-changed"
	// StatusSigner: the node pins no signer, or another undercloud's: it
	// would refuse every envelope.
	StatusSigner Status = "signer"
	// StatusFailed: this run's delivery to the node failed.
	StatusFailed Status = "delivery-failed"
)

// ErrDeliveryFailed marks the error of a node whose delivery failed, for
// Compare (see StatusFailed).
var ErrDeliveryFailed = errors.New("the delivery failed")

// Straggler is a node that does not hold the master's set.
type Straggler struct {
	Report
	Status Status `json:"status"`
	Reason string `json:"reason"`
	// Discards are the indexes of keys in the node's repository, other
	// than its staged key 0, that the master's set does not hold:
	// overwriting the node removes them, and tokens signed with them stop
	// validating.
	Discards []int `json:"discards,omitempty"`
}

// Repairable reports whether delivering the master's set to the node
// loses no token.
func (s Straggler) Repairable() bool { return s.Status == StatusBehind || s.Status == StatusNew }

// CheckResult compares every node with the master.
type CheckResult struct {
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	Agree       []Report         `json:"agree"`
	Stragglers  []Straggler      `json:"stragglers"`
}

// WithoutSealed drops the sealed holdings of every report in c (see
// Report.WithoutSealed), in place, and returns c.
func (c *CheckResult) WithoutSealed() *CheckResult {
	for i := range c.Agree {
		c.Agree[i] = c.Agree[i].WithoutSealed()
	}
	for i := range c.Stragglers {
		c.Stragglers[i].Report = c.Stragglers[i].Report.WithoutSealed()
	}
	return c
}

// OK reports whether every node holds the master's set.
func (c *CheckResult) OK() bool { return len(c.Stragglers) == 0 }

// Summary names every straggler and why, for an error or a log line.
func (c *CheckResult) Summary() string {
	if c.OK() {
		return fmt.Sprintf("all %d nodes hold generation %d", len(c.Agree), c.Generation)
	}
	var parts []string
	for _, s := range c.Stragglers {
		parts = append(parts, s.Name+": "+s.Reason)
	}
	return fmt.Sprintf("%d of %d nodes do not hold generation %d (%s)", len(c.Stragglers), len(c.Stragglers)+len(c.Agree), c.Generation, strings.Join(parts, "; "))
}

// Decide splits the stragglers into those a delivery of the master's set
// repairs and those that refuse the run. A drifted node is repaired only
// when overwrite names it (by server id or name).
func (c *CheckResult) Decide(overwrite []string) (repair []Straggler, refuse []Straggler) {
	for _, s := range c.Stragglers {
		switch {
		case s.Repairable():
			repair = append(repair, s)
		case s.Status == StatusDrifted && (slices.Contains(overwrite, s.ID) || slices.Contains(overwrite, s.Name)):
			repair = append(repair, s)
		default:
			refuse = append(refuse, s)
		}
	}
	return repair, refuse
}

// checkConcurrency bounds the nodes asked at once: on Heat each report is
// a deployment the node's os-collect-config applies on its next poll, so
// all of them should be in flight together.
const checkConcurrency = 50

// Observe asks every server what it holds, concurrently. A server that
// does not answer before ctx ends, or answers with an error, is in errs
// (by server id) instead of the reports.
func Observe(ctx context.Context, t Target, servers []Server, req ObserveRequest) (reports []Report, errs map[string]error) {
	out := make([]Report, len(servers))
	fail := make([]error, len(servers))
	g := new(errgroup.Group)
	g.SetLimit(checkConcurrency)
	for i, s := range servers {
		g.Go(func() error {
			out[i], fail[i] = t.Observe(ctx, s, req)
			return nil
		})
	}
	_ = g.Wait()
	errs = map[string]error{}
	for i, s := range servers {
		if fail[i] != nil {
			errs[s.ID] = fail[i]
			continue
		}
		reports = append(reports, out[i])
	}
	return reports, errs
}

// Classify compares what one node reported with the master m. It returns
// (true, zero) for a node that holds the master's set.
func Classify(m *Master, r Report) (bool, Straggler) {
	st := func(s Status, reason string) (bool, Straggler) {
		return false, Straggler{Report: r, Status: s, Reason: reason}
	}
	gen, fp := m.Generation, m.Fingerprint
	o := r.Observation
	if o == nil {
		// A target that knows only generations and fingerprints.
		switch {
		case r.Fingerprint == fp && r.Generation == gen:
			return true, Straggler{}
		case r.Generation == 0 && r.Fingerprint.IsZero():
			return st(StatusNew, "holds no keys yet")
		case r.Generation == gen:
			return st(StatusSplitBrain, splitBrain(gen, r.Fingerprint, m))
		case r.Generation < gen:
			return st(StatusBehind, behind(r.Generation, gen))
		default:
			return st(StatusAhead, ahead(r.Generation, gen))
		}
	}
	repo, rec := o.Repository, o.Installed
	if repo.Error != "" {
		return st(StatusDrifted, "its key repository cannot be read as Keystone reads it: "+repo.Error)
	}
	if rec != nil && rec.Generation > gen {
		return st(StatusAhead, ahead(rec.Generation, gen))
	}
	if repo.Fingerprint == fp {
		return true, Straggler{}
	}
	if len(repo.Keys) == 0 {
		if rec == nil {
			return st(StatusNew, "holds no keys yet")
		}
		return st(StatusNew, fmt.Sprintf("its key repository is empty, though generation %d was installed (emptied by hand?): it issues no tokens, so the delivery loses none", rec.Generation))
	}
	master := wire.KeyRefs(m.Keys)
	discards := func() []int {
		var out []int
		ids := map[string]bool{}
		for _, k := range master {
			ids[k.ID] = true
		}
		for _, k := range repo.Keys {
			// A staged key (0) has signed no token: losing it loses none.
			if !ids[k.ID] && k.Index != 0 {
				out = append(out, k.Index)
			}
		}
		return out
	}
	drifted := func(reason string) (bool, Straggler) {
		_, s := st(StatusDrifted, reason)
		s.Discards = discards()
		if len(s.Discards) > 0 {
			s.Reason += fmt.Sprintf("; overwriting it removes its keys %s, and the tokens it signed with them stop validating", joinInts(s.Discards))
		}
		return false, s
	}
	if rec == nil {
		return drifted("holds keys fernetflow never installed there (made by keystone-manage, or its state directory was wiped)" + diff(master, repo.Keys, "the master"))
	}
	if repo.Fingerprint == rec.Fingerprint {
		switch {
		case rec.Generation == gen:
			return st(StatusSplitBrain, splitBrain(gen, rec.Fingerprint, m))
		default:
			return st(StatusBehind, behind(rec.Generation, gen))
		}
	}
	if len(m.Keys) > 0 && interruptedInstall(rec.Keys, repo.Keys, master) {
		return st(StatusBehind, fmt.Sprintf("an install of generation %d was interrupted; the delivery completes it", gen))
	}
	return drifted(fmt.Sprintf("its keys changed outside fernetflow since it installed generation %d%s", rec.Generation, diff(rec.Keys, repo.Keys, "that set")))
}

func behind(g, gen uint64) string {
	return fmt.Sprintf("at generation %d, behind the master's %d", g, gen)
}

func ahead(g, gen uint64) string {
	return fmt.Sprintf("at generation %d, ahead of the master's %d: the master was restored from an old backup? restore the newest backup of the master repository", g, gen)
}

func splitBrain(gen uint64, fp keys.Fingerprint, m *Master) string {
	return fmt.Sprintf("holds another set at generation %d (%s, master %s): split brain: two undercloud states disagree", gen, fp.Short(), m.Fingerprint.Short())
}

// interruptedInstall reports whether repo is a state an install of master
// over rec passes through (see keys.Install's order): every key of repo is
// in rec or in master, and every key both hold is still there.
func interruptedInstall(rec, repo, master []wire.KeyRef) bool {
	in := func(list []wire.KeyRef, k wire.KeyRef) bool { return slices.Contains(list, k) }
	for _, k := range repo {
		if !in(rec, k) && !in(master, k) {
			return false
		}
	}
	for _, k := range rec {
		if in(master, k) && !in(repo, k) {
			return false
		}
	}
	return true
}

// diff describes how keys differ from want, by key file.
func diff(want, got []wire.KeyRef, wantName string) string {
	byIndex := func(l []wire.KeyRef) map[int]string {
		m := map[int]string{}
		for _, k := range l {
			m[k.Index] = k.ID
		}
		return m
	}
	w, g := byIndex(want), byIndex(got)
	var added, removed, replaced []int
	maxWant, maxGot := -1, -1
	for i, id := range g {
		maxGot = max(maxGot, i)
		switch wid, ok := w[i]; {
		case !ok:
			added = append(added, i)
		case wid != id:
			replaced = append(replaced, i)
		}
	}
	for i := range w {
		maxWant = max(maxWant, i)
		if _, ok := g[i]; !ok {
			removed = append(removed, i)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "key files "+joinInts(added)+" added")
	}
	if len(removed) > 0 {
		parts = append(parts, "key files "+joinInts(removed)+" deleted")
	}
	if len(replaced) > 0 {
		parts = append(parts, "key files "+joinInts(replaced)+" replaced")
	}
	if len(parts) == 0 {
		return ""
	}
	s := ": against " + wantName + ", " + strings.Join(parts, ", ")
	if maxGot > maxWant && slices.Contains(replaced, 0) {
		s += " (a keystone-manage fernet_rotate?)"
	}
	return s
}

func joinInts(l []int) string {
	slices.Sort(l)
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// Compare classifies reports against the master, and every server of
// servers that has no report as unreachable, with its error from errs.
func Compare(m *Master, servers []Server, reports []Report, errs map[string]error, timeout time.Duration) *CheckResult {
	res := &CheckResult{Generation: m.Generation, Fingerprint: m.Fingerprint, Agree: []Report{}, Stragglers: []Straggler{}}
	byID := map[string]Report{}
	for _, r := range reports {
		byID[r.ID] = r
	}
	for _, s := range servers {
		r, ok := byID[s.ID]
		if !ok {
			res.Stragglers = append(res.Stragglers, Unreachable(s, errs[s.ID], timeout))
			continue
		}
		if agree, st := Classify(m, r); agree {
			r.Generation = m.Generation
			res.Agree = append(res.Agree, r)
		} else {
			res.Stragglers = append(res.Stragglers, st)
		}
	}
	return res
}

// Unreachable is the straggler for a server that did not report.
func Unreachable(s Server, err error, timeout time.Duration) Straggler {
	reason := "did not report"
	switch {
	case errors.Is(err, ErrDeliveryFailed):
		return Straggler{Report: Report{Server: s}, Status: StatusFailed, Reason: err.Error()}
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && timeout > 0:
		reason = fmt.Sprintf("did not report within %s (the check timeout): is the node up, and does its os-collect-config run and reach Heat?", timeout)
	default:
		reason = "unreachable: " + err.Error()
	}
	return Straggler{Report: Report{Server: s}, Status: StatusUnreachable, Reason: reason}
}

// Check asks every server what it holds and compares it with the master.
// A server that cannot be asked is a straggler with the error as its
// reason; Check itself fails only when ctx ends.
func Check(ctx context.Context, t Target, servers []Server, m *Master, req ObserveRequest) (*CheckResult, error) {
	reports, errs := Observe(ctx, t, servers, req)
	if err := ctx.Err(); err != nil && len(errs) == len(servers) && len(servers) > 0 {
		return nil, err
	}
	return Compare(m, servers, reports, errs, 0), nil
}
