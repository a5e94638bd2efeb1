// Package store keeps workflow executions (and cron triggers) in an
// embedded bbolt database, by default STATE_DIR/executions.db.
//
// A Store is a workflow.Recorder: give it to an Engine and every snapshot
// of a running execution is written, after workflow.Execution.Redacted has
// replaced secret values. Several processes share the file: a Store opens
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

// Timeout is how long Open waits for another process to release the file.
var Timeout = 10 * time.Second

// Store is an execution store. Safe for concurrent use, from several
// goroutines and processes.
type Store struct {
	path string
	mu   sync.RWMutex // bbolt's file lock is per open file: serialise this process's own opens
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
			return nil, fmt.Errorf("store: open %s: another process holds it (waited %s)", s.path, Timeout)
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

// Record implements workflow.Recorder: it writes the execution, redacted.
func (s *Store) Record(_ context.Context, ex *workflow.Execution) error {
	red := ex.Redacted()
	b, err := json.Marshal(red)
	if err != nil {
		return fmt.Errorf("store: encode execution %s: %w", ex.ID, err)
	}
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExecutions).Put([]byte(ex.ID), b)
	})
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
		raw := b.Get([]byte(id))
		if raw == nil && id != "" {
			c := b.Cursor()
			var match []byte
			for k, v := c.Seek([]byte(id)); k != nil && bytes.HasPrefix(k, []byte(id)); k, v = c.Next() {
				if match != nil {
					return fmt.Errorf("store: execution id prefix %q is ambiguous", id)
				}
				match = v
			}
			raw = match
		}
		if raw == nil {
			return fmt.Errorf("store: execution %s: %w", id, ErrNotFound)
		}
		ex, err := decodeExecution(raw)
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
			ex, err := decodeExecution(v)
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
		return b.Delete([]byte(id))
	})
}
