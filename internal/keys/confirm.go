package keys

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrGenerationMismatch means Confirm was asked about a generation the
// repository does not hold.
var ErrGenerationMismatch = errors.New("keys: the repository is at another generation")

// Confirm records, in the metadata of the master repository in dir, that
// every node of the fleet was seen holding generation at time at.
//
// A rotation on the master demotes the old primary at once, but a node
// that has not received the new set yet keeps signing tokens with it. So
// the prune guard must count a key's token life from when the last node
// stopped using it: Confirm moves the demotion time of the key the latest
// rotation demoted to at. Only the first confirmation of a generation
// counts; later ones change nothing. A repository at another generation
// is ErrGenerationMismatch.
func Confirm(ctx context.Context, dir string, generation uint64, at time.Time, opts ...Option) (changed bool, err error) {
	c := newConfig(opts)
	unlock, err := lock(ctx, dir, c)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := open(dir, c)
	if err != nil {
		return false, err
	}
	m, err := ReadMetadata(r.Dir)
	if err != nil {
		return false, err
	}
	switch {
	case m == nil || m.Stale(r.Keys):
		return false, fmt.Errorf("%w: %s changed outside fernetflow since its generation was recorded: rotate it first", ErrGenerationMismatch, r.Dir)
	case m.Generation != generation:
		return false, fmt.Errorf("%w: %s is at generation %d, not %d", ErrGenerationMismatch, r.Dir, m.Generation, generation)
	}
	if !m.Confirm(generation, at) {
		return false, nil
	}
	if err := writeMetadata(r.Dir, m, c); err != nil {
		return false, err
	}
	return true, nil
}

// Confirm is the in-memory half of the package function Confirm: it
// records that the fleet holds generation since at and moves the demotion
// time of the key the latest rotation demoted. It reports false, changing
// nothing, when m is at another generation or was confirmed already.
func (m *Metadata) Confirm(generation uint64, at time.Time) bool {
	if m == nil || m.Generation != generation || m.Confirmed != nil {
		return false
	}
	if n := len(m.Rotations); n > 0 {
		last := m.Rotations[n-1]
		for i := range m.Keys {
			k := &m.Keys[i]
			if k.Demoted != nil && !k.DemotedUnknown && k.Demoted.Equal(last) && at.After(last) {
				t := at
				k.Demoted = &t
			}
		}
	}
	m.Confirmed = &at
	return true
}
