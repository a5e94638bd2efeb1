package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/wire"
)

// Files of the state directory.
const (
	IdentityFile  = "identity"
	InstalledFile = "installed.json"
	LockFile      = "lock"
)

// DefaultStateDir is where the node keeps its state unless told otherwise.
const DefaultStateDir = "/var/lib/fernetflow"

// stateFormat is the version of installed.json.
const stateFormat = 1

// State is installed.json: what this node installed last. It holds no keys.
type State struct {
	Format        int              `json:"format"`
	ServerID      string           `json:"server_id"`
	Generation    uint64           `json:"generation"`
	Fingerprint   keys.Fingerprint `json:"fingerprint"`
	KeyRepository string           `json:"key_repository"`
	InstalledAt   time.Time        `json:"installed_at"`
	// Keys names the installed keys by index and keys.Key.ID (never
	// their content), so that an install interrupted by a crash can be
	// resumed: see Install.
	Keys []wire.KeyRef `json:"keys"`
}

// ReadState reads STATE_DIR/installed.json; a node that never installed a
// set gives (nil, nil).
func ReadState(stateDir string) (*State, error) {
	path := filepath.Join(stateDir, InstalledFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("node: read %s: %w", path, err)
	}
	// The fingerprint is read as text first, so that a bad one is named
	// as such rather than as bad JSON.
	var raw struct {
		State
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("node: %s is not valid JSON (%v): restore it, or remove it to accept the next envelope of any generation", path, err)
	}
	s := raw.State
	if s.Format != stateFormat {
		return nil, fmt.Errorf("node: %s has format %d, this fernetflow reads format %d: upgrade fernetflow", path, s.Format, stateFormat)
	}
	fp, err := keys.ParseFingerprint(raw.Fingerprint)
	if err != nil || s.Generation == 0 {
		return nil, fmt.Errorf("node: %s records no valid generation and fingerprint: restore it, or remove it to accept the next envelope of any generation", path)
	}
	s.Fingerprint = fp
	return &s, nil
}

// writeState replaces installed.json atomically (mode 0600).
func writeState(stateDir string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("node: encode state: %w", err)
	}
	path := filepath.Join(stateDir, InstalledFile)
	if err := renameio.WriteFile(path, append(b, '\n'), 0o600, renameio.WithStaticPermissions(0o600), renameio.WithTempDir(stateDir)); err != nil {
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	d, err := os.Open(stateDir)
	if err != nil {
		return fmt.Errorf("node: fsync %s: %w", stateDir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("node: fsync %s: %w", stateDir, err)
	}
	return nil
}
