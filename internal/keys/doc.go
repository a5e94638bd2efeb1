// Package keys is a Keystone Fernet key repository with Keystone's exact
// semantics, and what Keystone lacks: strict validation, atomic locked
// writes in a safe order, metadata, and a guard against pruning keys that
// may still have signed live tokens.
//
// # The repository
//
// A repository is a directory of files named by non-negative integers,
// each holding one key: 32 random bytes in URL-safe base64 with padding (44
// characters, no newline), mode 0600, in a 0700 directory. 0 is the staged
// key (the next primary), the highest index is the primary (it signs new
// tokens), every other key is a secondary. Every key validates tokens.
// Keystone re-reads the directory on every token request, so every
// intermediate state on disk is live.
//
// Open loads a repository as Keystone reads it (names Python's int() does
// not take are ignored, empty files are skipped with a warning) and
// refuses what Keystone would choke on or what suggests tampering, with an
// error naming the file and the fix: a malformed key (including hex and
// standard base64, which fernet-go's DecodeKey would accept), a
// name Keystone reads as a key but that is not canonical (01, -1, 1_0, " 7",
// or digits of another script: Python reads "٢" as 2 and "９９９" as 999), a
// symlinked key, a world-readable directory or key, a file not owned by
// the WithOwner user, a missing 0.
//
// # Rotating
//
//	plan, err := keys.Rotate(ctx, "/etc/keystone/fernet-keys", keys.RotateOptions{
//		MaxActiveKeys:      5,
//		TokenExpiration:    time.Hour,
//		AllowExpiredWindow: 48 * time.Hour,
//	}, keys.WithOwner(keystoneUID, keystoneGID))
//
// Setup and Rotate do what keystone-manage fernet_setup and fernet_rotate
// do (the integration suite checks this against the real thing): the staged
// key becomes the primary at the highest index + 1, a new staged key is
// written, and the lowest secondaries are pruned until MaxActiveKeys keys
// remain. They hold an exclusive lock (DIR.fernetflow.lock; a second
// writer gets ErrLocked, or waits with WithWait) and write in the safe
// order: the new primary first, then 0, then the removals, each file
// through a temporary file that already has its final mode and owner,
// fsynced and renamed, the directory fsynced. A crash at any instant
// leaves a repository that loads and still holds the old primary or the
// new one. Install writes a whole new set (a node receiving keys) the same
// way. DryRun returns the plan and touches nothing; PlanRotation is the
// same computation over in-memory sets, for simulations.
//
// # Metadata and the prune guard
//
// Metadata lives beside the repository in DIR.fernetflow.json, never
// inside it (Keystone would read it as a key): the generation, the
// fingerprint of the recorded set, and when each key was created,
// promoted and demoted, by key ID (Key.ID, a hash: never key material).
// A rotation refuses to prune a key until TokenExpiration +
// AllowExpiredWindow have passed since it stopped being primary
// (ErrUnsafePrune, with the time it becomes safe), unless Force is set.
// A repository made by keystone-manage has no metadata: fernetflow adopts
// it and, until that window has passed since the adoption, asks for Force.
// On a fleet, Confirm moves a demotion to when the last node received the
// new set, since a lagging node keeps signing with the old primary.
// MaxActiveKeys computes Keystone's rule, (token_expiration +
// allow_expired_window) / rotation_interval + 2, and a rotation warns when
// the schedule seen in the metadata breaks it.
//
// # Secrets
//
// A Key prints as its ID with every fmt verb; only Key.Encode gives its
// bytes. Nothing in this package logs or returns key material in an error.
//
// # Other pieces
//
// Fingerprint identifies a set (SHA-256 over the role-tagged keys in index
// order) for comparison across nodes; IssueToken and VerifyToken issue and
// check Keystone-style (unpadded) Fernet tokens with github.com/fernet/fernet-go;
// WithCredentialRepositories makes every operation refuse Keystone's
// credential-key repository (ErrCredentialRepository), whose keys must be
// rotated with keystone-manage credential_rotate and credential_migrate.
package keys
