package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/fernetflow/fernetflow/internal/envelope"
)

// SignerFile is STATE_DIR/signer.pub: the undercloud signer's public key
// this node pinned, one line as `fernetflow signer public` prints it.
const SignerFile = "signer.pub"

// PinSignerConfig is the config text of the fernetflow deployment that pins
// the signer (heat/templates/fernet-node.yaml); its input
// signer_public_key carries the public key.
const PinSignerConfig = "pin-signer"

// ErrNoSigner means the node has no pinned signer: neither a signer given
// (InstallOptions.Signer) nor STATE_DIR/signer.pub.
var ErrNoSigner = errors.New("node: no pinned signer")

// Errors for an option a call needs and was not given.
var (
	ErrNoStateDir      = errors.New("node: no state directory")
	ErrNoServerID      = errors.New("node: no server id")
	ErrNoKeyRepository = errors.New("node: no key repository")
	// ErrNoMetadata: collect was given no os-collect-config metadata.
	ErrNoMetadata = errors.New("node: no metadata")
)

// PinResult is what pinning reports: the outputs of the pin-signer
// deployment.
type PinResult struct {
	// SignerPublicKey is the key now pinned.
	SignerPublicKey string `json:"signer_public_key"`
	// Changed is true when this call wrote STATE_DIR/signer.pub.
	Changed bool `json:"changed"`
}

// PinSigner pins the undercloud signer's public key in STATE_DIR/signer.pub
// (mode 0644; the directory is made 0700 if missing), trusting the first
// key it is given: pinning the same key again changes nothing, and another
// key is refused, naming the file to remove if the signer really changed.
// A node never accepts a new signer from the network on its own: that would
// let whoever can update a deployment sign the node's keys.
func PinSigner(stateDir, key string) (*PinResult, error) {
	if stateDir == "" {
		return nil, fmt.Errorf("%w (%s by default)", ErrNoStateDir, DefaultStateDir)
	}
	want, err := envelope.ParsePublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("node: pin the signer: %w", err)
	}
	path := filepath.Join(stateDir, SignerFile)
	have, err := PinnedSigner(stateDir)
	switch {
	case err == nil && have == want:
		return &PinResult{SignerPublicKey: want.String()}, nil
	case err == nil:
		return nil, fmt.Errorf("node: %s pins the signer %s, refusing to replace it with %s: a node keeps the first signer it trusts; if the undercloud's signer really changed, remove %s on this node and deploy again", path, have, want, path)
	case !errors.Is(err, ErrNoSigner):
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if err := renameio.WriteFile(path, []byte(want.String()+"\n"), 0o644, renameio.WithStaticPermissions(0o644), renameio.WithTempDir(stateDir)); err != nil {
		return nil, fmt.Errorf("node: write %s: %w", path, err)
	}
	return &PinResult{SignerPublicKey: want.String(), Changed: true}, nil
}

// PinnedSigner reads STATE_DIR/signer.pub. A missing file is [ErrNoSigner]
// (wrapped, with what to do); an unreadable or malformed one an error
// naming the file.
func PinnedSigner(stateDir string) (envelope.PublicKey, error) {
	path := filepath.Join(stateDir, SignerFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return envelope.PublicKey{}, fmt.Errorf("%w: %s does not exist: pass --signer-public-key (fernetflow signer public prints it on the undercloud), or deploy heat/templates/fernet-node.yaml to this node, which pins it there", ErrNoSigner, path)
	}
	if err != nil {
		return envelope.PublicKey{}, fmt.Errorf("node: read the pinned signer: %w", err)
	}
	p, err := envelope.ParsePublicKey(string(bytes.TrimSpace(b)))
	if err != nil {
		return envelope.PublicKey{}, fmt.Errorf("node: %s is not a signer public key (%v): remove it and pin the signer again", path, err)
	}
	return p, nil
}

// resolveSigner returns o with its Signer set: the given one, else the one
// pinned in the state directory.
func resolveSigner(o InstallOptions) (InstallOptions, error) {
	if o.Signer != (envelope.PublicKey{}) {
		return o, nil
	}
	p, err := PinnedSigner(o.StateDir)
	if err != nil {
		return o, err
	}
	o.Signer = p
	return o, nil
}

// applyPinSigner applies a pin-signer deployment: its signer_public_key
// input is pinned in the state directory. When this node was given a
// signer (--signer-public-key), the deployment must pin that same key.
func applyPinSigner(c HeatConfig, o InstallOptions) (*PinResult, error) {
	key := c.Input("signer_public_key")
	if key == "" {
		return nil, fmt.Errorf("node: pin-signer deployment %s has no signer_public_key input", c.ID)
	}
	if o.Signer != (envelope.PublicKey{}) {
		want, err := envelope.ParsePublicKey(key)
		if err != nil {
			return nil, fmt.Errorf("node: pin-signer deployment %s: %w", c.ID, err)
		}
		if want != o.Signer {
			return nil, fmt.Errorf("node: pin-signer deployment %s pins %s, but this node runs with --signer-public-key %s: fix the node's command line or the stack's signer_public_key", c.ID, want, o.Signer)
		}
	}
	return PinSigner(o.StateDir, key)
}
