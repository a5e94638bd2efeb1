package fleet

import (
	"fmt"
	"strings"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// ProbeResult is the outcome of the cross-node token probe.
type ProbeResult struct {
	// Checked counts the token checks that ran: each node's token against
	// every other node holding the master's set, and each node's check
	// of the fleet's token.
	Checked int `json:"checked"`
	// Failures names every check that failed, or could not run.
	Failures []string `json:"failures"`
}

// OK reports whether checks ran and none failed: a probe that checked
// nothing is not a success.
func (p *ProbeResult) OK() bool { return p.Checked > 0 && len(p.Failures) == 0 }

// FleetToken issues the token the nodes check during a report or a
// delivery: signed with the master's primary key, which every node that
// agrees with the master signs with.
func FleetToken(m *Master) ([]string, error) {
	if m == nil || len(m.Keys) == 0 {
		return nil, nil
	}
	t, err := keys.IssueToken(m.Keys, []byte("fernetflow probe undercloud"))
	if err != nil {
		return nil, err
	}
	return []string{t}, nil
}

// Probe checks the zero-downtime promise on what the nodes reported: each
// node's token, issued with the primary key of its real repository, must
// validate against the master's set, which every node that agrees holds
// (their repository fingerprints say so); and each node's repository must
// have validated the fleet's token (FleetToken), signed with the key every
// other node signs with. Together these cover every (issuer, verifier)
// pair of nodes, on every target, with the nodes' real keys. A node
// without a report, or whose check did not run, is a failure.
func Probe(m *Master, servers []Server, reports []Report) *ProbeResult {
	res := &ProbeResult{Failures: []string{}}
	byID := map[string]Report{}
	var holders []Server
	fp := m.Fingerprint
	for _, r := range reports {
		byID[r.ID] = r
		if r.Observation != nil && r.Observation.Repository.Fingerprint == fp {
			holders = append(holders, r.Server)
		}
	}
	for _, s := range servers {
		r, ok := byID[s.ID]
		switch {
		case !ok || r.Observation == nil:
			res.Failures = append(res.Failures, fmt.Sprintf("%s: no report in this run, so nothing was checked there", s.Name))
			continue
		case r.Observation.Probe.Token == "":
			res.Failures = append(res.Failures, fmt.Sprintf("%s holds no keys: Keystone there can neither issue nor validate tokens", s.Name))
			continue
		}
		p := r.Observation.Probe
		others := without(holders, s.ID)
		if _, _, err := keys.VerifyToken(m.Keys, p.Token, 0); err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("a token issued by %s (with the primary key of its repository) is rejected by the master's set%s", s.Name, heldBy(others)))
		} else {
			res.Checked += len(others)
		}
		switch {
		case p.Checked == 0:
			res.Failures = append(res.Failures, fmt.Sprintf("%s did not check the fleet's token", s.Name))
		case len(p.Rejected) > 0:
			res.Failures = append(res.Failures, fmt.Sprintf("%s rejects a token signed with the master's primary key%s", s.Name, signedBy(others)))
		default:
			res.Checked += p.Checked
		}
	}
	return res
}

func without(ss []Server, id string) []Server {
	var out []Server
	for _, s := range ss {
		if s.ID != id {
			out = append(out, s)
		}
	}
	return out
}

func heldBy(ss []Server) string {
	if len(ss) == 0 {
		return ""
	}
	return ", which " + names(ss) + " hold: their Keystones reject its tokens"
}

func signedBy(ss []Server) string {
	if len(ss) == 0 {
		return ""
	}
	return ": tokens issued by " + names(ss) + " fail there"
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
