// Package node is what runs on a Keystone node: it enrolls the node (makes
// its identity and reports the public half) and installs the key sets the
// undercloud seals to it, refusing anything that could roll keys back or
// split the fleet.
//
// # State directory
//
// Everything the node keeps lives in one directory (mode 0700, by default
// /var/lib/fernetflow):
//
//	STATE_DIR/identity        the node's age X25519 identity, mode 0600, in
//	                          age's own identity format, so that
//	                          `age -d -i STATE_DIR/identity` opens an
//	                          envelope by hand (break-glass). It never
//	                          leaves the node.
//	STATE_DIR/installed.json  what was installed last: format, server id,
//	                          generation, fingerprint, key repository, time
//	                          and the key IDs by index (keys.Key.ID, never
//	                          key content); written atomically, mode 0600.
//	STATE_DIR/lock            held while an install runs, so two installs
//	                          (os-collect-config and an operator, say) never
//	                          interleave.
//	STATE_DIR/signer.pub      the undercloud signer's public key this node
//	                          pinned (the pin-signer deployment of
//	                          heat/templates/fernet-node.yaml, or by hand):
//	                          used when --signer-public-key is not given.
//	                          The first key pinned is kept: another is
//	                          refused until an operator removes the file.
//
// # Enroll
//
// [Enroll] makes the identity if it is absent (idempotent) and returns the
// node's recipient. `fernetflow node enroll` prints it as JSON, the output
// of the enrollment deployment:
//
//	{"server_id": "0d4f...", "recipient": "age1..."}
//
// # Install
//
// [Install] opens an envelope (see package envelope: it must be sealed to
// this node's identity, signed by the pinned undercloud signer and name
// this server) and then applies the generation rules against
// installed.json:
//
//   - an older generation than the one installed is refused
//     ([ErrRollback]): a replayed deployment or a Heat stack update that
//     re-sends an old envelope can never roll keys back;
//   - the same generation with the same fingerprint is a no-op success,
//     once the repository on disk is checked: a repository edited by hand
//     is repaired to the installed set;
//   - the same generation with another fingerprint is refused
//     ([ErrSplitBrain]): two different key sets claim one generation;
//   - a newer generation (or the first envelope the node sees) is
//     installed.
//
// Installing writes the repository with keys.Install, in the safe order
// (the new primary first, then 0, then the pruned keys are deleted), each
// file with its final owner and mode before it is renamed into place, so
// that Keystone, which re-reads the directory on every request, validates
// every token the old or the new set validates at every instant. Only then
// is installed.json updated. A refusal changes nothing on disk.
//
// A set with fewer keys than the repository holds is refused unless the
// operator allows it (--allow-fewer), as keys.Install does, with one
// exception: an install that a crash interrupted is resumed. The
// repository then holds the new keys and the old ones not yet deleted;
// when every key the install would delete is one installed.json records
// and the new set is no smaller than the recorded one, the deletions are
// exactly those the interrupted install was making, and they go ahead.
// `fernetflow node install` prints the result as JSON, the outputs of the
// rotation deployment:
//
//	{"generation": 7, "fingerprint": "sha256:...", "changed": true}
//
// "changed" is true when the key repository on disk was modified, false
// when it already held the set. Any refusal exits 1 with the error on
// stderr and prints nothing on stdout; exit code 75 ([ErrBusy], or
// keys.ErrLocked) means another install or key writer held the lock: retry. Both JSON documents are a stable contract:
// the Heat transport parses them.
package node
