package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"
)

// MetadataFormat is the version of the metadata file format.
const MetadataFormat = 1

// maxMetadataSize bounds the metadata file read: thousands of key records,
// far more than any max_active_keys.
const maxMetadataSize = 4 << 20

// maxRotationHistory bounds the rotation times kept in the metadata.
const maxRotationHistory = 16

// Metadata is what fernetflow records about a repository, in a JSON file
// beside it (see [MetadataPath]): never inside it, where Keystone would
// read it. It holds no key material, only key IDs.
type Metadata struct {
	Format int `json:"format"`
	// Generation counts the key sets this repository has held since
	// fernetflow first wrote or adopted it; every rotation adds one.
	Generation uint64 `json:"generation"`
	// Fingerprint is the fingerprint of the set recorded at Generation.
	Fingerprint string `json:"fingerprint"`
	// Adopted is when fernetflow first saw a repository it had not made
	// (by keystone-manage, say): times before it are unknown.
	Adopted *time.Time `json:"adopted,omitempty"`
	// Confirmed is when every node of the fleet was seen holding
	// Generation (see Confirm); nil until then.
	Confirmed *time.Time `json:"confirmed,omitempty"`
	// Rotations are the times of the most recent rotations, oldest first.
	Rotations []time.Time `json:"rotations,omitempty"`
	// Keys describes every key of the set, in index order.
	Keys []KeyRecord `json:"keys"`
}

// KeyRecord is the history of one key.
type KeyRecord struct {
	ID       string     `json:"id"`
	Index    int        `json:"index"`
	Created  *time.Time `json:"created,omitempty"`
	Promoted *time.Time `json:"promoted,omitempty"`
	// Demoted is when the key stopped signing tokens: the rotation that
	// demoted it, moved to when the fleet confirmed the new set (Confirm),
	// since nodes not yet holding it kept signing with this key.
	Demoted *time.Time `json:"demoted,omitempty"`
	// DemotedUnknown means Demoted is only the latest time the key can
	// have stopped being primary (it was a secondary when the repository
	// was adopted or changed outside fernetflow).
	DemotedUnknown bool `json:"demoted_unknown,omitempty"`
}

// MetadataPath is where the metadata of the repository in dir lives:
// beside it, as DIR.fernetflow.json.
func MetadataPath(dir string) string { return filepath.Clean(dir) + ".fernetflow.json" }

// LockPath is the lock file of the repository in dir: DIR.fernetflow.lock.
func LockPath(dir string) string { return filepath.Clean(dir) + ".fernetflow.lock" }

// ReadMetadata reads the metadata of the repository in dir. A repository
// without metadata gives (nil, nil).
func ReadMetadata(dir string) (*Metadata, error) {
	path := MetadataPath(dir)
	b, err := readFile(path, maxMetadataSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read metadata: %w: it is not fernetflow's metadata; move it away and fernetflow adopts the repository afresh", err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("keys: metadata %s is not valid JSON (%v): move it away and fernetflow adopts the repository afresh", path, err)
	}
	if m.Format != MetadataFormat {
		return nil, fmt.Errorf("keys: metadata %s has format %d, this fernetflow reads format %d: upgrade fernetflow", path, m.Format, MetadataFormat)
	}
	return &m, nil
}

// Record returns the record of the key at index, or nil.
func (m *Metadata) Record(index int) *KeyRecord {
	if m == nil {
		return nil
	}
	for i := range m.Keys {
		if m.Keys[i].Index == index {
			return &m.Keys[i]
		}
	}
	return nil
}

// Stale reports whether the repository's keys differ from the recorded set
// (changed by hand or by keystone-manage, or a write was interrupted).
func (m *Metadata) Stale(s Set) bool {
	return m == nil || m.Fingerprint != s.Fingerprint().String()
}

// reconcile returns metadata describing s, keeping what m knows of each
// key and marking what it cannot know. now is the time of the observation.
func reconcile(m *Metadata, s Set, now time.Time) *Metadata {
	out := &Metadata{Format: MetadataFormat}
	byID := map[string]KeyRecord{}
	if m == nil {
		out.Adopted = &now
	} else {
		out.Generation = m.Generation
		out.Fingerprint = m.Fingerprint
		out.Adopted = m.Adopted
		out.Confirmed = m.Confirmed
		out.Rotations = slices.Clone(m.Rotations)
		for _, r := range m.Keys {
			byID[r.ID] = r
		}
	}
	if out.Generation == 0 {
		out.Generation = 1
	}
	for _, i := range s.Indexes() {
		id := s[i].ID()
		r, known := byID[id]
		if !known {
			r = KeyRecord{ID: id}
		}
		r.Index = i
		switch s.Role(i) {
		case Secondary:
			if r.Demoted == nil {
				// It stopped signing tokens at the latest now.
				r.Demoted, r.DemotedUnknown = &now, true
			}
		case Primary:
			if r.Promoted == nil && i != 0 && known {
				r.Promoted = &now
			}
		}
		out.Keys = append(out.Keys, r)
	}
	return out
}

// writeMetadata replaces the metadata file atomically.
func writeMetadata(dir string, m *Metadata, c *config) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("keys: encode metadata: %w", err)
	}
	return writeFileAtomic(MetadataPath(dir), append(b, '\n'), 0o600, c.owner)
}
