package fleet

import (
	"context"
	"errors"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// Server is one Keystone node.
type Server struct {
	Name string `json:"name"`
	ID   string `json:"server_id"`
}

// Report is what a node says it holds: the generation and fingerprint of
// the set it installed last (zero values for a node that never installed
// one), and whether the latest delivery changed its repository.
type Report struct {
	Server
	Generation  uint64 `json:"generation"`
	Fingerprint string `json:"fingerprint"`
	Changed     bool   `json:"changed"`
}

// Target reaches the nodes of a cloud.
//
// Contract: every method honours ctx. An error names the server it is
// about and why; it never holds key material. Deliver waits until the
// node has installed (or refused) the envelope, and a refusal by the node
// (rollback, split brain, a bad signature) is an error, not a Report.
type Target interface {
	// Servers lists the nodes selected by sel, sorted by name. A target
	// that has no stacks or roles (Local) ignores sel.
	Servers(ctx context.Context, sel Selection) ([]Server, error)
	// Enroll makes the node's identity if it has none and returns its age
	// recipient.
	Enroll(ctx context.Context, s Server) (recipient string, err error)
	// Status returns what the node reported installed last.
	Status(ctx context.Context, s Server) (Report, error)
	// Deliver sends an envelope to the node and returns its install report.
	Deliver(ctx context.Context, s Server, envelope []byte) (Report, error)
}

// Selection picks the nodes of a cloud: the Keystone nodes of the
// overcloud are the servers of one role in one stack.
type Selection struct {
	Stack string `json:"stack,omitempty"`
	Role  string `json:"role,omitempty"`
}

// KeyReader is implemented by targets that can read a node's key set
// directly (Local), which Probe needs. Others probe through Keystone.
type KeyReader interface {
	KeySet(ctx context.Context, s Server) (keys.Set, error)
}

// ErrUnknownServer means a server id names no node of the target.
var ErrUnknownServer = errors.New("fleet: unknown server")
