package fleet

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Straggler is a node that does not hold the master's set.
type Straggler struct {
	Report
	Reason string `json:"reason"`
}

// CheckResult compares every node with the master.
type CheckResult struct {
	Generation  uint64      `json:"generation"`
	Fingerprint string      `json:"fingerprint"`
	Agree       []Report    `json:"agree"`
	Stragglers  []Straggler `json:"stragglers"`
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

// Check asks every server what it holds and compares it with the master's
// generation and fingerprint. A server that cannot be asked is a
// straggler with the error as its reason; Check itself fails only when
// ctx ends.
func Check(ctx context.Context, t Target, servers []Server, generation uint64, fingerprint string) (*CheckResult, error) {
	res := &CheckResult{Generation: generation, Fingerprint: fingerprint, Agree: []Report{}, Stragglers: []Straggler{}}
	for _, s := range servers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := t.Status(ctx, s)
		switch {
		case err != nil:
			res.Stragglers = append(res.Stragglers, Straggler{Report{Server: s}, "unreachable: " + err.Error()})
		case r.Fingerprint == fingerprint && r.Generation == generation:
			res.Agree = append(res.Agree, r)
		case r.Generation == 0 && r.Fingerprint == "":
			res.Stragglers = append(res.Stragglers, Straggler{r, "has never installed a key set"})
		case r.Generation == generation:
			res.Stragglers = append(res.Stragglers, Straggler{r, fmt.Sprintf("holds another set at generation %d (%s, master %s): split brain", generation, short(r.Fingerprint), short(fingerprint))})
		case r.Generation < generation:
			res.Stragglers = append(res.Stragglers, Straggler{r, fmt.Sprintf("at generation %d, behind the master's %d", r.Generation, generation)})
		default:
			res.Stragglers = append(res.Stragglers, Straggler{r, fmt.Sprintf("at generation %d, ahead of the master's %d: the master was restored from an old backup?", r.Generation, generation)})
		}
	}
	return res, nil
}

func short(fp string) string {
	if f, err := keys.ParseFingerprint(fp); err == nil {
		return f.Short()
	}
	return fp
}

// ProbeResult is the outcome of a cross-node token probe.
type ProbeResult struct {
	// Checked counts (issuer, verifier) pairs, issuer != verifier.
	Checked int `json:"checked"`
	// Failures names every pair where the verifier rejected the issuer's token.
	Failures []string `json:"failures"`
}

// OK reports whether every token validated on every other node.
func (p *ProbeResult) OK() bool { return len(p.Failures) == 0 }

// Probe issues a token with every node's primary key and verifies it
// against every other node's set, as Keystone would: the zero-downtime
// promise, checked directly. Nodes holding identical sets (the same
// fingerprint) behave identically, so one token per distinct set, checked
// against every distinct set, covers every pair: a fleet that agrees costs
// one check, not n².
func Probe(ctx context.Context, t KeyReader, servers []Server) (*ProbeResult, error) {
	type group struct {
		set     keys.Set
		members []Server
		token   string
	}
	var groups []*group
	byPrint := map[keys.Fingerprint]*group{}
	for _, s := range servers {
		set, err := t.KeySet(ctx, s)
		if err != nil {
			return nil, err
		}
		fp := set.Fingerprint()
		g, ok := byPrint[fp]
		if !ok {
			g = &group{set: set}
			byPrint[fp] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, s)
	}
	for _, g := range groups {
		tok, err := keys.IssueToken(g.set, []byte("fernetflow probe"))
		if err != nil {
			return nil, fmt.Errorf("fleet: probe %s: %w", g.members[0].Name, err)
		}
		g.token = tok
	}
	res := &ProbeResult{Failures: []string{}}
	for _, issuer := range groups {
		for _, verifier := range groups {
			pairs := len(issuer.members) * len(verifier.members)
			if issuer == verifier {
				pairs -= len(issuer.members) // a node does not probe itself
			}
			res.Checked += pairs
			if pairs == 0 {
				continue
			}
			if _, _, err := keys.VerifyToken(verifier.set, issuer.token, 0); err != nil {
				p, _ := issuer.set.Primary()
				res.Failures = append(res.Failures, fmt.Sprintf("a token of %s (primary key %s) is rejected by %s", names(issuer.members), strconv.Itoa(p), names(verifier.members)))
			}
		}
	}
	return res, nil
}

// names lists a few server names for a message.
func names(ss []Server) string {
	var n []string
	for i, s := range ss {
		if i == 3 {
			n = append(n, fmt.Sprintf("and %d more", len(ss)-3))
			break
		}
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}
