package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

const waitingWF = `version: '2.0'
wf:
  tasks:
    a:
      action: std.async_noop
`

// startWaiting runs a workflow whose task waits for its async action,
// recorded in s, with ServeControl applying requests.
func startWaiting(t *testing.T, s *Store) (string, <-chan *workflow.Execution) {
	t.Helper()
	ControlInterval = 10 * time.Millisecond
	t.Cleanup(func() { ControlInterval = 500 * time.Millisecond })
	f, err := workflow.Load("wf.yaml", []byte(waitingWF), workflow.StdRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e := &workflow.Engine{Registry: workflow.StdRegistry(), File: f, Recorder: s, Control: &workflow.Controller{}}
	ex, err := e.Start(f.Workflows[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served, ran := make(chan struct{}), make(chan struct{})
	// The engine and ServeControl write to the store in t.TempDir: both
	// end before the directory is removed.
	t.Cleanup(func() {
		cancel()
		<-served
		<-ran
	})
	go func() {
		defer close(served)
		s.ServeControl(ctx, e.Control, func(req ControlRequest, err error) { t.Errorf("%+v: %v", req, err) })
	}()
	end := make(chan *workflow.Execution, 1)
	go func() {
		defer close(ran)
		end <- e.Continue(ctx, f.Workflows[0], ex)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Control.PendingActions(ex.ID)) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return ex.ID, end
}

func TestControlThroughTheStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	id, end := startWaiting(t, s)
	if err := s.RequestControl(ControlRequest{ExecutionID: id, State: workflow.Paused}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitControl(context.Background(), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// The store shows the execution PAUSED (list and show read it) once
	// the engine has applied the request it took and recorded the state.
	var list []*workflow.Execution
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		list, err = s.List()
		if err == nil && len(list) == 1 && list[0].State == workflow.Paused || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(list) != 1 || list[0].State != workflow.Paused {
		t.Fatalf("list %v %v, want one PAUSED execution", list, err)
	}
	if err := s.RequestControl(ControlRequest{ExecutionID: id, State: workflow.Cancelled, Message: "by operator"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitControl(context.Background(), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case ex := <-end:
		if ex.State != workflow.Cancelled || ex.StateInfo != "by operator" {
			t.Fatalf("state %s %q", ex.State, ex.StateInfo)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not cancelled")
	}
	got, err := s.Get(id)
	if err != nil || got.State != workflow.Cancelled {
		t.Fatalf("recorded %v %v", got, err)
	}
}

func TestControlNotTaken(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestControl(ControlRequest{ExecutionID: "gone", State: workflow.Paused}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitControl(context.Background(), "gone", 100*time.Millisecond); !errors.Is(err, ErrNotTaken) {
		t.Fatalf("WaitControl: %v, want ErrNotTaken", err)
	}
	if left, err := s.WithdrawControl("gone"); err != nil || left {
		t.Fatalf("the request is still there (%v, %v): WaitControl must withdraw it", left, err)
	}
}
