package rotation_test

// The zero-downtime invariant as a property test of the protocol that
// ships: rotation.Run runs workflow/definitions' rotate_fernet_keys (and,
// now and then, distribute_fernet_keys) on the embedded engine, with the
// real actions of package actions and a real fleet.Undercloud (master
// repository, metadata, prune guard, signer and pins on disk), over
// simTarget: a fake fleet.Target for fault injection whose nodes apply the
// node's real rules (envelope.Open, node.Decide, keys' install refusals)
// on a virtual clock, with random delivery delays and failures, nodes that
// are down for a while, deliveries that land after the run stopped
// waiting for them, nodes that join later, nodes that do not answer a
// report before the run's check_timeout (on the virtual clock), and tokens
// issued by random nodes at random times with Keystone's lifetimes. One
// schedule in 250 runs its nodes on disk too (simdisk_test.go). Every
// schedule checks, at every state change:
//
//  1. no unexpired token is rejected by any node (keys.VerifyToken);
//  2. the master never rotates while a node does not hold its set;
//  3. every node's generation is the master's or the one before, and a
//     node refuses no delivery but a replayed older one (ErrRollback).
//
// Refusals are legitimate (a node down refuses the run, nothing changes);
// the invariants hold through them. A run that fails for another reason
// than a delivery that did not land fails the test.
//
// Replay a schedule with its trace (the test prints this line):
//
//	FERNETFLOW_SIM_SEED=<seed> FERNETFLOW_SIM_SCHEDULE=<i> go test -run 'TestRotationProperty$' -v ./internal/rotation/
//
// FERNETFLOW_SIM_SCHEDULES=<n> changes how many schedules run,
// FERNETFLOW_SIM_REAL_EVERY=<n> how often one runs on disk (0: never);
// FERNETFLOW_SIM_MUTATION=<name> replays a schedule of
// TestRotationPropertyCatchesUnsafeProtocol.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"maps"
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

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/internal/wire"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// params is one schedule's fleet and faults.
type params struct {
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
	// Wait is how long a delivery is waited for (the deployment's
	// signal); DelayScale the mean delay of one; LateProb the chance that
	// one lands only after the run stopped waiting (up to 2 intervals).
	Wait       time.Duration
	DelayScale time.Duration
	LateProb   float64
	// FailProb is, per node, the chance that a delivery never lands;
	// SilentProb, that a node does not answer a report request.
	FailProb   []float64
	SilentProb float64
	// Outages are, per node, a stretch (from the schedule's start) during
	// which the node answers nothing and applies no delivery, though its
	// Keystone keeps serving: a node down for several runs.
	Outages [][2]time.Duration
	// Joins are, per node, when it joins the fleet (0: from the start);
	// it holds no keys until a delivery reaches it.
	Joins []time.Duration
	// Adopt: the nodes start with one set keystone-manage made (the first
	// run adopts it, and no token it signed may be lost); otherwise they
	// start empty and the first run sets keys up.
	Adopt bool
	// DistributeProb is the chance that an attempt runs distribute
	// instead of rotate.
	DistributeProb float64
	// Tokens is how many tokens are issued at random times (more are
	// issued around deliveries); Probes, how many times every live token
	// is checked on every node.
	Tokens, Probes int
	// AllowExpired checks tokens over token_expiration +
	// allow_expired_window, as a service validating with allow_expired
	// needs, instead of token_expiration.
	AllowExpired bool
	// CheckTimeout is the workflow's check_timeout: a node that is down
	// or silent fails the report round when it ends, on the virtual
	// clock.
	CheckTimeout time.Duration
	// OnDisk runs the nodes on disk too (see simdisk_test.go).
	OnDisk   bool
	Mutation string
}

func (p params) String() string {
	var fail, out, join []string
	for i, f := range p.FailProb {
		fail = append(fail, strconv.FormatFloat(f, 'f', 2, 64))
		if o := p.Outages[i]; o[1] > 0 {
			out = append(out, fmt.Sprintf("ctl%d +%s..+%s", i, o[0], o[1]))
		}
		if p.Joins[i] > 0 {
			join = append(join, fmt.Sprintf("ctl%d +%s", i, p.Joins[i]))
		}
	}
	return fmt.Sprintf("schedule %d: %d nodes (joining later: [%s]), adopt %v, %d attempts every %s (distribute %.2f), token_expiration %s, allow_expired_window %s, max_active_keys %d (rule %d), wait %s, delivery delay ~%s, late %.2f, failure per node [%s], silent %.2f, check_timeout %s, outages [%s], tokens checked over allow_expired_window too %v, on disk %v, mutation %q; times are offsets from %s",
		p.Index, p.Nodes, strings.Join(join, ", "), p.Adopt, p.Attempts, p.Interval, p.DistributeProb, p.TokenExpiration, p.AllowExpiredWindow, p.MaxActive, p.Rule, p.Wait, p.DelayScale, p.LateProb, strings.Join(fail, " "), p.SilentProb, p.CheckTimeout, strings.Join(out, ", "), p.AllowExpired, p.OnDisk, p.Mutation, epoch().Format(time.RFC3339))
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

func epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// randomParams draws a schedule: Keystone's lifetimes (token_expiration
// 1h by default, allow_expired_window 48h) and others operators use, a
// rotation interval from a fraction to several times the token life, and
// max_active_keys by Keystone's rule, too small in some schedules. A
// schedule is small (a few nodes, a few runs): the engine runs every
// step, and the count of schedules finds the rare interleavings.
func randomParams(r *rand.Rand, index int, onDisk bool, mut string) params {
	p := params{Index: index, OnDisk: onDisk, Mutation: mut}
	p.Nodes = 1 + r.IntN(4)
	p.Attempts = 2 + r.IntN(5)
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
	if r.IntN(100) < 15 || mut == "force" {
		p.MaxActive = 2 + r.IntN(rule-2) // too small: the guard must refuse
	}
	p.Wait = uniform(r, 5*time.Minute, max(p.Interval/2, 6*time.Minute)).Round(time.Minute)
	p.DelayScale = pick(r, 30*time.Second, 2*time.Minute, 5*time.Minute, 20*time.Minute)
	p.LateProb = pick(r, 0, 0.05, 0.1, 0.3)
	maxFail := pick(r, 0, 0.05, 0.2, 0.5)
	p.SilentProb = pick(r, 0, 0, 0.02, 0.1)
	horizon := time.Duration(p.Attempts) * p.Interval
	for i := range p.Nodes {
		p.FailProb = append(p.FailProb, maxFail*r.Float64())
		var o [2]time.Duration
		if r.IntN(100) < 15 {
			o[0] = uniform(r, 0, horizon)
			o[1] = o[0] + uniform(r, p.Interval, 3*p.Interval)
		}
		p.Outages = append(p.Outages, o)
		var j time.Duration
		if i > 0 && r.IntN(100) < 10 {
			j = uniform(r, p.Interval/2, horizon)
		}
		p.Joins = append(p.Joins, j)
	}
	p.Adopt = r.IntN(3) == 0
	p.DistributeProb = pick(r, 0, 0, 0.1, 0.3)
	p.Tokens = 5 + r.IntN(20)
	p.Probes = 1 + r.IntN(4)
	p.AllowExpired = r.IntN(4) == 0
	p.CheckTimeout = pick(r, 90*time.Second, 90*time.Second, 30*time.Second, 5*time.Minute)
	return p
}

// event is one event of the virtual clock.
type event struct {
	at   time.Time
	seq  int
	kind eventKind
	node int
	// A late landing: the envelope and the run that sent it.
	run      int
	envelope []byte
	fewer    bool
}

type eventKind int

const (
	evAttempt eventKind = iota // a run of the workflow (a cron trigger)
	evLand                     // a delivery lands after its run stopped waiting
	evIssue                    // a node issues a token
	evProbe                    // every live token on every node
)

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simNode is a Keystone node in memory: its identity, what installed.json
// records and its key repository. In memory rather than node.Install on a
// directory because an install on disk (lock, fsync of every key file,
// installed.json) costs more than the rest of a run; node.Install's own
// tests cover the disk, its crash and step tests every intermediate state.
// The rules are the node's: envelope.Open (signature, recipient, server
// id), node.Decide (rollback, split brain), and keys.Install's refusals
// (an invalid set, fewer keys without allow_fewer), applied at once, as
// keys.Install's safe write order makes every intermediate state hold the
// union of the old and new sets' live keys.
type simNode struct {
	srv fleet.Server
	// rng draws this node's faults: per node, so that the concurrent
	// report round of fleet.check draws the same faults in any order.
	rng   *rand.Rand
	id    *age.X25519Identity // nil until its first report (reporting enrolls)
	state *node.State
	set   keys.Set
	fp    keys.Fingerprint // set's fingerprint, zero when empty
}

// token is a token some node issued.
type token struct {
	id      int
	issuer  int
	gen     uint64 // the issuer's generation (0: keys fernetflow never installed)
	index   int    // the index of the signing key on the issuer
	key     keys.Key
	issued  time.Time
	expires time.Time // issued + token_expiration (+ allow_expired_window)
	token   string
}

// violation is a broken invariant.
type violation struct {
	kind int // 1, 2 or 3: the invariant
	msg  string
}

// stats counts what the schedules exercised, so that a pass is not
// vacuous: outcomes ("outcome rotated"...), faults and checks.
type stats map[string]int

func (s stats) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s[k]))
	}
	return strings.Join(parts, " ")
}

// sim is one schedule.
type sim struct {
	p       params
	rng     *rand.Rand // the schedule's draws, made only by one goroutine at a time
	ctx     context.Context
	tracing bool
	trace   []string
	defs    *defs

	u         *fleet.Undercloud
	signerPub envelope.PublicKey

	mu    sync.Mutex // guards what follows: Observe runs on several goroutines
	t0    time.Time
	now   time.Time
	seq   int
	q     queue
	nodes []*simNode
	// listed are the nodes the run's list_servers saw (by index): a node
	// that joins later in the run is the next run's.
	listed []bool
	// masterGen and masterFP are the master's, as its metadata said
	// after the latest task.
	masterGen uint64
	masterFP  keys.Fingerprint
	tokens    []*token // live ones
	verdicts  map[verdictKey]bool
	nTokens   int
	run       int // the current run (0: none)
	nRuns     int
	stats     stats
	violation *violation
	// err is an error of the simulation itself, met in a hook.
	err error
	// ignore lists invariants a mutation breaks by construction: they
	// are counted, and the schedule goes on.
	ignore map[int]bool
	// roundEnd is when the current report round ends on the virtual
	// clock because a node did not answer (zero: none did): the check
	// task ends then.
	roundEnd time.Time
	// disk runs the nodes on disk too (nil: in memory only).
	disk *onDisk
}

type verdictKey struct {
	token int
	fp    keys.Fingerprint
}

func newSim(ctx context.Context, seed uint64, index int, d *defs, tracing, onDisk bool) *sim {
	r := rand.New(rand.NewPCG(seed, uint64(index)))
	s := &sim{
		p: randomParams(r, index, onDisk, d.mut.name), rng: r, ctx: ctx, tracing: tracing, defs: d,
		t0: epoch(), now: epoch(), verdicts: map[verdictKey]bool{}, stats: stats{}, ignore: map[int]bool{},
	}
	for _, k := range d.mut.ignore {
		s.ignore[k] = true
	}
	for i := range s.p.Nodes {
		name := "ctl" + strconv.Itoa(i)
		s.nodes = append(s.nodes, &simNode{srv: fleet.Server{Name: name, ID: name}, rng: rand.New(rand.NewPCG(seed^uint64(index), uint64(i)))})
	}
	return s
}

type vtime time.Duration

func (v vtime) String() string { return "+" + time.Duration(v).String() }

func (s *sim) since(t time.Time) vtime { return vtime(t.Sub(s.t0)) }

// tracef records a trace line; s.mu is held.
func (s *sim) tracef(format string, args ...any) {
	if s.tracing {
		s.trace = append(s.trace, fmt.Sprintf("%-14s ", s.since(s.now).String())+fmt.Sprintf(format, args...))
	}
}

// fail records a broken invariant; s.mu is held.
func (s *sim) fail(kind int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.ignore[kind] {
		s.stats[fmt.Sprintf("ignored violation %d", kind)]++
		return
	}
	if s.violation != nil {
		return
	}
	s.violation = &violation{kind: kind, msg: fmt.Sprintf("%s invariant %d: %s", s.since(s.now), kind, msg)}
	s.tracef("VIOLATION of invariant %d: %s", kind, msg)
}

func (s *sim) push(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

// clock is the run's clock (Undercloud.Now).
func (s *sim) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// joined reports whether node i is in the fleet at time t.
func (s *sim) joined(i int, t time.Time) bool { return !t.Before(s.t0.Add(s.p.Joins[i])) }

// down reports whether node i is down at time t.
func (s *sim) down(i int, t time.Time) bool {
	o := s.p.Outages[i]
	return o[1] > 0 && !t.Before(s.t0.Add(o[0])) && t.Before(s.t0.Add(o[1]))
}

// describe names a set's keys by index and ID, never by content.
func describe(set keys.Set) string {
	var parts []string
	for _, i := range set.Indexes() {
		parts = append(parts, fmt.Sprintf("%d:%s", i, set[i].ID()[:6]))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

type setDesc keys.Set

func (d setDesc) String() string { return describe(keys.Set(d)) }

func genString(st *node.State) string {
	if st == nil {
		return "no generation"
	}
	return fmt.Sprintf("generation %d", st.Generation)
}

// setup makes the undercloud, gives the nodes keystone-manage's keys in an
// adopt schedule, and schedules the attempts, the tokens and the probes.
func (s *sim) setup(dir string) error {
	s.u = &fleet.Undercloud{Dir: dir, Now: s.clock}
	signer, err := s.u.Signer()
	if err != nil {
		return err
	}
	s.signerPub = signer.Public()
	if s.p.OnDisk {
		s.disk = newOnDisk(s, filepath.Join(dir, "nodes"))
		s.stats["on-disk schedule"]++
	}
	if s.p.Adopt {
		// keystone-manage fernet_setup on one node, copied to the others
		// (as deployment tools do).
		plan, _, err := keys.PlanRotation(keys.Set{}, nil, keys.RotateOptions{MaxActiveKeys: s.p.MaxActive}, s.now, nil)
		if err != nil {
			return err
		}
		for i, n := range s.nodes {
			if s.joined(i, s.now) {
				n.set, n.fp = plan.Next, plan.Fingerprint
				if s.disk != nil {
					if err := s.disk.seed(s, n); err != nil {
						return err
					}
				}
			}
		}
		s.tracef("the nodes hold keystone-manage's set %s", setDesc(plan.Next))
	}
	t := s.now
	for range s.p.Attempts {
		gap := time.Duration(float64(s.p.Interval) * (0.8 + 0.4*s.rng.Float64())).Round(time.Second)
		if s.rng.IntN(100) < 15 {
			gap = uniform(s.rng, time.Minute, s.p.Interval/4+time.Minute) // an operator re-runs it early
		}
		t = t.Add(gap)
		s.push(&event{at: t, kind: evAttempt})
	}
	horizon := t.Sub(s.t0) + s.p.Interval
	for range s.p.Tokens {
		s.push(&event{at: s.t0.Add(uniform(s.rng, 0, horizon)), kind: evIssue, node: s.rng.IntN(s.p.Nodes)})
	}
	for range s.p.Probes {
		s.push(&event{at: s.t0.Add(uniform(s.rng, 0, horizon)), kind: evProbe})
	}
	return nil
}

// runAll runs the schedule to its end or to the first violation.
func (s *sim) runAll() error {
	for {
		s.mu.Lock()
		if s.q.Len() == 0 || s.violation != nil || s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		e := heap.Pop(&s.q).(*event)
		s.now = e.at
		if e.kind != evAttempt {
			err := s.handle(e)
			s.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		s.mu.Unlock()
		if err := s.attempt(); err != nil {
			return err
		}
	}
}

// advance moves the clock to t, handling the events due by then (late
// landings, tokens, probes) in order; s.mu is held. An attempt that comes
// due during a run is skipped: the run holds the lock.
func (s *sim) advance(t time.Time) error {
	for s.q.Len() > 0 && !s.q[0].at.After(t) {
		e := heap.Pop(&s.q).(*event)
		if e.at.After(s.now) {
			s.now = e.at
		}
		if e.kind == evAttempt {
			s.stats["attempt skipped"]++
			s.tracef("attempt skipped: run %d is still going", s.run)
			continue
		}
		if err := s.handle(e); err != nil {
			return err
		}
	}
	if t.After(s.now) {
		s.now = t
	}
	return nil
}

// handle handles an event other than an attempt; s.mu is held.
func (s *sim) handle(e *event) error {
	switch e.kind {
	case evLand:
		n := s.nodes[e.node]
		if s.down(e.node, s.now) {
			s.stats["late delivery lost to an outage"]++
			s.tracef("%s: late delivery from run %d lost: the node is down", n.srv.Name, e.run)
			return nil
		}
		s.stats["late landing"]++
		s.tracef("%s: delivery from run %d lands late", n.srv.Name, e.run)
		_, err := s.land(e.node, e.envelope, e.fewer, nil)
		if err != nil {
			s.tracef("%s refuses it: %v", n.srv.Name, err)
		}
	case evIssue:
		return s.issue(e.node)
	case evProbe:
		s.stats["probe"]++
		live := s.live()
		for i := range s.nodes {
			for _, tok := range live {
				s.verify(tok, i)
			}
		}
		if s.disk != nil {
			return s.disk.probe(s)
		}
	}
	return nil
}

// attempt runs the workflow once, at s.now.
func (s *sim) attempt() error {
	s.mu.Lock()
	s.nRuns++
	s.run = s.nRuns
	wf := rotation.Rotate
	in := map[string]any{
		"max_active_keys":      int64(s.p.MaxActive),
		"token_expiration":     int64(s.p.TokenExpiration / time.Second),
		"allow_expired_window": int64(s.p.AllowExpiredWindow / time.Second),
		// One delivery at a time: the clock moves on each, in one
		// order, so that a seed replays exactly.
		"concurrency":   int64(1),
		"check_timeout": int64(s.p.CheckTimeout / time.Second),
	}
	if s.rng.Float64() < s.p.DistributeProb {
		wf, in = rotation.Distribute, map[string]any{"concurrency": int64(1), "check_timeout": in["check_timeout"]}
	}
	s.tracef("run %d: %s", s.run, wf)
	s.mu.Unlock()

	res, err := rotation.Run(s.ctx, wf, in, rotation.Options{
		Undercloud: s.u, Target: simTarget{s}, OnTask: s.onTask,
		Definitions: s.defs.load, WrapRegistry: s.defs.mut.wrap,
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.run
	s.run = 0
	if err != nil {
		return fmt.Errorf("run %d: %w", run, err)
	}
	s.stats["outcome "+string(res.Outcome)]++
	task := ""
	var re *rotation.RunError
	if errors.As(res.Err, &re) {
		if re.Task != nil {
			task = re.Task.Name
		}
		s.tracef("run %d ends %s: %s", run, res.Outcome, re.Reason())
	} else {
		s.tracef("run %d ends %s", run, res.Outcome)
	}
	if errors.Is(res.Err, keys.ErrUnsafePrune) {
		s.stats["guard refusal"]++
		if s.p.MaxActive < s.p.Rule {
			s.stats["guard refusal, max_active_keys too small"]++
		}
	}
	// A failure is legitimate only when deliveries did not land (the
	// next run completes the generation): anything else is a bug of the
	// protocol, the actions or this simulation. A broken protocol fails
	// in other ways too: the schedule goes on.
	if res.Outcome == rotation.Failed && task != "incomplete" && s.p.Mutation != "" {
		s.stats["failure of a broken protocol"]++
	} else if res.Outcome == rotation.Failed && task != "incomplete" {
		return fmt.Errorf("run %d of %s failed unexpectedly: %v", run, wf, res.Err)
	}
	return nil
}

// onTask moves the clock as the engine starts tasks (each takes a little
// time: Heat, the engine, the network), and checks invariants 2 and 3
// around the tasks that change the master.
func (s *sim) onTask(te *workflow.TaskExecution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if te.State == workflow.Running {
		if err := s.advance(s.now.Add(uniform(s.rng, 0, 20*time.Second))); err != nil {
			s.setErr(err)
		}
		s.tracef("run %d: task %s", s.run, te.Name)
		switch te.Name {
		case "rotate":
			s.checkRotate()
		case "repair":
			s.stats["repair"]++
		}
		return
	}
	if !s.roundEnd.IsZero() {
		// A node did not answer the task's report round: the task ends
		// when the round's deadline passes.
		end := s.roundEnd
		s.roundEnd = time.Time{}
		if err := s.advance(end); err != nil {
			s.setErr(err)
		}
	}
	if te.Name == "rotate" || te.Name == "check" {
		s.readMaster()
	}
}

// readMaster reads the master's generation from its metadata, and checks
// invariant 3 when it moved; s.mu is held.
func (s *sim) readMaster() {
	m, err := keys.ReadMetadata(s.u.MasterRepository())
	if err != nil || m == nil {
		return
	}
	if m.Generation != s.masterGen {
		s.masterGen = m.Generation
		s.masterFP, _ = keys.ParseFingerprint(m.Fingerprint)
		s.stats["master generations"]++
		s.tracef("the master is at generation %d", s.masterGen)
		s.checkGenerations()
	}
}

// checkRotate is invariant 2, as the rotate task starts: every node of the
// fleet the run listed holds the master's set; s.mu is held. A node that
// joined since holds no keys and serves no token: the next run lists it
// and repairs it before it rotates.
func (s *sim) checkRotate() {
	m, err := keys.ReadMetadata(s.u.MasterRepository())
	if err != nil || m == nil {
		return // the first run sets keys up: nothing to hold yet
	}
	for i, n := range s.nodes {
		if i >= len(s.listed) || !s.listed[i] {
			continue
		}
		if n.fp.String() != m.Fingerprint { // an adopted node holds it with no generation
			s.fail(2, "run %d rotates the master past generation %d while %s holds %s %s", s.run, m.Generation, n.srv.Name, genString(n.state), setDesc(n.set))
		}
	}
}

// checkGenerations is invariant 3; s.mu is held.
func (s *sim) checkGenerations() {
	for _, n := range s.nodes {
		if n.state == nil {
			continue
		}
		if g := n.state.Generation; g > s.masterGen || g+1 < s.masterGen {
			s.fail(3, "%s is at generation %d, the master at %d", n.srv.Name, g, s.masterGen)
		}
	}
}

// live drops the expired tokens and returns the others; s.mu is held.
func (s *sim) live() []*token {
	s.tokens = slices.DeleteFunc(s.tokens, func(t *token) bool { return !s.now.Before(t.expires) })
	return s.tokens
}

// verify is invariant 1 for one token on node i; s.mu is held. Nodes
// holding one fingerprint hold one set, so keys.VerifyToken runs once per
// token and set.
func (s *sim) verify(tok *token, i int) {
	n := s.nodes[i]
	if len(n.set) == 0 {
		return // not serving
	}
	vk := verdictKey{tok.id, n.fp}
	ok, seen := s.verdicts[vk]
	if !seen {
		s.stats["verification"]++
		_, _, err := keys.VerifyToken(n.set, tok.token, 0)
		ok = err == nil
		s.verdicts[vk] = ok
	}
	if !ok {
		s.fail(1, "%s rejects token %d, usable until %s: issued at %s by %s at %s with key %d:%s; %s holds %s %s",
			n.srv.Name, tok.id, s.since(tok.expires), s.since(tok.issued), s.nodes[tok.issuer].srv.Name, genString(&node.State{Generation: tok.gen}), tok.index, tok.key.ID()[:6], n.srv.Name, genString(n.state), describe(n.set))
	}
}

// issue has node i sign a token with its primary, then verifies it on
// every node; s.mu is held.
func (s *sim) issue(i int) error {
	n := s.nodes[i]
	if len(n.set) == 0 {
		return nil
	}
	s.nTokens++
	s.stats["token"]++
	raw, err := keys.IssueToken(n.set, []byte("token "+strconv.Itoa(s.nTokens)))
	if err != nil {
		return err
	}
	p, _ := n.set.Primary()
	life := s.p.TokenExpiration
	if s.p.AllowExpired {
		life += s.p.AllowExpiredWindow
	}
	tok := &token{id: s.nTokens, issuer: i, index: p, key: n.set[p], issued: s.now, expires: s.now.Add(life), token: raw}
	if n.state != nil {
		tok.gen = n.state.Generation
	}
	if tok.gen < s.masterGen {
		s.stats["token from a straggler"]++
	}
	s.tokens = append(s.tokens, tok)
	s.tracef("%s issues token %d at %s with key %d:%s, usable until %s", n.srv.Name, tok.id, genString(n.state), p, tok.key.ID()[:6], s.since(tok.expires))
	for j := range s.nodes {
		s.verify(tok, j)
	}
	return nil
}

// land applies an envelope on node i by the node's rules and returns what
// the node holds then; s.mu is held. A refusal other than a replayed older
// generation breaks invariant 3. probe are the fleet's probe tokens.
func (s *sim) land(i int, armored []byte, allowFewer bool, probe []string) (*wire.Observation, error) {
	n := s.nodes[i]
	var (
		disk    *node.InstallResult
		diskErr error
		before  = n.fp
	)
	if s.disk != nil {
		disk, diskErr = s.disk.install(s, n, armored, allowFewer, probe)
	}
	err := s.apply(n, armored, allowFewer)
	if s.disk != nil {
		if err := s.disk.agreeInstall(s, n, disk, diskErr, err, before != n.fp); err != nil {
			s.setErr(err)
			return nil, err
		}
	}
	if errors.Is(err, node.ErrRollback) {
		s.stats["rollback refused"]++
	} else if err != nil {
		s.fail(3, "%s refused a delivery: %v", n.srv.Name, err)
	}
	if err != nil {
		return nil, err
	}
	s.checkGenerations()
	for _, tok := range s.live() {
		s.verify(tok, i)
	}
	o, err := s.observe(n, probe, "")
	if err != nil || s.disk == nil {
		return o, err
	}
	if err := agreeObservation(n, disk.Observation, o); err != nil {
		s.setErr(err)
		return nil, err
	}
	return disk.Observation, nil
}

// apply is node.Install in memory (see simNode).
func (s *sim) apply(n *simNode, armored []byte, allowFewer bool) error {
	if n.id == nil {
		return fmt.Errorf("sim: %s has no identity: it was never asked to report", n.srv.Name)
	}
	env, err := envelope.Open(armored, n.id, s.signerPub, n.srv.ID)
	if err != nil {
		return err
	}
	do, err := node.Decide(n.state, env.Generation, env.Fingerprint)
	if err != nil {
		return err
	}
	fp := env.Fingerprint
	if fp != n.fp {
		if err := env.Keys.Validate(); err != nil {
			return fmt.Errorf("keys: refuse to install: %w", err)
		}
		if len(env.Keys) < len(n.set) && !allowFewer {
			return fmt.Errorf("keys: refuse to install %d keys over %d", len(env.Keys), len(n.set))
		}
		s.stats["install"]++
		s.tracef("%s installs generation %d %s (was %s %s)", n.srv.Name, env.Generation, setDesc(env.Keys), genString(n.state), setDesc(n.set))
		n.set, n.fp = env.Keys, fp
	}
	if do {
		n.state = &node.State{Format: 1, ServerID: n.srv.ID, Generation: env.Generation, Fingerprint: fp, Keys: refs(env.Keys)}
	}
	return nil
}

func refs(set keys.Set) []wire.KeyRef {
	out := []wire.KeyRef{}
	for _, i := range set.Indexes() {
		out = append(out, wire.KeyRef{Index: i, ID: set[i].ID()})
	}
	return out
}

// observe is node.Report in memory: the node's identity (made on its first
// report), what installed.json records, its repository, its side of the
// probe, and its keys sealed to the undercloud when an adopt request asks.
func (s *sim) observe(n *simNode, probe []string, adopt string) (*wire.Observation, error) {
	if n.id == nil {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		n.id = id
	}
	o := &wire.Observation{ServerID: n.srv.ID, Recipient: n.id.Recipient().String(), Signer: s.signerPub.String(),
		Repository: wire.Holding{Keys: []wire.KeyRef{}}, Probe: wire.Probe{Rejected: []int{}}}
	if st := n.state; st != nil {
		o.Installed = &wire.Installed{Generation: st.Generation, Fingerprint: st.Fingerprint, Keys: st.Keys}
	}
	if len(n.set) == 0 {
		return o, nil
	}
	o.Repository = wire.Holding{Fingerprint: n.fp, Keys: refs(n.set)}
	tok, err := keys.IssueToken(n.set, []byte("fernetflow probe "+n.srv.ID))
	if err != nil {
		return nil, err
	}
	o.Probe.Token = tok
	for i, t := range probe {
		o.Probe.Checked++
		if _, _, err := keys.VerifyToken(n.set, t, 0); err != nil {
			o.Probe.Rejected = append(o.Probe.Rejected, i)
		}
	}
	if adopt != "" {
		rcpt, err := envelope.VerifyAdoptRequest(adopt, s.signerPub, n.srv.ID)
		if err != nil {
			return nil, err
		}
		sealed, err := envelope.SealHolding(n.set, n.srv.ID, rcpt)
		if err != nil {
			return nil, err
		}
		o.Sealed = string(sealed)
	}
	return o, nil
}

// simTarget is a fake fleet.Target for fault injection: the nodes of a
// sim, in memory, on its virtual clock. Reports answer at once, or fail
// (a node that is down, or silent this once); a delivery fails (never
// lands), lands after a random delay (the clock moves to it), or is given
// up on after the schedule's wait and lands later by itself, as a Heat
// deployment whose signal came too late still applies on the node.
// Deliveries must come one at a time (the workflow's concurrency input is
// 1), so that the clock moves in one order.
type simTarget struct{ s *sim }

var _ fleet.Target = simTarget{}

func (t simTarget) Servers(ctx context.Context, _ fleet.Selection) ([]fleet.Server, error) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []fleet.Server
	s.listed = make([]bool, len(s.nodes))
	for i, n := range s.nodes {
		if s.joined(i, s.now) {
			out = append(out, n.srv)
			s.listed[i] = true
		}
	}
	return out, ctx.Err()
}

func (t simTarget) Close() error { return nil }

func (t simTarget) node(id string) (int, error) {
	for i, n := range t.s.nodes {
		if n.srv.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w %q", fleet.ErrUnknownServer, id)
}

func (t simTarget) Observe(ctx context.Context, srv fleet.Server, req fleet.ObserveRequest) (fleet.Report, error) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := t.node(srv.ID)
	if err != nil {
		return fleet.Report{}, err
	}
	n := s.nodes[i]
	silent := n.rng.Float64() < s.p.SilentProb
	if down := s.down(i, s.now); down || silent {
		why := "is silent this once"
		if down {
			why = "is down"
			s.stats["report from a node that is down"]++
		} else {
			s.stats["silent report"]++
		}
		return fleet.Report{}, s.noAnswer(ctx, srv, why)
	}
	if s.disk != nil {
		r, err := s.disk.observe(s, n, req)
		if err != nil {
			s.setErr(err)
			return r, err
		}
		o, err := s.observe(n, req.ProbeTokens, req.AdoptRequest[srv.ID])
		if err != nil {
			return fleet.Report{}, err
		}
		if err := agreeObservation(n, r.Observation, o); err != nil {
			s.setErr(err)
			return fleet.Report{}, err
		}
		return r, ctx.Err()
	}
	o, err := s.observe(n, req.ProbeTokens, req.AdoptRequest[srv.ID])
	if err != nil {
		return fleet.Report{}, err
	}
	return fleet.ReportFrom(srv, o), ctx.Err()
}

// noAnswer is a report request a node does not answer; s.mu is held. The
// request waits until its deadline: the report round ends then on the
// virtual clock (s.roundEnd, reached when the task ends, so that the
// nodes of one round answer at one time whatever order the round's
// goroutines run in), and the node is unreachable with
// context.DeadlineExceeded, as on Heat. A request with no deadline (a
// check after deliveries asks the nodes it did not deliver to again with
// none) would wait until the task's context ends; it fails at once.
func (s *sim) noAnswer(ctx context.Context, srv fleet.Server, why string) error {
	dl, ok := ctx.Deadline()
	if !ok {
		s.stats["report without a deadline unanswered"]++
		s.tracef("run %d: %s %s: no report", s.run, srv.Name, why)
		return fmt.Errorf("sim: %s %s: %w", srv.Name, why, context.DeadlineExceeded)
	}
	// The deadline is the check's timeout on the real clock: the
	// workflow must have passed the schedule's check_timeout.
	if left := time.Until(dl); left > s.p.CheckTimeout {
		s.setErr(fmt.Errorf("sim: the report round of run %d waits %s, more than the check_timeout %s the run was given", s.run, left.Round(time.Second), s.p.CheckTimeout))
	}
	end := s.now.Add(s.p.CheckTimeout)
	if end.After(s.roundEnd) {
		s.roundEnd = end
	}
	s.tracef("run %d: %s %s: no report by %s", s.run, srv.Name, why, s.since(end))
	return fmt.Errorf("sim: %s %s: no report within %s: %w", srv.Name, why, s.p.CheckTimeout, context.DeadlineExceeded)
}

// setErr records an error of the simulation; s.mu is held.
func (s *sim) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (t simTarget) Deliver(ctx context.Context, srv fleet.Server, d fleet.Delivery) (fleet.Report, error) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := t.node(srv.ID)
	if err != nil {
		return fleet.Report{}, err
	}
	n := s.nodes[i]
	start := s.now
	s.stats["delivery"]++
	if down, fail := s.down(i, start), n.rng.Float64() < s.p.FailProb[i]; down || fail {
		s.stats["delivery failed"]++
		if err := s.advance(start.Add(uniform(n.rng, 0, s.p.Wait/2))); err != nil {
			return fleet.Report{}, err
		}
		why := "its deployment failed"
		if down {
			why = "the node is down"
		}
		s.tracef("run %d: delivery to %s fails: %s", s.run, srv.Name, why)
		return fleet.Report{}, fmt.Errorf("sim: deliver to %s: %s", srv.Name, why)
	}
	delay := time.Duration(n.rng.ExpFloat64() * float64(s.p.DelayScale)).Round(time.Second)
	if n.rng.Float64() < s.p.LateProb {
		delay = uniform(n.rng, s.p.Wait, s.p.Wait+2*s.p.Interval)
	}
	at := start.Add(delay)
	// The node keeps signing with its old primary until the delivery
	// lands: issue a token right before it.
	if n.rng.IntN(2) == 0 {
		s.push(&event{at: maxTime(start, at.Add(-uniform(n.rng, 0, time.Minute))), kind: evIssue, node: i})
	}
	if delay > s.p.Wait {
		s.stats["delivery late"]++
		s.tracef("run %d: delivery to %s will land at %s, after the wait", s.run, srv.Name, s.since(at))
		s.push(&event{at: at, kind: evLand, node: i, run: s.run, envelope: d.Envelope, fewer: d.AllowFewer})
		if err := s.advance(start.Add(s.p.Wait)); err != nil {
			return fleet.Report{}, err
		}
		return fleet.Report{}, fmt.Errorf("sim: %s did not signal within %s: %w", srv.Name, s.p.Wait, context.DeadlineExceeded)
	}
	// Another node issues one right after: it holds the new set or the
	// old, and every node must validate either.
	if n.rng.IntN(2) == 0 {
		s.push(&event{at: at.Add(uniform(n.rng, 0, time.Minute)), kind: evIssue, node: n.rng.IntN(len(s.nodes))})
	}
	if err := s.advance(at); err != nil {
		return fleet.Report{}, err
	}
	before := n.fp
	o, err := s.land(i, d.Envelope, d.AllowFewer, d.ProbeTokens)
	if err != nil {
		return fleet.Report{}, fmt.Errorf("sim: deliver to %s: %w", srv.Name, err)
	}
	r := fleet.ReportFrom(srv, o)
	r.Changed = before != n.fp
	return r, ctx.Err()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// mutation breaks the protocol on purpose, by changing the shipped
// definition's text or by wrapping an action, to show that the invariants
// catch an unsafe protocol.
type mutation struct {
	name string
	// edits replace text in rotate_fernet_keys.yaml: old, new, old,
	// new...; each old must occur (so that a change of the shipped file
	// does not make a mutation a silent no-op).
	edits []string
	// action and input: the action whose input is overridden.
	action string
	input  map[string]any
	// ignore are the invariants it breaks by construction.
	ignore []int
}

func (m mutation) wrap(reg workflow.Registry) workflow.Registry {
	if m.action == "" {
		return reg
	}
	return overrideRegistry{reg, m.action, m.input}
}

// overrideRegistry wraps one action of a registry so that it runs with
// some of its input replaced.
type overrideRegistry struct {
	workflow.Registry
	action string
	input  map[string]any
}

func (r overrideRegistry) Lookup(name string) (workflow.Action, bool) {
	a, ok := r.Registry.Lookup(name)
	if ok && name == r.action {
		return overrideAction{a, r.input}, true
	}
	return a, ok
}

type overrideAction struct {
	workflow.Action
	input map[string]any
}

func (a overrideAction) Run(ctx context.Context, in map[string]any) (any, error) {
	in = maps.Clone(in)
	maps.Copy(in, a.input)
	return a.Action.Run(ctx, in)
}

// mutations are the broken protocols of TestRotationPropertyCatchesUnsafeProtocol.
var mutations = []mutation{
	// fleet.check never records a confirmation: the guard counts a
	// demoted key's token life from the master's rotation, not from when
	// the last node stopped signing with it.
	{name: "no-confirm", action: "fleet.check", input: map[string]any{"confirm": false}},
	// Only the check after a rotation's deliveries confirms: not the
	// check at the start of a run, nor the one after a repair.
	{name: "confirm-after-rotation-only", edits: []string{
		"        confirm: <% not $.dry_run %>\n", "        confirm: false\n",
		"      action: fleet.check servers=<% $.servers %> after_delivery=true timeout=<% $.check_timeout %>\n      on-success:", "      action: fleet.check servers=<% $.servers %> after_delivery=true timeout=<% $.check_timeout %> confirm=false\n      on-success:",
	}},
	// keys.rotate prunes whatever the guard says.
	{name: "force", action: "keys.rotate", input: map[string]any{"force": true}},
	// The run rotates whatever the nodes reported.
	{name: "skip-check", ignore: []int{2, 3}, edits: []string{
		"        - rotate: <% not $.dry_run and task().result.ok %>\n        - refuse: <% not $.dry_run and task().result.refuse %>\n        - repair: <% not $.dry_run and not task().result.ok and not task().result.refuse %>\n",
		"        - rotate: <% not $.dry_run %>\n        - refuse: <% false %>\n        - repair: <% false %>\n",
	}},
	// The run rotates after a repair whatever the repair did, and even
	// when it completed a pending generation. (A task left with no
	// inbound transition would start with the run, so the mutations make
	// conditions false rather than remove them.) Rotating after a failed
	// repair only while nothing is pending is not enough to lose a token:
	// the pending rule then leaves only new nodes, which serve nothing,
	// behind; invariant 2 catches that variant.
	{name: "skip-recheck", ignore: []int{2, 3}, edits: []string{
		"        - rotate: <% task().result.ok and not $.before.pending %>\n        - resumed: <% task().result.ok and $.before.pending %>\n        - refuse_after_repair: <% not task().result.ok %>\n",
		"        - rotate: <% true %>\n        - resumed: <% false %>\n        - refuse_after_repair: <% false %>\n",
	}},
}

// defs are the definitions a schedule runs (the shipped ones, or a
// mutation's), parsed once for every run.
type defs struct {
	mut   mutation
	files map[string]*workflow.File
}

func (d *defs) load(workflow.Registry) (map[string]*workflow.File, error) { return d.files, nil }

func loadDefs(t testing.TB, m mutation) *defs {
	t.Helper()
	// A registry of the same actions, to validate against.
	reg, err := rotation.Registry(&actions.FleetHost{Undercloud: &fleet.Undercloud{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	d := &defs{mut: m, files: map[string]*workflow.File{}}
	for _, name := range definitions.Names() {
		src, err := definitions.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "rotate_fernet_keys.yaml" {
			text := string(src)
			for i := 0; i < len(m.edits); i += 2 {
				if !strings.Contains(text, m.edits[i]) {
					t.Fatalf("mutation %s: %s does not hold %q any more: update the mutation", m.name, name, m.edits[i])
				}
				text = strings.Replace(text, m.edits[i], m.edits[i+1], 1)
			}
			src = []byte(text)
		}
		f, err := workflow.Load(name, src, reg)
		if err != nil {
			t.Fatalf("mutation %q: %v", m.name, err)
		}
		for _, w := range f.Workflows {
			d.files[w.Name] = f
		}
	}
	return d
}

// result is one schedule's outcome.
type result struct {
	params    params
	stats     stats
	violation *violation
	trace     []string
	err       error
}

// runSchedule runs schedule index of seed; dir is its undercloud's state
// directory (and its nodes' directories when onDisk).
func runSchedule(ctx context.Context, seed uint64, index int, d *defs, tracing, onDisk bool, dir string) result {
	s := newSim(ctx, seed, index, d, tracing, onDisk)
	res := result{params: s.p}
	defer os.RemoveAll(dir)
	res.err = s.setup(dir)
	if res.err == nil {
		res.err = s.runAll()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats["schedule"] = 1
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

// runSchedules runs schedules 0..count-1 on every CPU, every diskEvery-th
// on disk too (0: none), and returns the totals and the first schedule
// stop picks (nil when none).
func runSchedules(ctx context.Context, seed uint64, count, diskEvery int, d *defs, dir string, stop func(result) bool) (stats, *result) {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		total = stats{}
		first *result
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
				res := runSchedule(ctx, seed, i, d, false, diskSchedule(i, diskEvery), filepath.Join(dir, strconv.Itoa(i)))
				mu.Lock()
				for k, v := range res.stats {
					total[k] += v
				}
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

// diskSchedule reports whether schedule index runs on disk too.
func diskSchedule(index, every int) bool { return every > 0 && index%every == 0 }

// diskEvery is FERNETFLOW_SIM_REAL_EVERY, simDiskEvery by default.
func diskEvery(t *testing.T) int { return envInt(t, "FERNETFLOW_SIM_REAL_EVERY", simDiskEvery) }

// replayHint is the one-line command that replays schedule index with its
// trace (on disk or not, as it ran).
func replayHint(seed uint64, p params) string {
	env := ""
	if p.Mutation != "" {
		env += " FERNETFLOW_SIM_MUTATION=" + p.Mutation
	}
	if p.OnDisk != diskSchedule(p.Index, simDiskEvery) {
		env += " FERNETFLOW_SIM_REAL_EVERY=" + map[bool]string{true: "1", false: "0"}[p.OnDisk]
	}
	return fmt.Sprintf("replay: FERNETFLOW_SIM_SEED=%d FERNETFLOW_SIM_SCHEDULE=%d%s go test -run 'TestRotationProperty$' -v ./internal/rotation/", seed, p.Index, env)
}

// defaultSchedules is how many schedules TestRotationProperty runs
// without FERNETFLOW_SIM_SCHEDULES: 1,000, or 50 under the race detector
// (make test), where a run costs about twenty times more; a tenth of that
// with -short. .ci/run runs 10,000 without the race detector.
func defaultSchedules() int {
	n := 1000
	if raceEnabled {
		n = 50
	}
	if testing.Short() {
		n /= 10
	}
	return n
}

// TestRotationProperty is the invariant over random schedules of the
// shipped workflow.
func TestRotationProperty(t *testing.T) {
	seed := simSeed(t)
	t.Logf("seed %d (set FERNETFLOW_SIM_SEED to replay)", seed)
	if v := os.Getenv("FERNETFLOW_SIM_SCHEDULE"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FERNETFLOW_SIM_SCHEDULE=%q: %v", v, err)
		}
		m := mutation{}
		if v := os.Getenv("FERNETFLOW_SIM_MUTATION"); v != "" {
			k := slices.IndexFunc(mutations, func(m mutation) bool { return m.name == v })
			if k < 0 {
				t.Fatalf("FERNETFLOW_SIM_MUTATION=%q: no such mutation", v)
			}
			m = mutations[k]
		}
		every := diskEvery(t)
		if m.name != "" && os.Getenv("FERNETFLOW_SIM_REAL_EVERY") == "" {
			every = 0 // as TestRotationPropertyCatchesUnsafeProtocol runs them
		}
		res := runSchedule(t.Context(), seed, i, loadDefs(t, m), true, diskSchedule(i, every), t.TempDir())
		t.Logf("%s\n%s", res.params, strings.Join(res.trace, "\n"))
		t.Logf("%s", res.stats)
		if res.err != nil || res.violation != nil {
			t.Fatalf("schedule %d: error %v, violation %v", i, res.err, res.violation)
		}
		return
	}
	count := envInt(t, "FERNETFLOW_SIM_SCHEDULES", defaultSchedules())
	start := time.Now()
	d := loadDefs(t, mutation{})
	every := diskEvery(t)
	total, bad := runSchedules(t.Context(), seed, count, every, d, t.TempDir(), func(r result) bool {
		return r.err != nil || r.violation != nil
	})
	t.Logf("%d schedules in %s: %s", total["schedule"], time.Since(start).Round(time.Millisecond), total)
	if bad != nil {
		replay := runSchedule(t.Context(), seed, bad.params.Index, d, true, bad.params.OnDisk, t.TempDir())
		t.Fatalf("seed %d, %s\nerror: %v\nviolation: %v\ntrace:\n%s\n%s", seed, bad.params, bad.err, bad.violation, strings.Join(replay.trace, "\n"), replayHint(seed, bad.params))
	}
	// The schedules must have exercised what the invariant is about.
	if total["schedule"] != count {
		t.Fatalf("ran %d schedules of %d", total["schedule"], count)
	}
	if count < 1000 {
		return // too few for every rare event
	}
	want := []string{
		"outcome rotated", "outcome resumed", "outcome refused", "outcome failed", "outcome distributed",
		"repair", "delivery failed", "delivery late", "late landing", "rollback refused", "token from a straggler",
		"guard refusal, max_active_keys too small", "silent report", "report from a node that is down",
	}
	if every > 0 && count/every >= 4 {
		want = append(want, "on-disk install", "on-disk step checked", "on-disk report", "on-disk verification")
	}
	for _, k := range want {
		if total[k] == 0 {
			t.Errorf("no %q in %d schedules: %s", k, count, total)
		}
	}
}

// TestRotationPropertyCatchesUnsafeProtocol shows the property is not
// vacuous: with the protocol broken on purpose, the same schedules find a
// node rejecting an unexpired token.
func TestRotationPropertyCatchesUnsafeProtocol(t *testing.T) {
	seed := simSeed(t)
	t.Logf("seed %d", seed)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			count := envInt(t, "FERNETFLOW_SIM_MUTANT_SCHEDULES", 2000)
			total, bad := runSchedules(t.Context(), seed, count, 0, loadDefs(t, m), t.TempDir(), func(r result) bool {
				return r.err != nil || (r.violation != nil && r.violation.kind == 1)
			})
			if bad == nil {
				t.Fatalf("%d schedules with the protocol broken (%s) found no rejected token: %s", count, m.name, total)
			}
			if bad.err != nil {
				t.Fatalf("seed %d, %s: %v\n%s", seed, bad.params, bad.err, replayHint(seed, bad.params))
			}
			t.Logf("found after %d schedules: %s\n%s\n%s", total["schedule"], bad.params, bad.violation.msg, replayHint(seed, bad.params))
		})
	}
}
