package store

import (
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// A Collection is a bucket of JSON records kept beside the executions and
// cron triggers, for callers that need more than the engine records: the
// Mistral API (internal/mistralapi) keeps its workflow definitions and the
// project, namespace and parameters of its executions and cron triggers
// in collections. Records are opaque bytes to the store; retention
// (MaxExecutions, DeleteOlderThan) does not touch them.
type Collection string

func (c Collection) bucket() []byte { return []byte("records/" + string(c)) }

// PutRecord writes the record id of c, replacing any.
func (s *Store) PutRecord(c Collection, id string, rec []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(c.bucket())
		if err != nil {
			return err
		}
		return bk.Put([]byte(id), rec)
	})
}

// GetRecord returns the record id of c, or an error wrapping ErrNotFound.
func (s *Store) GetRecord(c Collection, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(c.bucket())
		var v []byte
		if bk != nil {
			v = bk.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("store: %s %s: %w", c, id, ErrNotFound)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Record is one record of a collection.
type Record struct {
	ID   string
	Data []byte
}

// Records returns every record of c, by id.
func (s *Store) Records(c Collection) ([]Record, error) {
	var out []Record
	err := s.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(c.bucket())
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			out = append(out, Record{ID: string(k), Data: append([]byte(nil), v...)})
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// DeleteRecord removes the record id of c (an error wrapping ErrNotFound
// if absent).
func (s *Store) DeleteRecord(c Collection, id string) error {
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(c.bucket())
		if bk == nil || bk.Get([]byte(id)) == nil {
			return fmt.Errorf("store: %s %s: %w", c, id, ErrNotFound)
		}
		return bk.Delete([]byte(id))
	})
}

// UpdateRecords reads and writes records of several collections in one
// transaction: fn gets the current record of each id it asks get for
// (nil when absent) and returns the records to put. Another process or
// goroutine updating the same records waits for this one, so a
// read-modify-write (a counter) loses no update. fn may run only once;
// an error from it writes nothing.
func (s *Store) UpdateRecords(fn func(get func(Collection, string) []byte) (map[Collection]map[string][]byte, error)) error {
	return s.update(func(tx *bolt.Tx) error {
		get := func(c Collection, id string) []byte {
			bk := tx.Bucket(c.bucket())
			if bk == nil {
				return nil
			}
			if v := bk.Get([]byte(id)); v != nil {
				return append([]byte(nil), v...)
			}
			return nil
		}
		puts, err := fn(get)
		if err != nil {
			return err
		}
		for c, recs := range puts {
			bk, err := tx.CreateBucketIfNotExists(c.bucket())
			if err != nil {
				return err
			}
			for id, rec := range recs {
				if err := bk.Put([]byte(id), rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
