package actions

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// FleetHost is what the fleet.*, node.enroll, keys.package and keys.probe
// actions share: the undercloud's state and the target that reaches the
// nodes.
type FleetHost struct {
	Undercloud *fleet.Undercloud
	Target     fleet.Target
	// Now is the clock for confirmations (time.Now when nil).
	Now func() time.Time
	// OnDeliver, when set, is called after every delivery (progress for
	// a person); it must not block.
	OnDeliver func(r fleet.Report, err error)

	mu sync.Mutex
	// seen is the latest report of each server (by id) in this process;
	// delivered, the outcome of each delivery since the run's first
	// check.
	seen      map[string]fleet.Report
	delivered map[string]error
}

func (h *FleetHost) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *FleetHost) record(reports ...fleet.Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]fleet.Report{}
	}
	for _, r := range reports {
		h.seen[r.ID] = r
	}
}

// Seen returns the latest report of every server in servers that has one
// in this process.
func (h *FleetHost) Seen(servers []fleet.Server) []fleet.Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []fleet.Report
	for _, s := range servers {
		if r, ok := h.seen[s.ID]; ok {
			out = append(out, r)
		}
	}
	return out
}

// fleetActions returns the actions of the rotation protocol.
func fleetActions(h *FleetHost) []*funcAction {
	return []*funcAction{fleetServers(h), nodeEnroll(h), fleetCheck(h), keysPackage(h), fleetDeploy(h), keysProbe(h)}
}

type serversOut struct {
	Servers []fleet.Server `json:"servers"`
}

// fleetServers lists the target's nodes.
func fleetServers(h *FleetHost) *funcAction {
	return typed("fleet.servers", "List the Keystone nodes the target reaches (name and server_id): the servers of role in stack on Heat, every node directory on the local target.", false,
		func(ctx context.Context, sel fleet.Selection) (serversOut, error) {
			s, err := h.Target.Servers(ctx, sel)
			return serversOut{s}, err
		})
}

type enrollIn struct {
	Servers  []fleet.Server `json:"servers"`
	Reenroll []string       `json:"reenroll"`
}

type enrolled struct {
	fleet.Server
	Recipient string `json:"recipient"`
	Pinned    bool   `json:"pinned"`
}

// nodeEnroll enrolls nodes and pins their recipients (trust on first use).
func nodeEnroll(h *FleetHost) *funcAction {
	return typed("node.enroll", "Enroll nodes: make each node's identity if absent and pin its age recipient, trusting it on first use; a changed recipient is refused unless the server is listed in reenroll.", false,
		func(ctx context.Context, in enrollIn) (map[string][]enrolled, error) {
			reports, errs := fleet.Observe(ctx, h.Target, in.Servers, fleet.ObserveRequest{})
			for _, s := range in.Servers {
				if err := errs[s.ID]; err != nil {
					return nil, fmt.Errorf("enroll %s: %w", s.Name, err)
				}
			}
			h.record(reports...)
			es := make([]fleet.Enrollment, len(reports))
			for i, r := range reports {
				es[i] = fleet.Enrollment{Server: r.Server, Recipient: r.Observation.Recipient, Reenroll: slices.Contains(in.Reenroll, r.ID)}
			}
			pinned, err := h.Undercloud.Pin(ctx, es...)
			if err != nil {
				return nil, err
			}
			out := []enrolled{}
			for i, e := range es {
				out = append(out, enrolled{e.Server, e.Recipient, pinned[i]})
			}
			return map[string][]enrolled{"nodes": out}, nil
		})
}

type checkIn struct {
	Servers []fleet.Server `json:"servers"`
	// Confirm records the generation as confirmed when every node holds
	// it (default true).
	Confirm *bool `json:"confirm"`
	// DryRun changes nothing: no pinning, no adoption, no confirmation.
	DryRun bool `json:"dry_run"`
	// AdoptFrom chooses whose keys the first run adopts when the nodes
	// hold different sets.
	AdoptFrom string `json:"adopt_from"`
	// DiscardExistingKeys makes the first run set up new keys whatever
	// the nodes hold.
	DiscardExistingKeys bool `json:"discard_existing_keys"`
	// Overwrite names drifted servers (name or id) the operator accepts
	// to overwrite.
	Overwrite []string `json:"overwrite"`
	// Reenroll names servers (id) whose changed recipient is accepted.
	Reenroll []string `json:"reenroll"`
	// Timeout bounds the report round, in seconds (0: the task's own).
	Timeout int `json:"timeout"`
	// AfterDelivery reuses what each delivery of this run reported
	// instead of asking the nodes again.
	AfterDelivery bool `json:"after_delivery"`
}

type checkOut struct {
	MasterReady bool            `json:"master_ready"`
	Adoption    *fleet.Adoption `json:"adoption"`
	// Pending is true when the master's latest generation never reached
	// the whole fleet (an interrupted or partly failed rotation): the run
	// resumes it rather than rotating again.
	Pending bool `json:"pending"`
	*fleet.CheckResult
	// OK: every node holds the master's set (or there is no master yet
	// and the first rotation sets one up).
	OK bool `json:"ok"`
	// Refuse: some node cannot be repaired without the operator.
	Refuse bool `json:"refuse"`
	// Repair are the servers a delivery of the master's set repairs;
	// Overwrite, the ids of those among them whose keys are overwritten.
	Repair    []fleet.Server `json:"repair"`
	Overwrite []string       `json:"overwrite"`
	Summary   string         `json:"summary"`
}

// fleetCheck asks every node what its key repository holds (one report
// round, which also enrolls new nodes), adopts the nodes' keys on the first
// run, compares every node with the master and decides: agree, repair, or
// refuse. When all agree it confirms the generation (keys.Confirm).
func fleetCheck(h *FleetHost) *funcAction {
	return typed("fleet.check", "Ask every node what its key repository holds now (enrolling new nodes), adopt the keys the nodes share when the master is empty, and compare every node with the master: ok, repair (stragglers a delivery fixes without losing a token) or refuse (drifted, unreachable, split brain), naming each node and why; when all agree, record the confirmation on the master.", false,
		func(ctx context.Context, in checkIn) (*checkOut, error) {
			return check(ctx, h, in)
		})
}

func check(ctx context.Context, h *FleetHost, in checkIn) (*checkOut, error) {
	u := h.Undercloud
	rctx, timeout := ctx, time.Duration(in.Timeout)*time.Second
	if timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	state, err := u.State()
	if err != nil {
		return nil, err
	}
	var m *fleet.Master
	var adopt keys.Set // the set the first run adopts, once the fleet agrees to it
	switch state {
	case fleet.MasterSeeded:
		if in.DryRun {
			r, err := keys.Open(u.MasterRepository())
			if err != nil {
				return nil, err
			}
			m = &fleet.Master{Keys: r.Keys, Generation: 1, Fingerprint: r.Keys.Fingerprint()}
			break
		}
		if err := u.ObserveMaster(ctx); err != nil {
			return nil, err
		}
		fallthrough
	case fleet.MasterReady:
		if m, err = u.Master(); err != nil {
			return nil, err
		}
	}
	if m != nil && (in.AdoptFrom != "" || in.DiscardExistingKeys) {
		return nil, fmt.Errorf("fleet.check: adopt_from and discard_existing_keys are for the first run, and the master holds generation %d already: to start over, move %s away", m.Generation, filepath.Dir(u.MasterRepository()))
	}

	var req fleet.ObserveRequest
	reports, errs := []fleet.Report{}, map[string]error{}
	if in.AfterDelivery {
		reports, errs, in.Servers = h.fromDeliveries(in.Servers)
	} else {
		h.mu.Lock()
		h.delivered = nil
		h.mu.Unlock()
	}
	if req.ProbeTokens, err = fleet.FleetToken(m); err != nil {
		return nil, err
	}
	if m == nil && !in.DiscardExistingKeys && !in.DryRun {
		// A dry run decides from fingerprints: it asks for no keys.
		if req.AdoptRequest, err = u.AdoptRequests(in.Servers); err != nil {
			return nil, err
		}
	}
	asked, askErrs := fleet.Observe(rctx, h.Target, in.Servers, req)
	maps.Copy(errs, askErrs)
	reports = append(reports, asked...)
	in.Servers = h.allServers(in.Servers, reports, errs)
	extra, reports, err := pin(ctx, h, reports, in.Reenroll, in.DryRun)
	if err != nil {
		return nil, err
	}
	out := &checkOut{MasterReady: m != nil, Repair: []fleet.Server{}, Overwrite: []string{}}
	overwrite := slices.Clone(in.Overwrite)
	if m == nil {
		a, set, err := u.PlanAdoption(reports, in.AdoptFrom, in.DiscardExistingKeys, in.DryRun)
		if err != nil {
			return nil, err
		}
		out.Adoption = a
		silent := unreachable(in.Servers, errs, timeout, extra)
		switch {
		case a.Action == fleet.AdoptionRefuse:
			out.CheckResult = &fleet.CheckResult{Agree: []fleet.Report{}, Stragglers: silent}
			out.Refuse, out.Summary = true, "refused: "+a.Reason
			return out, nil
		case len(silent) > 0:
			out.CheckResult = &fleet.CheckResult{Agree: []fleet.Report{}, Stragglers: silent}
			out.Refuse = true
			out.Summary = "refused: the master is empty and not every node reported, so what they hold is unknown and adopting or replacing keys could reject their tokens: " + (&fleet.CheckResult{Stragglers: silent}).Summary()
			return out, nil
		case a.Action == fleet.AdoptionSetUp:
			out.CheckResult = (&fleet.CheckResult{Agree: slices.Clone(reports), Stragglers: []fleet.Straggler{}}).WithoutSealed()
			out.OK, out.Summary = true, a.Reason
			for _, r := range reports {
				if len(r.Observation.Repository.Keys) > 0 {
					out.Overwrite = append(out.Overwrite, r.ID)
				}
			}
			return out, nil
		}
		// The master the adoption would make, in memory: it is written
		// only if the fleet does not refuse it.
		m, adopt = &fleet.Master{Keys: set, Generation: a.Generation, Fingerprint: a.Fingerprint}, set
		out.MasterReady = true
		if in.AdoptFrom != "" {
			for _, r := range reports {
				if r.Observation.Repository.Fingerprint != a.Fingerprint {
					overwrite = append(overwrite, r.ID)
				}
			}
		}
	}
	res := fleet.Compare(m, in.Servers, reports, errs, timeout)
	res.Stragglers = append(res.Stragglers, extra...)
	res.WithoutSealed()
	if err := checkSigners(u, res); err != nil {
		return nil, err
	}
	out.CheckResult = res
	repair, refuse := res.Decide(overwrite)
	for _, s := range repair {
		out.Repair = append(out.Repair, s.Server)
		if s.Status == fleet.StatusDrifted {
			out.Overwrite = append(out.Overwrite, s.ID)
		}
	}
	out.OK, out.Refuse = res.OK(), len(refuse) > 0
	// A generation this run adopted is not a rotation to complete.
	out.Pending = m.Confirmed == nil && !res.OK() && out.Adoption == nil && m.Generation > 1
	out.Summary = res.Summary()
	if out.Adoption != nil {
		out.Summary = out.Adoption.Reason + "; " + out.Summary
	}
	if out.Refuse && !in.AfterDelivery {
		out.Summary = "refused: " + out.Summary + advice(refuse)
	}
	if adopt != nil && !out.Refuse && !in.DryRun {
		if err := u.Adopt(ctx, adopt, m.Generation); err != nil {
			return nil, err
		}
		if m, err = u.Master(); err != nil {
			return nil, err
		}
	}
	// Confirm only when the servers checked include every enrolled
	// node: a node left out of the list may still sign with the key
	// the last rotation demoted.
	all, err := coversEnrolled(h, in.Servers)
	if err != nil {
		return nil, err
	}
	if res.OK() && all && (in.Confirm == nil || *in.Confirm) && len(in.Servers) > 0 && !in.DryRun && !out.Refuse {
		if _, err := keys.Confirm(ctx, u.MasterRepository(), m.Generation, h.now(), keys.WithWait()); err != nil {
			return nil, fmt.Errorf("fleet.check: record the confirmation: %w", err)
		}
	}
	return out, nil
}

// checkSigners turns every node that would refuse the master's envelopes,
// because it pins no signer or another undercloud's, into a straggler
// that refuses the run: rotating past it would leave it behind.
func checkSigners(u *fleet.Undercloud, res *fleet.CheckResult) error {
	s, err := u.Signer()
	if err != nil {
		return err
	}
	pub := s.Public().String()
	bad := func(r fleet.Report) (fleet.Straggler, bool) {
		o := r.Observation
		switch {
		case o == nil || o.Signer == pub:
			return fleet.Straggler{}, false
		case o.Signer == "":
			return fleet.Straggler{Report: r, Status: fleet.StatusSigner, Reason: "it pins no undercloud signer, so it would refuse every envelope: deploy heat/templates/fernet-node.yaml to it (its pin-signer deployment), or give it this undercloud's signer public key"}, true
		}
		return fleet.Straggler{Report: r, Status: fleet.StatusSigner, Reason: fmt.Sprintf("it pins signer %s, not this undercloud's %s: it would refuse every envelope; if the undercloud's signer really changed, remove the node's signer.pub and pin the new one", o.Signer, pub)}, true
	}
	agree := res.Agree[:0]
	for _, r := range res.Agree {
		if st, ok := bad(r); ok {
			res.Stragglers = append(res.Stragglers, st)
			continue
		}
		agree = append(agree, r)
	}
	res.Agree = agree
	for i, st := range res.Stragglers {
		if !st.Repairable() {
			continue
		}
		if b, ok := bad(st.Report); ok {
			res.Stragglers[i] = b
		}
	}
	return nil
}

// fromDeliveries splits servers into those a delivery of this run reached (their
// reports, or the delivery's error) and the rest, still to be asked.
func (h *FleetHost) fromDeliveries(servers []fleet.Server) ([]fleet.Report, map[string]error, []fleet.Server) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var reports []fleet.Report
	errs := map[string]error{}
	var rest []fleet.Server
	for _, s := range servers {
		err, ok := h.delivered[s.ID]
		switch {
		case !ok:
			rest = append(rest, s)
		case err != nil:
			errs[s.ID] = fmt.Errorf("%w: %w", fleet.ErrDeliveryFailed, err)
		default:
			reports = append(reports, h.seen[s.ID])
		}
	}
	return reports, errs, rest
}

// allServers is the servers asked plus those answered from deliveries, in
// the order of the reports and errors.
func (h *FleetHost) allServers(asked []fleet.Server, reports []fleet.Report, errs map[string]error) []fleet.Server {
	out := slices.Clone(asked)
	have := map[string]bool{}
	for _, s := range asked {
		have[s.ID] = true
	}
	for _, r := range reports {
		if !have[r.ID] {
			out = append(out, r.Server)
			have[r.ID] = true
		}
	}
	h.mu.Lock()
	for id := range errs {
		if !have[id] {
			name := id
			if r, ok := h.seen[id]; ok {
				name = r.Name
			}
			out = append(out, fleet.Server{Name: name, ID: id})
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b fleet.Server) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// pin pins the recipients the reports carry. A node whose recipient
// changed (and is not in reenroll) is taken out of the reports and
// returned as a straggler: it must not receive keys. A dry run pins
// nothing.
func pin(ctx context.Context, h *FleetHost, reports []fleet.Report, reenroll []string, dryRun bool) ([]fleet.Straggler, []fleet.Report, error) {
	h.record(reports...)
	pins, err := h.Undercloud.Recipients()
	if err != nil {
		return nil, nil, err
	}
	var extra []fleet.Straggler
	var keep []fleet.Report
	var es []fleet.Enrollment
	for _, r := range reports {
		rc := r.Observation.Recipient
		old, known := pins[r.ID]
		if known && old.Recipient != rc && !slices.Contains(reenroll, r.ID) {
			extra = append(extra, fleet.Straggler{Report: r, Status: fleet.StatusRecipientChanged,
				Reason: fmt.Sprintf("its identity changed: it was pinned to %s on %s and now reports %s: if the node was rebuilt, re-enroll it (reenroll %s); otherwise investigate before it receives keys", old.Recipient, old.PinnedAt.UTC().Format(time.RFC3339), rc, r.ID)})
			continue
		}
		keep = append(keep, r)
		es = append(es, fleet.Enrollment{Server: r.Server, Recipient: rc, Reenroll: slices.Contains(reenroll, r.ID)})
	}
	if !dryRun && len(es) > 0 {
		if _, err := h.Undercloud.Pin(ctx, es...); err != nil {
			return nil, nil, err
		}
	}
	return extra, keep, nil
}

func unreachable(servers []fleet.Server, errs map[string]error, timeout time.Duration, extra []fleet.Straggler) []fleet.Straggler {
	out := append([]fleet.Straggler{}, extra...)
	for _, s := range servers {
		if err, ok := errs[s.ID]; ok {
			out = append(out, fleet.Unreachable(s, err, timeout))
		}
	}
	return out
}

// advice says what the operator runs for each refused node.
func advice(refuse []fleet.Straggler) string {
	var drifted, other []string
	for _, s := range refuse {
		switch s.Status {
		case fleet.StatusDrifted:
			drifted = append(drifted, s.Name)
		case fleet.StatusSigner:
			other = append(other, "pin this undercloud's signer on "+s.Name+" (see above) and run again; nothing was changed")
		case fleet.StatusUnreachable:
			other = append(other, "bring "+s.Name+" back (its os-collect-config must run) and run again; nothing was changed")
		case fleet.StatusSplitBrain, fleet.StatusAhead:
			other = append(other, "find which undercloud state is right for "+s.Name+" before anything rotates")
		}
	}
	var parts []string
	if len(drifted) > 0 {
		parts = append(parts, "to put the master's keys on "+strings.Join(drifted, ", ")+" anyway, rejecting the tokens signed with the keys named, run again with them in overwrite_drifted: "+strings.Join(drifted, ","))
	}
	parts = append(parts, other...)
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// coversEnrolled reports whether servers include every enrolled node.
func coversEnrolled(h *FleetHost, servers []fleet.Server) (bool, error) {
	pins, err := h.Undercloud.Recipients()
	if err != nil {
		return false, err
	}
	listed := map[string]bool{}
	for _, s := range servers {
		listed[s.ID] = true
	}
	for id := range pins {
		if !listed[id] {
			return false, nil
		}
	}
	return true, nil
}

type packageIn struct {
	Servers []fleet.Server `json:"servers"`
	// Overwrite are the server ids whose envelopes may replace more keys
	// than they hold (drifted nodes the operator chose to overwrite).
	Overwrite []string `json:"overwrite"`
}

type packageOut struct {
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	Envelopes   []fleet.Sealed   `json:"envelopes"`
}

// keysPackage seals the master set for every server.
func keysPackage(h *FleetHost) *funcAction {
	return typed("keys.package", "Seal the master key set to each server's pinned recipient and sign it: one armored envelope per server, safe to store and send.", false,
		func(ctx context.Context, in packageIn) (*packageOut, error) {
			m, err := h.Undercloud.Master()
			if err != nil {
				return nil, err
			}
			env, err := h.Undercloud.Package(in.Servers, in.Overwrite...)
			if err != nil {
				return nil, err
			}
			return &packageOut{Generation: m.Generation, Fingerprint: m.Fingerprint, Envelopes: env}, ctx.Err()
		})
}

type deployIn struct {
	Server     fleet.Server `json:"server"`
	Envelope   string       `json:"envelope"`
	AllowFewer bool         `json:"allow_fewer"`
}

// fleetDeploy delivers one envelope through the target, with the fleet's
// probe token for the node to check once it has installed.
func fleetDeploy(h *FleetHost) *funcAction {
	return typed("fleet.deploy", "Deliver one server's sealed envelope through the target (a Heat software deployment, or node install on a local node) and return what the node's repository holds once installed.", false,
		func(ctx context.Context, in deployIn) (fleet.Report, error) {
			if in.Server.Name == "" {
				in.Server.Name = in.Server.ID
			}
			d := fleet.Delivery{Envelope: []byte(in.Envelope), AllowFewer: in.AllowFewer}
			if m, err := h.Undercloud.Master(); err == nil {
				if d.ProbeTokens, err = fleet.FleetToken(m); err != nil {
					return fleet.Report{}, err
				}
			}
			r, err := h.Target.Deliver(ctx, in.Server, d)
			h.mu.Lock()
			if h.delivered == nil {
				h.delivered = map[string]error{}
			}
			h.delivered[in.Server.ID] = err
			h.mu.Unlock()
			if err == nil {
				h.record(r)
			}
			if h.OnDeliver != nil {
				if err != nil {
					r.Server = in.Server
				}
				h.OnDeliver(r, err)
			}
			return r.WithoutSealed(), err
		})
}

type probeOut struct {
	OK bool `json:"ok"`
	*fleet.ProbeResult
}

// keysProbe checks that a token of every node validates on every other.
func keysProbe(h *FleetHost) *funcAction {
	return typed("keys.probe", "Check, from what each node reported in this run (fleet.check or fleet.deploy), that a token issued with each node's real primary key validates against the set every other node holds, and that each node's repository validates the fleet's token: every pair of nodes, on every target. A node not seen in this run fails the probe.", false,
		func(ctx context.Context, in packageIn) (*probeOut, error) {
			m, err := h.Undercloud.Master()
			if err != nil {
				return nil, err
			}
			res := fleet.Probe(m, in.Servers, h.Seen(in.Servers))
			return &probeOut{OK: res.OK(), ProbeResult: res}, ctx.Err()
		})
}
