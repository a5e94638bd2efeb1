package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

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
}

func (h *FleetHost) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// FleetActions returns the actions of the rotation protocol.
func FleetActions(h *FleetHost) []*Func {
	return []*Func{FleetServers(h), NodeEnroll(h), FleetCheck(h), KeysPackage(h), FleetDeploy(h), KeysProbe(h)}
}

type serversOut struct {
	Servers []fleet.Server `json:"servers"`
}

// FleetServers lists the target's nodes.
func FleetServers(h *FleetHost) *Func {
	return Typed("fleet.servers", "List the Keystone nodes the target reaches (name and server_id): the servers of role in stack on Heat, every node directory on the local target.", false,
		func(ctx context.Context, sel fleet.Selection) (serversOut, error) {
			s, err := h.Target.Servers(ctx, sel)
			return serversOut{s}, err
		})
}

// enrollConcurrency bounds the nodes enrolled at once: on Heat each
// enrollment waits for the node's os-collect-config to poll.
const enrollConcurrency = 10

type enrollIn struct {
	Servers  []fleet.Server `json:"servers"`
	Reenroll []string       `json:"reenroll"`
}

type enrolled struct {
	fleet.Server
	Recipient string `json:"recipient"`
	Pinned    bool   `json:"pinned"`
}

// NodeEnroll enrolls nodes and pins their recipients (trust on first use).
func NodeEnroll(h *FleetHost) *Func {
	return Typed("node.enroll", "Enroll nodes: make each node's identity if absent and pin its age recipient, trusting it on first use; a changed recipient is refused unless the server is listed in reenroll.", false,
		func(ctx context.Context, in enrollIn) (map[string][]enrolled, error) {
			out := []enrolled{}
			es := make([]fleet.Enrollment, len(in.Servers))
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(enrollConcurrency)
			for i, s := range in.Servers {
				g.Go(func() error {
					r, err := h.Target.Enroll(gctx, s)
					es[i] = fleet.Enrollment{Server: s, Recipient: r, Reenroll: slices.Contains(in.Reenroll, s.ID)}
					return err
				})
			}
			if err := g.Wait(); err != nil {
				return nil, err
			}
			pinned, err := h.Undercloud.Pin(ctx, es...)
			if err != nil {
				return nil, err
			}
			for i, e := range es {
				out = append(out, enrolled{e.Server, e.Recipient, pinned[i]})
			}
			return map[string][]enrolled{"nodes": out}, nil
		})
}

type checkIn struct {
	Servers []fleet.Server `json:"servers"`
	Confirm *bool          `json:"confirm"`
}

type checkOut struct {
	MasterReady bool `json:"master_ready"`
	// Pending is true when the master's latest generation never reached
	// the whole fleet (an interrupted or partly failed rotation): the run
	// resumes it rather than rotating again.
	Pending bool `json:"pending"`
	*fleet.CheckResult
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`
}

// FleetCheck compares the nodes with the master and, when they all agree,
// confirms the generation on the master (keys.Confirm).
func FleetCheck(h *FleetHost) *Func {
	return Typed("fleet.check", "Compare the generation and fingerprint every node reports with the master's; name every straggler and why; when all agree, record the confirmation on the master.", false,
		func(ctx context.Context, in checkIn) (*checkOut, error) {
			m, err := h.Undercloud.Master()
			if errors.Is(err, fleet.ErrMasterNotReady) && !masterExists(h) {
				res := &fleet.CheckResult{Agree: []fleet.Report{}, Stragglers: []fleet.Straggler{}}
				return &checkOut{MasterReady: false, CheckResult: res, Summary: "the master repository is not set up yet: the first rotation sets it up"}, nil
			}
			if err != nil {
				return nil, err
			}
			res, err := fleet.Check(ctx, h.Target, in.Servers, m.Generation, m.Fingerprint.String())
			if err != nil {
				return nil, err
			}
			// Confirm only when the servers checked include every enrolled
			// node: a node left out of the list may still sign with the key
			// the last rotation demoted.
			all, err := coversEnrolled(h, in.Servers)
			if err != nil {
				return nil, err
			}
			if res.OK() && all && (in.Confirm == nil || *in.Confirm) && len(in.Servers) > 0 {
				if _, err := keys.Confirm(ctx, h.Undercloud.MasterRepository(), m.Generation, h.now(), keys.WithWait()); err != nil {
					return nil, fmt.Errorf("fleet.check: record the confirmation: %w", err)
				}
			}
			return &checkOut{MasterReady: true, Pending: m.Confirmed == nil && !res.OK(), CheckResult: res, OK: res.OK(), Summary: res.Summary()}, nil
		})
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

// masterExists reports whether the master repository holds keys at all
// (as opposed to holding keys with stale metadata).
func masterExists(h *FleetHost) bool {
	_, err := keys.Open(h.Undercloud.MasterRepository())
	return err == nil
}

type packageIn struct {
	Servers []fleet.Server `json:"servers"`
}

type packageOut struct {
	Generation  uint64         `json:"generation"`
	Fingerprint string         `json:"fingerprint"`
	Envelopes   []fleet.Sealed `json:"envelopes"`
}

// KeysPackage seals the master set for every server.
func KeysPackage(h *FleetHost) *Func {
	return Typed("keys.package", "Seal the master key set to each server's pinned recipient and sign it: one armored envelope per server, safe to store and send.", false,
		func(ctx context.Context, in packageIn) (*packageOut, error) {
			m, err := h.Undercloud.Master()
			if err != nil {
				return nil, err
			}
			env, err := h.Undercloud.Package(in.Servers)
			if err != nil {
				return nil, err
			}
			return &packageOut{Generation: m.Generation, Fingerprint: m.Fingerprint.String(), Envelopes: env}, ctx.Err()
		})
}

type deployIn struct {
	Server   fleet.Server `json:"server"`
	Envelope string       `json:"envelope"`
}

// FleetDeploy delivers one envelope through the target.
func FleetDeploy(h *FleetHost) *Func {
	return Typed("fleet.deploy", "Deliver one server's sealed envelope through the target (a Heat software deployment, or node install on a local node) and return the node's install report.", false,
		func(ctx context.Context, in deployIn) (fleet.Report, error) {
			if in.Server.Name == "" {
				in.Server.Name = in.Server.ID
			}
			r, err := h.Target.Deliver(ctx, in.Server, []byte(in.Envelope))
			if h.OnDeliver != nil {
				if err != nil {
					r.Server = in.Server
				}
				h.OnDeliver(r, err)
			}
			return r, err
		})
}

type probeOut struct {
	Supported bool `json:"supported"`
	OK        bool `json:"ok"`
	*fleet.ProbeResult
}

// KeysProbe checks that a token of every node validates on every other.
func KeysProbe(h *FleetHost) *Func {
	return Typed("keys.probe", "Issue a token with each node's primary key and verify it against every other node's set: the zero-downtime promise, checked directly (targets that can read node key sets only).", false,
		func(ctx context.Context, in packageIn) (*probeOut, error) {
			kr, ok := h.Target.(fleet.KeyReader)
			if !ok {
				return &probeOut{Supported: false, OK: true, ProbeResult: &fleet.ProbeResult{Failures: []string{}}}, nil
			}
			res, err := fleet.Probe(ctx, kr, in.Servers)
			if err != nil {
				return nil, err
			}
			return &probeOut{Supported: true, OK: res.OK(), ProbeResult: res}, nil
		})
}
