package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fernetflow/fernetflow/workflow"
)

// CreateTrigger stores a new trigger; its name must be unused.
func (s *Store) CreateTrigger(t *workflow.CronTrigger) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTriggers)
		if bk.Get([]byte(t.Name)) != nil {
			return fmt.Errorf("store: cron trigger %s already exists: delete it first or pick another name", t.Name)
		}
		return bk.Put([]byte(t.Name), b)
	})
}

func decodeTrigger(b []byte) (*workflow.CronTrigger, error) {
	var t workflow.CronTrigger
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// GetTrigger returns the trigger called name (an error wrapping ErrNotFound if absent).
func (s *Store) GetTrigger(name string) (*workflow.CronTrigger, error) {
	var t *workflow.CronTrigger
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketTriggers).Get([]byte(name))
		if raw == nil {
			return fmt.Errorf("store: cron trigger %s: %w", name, ErrNotFound)
		}
		var err error
		t, err = decodeTrigger(raw)
		return err
	})
	return t, err
}

// ListTriggers returns every trigger by name.
func (s *Store) ListTriggers() ([]*workflow.CronTrigger, error) {
	var out []*workflow.CronTrigger
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTriggers).ForEach(func(k, v []byte) error {
			t, err := decodeTrigger(v)
			if err != nil {
				return fmt.Errorf("store: cron trigger %s: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeleteTrigger removes the trigger called name.
func (s *Store) DeleteTrigger(name string) error {
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTriggers)
		if bk.Get([]byte(name)) == nil {
			return fmt.Errorf("store: cron trigger %s: %w", name, ErrNotFound)
		}
		return bk.Delete([]byte(name))
	})
}

// Claim is one slot of a trigger that the caller now owns and must fire.
type Claim struct {
	Trigger workflow.CronTrigger // as it was before the claim
	Slot    time.Time
}

// ClaimDue finds the triggers whose slot has come at now, advances them
// (or deletes those used up) and returns the claimed slots, all in one
// write transaction: bbolt admits one writer at a time, across processes,
// so a slot is claimed by exactly one caller, and a restarted process
// finds the slot already advanced.
func (s *Store) ClaimDue(now time.Time) ([]Claim, error) {
	var claims []Claim
	err := s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTriggers)
		type upd struct {
			key []byte
			val []byte // nil: delete
		}
		var updates []upd
		err := bk.ForEach(func(k, v []byte) error {
			t, err := decodeTrigger(v)
			if err != nil {
				return fmt.Errorf("store: cron trigger %s: %w", k, err)
			}
			if !t.Due(now) {
				return nil
			}
			claims = append(claims, Claim{Trigger: *t, Slot: t.NextExecutionTime})
			keep, err := t.Advance(now)
			if err != nil {
				return err
			}
			if !keep {
				updates = append(updates, upd{key: append([]byte(nil), k...)})
				return nil
			}
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			updates = append(updates, upd{key: append([]byte(nil), k...), val: b})
			return nil
		})
		if err != nil {
			return err
		}
		for _, u := range updates {
			if u.val == nil {
				err = bk.Delete(u.key)
			} else {
				err = bk.Put(u.key, u.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claims, nil
}
