package fleet

import (
	"context"
	"errors"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// Server is one Keystone node.
type Server struct {
	Name string `json:"name"`
	ID   string `json:"server_id"`
}

// Report is what a node said about itself: its Observation, computed from
// its key repository at that moment, and the fields read from it that
// every view prints. A Report with no Observation comes from a target
// that only knows generations and fingerprints (simulations).
type Report struct {
	Server
	// Generation is the generation the node last installed (0: none).
	Generation uint64 `json:"generation"`
	// Fingerprint is the fingerprint of the keys in its repository now.
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	// Changed is true when a delivery changed the repository.
	Changed     bool              `json:"changed"`
	Observation *wire.Observation `json:"observation,omitempty"`
}

// WithoutSealed is r without the keys its node sealed to the undercloud
// for adoption (Observation.Sealed): what only the check itself needs,
// never recorded in an execution's history.
func (r Report) WithoutSealed() Report {
	if r.Observation != nil && r.Observation.Sealed != "" {
		o := *r.Observation
		o.Sealed = ""
		r.Observation = &o
	}
	return r
}

// ReportFrom fills a Report's summary fields from an observation.
func ReportFrom(s Server, o *wire.Observation) Report {
	r := Report{Server: s, Observation: o}
	if o == nil {
		return r
	}
	r.Fingerprint = o.Repository.Fingerprint
	if o.Installed != nil {
		r.Generation = o.Installed.Generation
	}
	return r
}

// ObserveRequest is what the undercloud sends with a report request.
type ObserveRequest struct {
	// ProbeTokens are tokens the node verifies against its repository
	// (see wire.Probe).
	ProbeTokens []string
	// AdoptRequest, per server id, asks a node for its keys sealed to the
	// undercloud (adoption, see envelope.SignAdoptRequest).
	AdoptRequest map[string]string
}

// Delivery is one envelope for one node.
type Delivery struct {
	Envelope []byte
	// ProbeTokens are verified by the node once it has installed.
	ProbeTokens []string
	// AllowFewer lets the node replace a repository holding more keys
	// than the envelope: only for a node the operator chose to overwrite.
	AllowFewer bool
}

// Target reaches the nodes of a cloud.
//
// Contract: every method honours ctx. An error names the server it is
// about and why; it never holds key material. Observe and Deliver return
// what the node's repository holds when they return (wire.Observation);
// Deliver waits until the node has installed (or refused) the envelope,
// and a refusal by the node (rollback, split brain, a bad signature) is an
// error, not a Report.
type Target interface {
	// Servers lists the nodes selected by sel, sorted by name. A target
	// that has no stacks or roles (package local) ignores sel.
	Servers(ctx context.Context, sel Selection) ([]Server, error)
	// Observe asks the node what it holds now, making its identity first
	// if it has none (so observing enrolls).
	Observe(ctx context.Context, s Server, req ObserveRequest) (Report, error)
	// Deliver sends an envelope to the node and returns its report.
	Deliver(ctx context.Context, s Server, d Delivery) (Report, error)
	// Close releases what the target holds (Heat's signal receiver); the
	// target is not used after it.
	Close() error
}

// Selection picks the nodes of a cloud: the Keystone nodes of the
// overcloud are the servers of one role in one stack.
type Selection struct {
	Stack string `json:"stack,omitempty"`
	Role  string `json:"role,omitempty"`
}

// ErrUnknownServer means a server id names no node of the target.
var ErrUnknownServer = errors.New("fleet: unknown server")
