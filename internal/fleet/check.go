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
// promise, checked directly.
func Probe(ctx context.Context, t KeyReader, servers []Server) (*ProbeResult, error) {
	sets := make([]keys.Set, len(servers))
	for i, s := range servers {
		set, err := t.KeySet(ctx, s)
		if err != nil {
			return nil, err
		}
		sets[i] = set
	}
	res := &ProbeResult{Failures: []string{}}
	for i, issuer := range servers {
		tok, err := keys.IssueToken(sets[i], []byte("fernetflow probe from "+issuer.ID))
		if err != nil {
			return nil, fmt.Errorf("fleet: probe %s: %w", issuer.Name, err)
		}
		for j, verifier := range servers {
			if i == j {
				continue
			}
			res.Checked++
			if _, _, err := keys.VerifyToken(sets[j], tok, 0); err != nil {
				p, _ := sets[i].Primary()
				res.Failures = append(res.Failures, fmt.Sprintf("a token of %s (primary key %s) is rejected by %s", issuer.Name, strconv.Itoa(p), verifier.Name))
			}
		}
	}
	return res, nil
}
