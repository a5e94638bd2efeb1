package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fernetflow/fernetflow/internal/envelope"
)

// EnrollResult is what enrollment reports: the JSON printed by
// `fernetflow node enroll`. It never holds the identity.
type EnrollResult struct {
	ServerID  string `json:"server_id"`
	Recipient string `json:"recipient"`
}

// Enroll makes the node identity in stateDir if it is absent (the directory
// 0700 and the file 0600 are created as needed) and returns the node's
// recipient, which the undercloud seals envelopes to. It is idempotent: an
// existing identity is kept. It refuses a state directory that has
// installed keys for another server.
func Enroll(stateDir, serverID string, now time.Time) (*EnrollResult, error) {
	if err := checkArgs(stateDir, serverID); err != nil {
		return nil, err
	}
	if st, err := ReadState(stateDir); err != nil {
		return nil, err
	} else if st != nil && st.ServerID != serverID {
		return nil, wrongServer(stateDir, st.ServerID, serverID)
	}
	id, _, err := envelope.InitIdentity(filepath.Join(stateDir, IdentityFile), now)
	if err != nil {
		return nil, err
	}
	return &EnrollResult{ServerID: serverID, Recipient: id.Recipient().String()}, nil
}

func checkArgs(stateDir, serverID string) error {
	if stateDir == "" {
		return fmt.Errorf("%w (%s by default)", ErrNoStateDir, DefaultStateDir)
	}
	if serverID == "" {
		return fmt.Errorf("%w (the Nova server id Heat knows this node by)", ErrNoServerID)
	}
	return nil
}

// ErrOtherServer means the state directory belongs to another server.
var ErrOtherServer = errors.New("node: the state directory is another server's")

func wrongServer(stateDir, recorded, given string) error {
	return fmt.Errorf("%w: %s belongs to server %q, not %q: give this node's own server id, or another state directory", ErrOtherServer, stateDir, recorded, given)
}
