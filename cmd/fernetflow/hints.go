package main

import (
	"context"
	"errors"
	"strings"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/rotation"
)

// hints are the command line's "run this / pass that" for the errors a
// person fixes from it. The libraries' errors say what failed and on which
// thing, and carry no flags or commands (the same error reaches Mistral
// through the action server); this table, matched with errors.Is, is the
// one place that adds them. A hint returns "" when it does not apply to
// this error after all.
var hints = []struct {
	err  error
	hint func(err error) string
}{
	{keys.ErrLocked, func(err error) string {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return "" // it waited already
		}
		return "wait for the other process to finish, or pass --wait"
	}},
	{keys.ErrUnsafePrune, say("fernetflow keys max-active says which max_active_keys keeps those keys; pass --force if you know those tokens are gone")},
	{keys.ErrNotInitialized, say("fernetflow keys setup --key-repository DIR creates the keys")},
	{keys.ErrNoStagedKey, say("fernetflow keys setup adds a new staged key 0 to a repository that lacks one")},
	{keys.ErrNotAKey, say("fernetflow keys setup (in an empty directory) or keystone-manage fernet_setup makes valid keys")},

	{node.ErrNoStateDir, say("pass --state-dir")},
	{node.ErrNoServerID, say("pass --server-id, the Nova server id Heat knows this node by")},
	{node.ErrNoKeyRepository, say("pass --key-repository, Keystone's [fernet_tokens] key_repository")},
	{node.ErrNoMetadata, say("pass --config-file, or run fernetflow node collect as os-collect-config's command")},
	{node.ErrOtherServer, say("pass this node's own --server-id, or another --state-dir")},

	{envelope.ErrNoIdentity, say("enroll the node: fernetflow node enroll on it, or fernetflow enroll from the undercloud")},
	{envelope.ErrBadRecipient, say("pass the recipient fernetflow node enroll printed")},
	{envelope.ErrBadPublicKey, say("pass the line fernetflow signer public prints")},
	{envelope.ErrNoSigner, say("fernetflow signer init --state-dir DIR creates one")},
	{envelope.ErrSignerMismatch, say("then fernetflow signer init rewrites the public key")},
	{envelope.ErrBadSignature, say("fernetflow signer public prints this undercloud's key, the one a node must pin")},

	{deploy.ErrSignalAddress, say("set --signal-listen HOST:PORT to an address the servers reach, or --signal-url to the URL they reach this host by")},
	{deploy.ErrNoCredentials, say("pass --os-cloud, or set OS_CLOUD or the OS_* variables")},

	{fleet.ErrMasterNotReady, say("fernetflow rotate --dry-run shows what the next run does")},
	{fleet.ErrNotEnrolled, say("fernetflow enroll enrolls the nodes")},
	{fleet.ErrKeySetsDiffer, say("choose one with --adopt-from SERVER")},
	{fleet.ErrDrifted, func(err error) string {
		if len(refused(err, fleet.StatusDrifted, false)) == 0 {
			return "pass --overwrite-drifted SERVER to put the master's keys on a drifted node anyway, rejecting the tokens signed with the keys named"
		}
		return "to put the master's keys on " + strings.Join(refused(err, fleet.StatusDrifted, false), ", ") +
			" anyway, rejecting the tokens signed with the keys named, pass --overwrite-drifted " + strings.Join(refused(err, fleet.StatusDrifted, false), ",")
	}},
	{fleet.ErrRecipientChanged, func(err error) string {
		ids := refused(err, fleet.StatusRecipientChanged, true)
		if len(ids) == 0 {
			ids = []string{"SERVER_ID"}
		}
		return "if the node was rebuilt, re-enroll it: fernetflow enroll --reenroll " + strings.Join(ids, ",")
	}},
	{fleet.ErrSignerNotPinned, say("fernetflow signer public prints this undercloud's signer public key: a node's fernetflow node collect takes it as --signer-public-key")},
	{rotation.ErrBusy, say("another fernetflow run (rotate, distribute, check, enroll, demo) is using this --state-dir: run again when it has ended")},
	{rotation.ErrIncomplete, say("fernetflow distribute (or fernetflow rotate, which completes it and does not rotate again) brings the nodes to it once they are back")},
}

func say(s string) func(error) string { return func(error) string { return s } }

// refused are the servers of a status that a fleet.Refusal in err names:
// names, or server ids.
func refused(err error, st fleet.Status, ids bool) []string {
	var r *fleet.Refusal
	if !errors.As(err, &r) {
		return nil
	}
	if ids {
		return r.IDs(st)
	}
	return r.Names(st)
}

// errorText is what fernetflow prints on stderr for err: the error, then
// each hint that applies on its own line.
func errorText(err error) string {
	var b strings.Builder
	b.WriteString("fernetflow: " + err.Error() + "\n")
	seen := map[string]bool{}
	for _, h := range hints {
		if !errors.Is(err, h.err) {
			continue
		}
		if s := h.hint(err); s != "" && !seen[s] {
			seen[s] = true
			b.WriteString("hint: " + s + "\n")
		}
	}
	return b.String()
}
