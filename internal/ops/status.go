package ops

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// Where a Status's nodes come from (Status.NodesSource).
const (
	// NodesRepositories: each node's repository read now (local target).
	NodesRepositories = "repositories"
	// NodesLastReport: what the nodes said in the newest report round the
	// store keeps (Heat target), with its age.
	NodesLastReport = "last report"
	// NodesFreshReport: a report round made for this status (--refresh).
	NodesFreshReport = "fresh report"
)

// Observed is what the nodes said, for Build.
type Observed struct {
	Reports []fleet.Report
	// Errs are the nodes that could not be read, by server id.
	Errs map[string]error
	// At is when each node (by server id) reported.
	At     map[string]time.Time
	Source string
	// Execution is the execution whose report this is ("" for
	// repositories read now).
	Execution string
	// Servers are the servers a report round named (FromExecution).
	Servers []fleet.Server
}

// Inspector reads a node's repository now, read-only (local.Target).
type Inspector interface {
	Inspect(s fleet.Server) (fleet.Report, error)
}

// InspectAll reads every server's repository now.
func InspectAll(in Inspector, servers []fleet.Server, now time.Time) Observed {
	o := Observed{Errs: map[string]error{}, At: map[string]time.Time{}, Source: NodesRepositories}
	for _, s := range servers {
		r, err := in.Inspect(s)
		if err != nil {
			o.Errs[s.ID] = err
			continue
		}
		o.Reports = append(o.Reports, r)
		o.At[s.ID] = now
	}
	return o
}

// FromExecution is the newest report round of ex: the reports of its last
// successful fleet.check task (ok is false when it has none).
func FromExecution(ex *workflow.Execution, source string) (o Observed, ok bool) {
	for i := len(ex.Tasks) - 1; i >= 0; i-- {
		te := ex.Tasks[i]
		if te.Action != "fleet.check" || te.State != workflow.Success {
			continue
		}
		b, err := json.Marshal(te.Result)
		if err != nil {
			continue
		}
		var c struct {
			Agree      []fleet.Report    `json:"agree"`
			Stragglers []fleet.Straggler `json:"stragglers"`
		}
		if json.Unmarshal(b, &c) != nil {
			continue
		}
		o = Observed{Errs: map[string]error{}, At: map[string]time.Time{}, Source: source, Execution: ex.ID}
		add := func(r fleet.Report) {
			o.Servers = append(o.Servers, r.Server)
			o.Reports = append(o.Reports, r.WithoutSealed())
			o.At[r.ID] = te.FinishedAt
		}
		for _, r := range c.Agree {
			add(r)
		}
		for _, s := range c.Stragglers {
			if s.Status == fleet.StatusUnreachable || s.Status == fleet.StatusFailed {
				o.Servers = append(o.Servers, s.Server)
				o.Errs[s.ID] = errors.New(s.Reason)
				continue
			}
			add(s.Report)
		}
		slices.SortFunc(o.Servers, func(a, b fleet.Server) int { return strings.Compare(a.Name, b.Name) })
		return o, true
	}
	return Observed{}, false
}

// LastReport is the newest report round among the runs the store keeps
// (ok is false when there is none).
func LastReport(st *store.Store) (Observed, bool, error) {
	h, err := ReadHistory(st)
	if err != nil {
		return Observed{}, false, err
	}
	for _, r := range h.Runs { // newest first
		ex, err := st.Get(r.Execution)
		if err != nil {
			continue // deleted meanwhile
		}
		if o, ok := FromExecution(ex, NodesLastReport); ok {
			return o, true, nil
		}
	}
	return Observed{}, false, nil
}

// Rules are Keystone's key rules the status is judged by.
type Rules struct {
	MaxActiveKeys      int           `json:"max_active_keys"`
	TokenExpiration    time.Duration `json:"-"`
	AllowExpiredWindow time.Duration `json:"-"`
	// Source: "flags", "last rotation's input", "Keystone's defaults".
	Source string `json:"source"`
}

// MarshalJSON gives the durations in seconds, as keystone.conf does.
func (r Rules) MarshalJSON() ([]byte, error) {
	type plain Rules
	return json.Marshal(struct {
		plain
		TokenExpiration    int64 `json:"token_expiration"`
		AllowExpiredWindow int64 `json:"allow_expired_window"`
	}{plain(r), int64(r.TokenExpiration / time.Second), int64(r.AllowExpiredWindow / time.Second)})
}

// Options say what Build judges.
type Options struct {
	Undercloud *fleet.Undercloud
	// Servers are the fleet's nodes; Observed what they said.
	Servers  []fleet.Server
	Observed Observed
	// Store is the execution store (nil: no history, no cron triggers).
	Store *store.Store
	// Schedule is the rotation schedule (--schedule); nil: the cron
	// trigger of rotate_fernet_keys in Store, if any.
	Schedule *Schedule
	// Rules, when nil, are the last rotation's input, else Keystone's
	// defaults.
	Rules *Rules
	// PrimaryMaxIntervals is N of "primary older than N rotation
	// intervals" (default 2).
	PrimaryMaxIntervals int
	// Grace is how late a rotation may be before it is overdue (default 1h).
	Grace time.Duration
	Now   func() time.Time
}

// Status is what an operator needs to know about the fleet's keys. It
// holds fingerprints and key ids in their short form (12 hex digits),
// never key material, tokens or envelopes.
type Status struct {
	At          time.Time     `json:"at"`
	NodesSource string        `json:"nodes_source"`
	Report      *ReportStatus `json:"report,omitempty"`
	Master      *MasterStatus `json:"master"`
	MasterError string        `json:"master_error,omitempty"`
	Nodes       []NodeStatus  `json:"nodes"`
	Rules       Rules         `json:"rules"`
	// LastRotation is the newest run of rotate_fernet_keys (not a dry
	// run); LastSuccess the newest that rotated or resumed.
	LastRotation *RunStatus `json:"last_rotation"`
	LastSuccess  *time.Time `json:"last_successful_rotation"`
	// LastSuccessSource: "run record", "execution history" or "master
	// metadata" (the master's rotation times, when the store has no run).
	LastSuccessSource string         `json:"last_successful_rotation_source,omitempty"`
	NextRotation      *NextRotation  `json:"next_rotation"`
	Interval          *IntervalInfo  `json:"interval,omitempty"`
	CronTriggers      []TriggerInfo  `json:"cron_triggers,omitempty"`
	Running           []string       `json:"running,omitempty"`
	Executions        map[string]int `json:"executions,omitempty"`
	Warnings          []Warning      `json:"warnings"`
	Notes             []string       `json:"notes,omitempty"`

	totals *Totals
}

// ReportStatus is the report round the nodes come from (Heat target).
type ReportStatus struct {
	Execution  string    `json:"execution_id,omitempty"`
	At         time.Time `json:"at"`
	AgeSeconds float64   `json:"age_seconds"`
}

// NodeStatus is one node against the master.
type NodeStatus struct {
	Name        string `json:"name"`
	ServerID    string `json:"server_id"`
	Generation  uint64 `json:"generation"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Agrees      bool   `json:"agrees"`
	// Status is fleet's (ok, behind, drifted, ...), or "no-master".
	Status     fleet.Status `json:"status"`
	Reason     string       `json:"reason,omitempty"`
	ReportedAt *time.Time   `json:"reported_at,omitempty"`
	AgeSeconds float64      `json:"age_seconds"`
}

// StatusNoMaster is a node's status while the master holds no keys.
const StatusNoMaster fleet.Status = "no-master"

// MasterStatus is the master repository.
type MasterStatus struct {
	Generation  uint64      `json:"generation"`
	Fingerprint string      `json:"fingerprint"`
	Confirmed   *time.Time  `json:"confirmed,omitempty"`
	Keys        []KeyStatus `json:"keys"`
}

// KeyStatus is one key of the master, by id, with its history.
type KeyStatus struct {
	Index          int        `json:"index"`
	Role           string     `json:"role"`
	KeyID          string     `json:"key_id"`
	Created        *time.Time `json:"created,omitempty"`
	Promoted       *time.Time `json:"promoted,omitempty"`
	Demoted        *time.Time `json:"demoted,omitempty"`
	DemotedUnknown bool       `json:"demoted_unknown,omitempty"`
	// PrunableAfter is when every token the key may have signed has
	// expired (a secondary's demotion + token_expiration +
	// allow_expired_window): the prune guard lets it go then.
	PrunableAfter *time.Time `json:"prunable_after,omitempty"`
}

// RunStatus is one run.
type RunStatus struct {
	Execution       string           `json:"execution_id"`
	Outcome         rotation.Outcome `json:"outcome"`
	StartedAt       time.Time        `json:"started_at"`
	FinishedAt      time.Time        `json:"finished_at"`
	DurationSeconds float64          `json:"duration_seconds"`
	Reasons         []string         `json:"reasons,omitempty"`
	Message         string           `json:"message,omitempty"`
	Source          string           `json:"source"`
}

// NextRotation is the next scheduled rotation.
type NextRotation struct {
	At     time.Time `json:"at"`
	Spec   string    `json:"schedule"`
	Source string    `json:"source"`
}

// IntervalInfo is the rotation interval the warnings use.
type IntervalInfo struct {
	ShortestSeconds float64 `json:"shortest_seconds"`
	LongestSeconds  float64 `json:"longest_seconds"`
	// Source: the schedule's, or "master's rotation history" (the median
	// gap of its last rotations).
	Source string `json:"source"`
}

// TriggerInfo is one cron trigger of fernetflow's workflows.
type TriggerInfo struct {
	Name     string    `json:"name"`
	Workflow string    `json:"workflow_name"`
	Pattern  string    `json:"pattern"`
	Next     time.Time `json:"next_execution_time"`
}

// Warning codes: each needs the operator's attention.
const (
	WarnMaxActiveKeys    = "max_active_keys"
	WarnOverdue          = "rotation_overdue"
	WarnNeverRotated     = "never_rotated"
	WarnNodeLagging      = "node_lagging"
	WarnNodeDisagrees    = "node_disagrees"
	WarnPrimaryTooOld    = "primary_too_old"
	WarnLastRefused      = "last_rotation_refused"
	WarnLastFailed       = "last_rotation_failed"
	WarnPruneGuard       = "prune_guard"
	WarnMasterNotReady   = "master_not_ready"
	WarnNoReport         = "no_report"
	defaultPrimaryMax    = 2
	defaultGrace         = time.Hour
	historyRotationsNeed = 3
)

// Warning is one thing that needs attention.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NeedsAttention reports whether s has a warning.
func (s *Status) NeedsAttention() bool { return len(s.Warnings) > 0 }

// Totals are the store's run counters (nil without a store).
func (s *Status) Totals() *Totals { return s.totals }

func (s *Status) warn(code, format string, args ...any) {
	s.Warnings = append(s.Warnings, Warning{code, fmt.Sprintf(format, args...)})
}

// Build judges the fleet: it reads the master, the store's history and
// cron triggers, and compares every node of o.Observed with the master.
// It changes nothing. Its error is for a store that cannot be read;
// everything else is a warning.
func Build(ctx context.Context, o Options) (*Status, error) {
	now := time.Now().UTC()
	if o.Now != nil {
		now = o.Now().UTC()
	}
	grace := o.Grace
	if grace <= 0 {
		grace = defaultGrace
	}
	nmax := o.PrimaryMaxIntervals
	if nmax <= 0 {
		nmax = defaultPrimaryMax
	}
	s := &Status{At: now, NodesSource: o.Observed.Source, Warnings: []Warning{}, Nodes: []NodeStatus{}}

	var hist *History
	var triggers []*workflow.CronTrigger
	if o.Store != nil {
		var err error
		if hist, err = ReadHistory(o.Store); err != nil {
			return nil, err
		}
		if triggers, err = o.Store.ListTriggers(); err != nil {
			return nil, err
		}
		s.Running, s.Executions, s.totals = hist.Running, hist.Executions, hist.Totals
	}

	// The key rules.
	switch {
	case o.Rules != nil:
		s.Rules = *o.Rules
	case hist != nil && hist.RotateInput != nil:
		s.Rules = rulesFrom(hist.RotateInput)
	default:
		s.Rules = Rules{MaxActiveKeys: keys.DefaultMaxActiveKeys, TokenExpiration: keys.DefaultTokenExpiration, AllowExpiredWindow: keys.DefaultAllowExpiredWindow, Source: "Keystone's defaults"}
	}
	life := s.Rules.TokenExpiration + s.Rules.AllowExpiredWindow

	// The master.
	m, merr := o.Undercloud.Master()
	var meta *keys.Metadata
	if merr == nil {
		var err error
		if meta, err = keys.ReadMetadata(o.Undercloud.MasterRepository()); err != nil {
			merr = err
		}
	}
	if merr != nil {
		s.MasterError = merr.Error()
		if errors.Is(merr, fleet.ErrMasterNotReady) && m == nil && meta == nil && isEmptyMaster(merr) {
			s.warn(WarnNeverRotated, "the master holds no keys yet: fernetflow has never rotated this fleet (the first rotation adopts the keys the nodes share)")
		} else {
			s.warn(WarnMasterNotReady, "%s", firstLine(merr.Error()))
		}
	} else {
		ms := &MasterStatus{Generation: m.Generation, Fingerprint: m.Fingerprint.Short(), Confirmed: m.Confirmed}
		for _, i := range m.Keys.Indexes() {
			k := KeyStatus{Index: i, Role: m.Keys.Role(i).String(), KeyID: m.Keys[i].ID()}
			if r := meta.Record(i); r != nil && r.ID == k.KeyID {
				k.Created, k.Promoted, k.Demoted, k.DemotedUnknown = r.Created, r.Promoted, r.Demoted, r.DemotedUnknown
				if m.Keys.Role(i) == keys.Secondary && r.Demoted != nil {
					p := r.Demoted.Add(life).UTC()
					k.PrunableAfter = &p
				}
			}
			ms.Keys = append(ms.Keys, k)
		}
		s.Master = ms
		// Would the next rotation pass the prune guard?
		_, _, err := keys.PlanRotation(m.Keys, meta, keys.RotateOptions{MaxActiveKeys: s.Rules.MaxActiveKeys, TokenExpiration: s.Rules.TokenExpiration, AllowExpiredWindow: s.Rules.AllowExpiredWindow, DryRun: true}, now, rand.Reader)
		if errors.Is(err, keys.ErrUnsafePrune) {
			s.warn(WarnPruneGuard, "the next rotation would be refused by the prune guard (max_active_keys %d): %s", s.Rules.MaxActiveKeys, strings.TrimPrefix(err.Error(), keys.ErrUnsafePrune.Error()+": "))
		}
	}

	s.judgeNodes(o, m, now)

	// History: the last rotation and the last success.
	if hist != nil {
		last, ok := hist.Last(rotation.Rotate)
		if last != nil {
			s.LastRotation = runStatus(*last)
			switch last.Outcome {
			case rotation.Refused:
				s.warn(WarnLastRefused, "the last rotation (execution %s, %s) was refused: %s", last.Execution, last.Finished.Format(time.RFC3339), last.Message)
			case rotation.Failed:
				s.warn(WarnLastFailed, "the last rotation (execution %s, %s) failed: %s", last.Execution, last.Finished.Format(time.RFC3339), last.Message)
			}
		}
		if ok != nil {
			t := ok.Finished
			s.LastSuccess, s.LastSuccessSource = &t, ok.Source
			if ok.Source == rotation.SourceRun {
				s.LastSuccessSource = "run record"
			}
		}
		if len(hist.Running) > 0 {
			s.Notes = append(s.Notes, fmt.Sprintf("executions of fernetflow's workflows not finished: %s (a run in progress, or one a crash interrupted: fernetflow execution list)", strings.Join(hist.Running, ", ")))
		}
	} else {
		s.Notes = append(s.Notes, "no execution store: the last rotation's outcome and duration are unknown")
	}
	if meta != nil && len(meta.Rotations) > 0 {
		t := meta.Rotations[len(meta.Rotations)-1].UTC()
		if s.LastSuccess == nil || t.After(*s.LastSuccess) {
			s.LastSuccess, s.LastSuccessSource = &t, "master metadata"
		}
	}

	// The schedule: --schedule, else a cron trigger of rotate_fernet_keys.
	sched := o.Schedule
	for _, t := range triggers {
		s.CronTriggers = append(s.CronTriggers, TriggerInfo{t.Name, t.WorkflowName, t.Pattern, t.NextExecutionTime})
		if sched == nil && t.WorkflowName == string(rotation.Rotate) && t.Pattern != "" {
			if sc, err := ParseSchedule(t.Pattern, "cron trigger "+t.Name); err == nil {
				sched = sc
				s.NextRotation = &NextRotation{At: t.NextExecutionTime, Spec: t.Pattern, Source: sc.Source}
			}
		}
	}
	var shortest, longest time.Duration
	if sched != nil {
		if s.NextRotation == nil {
			if next, err := sched.Next(now); err == nil {
				s.NextRotation = &NextRotation{At: next, Spec: sched.Spec, Source: sched.Source}
			}
		}
		if a, b, err := sched.Intervals(now); err == nil {
			shortest, longest = a, b
			s.Interval = &IntervalInfo{a.Seconds(), b.Seconds(), "schedule (" + sched.Source + ")"}
		}
	} else if meta != nil && len(meta.Rotations) > historyRotationsNeed {
		gaps := make([]time.Duration, 0, len(meta.Rotations)-1)
		for i := 1; i < len(meta.Rotations); i++ {
			gaps = append(gaps, meta.Rotations[i].Sub(meta.Rotations[i-1]))
		}
		slices.Sort(gaps)
		if med := gaps[len(gaps)/2]; med > 0 {
			shortest, longest = med, med
			s.Interval = &IntervalInfo{med.Seconds(), med.Seconds(), fmt.Sprintf("master's rotation history (the median gap of its last %d rotations)", len(gaps))}
		}
	}
	if s.Interval == nil {
		s.Notes = append(s.Notes, "no rotation schedule known (no cron trigger of rotate_fernet_keys, no --schedule, fewer than 4 rotations recorded on the master): overdue, primary-age and max_active_keys checks need one; pass --schedule with your timer's OnCalendar= or cron pattern")
	}

	if shortest > 0 {
		if need, err := keys.MaxActiveKeys(s.Rules.TokenExpiration, s.Rules.AllowExpiredWindow, shortest); err == nil && need > s.Rules.MaxActiveKeys {
			s.warn(WarnMaxActiveKeys, "rotating every %s with token_expiration %s and allow_expired_window %s needs max_active_keys >= %d (Keystone's rule: (expiration + allow_expired_window) / interval + 2, rounded up), but it is %d (%s): tokens will stop validating before they expire", shortest, s.Rules.TokenExpiration, s.Rules.AllowExpiredWindow, need, s.Rules.MaxActiveKeys, s.Rules.Source)
		}
	}
	if longest > 0 && s.Master != nil {
		switch {
		case s.LastSuccess == nil:
			s.warn(WarnOverdue, "no successful rotation is recorded, and the schedule rotates every %s", longest)
		case since(now, *s.LastSuccess) > longest+grace:
			s.warn(WarnOverdue, "the last successful rotation was at %s, %s ago: the schedule rotates every %s (grace %s)", s.LastSuccess.Format(time.RFC3339), since(now, *s.LastSuccess).Round(time.Second), longest, grace)
		}
		if p := primary(s.Master); p != nil && p.Promoted != nil && since(now, *p.Promoted) > time.Duration(nmax)*longest {
			s.warn(WarnPrimaryTooOld, "the primary key %d (%s) was promoted at %s, %s ago: more than %d rotation intervals of %s", p.Index, p.KeyID, p.Promoted.Format(time.RFC3339), since(now, *p.Promoted).Round(time.Second), nmax, longest)
		}
	}
	return s, nil
}

// judgeNodes compares every server with the master.
func (s *Status) judgeNodes(o Options, m *fleet.Master, now time.Time) {
	byID := map[string]fleet.Report{}
	for _, r := range o.Observed.Reports {
		byID[r.ID] = r
	}
	var newest time.Time
	for _, t := range o.Observed.At {
		if t.After(newest) {
			newest = t
		}
	}
	if o.Observed.Source != NodesRepositories {
		if newest.IsZero() {
			s.warn(WarnNoReport, "no report round is recorded: run fernetflow status --refresh (or check) to ask every node")
		} else {
			s.Report = &ReportStatus{Execution: o.Observed.Execution, At: newest, AgeSeconds: since(now, newest).Seconds()}
		}
	}
	var lagging, disagree []string
	for _, sv := range o.Servers {
		ns := NodeStatus{Name: sv.Name, ServerID: sv.ID}
		if t, ok := o.Observed.At[sv.ID]; ok {
			tt := t.UTC()
			ns.ReportedAt, ns.AgeSeconds = &tt, since(now, t).Seconds()
		}
		r, seen := byID[sv.ID]
		switch {
		case !seen:
			st := fleet.Unreachable(sv, o.Observed.Errs[sv.ID], 0)
			ns.Status, ns.Reason = st.Status, st.Reason
			if o.Observed.Errs[sv.ID] == nil && o.Observed.Source == NodesLastReport {
				ns.Reason = "not in the last report"
			}
			if newest.IsZero() && o.Observed.Source == NodesLastReport {
				ns.Reason = "no report recorded"
			}
		case m == nil:
			ns.Generation, ns.Status = r.Generation, StatusNoMaster
			ns.Fingerprint = short(r.Fingerprint)
			ns.Reason = "no master key set yet"
		default:
			agree, st := fleet.Classify(m, r)
			ns.Generation, ns.Fingerprint = r.Generation, short(r.Fingerprint)
			if agree {
				ns.Agrees, ns.Status, ns.Generation = true, fleet.StatusOK, m.Generation
			} else {
				ns.Status, ns.Reason = st.Status, st.Reason
			}
		}
		if m != nil && !ns.Agrees {
			if ns.Status == fleet.StatusBehind || ns.Status == fleet.StatusNew {
				lagging = append(lagging, ns.Name+" ("+ns.Reason+")")
			} else {
				disagree = append(disagree, ns.Name+" ("+string(ns.Status)+": "+ns.Reason+")")
			}
		}
		s.Nodes = append(s.Nodes, ns)
	}
	if len(lagging) > 0 {
		s.warn(WarnNodeLagging, "%d node(s) lag behind the master's generation %d: %s; the next rotation or distribute repairs them", len(lagging), m.Generation, strings.Join(lagging, "; "))
	}
	if len(disagree) > 0 {
		s.warn(WarnNodeDisagrees, "%d node(s) disagree with the master's generation %d and would refuse the next rotation: %s", len(disagree), m.Generation, strings.Join(disagree, "; "))
	}
}

func short(f keys.Fingerprint) string {
	if f.IsZero() {
		return ""
	}
	return f.Short()
}

func primary(m *MasterStatus) *KeyStatus {
	for i := range m.Keys {
		if m.Keys[i].Role == keys.Primary.String() {
			return &m.Keys[i]
		}
	}
	return nil
}

func runStatus(r rotation.RunRecord) *RunStatus {
	src := r.Source
	if src == rotation.SourceRun {
		src = "run record"
	}
	return &RunStatus{Execution: r.Execution, Outcome: r.Outcome, StartedAt: r.Started.UTC(), FinishedAt: r.Finished.UTC(), DurationSeconds: r.Duration().Seconds(), Reasons: r.Reasons, Message: r.Message, Source: src}
}

// isEmptyMaster tells a master that holds no keys from one that changed.
func isEmptyMaster(err error) bool { return strings.Contains(err.Error(), "holds no keys yet") }

// rulesFrom reads the key rules of a rotate_fernet_keys input.
func rulesFrom(in map[string]any) Rules {
	r := Rules{MaxActiveKeys: keys.DefaultMaxActiveKeys, TokenExpiration: keys.DefaultTokenExpiration, AllowExpiredWindow: keys.DefaultAllowExpiredWindow, Source: "the last rotation's input"}
	num := func(k string) (int64, bool) {
		n, err := strconv.ParseFloat(fmt.Sprint(in[k]), 64)
		if err != nil || n < 0 || n > keys.MaxTokenSeconds {
			return 0, false
		}
		return int64(n), true
	}
	if n, ok := num("max_active_keys"); ok && n > 0 {
		r.MaxActiveKeys = int(n)
	}
	if n, ok := num("token_expiration"); ok {
		r.TokenExpiration = time.Duration(n) * time.Second
	}
	if n, ok := num("allow_expired_window"); ok {
		r.AllowExpiredWindow = time.Duration(n) * time.Second
	}
	return r
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
