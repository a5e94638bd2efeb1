// Package fleet is the undercloud's side of a rotation: the nodes it
// reaches (a Target), what it keeps (an Undercloud: the master key
// repository, the signer, the pinned node recipients), and the steps of the
// rotation protocol that are not Keystone's (package one envelope per node,
// check that every node holds the master's set, probe that tokens cross
// nodes).
//
// # Targets
//
// A Target reaches the nodes. Two exist: local.Target (package
// internal/fleet/local: each node a directory on this host, delivered to by
// the same node.Install a real node runs; the embedded default, and a real
// deployment for an all-in-one or single-controller cloud) and
// deploy.FleetTarget (package internal/deploy: one Heat software deployment
// per node and step). A Target never sees key material: it carries
// envelopes sealed to each node.
//
// This package does not import the node agent (package node): what a node
// reports is a wire.Observation, which both sides share, so that the
// undercloud side compiles no code that only runs on a node.
//
// # Undercloud state
//
// Everything lives in one state directory (default /var/lib/fernetflow, or
// $XDG_STATE_HOME/fernetflow for a non-root user):
//
//	STATE_DIR/master/fernet-keys   the master key repository (0700), with
//	                               its metadata and lock beside it
//	STATE_DIR/signer.key           the Ed25519 signer (0600); signer.pub
//	STATE_DIR/recipients.json      each node's pinned age recipient
//
// Recipients are trusted on first use: a node's first enrollment pins its
// recipient; a different recipient later is refused (ErrRecipientChanged)
// unless the node is re-enrolled explicitly, because a rebuilt or
// impostor node must not silently receive keys.
//
// # Protocol
//
// A rotation from generation G to G+1 is safe because every node holds G's
// staged key, which is G+1's primary. So the protocol never rotates while a
// node disagrees with the master, repairs stragglers by delivering G again,
// and only then rotates the master, packages G+1 for every node and
// delivers it.
//
// What a node holds is what it reports from its key repository at that
// moment (a wire.Observation, by Target.Observe or with a delivery), never
// the record of its last install: Classify turns it into a Status. Behind
// and new nodes are repaired; a drifted node (keys changed outside
// fernetflow) is refused until the operator names it for an overwrite; an
// unreachable, split, rebuilt or unpinned node is refused. On the first run
// (an empty master) PlanAdoption takes the keys the nodes share, sealed to
// the undercloud's identity, so that no token is lost. Probe checks, from
// the nodes' own tokens, that every token crosses every pair of nodes.
package fleet
