package fleet

import (
	"context"
	"errors"
	"filippo.io/age"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// IdentityFile is the undercloud's age identity in its state directory:
// nodes seal the keys they hold to it when the undercloud adopts them.
const IdentityFile = "undercloud.identity"

// AdoptRequests signs, for every server, a request for the keys it holds
// sealed to the undercloud's identity (made on first use).
func (u *Undercloud) AdoptRequests(servers []Server) (map[string]string, error) {
	signer, err := u.Signer()
	if err != nil {
		return nil, err
	}
	id, _, err := envelope.InitIdentity(filepath.Join(u.Dir, IdentityFile), u.now())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range servers {
		req, err := envelope.SignAdoptRequest(signer, s.ID, id.Recipient(), u.now())
		if err != nil {
			return nil, fmt.Errorf("fleet: adopt request for %s: %w", s.Name, err)
		}
		out[s.ID] = req
	}
	return out, nil
}

// Held is one distinct key set found on the nodes.
type Held struct {
	Fingerprint keys.Fingerprint `json:"fingerprint"`
	Keys        []int            `json:"keys"`
	Servers     []string         `json:"servers"`
	// Generation is the generation fernetflow installed this set at on
	// these nodes (0: it did not: keystone-manage or a hand made it).
	Generation uint64 `json:"generation,omitempty"`
}

// AdoptionAction is what the first run does with the keys the nodes hold.
type AdoptionAction string

// The adoption actions.
const (
	// AdoptionAdopt: the nodes' keys become the master.
	AdoptionAdopt AdoptionAction = "adopt"
	// AdoptionSetUp: a new set (no node holds keys, or the operator discards them).
	AdoptionSetUp AdoptionAction = "setup"
	// AdoptionRefuse: the nodes hold different sets and none was chosen.
	AdoptionRefuse AdoptionAction = "refuse"
)

// Adoption is what the first run does with a fleet whose master is empty.
type Adoption struct {
	// Action is AdoptionAdopt, AdoptionSetUp or AdoptionRefuse.
	Action AdoptionAction `json:"action"`
	// From names the servers whose set is adopted.
	From        []string         `json:"from,omitempty"`
	Fingerprint keys.Fingerprint `json:"fingerprint,omitzero"`
	// Generation is the master's generation once adopted: 1, or the
	// generation fernetflow had installed the set at (a master rebuilt
	// from its nodes).
	Generation uint64 `json:"generation,omitempty"`
	// Sets are the distinct sets the nodes hold.
	Sets   []Held `json:"sets"`
	Reason string `json:"reason"`
}

// PlanAdoption decides the first run from the nodes' reports, whose sealed
// holdings it opens with the undercloud's identity. adoptFrom (a server
// name or id) chooses a set when the nodes differ; discard makes a new set
// whatever the nodes hold. It returns the set to adopt (nil for setup and
// refuse). With plan, it only decides, from the fingerprints the nodes
// reported (a dry run asks for no keys), and returns no set.
func (u *Undercloud) PlanAdoption(reports []Report, adoptFrom string, discard, plan bool) (*Adoption, keys.Set, error) {
	a := &Adoption{Sets: []Held{}}
	sets := map[keys.Fingerprint]keys.Set{}
	var id *age.X25519Identity
	for _, r := range reports {
		o := r.Observation
		if o == nil || len(o.Repository.Keys) == 0 && o.Repository.Error == "" {
			continue
		}
		if o.Repository.Error != "" {
			return nil, nil, fmt.Errorf("fleet: %s: its key repository cannot be read, so its keys cannot be adopted: %s", r.Name, o.Repository.Error)
		}
		fp := o.Repository.Fingerprint
		if _, seen := sets[fp]; !seen && plan {
			sets[fp] = keys.Set{}
		} else if !seen && !discard {
			if o.Sealed == "" {
				return nil, nil, fmt.Errorf("fleet: %s holds keys but did not send them sealed to the undercloud: upgrade fernetflow on that node", r.Name)
			}
			if id == nil {
				var err error
				if id, err = envelope.LoadIdentity(filepath.Join(u.Dir, IdentityFile)); err != nil {
					return nil, nil, err
				}
			}
			set, err := envelope.OpenHolding([]byte(o.Sealed), id, r.ID)
			if err != nil {
				return nil, nil, fmt.Errorf("fleet: the keys %s sent: %w", r.Name, err)
			}
			if set.Fingerprint() != fp {
				return nil, nil, fmt.Errorf("fleet: the keys %s sent do not match the fingerprint it reported: report again", r.Name)
			}
			sets[fp] = set
		}
		i := slices.IndexFunc(a.Sets, func(h Held) bool { return h.Fingerprint == fp })
		if i < 0 {
			var idx []int
			for _, k := range o.Repository.Keys {
				idx = append(idx, k.Index)
			}
			a.Sets = append(a.Sets, Held{Fingerprint: fp, Keys: idx})
			i = len(a.Sets) - 1
		}
		a.Sets[i].Servers = append(a.Sets[i].Servers, r.Name)
		if in := o.Installed; in != nil && in.Fingerprint == fp {
			a.Sets[i].Generation = max(a.Sets[i].Generation, in.Generation)
		}
	}
	switch {
	case discard:
		a.Action, a.Reason = AdoptionSetUp, "discarding the existing keys, as asked: a new key set replaces the keys the nodes hold; every token they issued stops validating"
		if len(a.Sets) == 0 {
			a.Reason = "no node holds keys: the first rotation sets up a new key set"
		}
		return a, nil, nil
	case len(a.Sets) == 0:
		a.Action, a.Reason = AdoptionSetUp, "no node holds keys: the first rotation sets up a new key set"
		return a, nil, nil
	case adoptFrom != "":
		for _, r := range reports {
			if r.Name != adoptFrom && r.ID != adoptFrom {
				continue
			}
			if r.Observation == nil || sets[r.Observation.Repository.Fingerprint] == nil {
				return nil, nil, fmt.Errorf("fleet: adopt from %s: that node holds no keys to adopt", adoptFrom)
			}
			fp := r.Observation.Repository.Fingerprint
			h := a.Sets[slices.IndexFunc(a.Sets, func(h Held) bool { return h.Fingerprint == fp })]
			a.Action, a.From, a.Fingerprint, a.Generation = AdoptionAdopt, h.Servers, fp, max(h.Generation, 1)
			a.Reason = fmt.Sprintf("adopting the set %s holds, as asked: %s hold it (%s); the other nodes are overwritten, and tokens signed with keys only they hold stop validating", adoptFrom, strings.Join(h.Servers, ", "), fp.Short())
			if plan {
				return a, nil, nil
			}
			return a, sets[fp], nil
		}
		return nil, nil, fmt.Errorf("fleet: adopt from %s: no such server among the nodes (name or server id)", adoptFrom)
	case len(a.Sets) == 1:
		h := a.Sets[0]
		a.Action, a.From, a.Fingerprint, a.Generation = AdoptionAdopt, h.Servers, h.Fingerprint, max(h.Generation, 1)
		a.Reason = fmt.Sprintf("the master is empty and %s share one key set (%s): it becomes the master, so every token they issued stays valid", strings.Join(h.Servers, ", "), h.Fingerprint.Short())
		if h.Generation > 0 {
			a.Reason = fmt.Sprintf("the master is empty, but %s hold generation %d installed by fernetflow (%s): the master was lost or moved? it is rebuilt from them at generation %d, so every token they issued stays valid", strings.Join(h.Servers, ", "), h.Generation, h.Fingerprint.Short(), h.Generation)
		}
		if plan {
			return a, nil, nil
		}
		return a, sets[h.Fingerprint], nil
	}
	var parts []string
	for _, h := range a.Sets {
		parts = append(parts, fmt.Sprintf("%s hold %s (key files %s)", strings.Join(h.Servers, ", "), h.Fingerprint.Short(), joinInts(slices.Clone(h.Keys))))
	}
	a.Action = AdoptionRefuse
	a.Reason = fmt.Sprintf("the master is empty and the nodes hold %d different key sets: %s; adopting one set rejects the tokens signed with a primary key only the other nodes hold: choose the server whose set to adopt (adopt_from), or make every node hold the same set first", len(a.Sets), strings.Join(parts, "; "))
	return a, nil, nil
}

// Adopt makes set the master at generation (see keys.Adopt).
func (u *Undercloud) Adopt(ctx context.Context, set keys.Set, generation uint64) error {
	if err := u.ensure(); err != nil {
		return err
	}
	_, err := keys.Adopt(ctx, u.MasterRepository(), set, generation, keys.WithWait(), keys.WithClock(u.now))
	return err
}

// MasterState says what the master repository holds.
type MasterState int

// The states of the master repository.
const (
	MasterEmpty  MasterState = iota // no keys: the first run adopts or sets up
	MasterSeeded                    // keys without fernetflow metadata: seeded by hand
	MasterReady                     // keys with metadata
)

// State reports the master repository's state. An unreadable repository
// is an error.
func (u *Undercloud) State() (MasterState, error) {
	r, err := keys.Open(u.MasterRepository())
	switch {
	case errors.Is(err, keys.ErrNotInitialized):
		return MasterEmpty, nil
	case err != nil:
		return 0, err
	}
	m, err := keys.ReadMetadata(r.Dir)
	switch {
	case err != nil:
		return 0, err
	case m == nil:
		return MasterSeeded, nil
	}
	return MasterReady, nil
}

// ObserveMaster records a master seeded by hand (keys without metadata)
// as adopted, generation 1.
func (u *Undercloud) ObserveMaster(ctx context.Context) error {
	_, err := keys.Observe(ctx, u.MasterRepository(), keys.WithWait(), keys.WithClock(u.now))
	return err
}
