package keys

import (
	"fmt"
	"strconv"
	"time"
)

// Status describes a repository for people and scripts: every key with its
// role and history, the generation and fingerprint, and what looks wrong.
// It holds key IDs, never key material.
type Status struct {
	Repository  string      `json:"key_repository"`
	Generation  uint64      `json:"generation"`
	Fingerprint Fingerprint `json:"fingerprint"`
	Primary     int         `json:"primary"`
	Keys        []KeyStatus `json:"keys"`
	// MetadataStale is true when the keys differ from what fernetflow
	// last recorded (or there is no metadata yet).
	MetadataStale bool     `json:"metadata_stale"`
	Skipped       []string `json:"skipped,omitempty"`
	Ignored       []string `json:"ignored,omitempty"`
	Warnings      []string `json:"warnings,omitempty"`
}

// KeyStatus is one key of a Status.
type KeyStatus struct {
	Index int    `json:"index"`
	Role  string `json:"role"`
	ID    string `json:"key_id"`
	KeyRecordTimes
}

// KeyRecordTimes are the known times of a key.
type KeyRecordTimes struct {
	Created        *time.Time `json:"created,omitempty"`
	Promoted       *time.Time `json:"promoted,omitempty"`
	Demoted        *time.Time `json:"demoted,omitempty"`
	DemotedUnknown bool       `json:"demoted_unknown,omitempty"`
}

// WarnNoMetadata is Inspect's warning for a repository without fernetflow
// metadata beside it. A node's repository that fernetflow installs has
// none either (its record is the node's installed.json): a caller that
// knows the repository is such a node's replaces the warning.
const WarnNoMetadata = "no fernetflow metadata: the repository was made by keystone-manage or by hand; the next fernetflow rotation adopts it"

// Inspect opens the repository in dir and its metadata, changing nothing.
func Inspect(dir string, opts ...Option) (*Status, error) {
	c := newConfig(opts)
	r, err := open(dir, c)
	if err != nil {
		return nil, err
	}
	m, err := ReadMetadata(r.Dir)
	if err != nil {
		return nil, err
	}
	s := &Status{
		Repository: r.Dir, Fingerprint: r.Keys.Fingerprint(),
		MetadataStale: m.Stale(r.Keys), Skipped: r.Skipped, Ignored: r.Ignored,
	}
	s.Primary, _ = r.Keys.Primary()
	if s.MetadataStale {
		if m == nil {
			s.Warnings = append(s.Warnings, WarnNoMetadata)
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("the keys differ from generation %d as fernetflow recorded it: changed by hand, by keystone-manage, or by an interrupted write", m.Generation))
		}
	}
	for _, name := range r.Skipped {
		s.Warnings = append(s.Warnings, "empty key file "+name+" is ignored by Keystone: remove it")
	}
	rec := reconcile(m, r.Keys, c.now())
	s.Generation = rec.Generation
	if m == nil {
		s.Generation = 0
	}
	for _, i := range r.Keys.Indexes() {
		ks := KeyStatus{Index: i, Role: r.Keys.Role(i).String(), ID: r.Keys[i].ID()}
		if kr := m.Record(i); kr != nil && kr.ID == ks.ID {
			ks.KeyRecordTimes = KeyRecordTimes{kr.Created, kr.Promoted, kr.Demoted, kr.DemotedUnknown}
		}
		s.Keys = append(s.Keys, ks)
	}
	return s, nil
}

// Table implements output.Tabler.
func (s *Status) Table() ([]string, [][]string) {
	ts := func(t *time.Time, unknown bool) string {
		switch {
		case t == nil:
			return "-"
		case unknown:
			return "by " + t.UTC().Format(time.RFC3339)
		}
		return t.UTC().Format(time.RFC3339)
	}
	var rows [][]string
	for _, k := range s.Keys {
		rows = append(rows, []string{strconv.Itoa(k.Index), k.Role, k.ID, ts(k.Promoted, false), ts(k.Demoted, k.DemotedUnknown)})
	}
	return []string{"INDEX", "ROLE", "KEY ID", "PROMOTED", "DEMOTED"}, rows
}
