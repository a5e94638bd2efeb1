package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors for the nodes a refusal names, one per decision the operator
// makes (see Refusal). ErrRecipientChanged is the one for a node whose
// identity changed.
var (
	// ErrDrifted: a node's keys changed outside fernetflow; overwriting
	// them (overwrite_drifted) rejects the tokens signed with the keys
	// the refusal names.
	ErrDrifted = errors.New("fleet: a node's keys changed outside fernetflow")
	// ErrUnreachable: a node did not report.
	ErrUnreachable = errors.New("fleet: a node did not report")
	// ErrSignerNotPinned: a node pins no undercloud signer, or another
	// undercloud's, and would refuse every envelope.
	ErrSignerNotPinned = errors.New("fleet: a node does not pin this undercloud's signer")
	// ErrSplitBrain: a node holds another set of the master's generation,
	// or a newer generation: another undercloud state wrote it.
	ErrSplitBrain = errors.New("fleet: a node holds keys another undercloud state made")
	// ErrKeySetsDiffer: on the first run, the nodes hold different key
	// sets, and adopting one rejects the tokens of the others
	// (adopt_from chooses).
	ErrKeySetsDiffer = errors.New("fleet: the nodes hold different key sets")
	// ErrNotEnrolled: a node has no pinned recipient.
	ErrNotEnrolled = errors.New("fleet: the node is not enrolled")
)

// Refusal is the nodes that refused a run, by status, for errors.Is (one
// of the errors above for each status present) and errors.As (which
// servers). Its text is short: the run's own error says why.
type Refusal struct {
	Servers    map[Status][]Server
	SetsDiffer bool
}

// statusErr is the error of each status that needs the operator.
var statusErr = map[Status]error{
	StatusDrifted:          ErrDrifted,
	StatusUnreachable:      ErrUnreachable,
	StatusSigner:           ErrSignerNotPinned,
	StatusSplitBrain:       ErrSplitBrain,
	StatusAhead:            ErrSplitBrain,
	StatusRecipientChanged: ErrRecipientChanged,
}

// NewRefusal is the refusal of the stragglers that need the operator
// (not those a delivery repairs, nor drifted ones named in overwrite), or
// nil when there are none and sets do not differ.
func NewRefusal(stragglers []Straggler, overwrite []string, setsDiffer bool) *Refusal {
	r := &Refusal{Servers: map[Status][]Server{}, SetsDiffer: setsDiffer}
	for _, s := range stragglers {
		if statusErr[s.Status] == nil || s.Status == StatusDrifted && (slices.Contains(overwrite, s.ID) || slices.Contains(overwrite, s.Name)) {
			continue
		}
		r.Servers[s.Status] = append(r.Servers[s.Status], s.Server)
	}
	if len(r.Servers) == 0 && !setsDiffer {
		return nil
	}
	return r
}

// Names are the names of the servers of a status.
func (r *Refusal) Names(st Status) []string {
	var out []string
	for _, s := range r.Servers[st] {
		out = append(out, s.Name)
	}
	return out
}

// IDs are the server ids of the servers of a status.
func (r *Refusal) IDs(st Status) []string {
	var out []string
	for _, s := range r.Servers[st] {
		out = append(out, s.ID)
	}
	return out
}

func (r *Refusal) Error() string {
	var parts []string
	for st := range r.Servers {
		parts = append(parts, fmt.Sprintf("%s: %s", st, strings.Join(r.Names(st), ", ")))
	}
	if r.SetsDiffer {
		parts = append(parts, "different key sets")
	}
	slices.Sort(parts)
	return "fleet: refused: " + strings.Join(parts, "; ")
}

// Is reports whether target is the error of one of r's statuses.
func (r *Refusal) Is(target error) bool {
	if target == ErrKeySetsDiffer {
		return r.SetsDiffer
	}
	for st := range r.Servers {
		if statusErr[st] == target {
			return true
		}
	}
	return false
}
