// Package envelope seals a Keystone key set to one node and signs it, so
// that keys never travel or rest in plaintext outside a node's key
// repository.
//
// There are two kinds of key pairs, and neither private half ever moves:
//
//   - The undercloud's [Signer], an Ed25519 key pair made once with
//     [InitSigner] (fernetflow signer init). Its [PublicKey] prints as one
//     line, "ed25519:" followed by the standard base64 of the 32-byte key,
//     and is pinned on every node.
//   - Each node's identity, an age X25519 identity made on the node with
//     [InitIdentity] (fernetflow node enroll). Only its recipient, the
//     "age1..." public key, leaves the node.
//
// The common case is two calls. On the undercloud:
//
//	armored, err := envelope.Seal(set, generation, serverID, recipient, signer)
//
// and on the node:
//
//	env, err := envelope.Open(armored, identity, pinnedSigner, serverID)
//
// Seal signs, then encrypts. The signed payload is a JSON document holding
// the format version, the server id, the generation, the issue time, the
// keys by index and the set's fingerprint; the payload and its signature
// are encrypted with age to the node's recipient and ASCII-armored, so an
// envelope is printable text that fits in a Heat input value. Binding the
// server id and the generation inside the signed payload stops an envelope
// from being replayed to another node; refusing an older generation than
// the one installed (package node does that) stops it from being replayed
// to a later time.
//
// Open checks everything before it returns a key: the envelope must be
// sealed to this node's identity ([ErrNotForThisNode]), carry a valid
// signature by the pinned signer ([ErrBadSignature]), be in a format this
// version reads ([ErrUnknownVersion]), name this server ([ErrNotForThisNode]
// again) and hold a valid key set whose fingerprint matches
// ([ErrMalformedKey]). A damaged or altered envelope fails with
// [ErrDamaged] or [ErrBadSignature]. Errors never quote key material, the
// payload or an identity.
//
// # Key management
//
// Keep the signer's private key (signer.key) on the undercloud only, and
// back it up as you would a CA key: whoever holds it can push keys to every
// node. The node identity is worthless off its node; if a node is rebuilt,
// enroll it again and seal to its new recipient. Pin the signer by its
// public key on the nodes (fernetflow signer public), never by a path to a
// file an attacker could replace.
//
// # Break-glass
//
// An envelope is a standard armored age file, so an operator on the node
// can read it with the stock age CLI:
//
//	age -d -i /var/lib/fernetflow/identity envelope.age
//
// prints the signed JSON document; the keys are under "signed"."keys". Do
// this only to recover a node by hand: the output is key material.
//
// # Format
//
// The plaintext inside age is one line of JSON followed by a newline:
//
//	{"format":1,"signer":"ed25519:...","signed":{...},"signature":"..."}
//
// "signed" is the payload, exactly as signed:
//
//	{"format":1,"server_id":"...","generation":7,"issued":"2026-11-23T15:00:00Z",
//	 "keys":{"0":"...","6":"...","7":"..."},"fingerprint":"sha256:..."}
//
// and "signature" is the standard base64 of the Ed25519 signature of
// "fernetflow envelope v1\x00" followed by the payload bytes. Open accepts
// only this exact, canonical encoding: any other byte sequence, even one
// that decodes to the same values, is refused.
package envelope
