package fleet_test

// The zero-downtime invariant as a property test (issue 7): a simulation
// of a fleet of Keystone nodes on a virtual clock, driven by the real
// rotation code (keys.PlanRotation with its prune guard, Metadata.Confirm),
// the real straggler check (Check) and the node's real generation rules
// (node.Decide), with random delivery delays and failures, nodes that miss
// rotations, and tokens issued by random nodes at random times. Every
// schedule checks, at every state change:
//
//  1. no unexpired token is rejected by any node (keys.VerifyToken);
//  2. the master never rotates while a node does not hold its set;
//  3. every node's generation is the master's or the one before, and a
//     node refuses no delivery but a replayed older one (ErrRollback).
//
// A few schedules also run every delivery through the real path
// (envelope.Seal, node.Install on directories of a local.Target) and
// check that the disk agrees with the in-memory model, and that every
// intermediate on-disk state of every install validates every live token.
//
// Replay a schedule with its trace:
//
//	FERNETFLOW_SIM_SEED=<seed> FERNETFLOW_SIM_SCHEDULE=<i> go test -run 'TestSimulation$' -v ./internal/fleet/
//
// FERNETFLOW_SIM_SCHEDULES=<n> changes how many schedules run,
// FERNETFLOW_SIM_REAL_EVERY=<n> how often one installs on disk (0: never);
// FERNETFLOW_SIM_MUTATION=<name> replays a schedule of
// TestSimulationCatchesUnsafeProtocol.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
)

// simMutation breaks the protocol on purpose, to show that the simulation
// catches an unsafe one.
type simMutation int

const (
	mutNone simMutation = iota
	// mutNoConfirm never calls Metadata.Confirm: the guard counts a
	// demoted key's token life from the master's rotation, not from when
	// the last node stopped signing with it.
	mutNoConfirm
	// mutConfirmAfterRotationOnly confirms only at the end of a run that
	// rotated, not when a later check or a repair sees the whole fleet at
	// the generation.
	mutConfirmAfterRotationOnly
	// mutForce bypasses the prune guard (RotateOptions.Force).
	mutForce
	// mutSkipCheck rotates without looking for stragglers.
	mutSkipCheck
)

func (m simMutation) String() string {
	return [...]string{"none", "no-confirm", "confirm-after-rotation-only", "force", "skip-check"}[m]
}

// simParams is one schedule's fleet and protocol.
type simParams struct {
	Index    int
	Nodes    int
	Attempts int
	// Interval is the rotation interval; attempts come every Interval
	// with jitter, and sometimes an operator's early re-run.
	Interval           time.Duration
	TokenExpiration    time.Duration
	AllowExpiredWindow time.Duration
	// MaxActive is max_active_keys; Rule is what keys.MaxActiveKeys
	// computes for Interval (MaxActive < Rule: a too-small setting).
	MaxActive, Rule int
	// Wait is how long a run waits for its deliveries (heat.wait).
	Wait time.Duration
	// DelayScale is the mean delay of a delivery; LateProb the chance
	// that one lands only after the run gave up on it (up to 2 intervals).
	DelayScale time.Duration
	LateProb   float64
	// FailProb is, per node, the chance that a delivery never lands.
	FailProb []float64
	// Outages are, per node, a stretch (from the schedule's start) during
	// which every delivery to it fails: a node down for several runs.
	Outages [][2]time.Duration
	// Tokens is how many tokens are issued at random times (more are
	// issued around deliveries).
	Tokens int
	Probes int
	// AllowExpired checks tokens over token_expiration +
	// allow_expired_window, as a service validating with allow_expired
	// needs, instead of token_expiration: stronger, and what the guard
	// protects.
	AllowExpired bool
	Real         bool
	Mutation     simMutation
}

func (p simParams) String() string {
	fail := make([]string, len(p.FailProb))
	for i, f := range p.FailProb {
		fail[i] = strconv.FormatFloat(f, 'f', 2, 64)
	}
	var out []string
	for i, o := range p.Outages {
		if o[1] > 0 {
			out = append(out, fmt.Sprintf("ctl%d +%s..+%s", i, o[0], o[1]))
		}
	}
	return fmt.Sprintf("schedule %d: %d nodes, %d rotation attempts every %s, token_expiration %s, allow_expired_window %s, max_active_keys %d (rule %d), wait %s, delivery delay ~%s, late %.2f, failure per node [%s], outages [%s], tokens checked over allow_expired_window too %v, real install %v, mutation %s; times are offsets from %s",
		p.Index, p.Nodes, p.Attempts, p.Interval, p.TokenExpiration, p.AllowExpiredWindow, p.MaxActive, p.Rule, p.Wait, p.DelayScale, p.LateProb, strings.Join(fail, " "), strings.Join(out, ", "), p.AllowExpired, p.Real, p.Mutation, simEpoch().Format(time.RFC3339))
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// uniform returns a duration in [lo, hi), in whole seconds past lo so
// that traces stay readable.
func uniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo))).Truncate(time.Second)
}

// randomParams draws a schedule's parameters: Keystone's lifetimes
// (token_expiration 1h by default, allow_expired_window 48h) and others
// operators use, a rotation interval from a fraction to several times the
// token life, and max_active_keys by Keystone's rule, too small in some
// schedules.
func randomParams(r *rand.Rand, index int, real bool, mut simMutation) simParams {
	p := simParams{Index: index, Real: real, Mutation: mut}
	p.Nodes = 1 + r.IntN(7)
	p.Attempts = 3 + r.IntN(13)
	p.TokenExpiration = pick(r, time.Hour, time.Hour, time.Hour, 15*time.Minute, 6*time.Hour, 24*time.Hour)
	p.AllowExpiredWindow = pick(r, 48*time.Hour, 0, 0, time.Hour, 6*time.Hour)
	life := p.TokenExpiration + p.AllowExpiredWindow
	// From 5 rotations per token life to one every 4 lives.
	ratio := pick(r, 0.25, 0.5, 1, 1, 1, 1.5, 2, 3, 5)
	p.Interval = max(time.Duration(float64(life)/ratio).Round(time.Minute), 10*time.Minute)
	rule, err := keys.MaxActiveKeys(p.TokenExpiration, p.AllowExpiredWindow, p.Interval)
	if err != nil {
		panic(err)
	}
	p.Rule, p.MaxActive = rule, rule
	if r.IntN(100) < 15 || mut == mutForce {
		p.MaxActive = 2 + r.IntN(rule-2) // too small: the guard must refuse
	}
	p.Wait = uniform(r, 5*time.Minute, max(p.Interval/2, 6*time.Minute)).Round(time.Minute)
	p.DelayScale = pick(r, 30*time.Second, 2*time.Minute, 5*time.Minute, 20*time.Minute)
	p.LateProb = pick(r, 0, 0.05, 0.1, 0.3)
	maxFail := pick(r, 0, 0.05, 0.2, 0.5)
	for range p.Nodes {
		p.FailProb = append(p.FailProb, maxFail*r.Float64())
	}
	for range p.Nodes {
		var o [2]time.Duration
		if r.IntN(100) < 15 {
			o[0] = uniform(r, 0, time.Duration(p.Attempts)*p.Interval)
			o[1] = o[0] + uniform(r, p.Interval, 4*p.Interval)
		}
		p.Outages = append(p.Outages, o)
	}
	p.Tokens = 5 + r.IntN(30)
	p.Probes = 2 + r.IntN(8)
	p.AllowExpired = r.IntN(4) == 0
	return p
}

// simEvent is one event of the virtual clock.
type simEvent struct {
	at   time.Time
	seq  int
	kind simEventKind
	node int
	run  int
	// A delivery: the generation, its set and fingerprint.
	gen uint64
	set keys.Set
	fp  keys.Fingerprint
}

type simEventKind int

const (
	evAttempt simEventKind = iota // a protocol run starts: check
	evRotate                      // the run rotates the master
	evLand                        // a delivery reaches its node
	evRunEnd                      // heat.wait returns: check, confirm
	evIssue                       // a node issues a token
	evProbe                       // every live token on every node
)

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simNode is a Keystone node in memory: what installed.json records and
// the key repository.
type simNode struct {
	name  string
	state *node.State
	set   keys.Set
}

// simToken is a token some node issued.
type simToken struct {
	id      int
	issuer  int
	gen     uint64 // the issuer's generation
	index   int    // the index of the signing key on the issuer
	key     keys.Key
	issued  time.Time
	expires time.Time // issued + token_expiration (+ allow_expired_window)
	token   string
}

type simRun struct {
	n      int
	repair bool
	gen    uint64
}

// simStats counts what the schedules exercised, so a pass is not vacuous.
type simStats struct {
	Schedules, Runs, Skipped, Rotations, Repairs, GuardRefusals, GuardRefusalsSmall int
	Confirms, Deliveries, Failed, Late, Installs, Rollbacks, Tokens, Verifications  int
	StragglerTokens, RealInstalls, RealSteps                                        int
}

func (s *simStats) add(o simStats) {
	s.Schedules += o.Schedules
	s.Runs += o.Runs
	s.Skipped += o.Skipped
	s.Rotations += o.Rotations
	s.Repairs += o.Repairs
	s.GuardRefusals += o.GuardRefusals
	s.GuardRefusalsSmall += o.GuardRefusalsSmall
	s.Confirms += o.Confirms
	s.Deliveries += o.Deliveries
	s.Failed += o.Failed
	s.Late += o.Late
	s.Installs += o.Installs
	s.Rollbacks += o.Rollbacks
	s.Tokens += o.Tokens
	s.Verifications += o.Verifications
	s.StragglerTokens += o.StragglerTokens
	s.RealInstalls += o.RealInstalls
	s.RealSteps += o.RealSteps
}

// simViolation is a broken invariant.
type simViolation struct {
	kind int // 1, 2 or 3: the invariant
	msg  string
}

// sim is one schedule.
type sim struct {
	p       simParams
	rng     *rand.Rand
	keyRand randReader
	ctx     context.Context
	t0, now time.Time
	seq     int
	q       simQueue
	tracing bool
	trace   []string

	masterSet  keys.Set
	masterMeta *keys.Metadata
	masterGen  uint64
	masterFP   keys.Fingerprint

	nodes   []*simNode
	servers []fleet.Server
	byID    map[string]int
	tokens  []*simToken // live ones
	// verdicts caches keys.VerifyToken by token and generation.
	verdicts  map[verdictKey]bool
	nTokens   int
	run       *simRun
	nRuns     int
	stats     simStats
	violation *simViolation
	// ignore lists invariants a mutation breaks by construction.
	ignore map[int]bool

	real *simReal
}

// randReader makes the schedule's keys from its own generator, so that a
// seed replays the same keys.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(rr.r.Uint32())
	}
	return len(p), nil
}

func simEpoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func newSim(ctx context.Context, seed uint64, index int, real bool, mut simMutation, tracing bool) *sim {
	r := rand.New(rand.NewPCG(seed, uint64(index)))
	s := &sim{
		p: randomParams(r, index, real, mut), rng: r, keyRand: randReader{r}, ctx: ctx,
		t0: simEpoch(), now: simEpoch(), tracing: tracing, byID: map[string]int{}, ignore: map[int]bool{}, verdicts: map[verdictKey]bool{},
	}
	if mut == mutSkipCheck {
		s.ignore[2], s.ignore[3] = true, true
	}
	for i := range s.p.Nodes {
		name := "ctl" + strconv.Itoa(i)
		s.nodes = append(s.nodes, &simNode{name: name})
		s.servers = append(s.servers, fleet.Server{Name: name, ID: name})
		s.byID[name] = i
	}
	return s
}

func (s *sim) rotateOptions() keys.RotateOptions {
	return keys.RotateOptions{
		MaxActiveKeys: s.p.MaxActive, TokenExpiration: s.p.TokenExpiration, AllowExpiredWindow: s.p.AllowExpiredWindow,
		Force: s.p.Mutation == mutForce,
	}
}

// since is a virtual time as the offset from the schedule's start.
func (s *sim) since(t time.Time) vtime { return vtime(t.Sub(s.t0)) }

type vtime time.Duration

func (v vtime) String() string { return "+" + time.Duration(v).String() }

func (s *sim) tracef(format string, args ...any) {
	if s.tracing {
		s.trace = append(s.trace, fmt.Sprintf("%-14s ", s.since(s.now).String())+fmt.Sprintf(format, args...))
	}
}

func (s *sim) fail(kind int, format string, args ...any) {
	if s.violation != nil || s.ignore[kind] {
		return
	}
	s.violation = &simViolation{kind: kind, msg: fmt.Sprintf("%s invariant %d: ", s.since(s.now), kind) + fmt.Sprintf(format, args...)}
	s.tracef("VIOLATION of invariant %d: %s", kind, fmt.Sprintf(format, args...))
}

func (s *sim) push(e *simEvent) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

// setDesc describes a set in a trace line only when the line is written.
type setDesc keys.Set

func (d setDesc) String() string { return describe(keys.Set(d)) }

// keyID is a key's short ID, computed only when written.
type keyID struct{ k keys.Key }

func (k keyID) String() string { return k.k.ID()[:6] }

// checkDesc is a check's summary, computed only when written.
type checkDesc struct{ *fleet.CheckResult }

func (c checkDesc) String() string { return c.Summary() }

// describe names a set's keys by index and ID, never by content.
func describe(set keys.Set) string {
	var parts []string
	for _, i := range set.Indexes() {
		parts = append(parts, fmt.Sprintf("%d:%s", i, set[i].ID()[:6]))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// setup makes the master (keystone-manage fernet_setup through
// PlanRotation) and installs generation 1 on every node, as the overcloud
// deployment does, and schedules the rotation attempts, the tokens and the
// probes.
func (s *sim) setup() error {
	plan, meta, err := keys.PlanRotation(keys.Set{}, nil, s.rotateOptions(), s.now, s.keyRand)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	s.masterSet, s.masterMeta, s.masterGen, s.masterFP = plan.Next, meta, plan.Generation, plan.Fingerprint
	s.tracef("setup: master at generation %d %s", s.masterGen, setDesc(s.masterSet))
	for i := range s.nodes {
		s.install(i, s.masterGen, s.masterSet, s.masterFP)
	}
	if s.p.Mutation != mutNoConfirm {
		s.masterMeta.Confirm(s.masterGen, s.now)
	}

	t := s.now
	for range s.p.Attempts {
		gap := time.Duration(float64(s.p.Interval) * (0.8 + 0.4*s.rng.Float64())).Round(time.Second)
		if s.rng.IntN(100) < 15 {
			gap = uniform(s.rng, time.Minute, s.p.Interval/4+time.Minute) // an operator re-runs it early
		}
		t = t.Add(gap)
		s.push(&simEvent{at: t, kind: evAttempt})
	}
	horizon := t.Sub(s.t0) + s.p.Interval
	for range s.p.Tokens {
		s.push(&simEvent{at: s.t0.Add(uniform(s.rng, 0, horizon)), kind: evIssue, node: s.rng.IntN(s.p.Nodes)})
	}
	for range s.p.Probes {
		s.push(&simEvent{at: s.t0.Add(uniform(s.rng, 0, horizon)), kind: evProbe})
	}
	return nil
}

// runAll runs the schedule to its end or to the first violation.
func (s *sim) runAll() error {
	for s.q.Len() > 0 && s.violation == nil {
		e := heap.Pop(&s.q).(*simEvent)
		s.now = e.at
		var err error
		switch e.kind {
		case evAttempt:
			s.attempt()
		case evRotate:
			err = s.rotate(e)
		case evLand:
			s.land(e)
		case evRunEnd:
			s.runEnd(e)
		case evIssue:
			err = s.issue(e.node)
		case evProbe:
			s.probe()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check is fleet.Check against the nodes as they are now.
func (s *sim) check() *fleet.CheckResult {
	res, err := fleet.Check(s.ctx, simTarget{s}, s.servers, s.master(), fleet.ObserveRequest{})
	if err != nil {
		panic(err) // only when ctx ends
	}
	if s.real != nil {
		s.real.compareCheck(s, res)
	}
	return res
}

func (s *sim) confirm(why string) {
	if s.masterMeta.Confirm(s.masterGen, s.now) {
		s.stats.Confirms++
		s.tracef("%s: every node at generation %d: Confirm(%d, now)", why, s.masterGen, s.masterGen)
	}
}

// attempt is steps 1-2 of the protocol: list the servers, check them,
// and either repair the stragglers or go on to rotate.
func (s *sim) attempt() {
	if s.run != nil {
		s.stats.Skipped++
		s.tracef("rotation attempt skipped: run %d is still waiting for its deliveries", s.run.n)
		return
	}
	s.nRuns++
	s.stats.Runs++
	run := &simRun{n: s.nRuns, gen: s.masterGen}
	s.run = run
	res := s.check()
	if !res.OK() && s.p.Mutation != mutSkipCheck {
		run.repair = true
		s.stats.Repairs++
		s.tracef("run %d: check: %s: repair, no rotation", run.n, checkDesc{res})
		var to []int
		for _, st := range res.Stragglers {
			to = append(to, s.byID[st.ID])
		}
		s.dispatch(run, to)
		return
	}
	s.tracef("run %d: check: %s", run.n, checkDesc{res})
	if res.OK() && s.p.Mutation != mutNoConfirm && s.p.Mutation != mutConfirmAfterRotationOnly {
		s.confirm(fmt.Sprintf("run %d", run.n))
	}
	s.push(&simEvent{at: s.now.Add(uniform(s.rng, 0, 2*time.Minute)), kind: evRotate, run: run.n})
}

// rotate is steps 3-5: rotate the master with the real algorithm and
// guard, then package and deliver the new generation to every node.
func (s *sim) rotate(e *simEvent) error {
	run := s.run
	for _, n := range s.nodes {
		if n.state == nil || n.state.Generation != s.masterGen || n.state.Fingerprint != s.masterFP {
			s.fail(2, "run %d rotates the master past generation %d while %s holds %s", run.n, s.masterGen, n.name, stateString(n.state))
		}
	}
	plan, meta, err := keys.PlanRotation(s.masterSet, s.masterMeta, s.rotateOptions(), s.now, s.keyRand)
	if errors.Is(err, keys.ErrUnsafePrune) {
		s.stats.GuardRefusals++
		if s.p.MaxActive < s.p.Rule {
			s.stats.GuardRefusalsSmall++
		}
		s.tracef("run %d: rotation refused by the guard: %v", run.n, err)
		s.run = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("run %d: PlanRotation: %w", run.n, err)
	}
	s.stats.Rotations++
	var pruned []string
	if s.tracing {
		for _, p := range plan.Pruned {
			pruned = append(pruned, fmt.Sprintf("%d:%s", p.Index, p.KeyID[:6]))
		}
	}
	s.masterSet, s.masterMeta, s.masterGen, s.masterFP = plan.Next, meta, plan.Generation, plan.Fingerprint
	run.gen = s.masterGen
	s.tracef("run %d: rotate: generation %d %s, promoted 0→%d, pruned [%s]", run.n, s.masterGen, setDesc(s.masterSet), plan.Promoted.To, strings.Join(pruned, " "))
	s.checkGenerations()
	all := make([]int, len(s.nodes))
	for i := range all {
		all[i] = i
	}
	s.dispatch(run, all)
	return nil
}

// dispatch delivers the master's set to the nodes to (heat.deploy) and
// schedules the end of the run (heat.wait): when every delivery reported,
// or at the timeout. A failed delivery never lands; a late one lands
// after the run stopped waiting for it.
func (s *sim) dispatch(run *simRun, to []int) {
	start := s.now.Add(uniform(s.rng, 0, time.Minute))
	deadline := start.Add(s.p.Wait)
	end := start
	for _, i := range to {
		s.stats.Deliveries++
		o := s.p.Outages[i]
		down := o[1] > 0 && !start.Before(s.t0.Add(o[0])) && start.Before(s.t0.Add(o[1]))
		if fail := s.rng.Float64() < s.p.FailProb[i]; fail || down {
			s.stats.Failed++
			at := start.Add(uniform(s.rng, 0, s.p.Wait/2))
			end = latest(end, at)
			why := "fails"
			if down {
				why = "fails: the node is down"
			}
			s.tracef("run %d: delivery of generation %d to %s %s (reported at %s)", run.n, s.masterGen, s.nodes[i].name, why, s.since(at))
			continue
		}
		delay := time.Duration(s.rng.ExpFloat64() * float64(s.p.DelayScale)).Round(time.Second)
		if s.rng.Float64() < s.p.LateProb {
			delay = uniform(s.rng, s.p.Wait, s.p.Wait+2*s.p.Interval)
		}
		at := start.Add(delay)
		if at.After(deadline) {
			s.stats.Late++
			end = deadline
		} else {
			end = latest(end, at)
		}
		s.tracef("run %d: delivery of generation %d to %s lands at %s", run.n, s.masterGen, s.nodes[i].name, s.since(at))
		s.push(&simEvent{at: at, kind: evLand, node: i, run: run.n, gen: s.masterGen, set: s.masterSet, fp: s.masterFP})
		// The node keeps signing with its old primary until the
		// delivery lands: issue tokens right before (and after) it.
		if s.rng.IntN(3) == 0 {
			s.push(&simEvent{at: at.Add(-uniform(s.rng, 0, time.Minute)), kind: evIssue, node: i})
		}
		if s.rng.IntN(4) == 0 {
			s.push(&simEvent{at: at.Add(uniform(s.rng, 0, time.Minute)), kind: evIssue, node: s.rng.IntN(s.p.Nodes)})
		}
	}
	s.push(&simEvent{at: latest(end, s.now), kind: evRunEnd, run: run.n})
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// runEnd is steps 6-7: check the fleet; when every node holds the
// master's generation, confirm it.
func (s *sim) runEnd(e *simEvent) {
	run := s.run
	if run == nil || run.n != e.run {
		return
	}
	s.run = nil
	res := s.check()
	s.tracef("run %d ends: %s", run.n, checkDesc{res})
	if !res.OK() {
		return
	}
	switch s.p.Mutation {
	case mutNoConfirm:
	case mutConfirmAfterRotationOnly:
		if !run.repair {
			s.confirm(fmt.Sprintf("run %d", run.n))
		}
	default:
		s.confirm(fmt.Sprintf("run %d", run.n))
	}
}

// land applies a delivery on its node with the node's real rules.
func (s *sim) land(e *simEvent) {
	n := s.nodes[e.node]
	lateNote := ""
	if s.run == nil || s.run.n != e.run {
		lateNote = fmt.Sprintf(" (late: run %d stopped waiting)", e.run)
	}
	s.tracef("%s: delivery of generation %d from run %d lands%s", n.name, e.gen, e.run, lateNote)
	err := s.install(e.node, e.gen, e.set, e.fp)
	if err != nil {
		if errors.Is(err, node.ErrRollback) {
			s.stats.Rollbacks++
		} else {
			s.fail(3, "%s refused generation %d: %v", n.name, e.gen, err)
		}
		s.tracef("%s refuses generation %d: %v", n.name, e.gen, err)
	}
}

// install applies generation gen (set, fingerprint fp) on node i as
// node.Install does: node.Decide's rules, then keys.Install's refusals.
// In a real-install schedule the same envelope goes through node.Install
// on disk and both must agree.
func (s *sim) install(i int, gen uint64, set keys.Set, fp keys.Fingerprint) error {
	n := s.nodes[i]
	do, err := node.Decide(n.state, gen, fp)
	if err == nil && do {
		switch {
		case set.Validate() != nil:
			err = fmt.Errorf("refuse to install: %w", set.Validate())
		case len(set) < len(n.set):
			err = fmt.Errorf("refuse to install %d keys over %d", len(set), len(n.set))
		}
	}
	if s.real != nil {
		s.real.install(s, i, gen, set, fp, err)
	}
	if err != nil || !do {
		if err == nil {
			s.tracef("%s already holds generation %d: no-op", n.name, gen)
		}
		return err
	}
	s.stats.Installs++
	old := n.state
	n.state = &node.State{Format: 1, ServerID: n.name, Generation: gen, Fingerprint: fp}
	n.set = set
	s.tracef("%s installs generation %d %s (was %s)", n.name, gen, setDesc(set), stateString(old))
	s.checkGenerations()
	s.checkNode(i)
	if s.real != nil {
		s.real.compareNode(s, i)
	}
	return nil
}

func stateString(st *node.State) string {
	if st == nil {
		return "nothing"
	}
	return fmt.Sprintf("generation %d", st.Generation)
}

// checkGenerations is invariant 3.
func (s *sim) checkGenerations() {
	for _, n := range s.nodes {
		if n.state == nil {
			continue
		}
		if g := n.state.Generation; g > s.masterGen || g+1 < s.masterGen {
			s.fail(3, "%s is at generation %d, the master at %d", n.name, g, s.masterGen)
		}
	}
}

// live drops the expired tokens and returns the others.
func (s *sim) live() []*simToken {
	s.tokens = slices.DeleteFunc(s.tokens, func(t *simToken) bool { return !s.now.Before(t.expires) })
	return s.tokens
}

// verify is invariant 1 for one token on one node. Every node at one
// generation holds the same set (the master's set of that generation), so
// keys.VerifyToken runs once per token and generation.
func (s *sim) verify(tok *simToken, i int) {
	n := s.nodes[i]
	if n.state == nil {
		return // not serving yet
	}
	vk := verdictKey{tok.id, n.state.Generation}
	ok, seen := s.verdicts[vk]
	if !seen {
		s.stats.Verifications++
		_, _, err := keys.VerifyToken(n.set, tok.token, 0)
		ok = err == nil
		s.verdicts[vk] = ok
	}
	if !ok {
		s.fail(1, "%s rejects token %d, usable until %s: issued at %s by %s at generation %d with key %d:%s; %s holds %s %s",
			n.name, tok.id, s.since(tok.expires), s.since(tok.issued), s.nodes[tok.issuer].name, tok.gen, tok.index, tok.key.ID()[:6], n.name, stateString(n.state), describe(n.set))
	}
}

// checkNode verifies every live token on node i: the set it validates
// with changed.
func (s *sim) checkNode(i int) {
	for _, tok := range s.live() {
		s.verify(tok, i)
	}
}

// probe verifies every live token on every node.
func (s *sim) probe() {
	live := s.live()
	for i := range s.nodes {
		for _, tok := range live {
			s.verify(tok, i)
		}
	}
	if s.real != nil {
		s.real.probeDisk(s)
	}
}

// issue has node i sign a token with its primary, then verifies it on
// every node.
func (s *sim) issue(i int) error {
	n := s.nodes[i]
	if n.set == nil {
		return nil
	}
	s.nTokens++
	s.stats.Tokens++
	raw, err := keys.IssueToken(n.set, []byte("token "+strconv.Itoa(s.nTokens)))
	if err != nil {
		return err
	}
	p, _ := n.set.Primary()
	life := s.p.TokenExpiration
	if s.p.AllowExpired {
		life += s.p.AllowExpiredWindow
	}
	tok := &simToken{id: s.nTokens, issuer: i, gen: n.state.Generation, index: p, key: n.set[p], issued: s.now, expires: s.now.Add(life), token: raw}
	if tok.gen < s.masterGen {
		s.stats.StragglerTokens++
	}
	s.tokens = append(s.tokens, tok)
	s.tracef("%s issues token %d at generation %d with key %d:%s, usable until %s", n.name, tok.id, tok.gen, p, keyID{tok.key}, s.since(tok.expires))
	for j := range s.nodes {
		s.verify(tok, j)
	}
	return nil
}

type verdictKey struct {
	token int
	gen   uint64
}

// simTarget shows the in-memory nodes to Check.
type simTarget struct{ s *sim }

func (t simTarget) Servers(context.Context, fleet.Selection) ([]fleet.Server, error) {
	return t.s.servers, nil
}
func (t simTarget) Close() error { return nil }

func (t simTarget) Deliver(context.Context, fleet.Server, fleet.Delivery) (fleet.Report, error) {
	return fleet.Report{}, errors.New("sim: deliveries are events of the simulation")
}

// master is the model's master as Check sees it: a generation and a
// fingerprint.
func (s *sim) master() *fleet.Master {
	return &fleet.Master{Generation: s.masterGen, Fingerprint: s.masterFP}
}

func (t simTarget) Observe(_ context.Context, srv fleet.Server, _ fleet.ObserveRequest) (fleet.Report, error) {
	i, ok := t.s.byID[srv.ID]
	if !ok {
		return fleet.Report{}, fleet.ErrUnknownServer
	}
	r := fleet.Report{Server: srv}
	if st := t.s.nodes[i].state; st != nil {
		r.Generation, r.Fingerprint = st.Generation, st.Fingerprint
	}
	return r, nil
}

// simReal runs every delivery of a schedule through the real path too:
// envelope.Seal to the node's enrolled recipient, node.Install into a
// local target's node directory, checking every intermediate on-disk
// state of the key repository against the live tokens.
type simReal struct {
	local  *local.Target
	signer *envelope.Signer
	rcpt   []*age.X25519Recipient
	err    error // the first disagreement with the model
}

func newSimReal(s *sim, dir string) (*simReal, error) {
	signer, err := envelope.GenerateSigner()
	if err != nil {
		return nil, err
	}
	r := &simReal{signer: signer, local: &local.Target{Signer: signer.Public(), Now: func() time.Time { return s.now }}}
	for _, n := range s.nodes {
		r.local.Nodes = append(r.local.Nodes, filepath.Join(dir, n.name))
	}
	for _, srv := range s.servers {
		rep, err := r.local.Observe(s.ctx, srv, fleet.ObserveRequest{})
		if err != nil {
			return nil, err
		}
		rcpt, err := envelope.ParseRecipient(rep.Observation.Recipient)
		if err != nil {
			return nil, err
		}
		r.rcpt = append(r.rcpt, rcpt)
	}
	return r, nil
}

func (r *simReal) disagree(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// install delivers the envelope for real and compares the outcome with
// the model's (modelErr: nil, a node rule refusal, or a keys refusal).
func (r *simReal) install(s *sim, i int, gen uint64, set keys.Set, fp keys.Fingerprint, modelErr error) {
	srv := s.servers[i]
	env, err := envelope.Seal(set, gen, srv.ID, r.rcpt[i], r.signer)
	if err != nil {
		r.disagree("seal for %s: %v", srv.Name, err)
		return
	}
	dir := r.local.Nodes[i]
	fresh := s.nodes[i].state == nil // Keystone has nothing to serve yet
	s.stats.RealInstalls++
	res, err := node.Install(s.ctx, env, node.InstallOptions{
		StateDir: local.StateDir(dir), KeyRepository: local.KeyRepository(dir), ServerID: srv.ID,
		Signer: r.local.Signer, Now: r.local.Now,
		StepHook: func(step string) {
			// Keystone re-reads the repository on every request: every
			// intermediate state must validate every live token.
			if fresh {
				return
			}
			s.stats.RealSteps++
			repo, err := keys.Open(local.KeyRepository(dir))
			if err != nil {
				s.fail(1, "%s after install step %q of generation %d: Keystone cannot load the repository: %v", srv.Name, step, gen, err)
				return
			}
			for _, tok := range s.live() {
				if _, _, err := keys.VerifyToken(repo.Keys, tok.token, 0); err != nil {
					s.fail(1, "%s on disk after install step %q of generation %d rejects token %d, usable until %s (issued by %s with key %d:%s); the repository holds %s",
						srv.Name, step, gen, tok.id, s.since(tok.expires), s.nodes[tok.issuer].name, tok.index, tok.key.ID()[:6], describe(repo.Keys))
				}
			}
		},
	})
	switch {
	case (err == nil) != (modelErr == nil):
		r.disagree("%s, generation %d: node.Install says %v, the model %v", srv.Name, gen, err, modelErr)
	case err != nil && errors.Is(modelErr, node.ErrRollback) != errors.Is(err, node.ErrRollback):
		r.disagree("%s, generation %d: node.Install refuses with %v, the model with %v", srv.Name, gen, err, modelErr)
	case err == nil && (res.Generation != gen || res.Fingerprint != fp):
		r.disagree("%s: node.Install reports generation %d %s, want %d %s", srv.Name, res.Generation, res.Fingerprint, gen, fp)
	}
}

// compareNode checks that node i's disk holds what the model holds.
func (r *simReal) compareNode(s *sim, i int) {
	n := s.nodes[i]
	set, err := keySet(r.local, s.servers[i])
	if err != nil {
		r.disagree("%s: %v", n.name, err)
		return
	}
	if set.Fingerprint() != n.state.Fingerprint {
		r.disagree("%s holds %s on disk, the model %s", n.name, describe(set), describe(n.set))
	}
}

// compareCheck runs Check against the local target and compares it with
// the model's.
func (r *simReal) compareCheck(s *sim, model *fleet.CheckResult) {
	res, err := fleet.Check(s.ctx, r.local, s.servers, s.master(), fleet.ObserveRequest{})
	if err != nil {
		r.disagree("check: %v", err)
		return
	}
	if res.Summary() != model.Summary() {
		r.disagree("check on disk: %s; in the model: %s", res.Summary(), model.Summary())
	}
}

// probeDisk verifies every live token on every node's repository on disk.
func (r *simReal) probeDisk(s *sim) {
	for i, srv := range s.servers {
		set, err := keySet(r.local, srv)
		if err != nil {
			r.disagree("%s: %v", srv.Name, err)
			continue
		}
		for _, tok := range s.tokens {
			if _, _, err := keys.VerifyToken(set, tok.token, 0); err != nil {
				s.fail(1, "%s on disk rejects token %d, usable until %s; it holds %s", s.nodes[i].name, tok.id, s.since(tok.expires), describe(set))
			}
		}
	}
}

// keySet reads a local node's repository.
func keySet(l *local.Target, s fleet.Server) (keys.Set, error) {
	dir, err := l.Dir(s.ID)
	if err != nil {
		return nil, err
	}
	r, err := keys.Open(local.KeyRepository(dir))
	if err != nil {
		return nil, err
	}
	return r.Keys, nil
}

// simResult is one schedule's outcome.
type simResult struct {
	params    simParams
	stats     simStats
	violation *simViolation
	trace     []string
	err       error
}

// runSchedule runs schedule index of seed. dir is where a real-install
// schedule puts its node directories.
func runSchedule(ctx context.Context, seed uint64, index int, real bool, mut simMutation, tracing bool, dir string) simResult {
	s := newSim(ctx, seed, index, real, mut, tracing)
	res := simResult{params: s.p}
	if real {
		d, err := os.MkdirTemp(dir, "schedule")
		if err != nil {
			res.err = err
			return res
		}
		defer os.RemoveAll(d)
		if s.real, err = newSimReal(s, d); err != nil {
			res.err = err
			return res
		}
	}
	res.err = s.setup()
	if res.err == nil {
		res.err = s.runAll()
	}
	if res.err == nil && s.real != nil && s.real.err != nil {
		res.err = fmt.Errorf("the real install path disagrees with the model: %w", s.real.err)
	}
	s.stats.Schedules = 1
	res.stats, res.violation, res.trace = s.stats, s.violation, s.trace
	return res
}

// simSeed is FERNETFLOW_SIM_SEED, or the time.
func simSeed(t *testing.T) uint64 {
	if v := os.Getenv("FERNETFLOW_SIM_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FERNETFLOW_SIM_SEED=%q: %v", v, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// simRealEvery makes every simRealEvery-th schedule a real-install one.
const simRealEvery = 250

// runSchedules runs schedules 0..count-1 on every CPU and returns the
// totals and the first failing schedule (nil when all passed). stop says
// whether a result ends the search early.
func runSchedules(ctx context.Context, seed uint64, count int, mut simMutation, realEvery int, dir string, stop func(simResult) bool) (simStats, *simResult) {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		total simStats
		first *simResult
		wg    sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				mu.Lock()
				done := first != nil
				mu.Unlock()
				if done {
					return
				}
				real := realEvery > 0 && i%realEvery == 0
				res := runSchedule(ctx, seed, i, real, mut, false, dir)
				mu.Lock()
				total.add(res.stats)
				if stop(res) && (first == nil || res.params.Index < first.params.Index) {
					first = &res
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return total, first
}

func replayHint(seed uint64, index int, mut simMutation) string {
	m := ""
	if mut != mutNone {
		m = " FERNETFLOW_SIM_MUTATION=" + mut.String()
	}
	return fmt.Sprintf("replay: FERNETFLOW_SIM_SEED=%d FERNETFLOW_SIM_SCHEDULE=%d%s go test -run 'TestSimulation$' -v ./internal/fleet/", seed, index, m)
}

// TestSimulation is the invariant over at least 10,000 random schedules
// (1,000 with -short).
func TestSimulation(t *testing.T) {
	seed := simSeed(t)
	t.Logf("seed %d (set FERNETFLOW_SIM_SEED to replay)", seed)
	if v := os.Getenv("FERNETFLOW_SIM_SCHEDULE"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FERNETFLOW_SIM_SCHEDULE=%q: %v", v, err)
		}
		mut := mutNone
		if v := os.Getenv("FERNETFLOW_SIM_MUTATION"); v != "" {
			for m := mutNone; m <= mutSkipCheck; m++ {
				if m.String() == v {
					mut = m
				}
			}
			if mut == mutNone {
				t.Fatalf("FERNETFLOW_SIM_MUTATION=%q: want one of no-confirm, confirm-after-rotation-only, force, skip-check", v)
			}
		}
		res := runSchedule(t.Context(), seed, i, mut == mutNone && i%simRealEvery == 0, mut, true, t.TempDir())
		t.Logf("%s\n%s", res.params, strings.Join(res.trace, "\n"))
		t.Logf("%+v", res.stats)
		if res.err != nil || res.violation != nil {
			t.Fatalf("schedule %d: error %v, violation %v", i, res.err, res.violation)
		}
		return
	}
	count := 10000
	if testing.Short() {
		count = 1000
	}
	count = envInt(t, "FERNETFLOW_SIM_SCHEDULES", count)
	start := time.Now()
	realEvery := envInt(t, "FERNETFLOW_SIM_REAL_EVERY", simRealEvery)
	total, bad := runSchedules(t.Context(), seed, count, mutNone, realEvery, t.TempDir(), func(r simResult) bool {
		return r.err != nil || r.violation != nil
	})
	t.Logf("%d schedules in %s: %+v", total.Schedules, time.Since(start).Round(time.Millisecond), total)
	if bad != nil {
		replay := runSchedule(t.Context(), seed, bad.params.Index, bad.params.Real, mutNone, true, t.TempDir())
		t.Fatalf("seed %d, %s\nerror: %v\nviolation: %v\n%s\ntrace:\n%s", seed, bad.params, bad.err, bad.violation, replayHint(seed, bad.params.Index, mutNone), strings.Join(replay.trace, "\n"))
	}
	// The schedules must have exercised what the invariant is about.
	switch {
	case total.Schedules != count:
		t.Fatalf("ran %d schedules of %d", total.Schedules, count)
	case total.Rotations == 0 || total.Repairs == 0 || total.Late == 0 || total.Failed == 0:
		t.Fatalf("no rotation, repair, late or failed delivery: %+v", total)
	case total.StragglerTokens == 0 || total.Rollbacks == 0:
		t.Fatalf("no token from a straggler, no replayed generation refused: %+v", total)
	case total.GuardRefusalsSmall == 0:
		t.Fatalf("a too-small max_active_keys never made the guard refuse: %+v", total)
	case realEvery > 0 && count >= realEvery && (total.RealInstalls == 0 || total.RealSteps == 0):
		t.Fatalf("no real install: %+v", total)
	}
}

// TestSimulationCatchesUnsafeProtocol shows the property is not vacuous:
// with the protocol broken on purpose, the same schedules find a node
// rejecting an unexpired token.
func TestSimulationCatchesUnsafeProtocol(t *testing.T) {
	seed := simSeed(t)
	t.Logf("seed %d", seed)
	for _, mut := range []simMutation{mutNoConfirm, mutConfirmAfterRotationOnly, mutForce, mutSkipCheck} {
		t.Run(mut.String(), func(t *testing.T) {
			const count = 3000
			total, bad := runSchedules(t.Context(), seed, count, mut, 0, "", func(r simResult) bool {
				return r.err != nil || (r.violation != nil && r.violation.kind == 1)
			})
			if bad == nil {
				t.Fatalf("%d schedules with the protocol broken (%s) found no rejected token: %+v", count, mut, total)
			}
			if bad.err != nil {
				t.Fatalf("seed %d, %s: %v", seed, bad.params, bad.err)
			}
			t.Logf("found after %d schedules: %s\n%s\n%s", total.Schedules, bad.params, bad.violation.msg, replayHint(seed, bad.params.Index, mut))
		})
	}
}
