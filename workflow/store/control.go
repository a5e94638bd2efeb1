package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fernetflow/fernetflow/workflow"
)

// Execution control across processes. fernetflow has no daemon: an
// execution lives in the process that runs it (serve, or workflow run).
// fernetflow execution pause|resume|cancel, run in another process, leave
// a ControlRequest in the store; the process that runs the execution takes
// it (ServeControl polls) and applies it through its workflow.Controller.
// A request nobody takes is withdrawn by whoever left it
// (WithdrawControl), so that it cannot act much later by surprise.

var bucketControl = []byte("control")

// ControlRequest asks the process running an execution to change its
// state: PAUSED, RUNNING (resume), CANCELLED, ERROR or SUCCESS.
type ControlRequest struct {
	ExecutionID string         `json:"execution_id"`
	State       workflow.State `json:"state"`
	Message     string         `json:"message,omitempty"`
	RequestedAt time.Time      `json:"requested_at"`
}

// RequestControl leaves req for the process that runs its execution,
// replacing an earlier request for the same execution.
func (s *Store) RequestControl(req ControlRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketControl)
		if err != nil {
			return err
		}
		return bk.Put([]byte(req.ExecutionID), b)
	})
}

// WithdrawControl removes the request for execution id and reports whether
// it was still there (false: a process took it).
func (s *Store) WithdrawControl(id string) (bool, error) {
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketControl)
		if bk == nil || bk.Get([]byte(id)) == nil {
			return nil
		}
		found = true
		return bk.Delete([]byte(id))
	})
	return found, err
}

// takeControl removes and returns the requests for the executions in ids.
func (s *Store) takeControl(ids []string) ([]ControlRequest, error) {
	var out []ControlRequest
	err := s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketControl)
		if bk == nil {
			return nil
		}
		for _, id := range ids {
			raw := bk.Get([]byte(id))
			if raw == nil {
				continue
			}
			var req ControlRequest
			if err := json.Unmarshal(raw, &req); err == nil {
				out = append(out, req)
			}
			if err := bk.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ControlInterval is how often ServeControl looks for requests.
var ControlInterval = 500 * time.Millisecond

// ServeControl applies the control requests left for the executions c
// runs, every ControlInterval, until ctx ends. Requests for other
// executions stay for the process that runs them. An error applying one
// (the execution ended meanwhile) goes to onErr when it is not nil.
func (s *Store) ServeControl(ctx context.Context, c *workflow.Controller, onErr func(ControlRequest, error)) {
	t := time.NewTicker(ControlInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := c.Running()
		if len(ids) == 0 {
			continue
		}
		reqs, err := s.takeControl(ids)
		if err != nil && onErr != nil {
			onErr(ControlRequest{}, err)
		}
		for _, req := range reqs {
			if err := Apply(c, req); err != nil && onErr != nil {
				onErr(req, err)
			}
		}
	}
}

// Apply applies req through c.
func Apply(c *workflow.Controller, req ControlRequest) error {
	switch req.State {
	case workflow.Paused:
		return c.Pause(req.ExecutionID)
	case workflow.Running:
		return c.Resume(req.ExecutionID)
	case workflow.Cancelled, workflow.Failed, workflow.Success:
		return c.Stop(req.ExecutionID, req.State, req.Message)
	}
	return fmt.Errorf("store: execution %s: cannot change state to %s", req.ExecutionID, req.State)
}

// ErrNotTaken is WaitControl's error when no process took the request.
var ErrNotTaken = errors.New("no process running the execution took the request")

// WaitControl waits until the request for execution id is taken, up to
// timeout; then it withdraws a request nobody took and returns
// ErrNotTaken.
func (s *Store) WaitControl(ctx context.Context, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var pending bool
		err := s.view(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketControl)
			pending = bk != nil && bk.Get([]byte(id)) != nil
			return nil
		})
		if err != nil {
			return err
		}
		if !pending {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			left, err := s.WithdrawControl(id)
			if err != nil {
				return err
			}
			if !left {
				return nil // taken at the last moment
			}
			return ErrNotTaken
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
