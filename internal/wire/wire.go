// Package wire holds what a Keystone node and the undercloud exchange about
// a node's key repository: the Observation a node reports (package node
// makes it, `fernetflow node collect` and `node hook` signal it through
// Heat) and the undercloud reads (package fleet classifies it). Both sides
// import this package and neither imports the other, so that the
// undercloud does not compile the node agent.
//
// Nothing here carries key material: keys are named by index and
// keys.Key.ID, and sets by their keys.Fingerprint. The JSON of these types
// is a stable contract between a node and an undercloud that may run
// different fernetflow versions: add fields, never rename or retype one.
package wire

import "github.com/fernetflow/fernetflow/internal/keys"

// Observation is what a node holds at one moment, computed from its key
// repository then (never from the record of its last install alone), and
// what its repository makes of the fleet's probe tokens. It holds no key
// material: keys are named by index and keys.Key.ID, and Sealed, when set,
// is the repository's set encrypted to the undercloud (adoption).
type Observation struct {
	ServerID string `json:"server_id"`
	// Recipient is the node's age recipient (its identity is made on
	// first report: reporting enrolls).
	Recipient string `json:"recipient"`
	// Signer is the undercloud signer the node pins ("" when none: it
	// would refuse every envelope).
	Signer string `json:"signer"`
	// Installed is what installed.json records (nil: fernetflow never
	// installed a set on this node, or its state was wiped).
	Installed *Installed `json:"installed"`
	// Repository is what the key repository holds now.
	Repository Holding `json:"repository"`
	// Probe is this node's side of the token probe.
	Probe Probe `json:"probe"`
	// Sealed is the repository's key set sealed to the undercloud, when
	// an adopt request asked for it and the repository holds keys.
	Sealed string `json:"sealed,omitempty"`
}

// Installed is the record of the node's last install.
type Installed struct {
	Generation  uint64           `json:"generation"`
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	Keys        []KeyRef         `json:"keys"`
}

// Holding is a key repository's content, by key id.
type Holding struct {
	// Fingerprint is the set's fingerprint (zero, and omitted, when it
	// holds no keys or cannot be read).
	Fingerprint keys.Fingerprint `json:"fingerprint,omitzero"`
	Keys        []KeyRef         `json:"keys"`
	// Error says why the repository cannot be read as Keystone would
	// (a malformed key file, a bad mode); Keys is then empty.
	Error string `json:"error,omitempty"`
}

// Probe is a node's side of the token probe: a token issued with its
// repository's primary key now, and which of the tokens it was given its
// repository rejects.
type Probe struct {
	Token string `json:"token,omitempty"`
	// Rejected are the positions, in the request, of the tokens no key of
	// the repository validates.
	Rejected []int `json:"rejected"`
	// Checked counts the tokens verified.
	Checked int `json:"checked"`
}

// KeyRef names one key of a set without revealing it.
type KeyRef struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
}

// KeyRefs names the keys of s, in index order (an empty list, not nil,
// for an empty set).
func KeyRefs(s keys.Set) []KeyRef {
	out := []KeyRef{}
	for _, i := range s.Indexes() {
		out = append(out, KeyRef{Index: i, ID: s[i].ID()})
	}
	return out
}
