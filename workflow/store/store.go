// Package store keeps workflow executions (and cron triggers) in an
// embedded bbolt database, by default STATE_DIR/executions.db.
//
// A Store is a workflow.Recorder: give it to an Engine and every snapshot
// of a running execution is written, after workflow.Execution.Redacted has
// replaced secret values and ScrubEnvelopes every armored envelope (a
// keys.package output, a fleet.deploy input) by its fingerprint: an
// envelope is sealed to a node's identity, and a store that kept them
// would give whoever later holds that identity the node's whole key
// history. The store keeps MaxExecutions executions (1000 by default);
// DeleteOlderThan drops older ones. Several processes share the file: a Store opens
// it for each operation only (bbolt locks the file while it is open: a
// writer excludes everyone, readers share), so a long workflow run, a
// serve process and execution list never block each other for long.
// Cron triggers are claimed in one write transaction (ClaimDue), which is
// what makes a slot fire once across restarts and processes.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	boltErrors "go.etcd.io/bbolt/errors"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
)

// ErrNotFound is returned for an execution or trigger the store lacks.
var ErrNotFound = errors.New("not found")

var (
	bucketExecutions = []byte("executions")
	bucketTriggers   = []byte("cron_triggers")
)

// ErrBusy means another process held the store's file for all of Timeout.
var ErrBusy = errors.New("store: another process holds the store")

// Timeout is how long Open waits for another process to release the file.
var Timeout = 10 * time.Second

// Store is an execution store. Safe for concurrent use, from several
// goroutines and processes.
type Store struct {
	// MaxExecutions bounds how many executions are kept: recording a new
	// one beyond it deletes the oldest finished ones. 0 means
	// DefaultMaxExecutions; negative keeps every execution.
	MaxExecutions int

	path string
	mu   sync.RWMutex // bbolt's file lock is per open file: serialise this process's own opens

	// decoded caches executions as decoded from their stored bytes (by
	// id, with the bytes' length and hash): a list of 1,000 decodes only
	// what changed since the last read, whichever process wrote it.
	decodedMu sync.Mutex
	decoded   map[string]decodedEntry
}

// decodedEntry is one execution as decoded from bytes of length n and
// hash sum.
type decodedEntry struct {
	n   int
	sum uint64
	ex  *workflow.Execution
}

// cacheSeed hashes stored executions for the decode cache.
var cacheSeed = maphash.MakeSeed()

// decodeCached is decodeExecution(raw) for the execution id, from the
// cache when raw has not changed. The caller gets its own copy (see
// cloneExecution).
func (s *Store) decodeCached(id string, raw []byte) (*workflow.Execution, error) {
	sum := maphash.Bytes(cacheSeed, raw)
	s.decodedMu.Lock()
	e, ok := s.decoded[id]
	s.decodedMu.Unlock()
	if ok && e.n == len(raw) && e.sum == sum {
		return cloneExecution(e.ex), nil
	}
	ex, err := decodeExecution(raw)
	if err != nil {
		return nil, err
	}
	s.decodedMu.Lock()
	if s.decoded == nil {
		s.decoded = map[string]decodedEntry{}
	}
	s.decoded[id] = decodedEntry{len(raw), sum, ex}
	s.decodedMu.Unlock()
	return cloneExecution(ex), nil
}

// forget drops ids from the decode cache (deleted executions).
func (s *Store) forget(ids ...string) {
	s.decodedMu.Lock()
	for _, id := range ids {
		delete(s.decoded, id)
	}
	s.decodedMu.Unlock()
}

// cloneExecution is a copy of ex that a caller may change: the execution
// and each task are copied, with their maps and results (deeply, as JSON
// decoded them); the cache keeps the original.
func cloneExecution(ex *workflow.Execution) *workflow.Execution {
	cp := *ex
	cp.Input, cp.Params, cp.Output = cloneMap(ex.Input), cloneMap(ex.Params), cloneMap(ex.Output)
	if ex.Tasks != nil {
		cp.Tasks = make([]*workflow.TaskExecution, len(ex.Tasks))
		for i, te := range ex.Tasks {
			tc := *te
			tc.Published, tc.Result = cloneMap(te.Published), cloneValue(te.Result)
			tc.ActionExecutionIDs = append([]string(nil), te.ActionExecutionIDs...)
			cp.Tasks[i] = &tc
		}
	}
	return &cp
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v // strings, numbers, bools, nil: immutable
}

// FileName is the store's file name inside the state directory.
const FileName = "executions.db"

// Open creates the store at path (and its directory, mode 0700; the file
// is 0600) if needed, and returns it.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{path: path}
	err := s.update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketExecutions, bucketTriggers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the store (it holds nothing open between operations).
func (s *Store) Close() error { return nil }

// Path is the store's file.
func (s *Store) Path() string { return s.path }

func (s *Store) open(readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: Timeout, ReadOnly: readOnly})
	if err != nil {
		if errors.Is(err, boltErrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (waited %s)", ErrBusy, s.path, Timeout)
		}
		return nil, fmt.Errorf("store: open %s: %w", s.path, err)
	}
	return db, nil
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.open(false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(fn)
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	db, err := s.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

// Record implements workflow.Recorder: it writes the execution, redacted
// (workflow.Execution.Redacted) and with every armored envelope replaced
// by its fingerprint (ScrubEnvelopes). A new execution beyond
// MaxExecutions drops the oldest finished ones.
func (s *Store) Record(_ context.Context, ex *workflow.Execution) error {
	red := ex.Redacted()
	b, err := json.Marshal(red)
	if err != nil {
		return fmt.Errorf("store: encode execution %s: %w", ex.ID, err)
	}
	if b, err = scrubJSON(b); err != nil {
		return fmt.Errorf("store: encode execution %s: %w", ex.ID, err)
	}
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketExecutions)
		isNew := bk.Get([]byte(ex.ID)) == nil
		if err := bk.Put([]byte(ex.ID), b); err != nil {
			return err
		}
		if max := s.maxExecutions(); isNew && max > 0 {
			if excess := count(bk) - max; excess > 0 {
				ids, err := prune(bk, func(list []summary) []summary {
					return list[:min(excess, len(list))] // the oldest: list is oldest first
				}, ex.ID)
				s.forget(ids...)
				return err
			}
		}
		return nil
	})
}

// DefaultMaxExecutions is how many executions a Store keeps unless told
// otherwise (MaxExecutions).
const DefaultMaxExecutions = 1000

func (s *Store) maxExecutions() int {
	switch {
	case s.MaxExecutions == 0:
		return DefaultMaxExecutions
	case s.MaxExecutions < 0:
		return 0
	}
	return s.MaxExecutions
}

// summary is what retention needs of a recorded execution.
type summary struct {
	id        []byte
	state     workflow.State
	createdAt time.Time
	updatedAt time.Time
}

// prune deletes from bk the executions choose picks among the finished
// ones (oldest first), never keep, and returns their ids. A record that
// does not decode is left alone.
func prune(bk *bolt.Bucket, choose func([]summary) []summary, keep string) ([]string, error) {
	var list []summary
	err := bk.ForEach(func(k, v []byte) error {
		var h struct {
			State     workflow.State `json:"state"`
			CreatedAt time.Time      `json:"created_at"`
			UpdatedAt time.Time      `json:"updated_at"`
		}
		if json.Unmarshal(v, &h) == nil && h.State.Done() && string(k) != keep {
			list = append(list, summary{append([]byte(nil), k...), h.State, h.CreatedAt, h.UpdatedAt})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].createdAt.Equal(list[j].createdAt) {
			return list[i].createdAt.Before(list[j].createdAt)
		}
		return bytes.Compare(list[i].id, list[j].id) < 0
	})
	var ids []string
	for _, e := range choose(list) {
		if err := bk.Delete(e.id); err != nil {
			return ids, err
		}
		ids = append(ids, string(e.id))
	}
	return ids, nil
}

// count is how many keys bk holds (Stats lags behind a write transaction).
func count(bk *bolt.Bucket) int {
	n := 0
	c := bk.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// DeleteOlderThan deletes the finished executions last updated before
// cutoff and returns their ids, oldest first. Running executions stay.
func (s *Store) DeleteOlderThan(cutoff time.Time) ([]string, error) {
	var ids []string
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		ids, err = prune(tx.Bucket(bucketExecutions), func(list []summary) []summary {
			var out []summary
			for _, e := range list {
				if e.updatedAt.Before(cutoff) {
					out = append(out, e)
				}
			}
			return out
		}, "")
		s.forget(ids...)
		return err
	})
	return ids, err
}

func decodeExecution(b []byte) (*workflow.Execution, error) {
	var ex workflow.Execution
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&ex); err != nil {
		return nil, err
	}
	norm := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		v, err := expr.Normalize(m)
		if err != nil {
			return m
		}
		out, _ := v.(map[string]any)
		return out
	}
	ex.Input, ex.Output = norm(ex.Input), norm(ex.Output)
	for _, te := range ex.Tasks {
		te.Published = norm(te.Published)
		if v, err := expr.Normalize(te.Result); err == nil {
			te.Result = v
		}
	}
	return &ex, nil
}

// Get returns the execution id, or an error wrapping ErrNotFound. A
// unique prefix of an id is accepted.
func (s *Store) Get(id string) (*workflow.Execution, error) {
	var out *workflow.Execution
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExecutions)
		raw, key := b.Get([]byte(id)), id
		if raw == nil && id != "" {
			c := b.Cursor()
			var match []byte
			for k, v := c.Seek([]byte(id)); k != nil && bytes.HasPrefix(k, []byte(id)); k, v = c.Next() {
				if match != nil {
					return fmt.Errorf("store: execution id prefix %q is ambiguous", id)
				}
				match, key = v, string(k)
			}
			raw = match
		}
		if raw == nil {
			return fmt.Errorf("store: execution %s: %w", id, ErrNotFound)
		}
		ex, err := s.decodeCached(key, raw)
		if err != nil {
			return fmt.Errorf("store: execution %s: %w", id, err)
		}
		out = ex
		return nil
	})
	return out, err
}

// List returns every execution, newest first.
func (s *Store) List() ([]*workflow.Execution, error) {
	var out []*workflow.Execution
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExecutions).ForEach(func(k, v []byte) error {
			ex, err := s.decodeCached(string(k), v)
			if err != nil {
				return fmt.Errorf("store: execution %s: %w", k, err)
			}
			out = append(out, ex)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return strings.Compare(out[i].ID, out[j].ID) < 0
	})
	return out, err
}

// Delete removes the execution id (an error wrapping ErrNotFound if absent).
func (s *Store) Delete(id string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExecutions)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("store: execution %s: %w", id, ErrNotFound)
		}
		s.forget(id)
		return b.Delete([]byte(id))
	})
}
