package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// execution pause|resume|cancel reach an execution through the process
// that runs it (here an engine in the test, as serve or workflow run
// would), and fail clearly when no process runs it.
func TestExecutionControlCommands(t *testing.T) {
	store.ControlInterval = 10 * time.Millisecond
	t.Cleanup(func() { store.ControlInterval = 500 * time.Millisecond })
	state := t.TempDir()
	st, err := store.Open(filepath.Join(state, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := workflow.Load("wf.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.async_noop\n"), workflow.StdRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e := &workflow.Engine{Registry: workflow.StdRegistry(), File: f, Recorder: st, Control: &workflow.Controller{}}
	ex, err := e.Start(f.Workflows[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go st.ServeControl(ctx, e.Control, nil)
	end := make(chan *workflow.Execution, 1)
	go func() { end <- e.Continue(ctx, f.Workflows[0], ex) }()
	for len(e.Control.PendingActions(ex.ID)) == 0 {
		time.Sleep(time.Millisecond)
	}

	for _, step := range []struct {
		verb, want string
	}{{"pause", "PAUSED"}, {"pause", "PAUSED"}, {"resume", "RUNNING"}, {"cancel", "CANCELLED"}} {
		out, errs, code := runCLI(t, "", "execution", step.verb, ex.ID[:8], "--state-dir", state)
		if code != 0 || !strings.Contains(out, step.want) {
			t.Fatalf("execution %s: %d %s %s", step.verb, code, out, errs)
		}
	}
	if got := <-end; got.State != workflow.Cancelled {
		t.Fatalf("ended %s", got.State)
	}
	_, errs, code := runCLI(t, "", "execution", "resume", ex.ID, "--state-dir", state)
	if code != exitFailure || !strings.Contains(errs, "is CANCELLED: only a RUNNING or PAUSED execution can be resumed") {
		t.Errorf("resume a cancelled execution: %d %s", code, errs)
	}

	// A RUNNING execution whose process has gone: nobody takes the request.
	orphan := &workflow.Execution{ID: workflow.NewID(), WorkflowName: "wf", State: workflow.Running, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.Record(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	_, errs, code = runCLI(t, "", "execution", "pause", orphan.ID, "--state-dir", state, "--wait", "100ms")
	if code != exitFailure || !strings.Contains(errs, "no process running it took the request within 100ms") ||
		!strings.Contains(errs, "fernetflow serve or workflow run") {
		t.Errorf("pause an orphan: %d %s", code, errs)
	}
	if _, _, code := runCLI(t, "", "execution", "cancel", "--state-dir", state); code != exitUsage {
		t.Errorf("cancel without id: exit %d", code)
	}
}

// A workflow run that pauses waits for execution resume from another
// terminal, and says so.
func TestWorkflowRunWaitsWhenPaused(t *testing.T) {
	store.ControlInterval = 10 * time.Millisecond
	t.Cleanup(func() { store.ControlInterval = 500 * time.Millisecond })
	state := t.TempDir()
	file := filepath.Join(t.TempDir(), "wf.yaml")
	src := "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      on-success: [pause, b]\n    b:\n      action: std.echo output=2\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out, errs string
		code      int
	}
	done := make(chan result, 1)
	go func() {
		out, errs, code := runCLI(t, "", "workflow", "run", file, "--state-dir", state, "-f", "json")
		done <- result{out, errs, code}
	}()
	var id string
	for deadline := time.Now().Add(10 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, _, _ := runCLI(t, "", "execution", "list", "--state-dir", state, "-f", "json")
		var rows []execRow
		if json.Unmarshal([]byte(out), &rows) == nil && len(rows) == 1 && rows[0].State == workflow.Paused {
			id = rows[0].ID
		}
	}
	if id == "" {
		t.Fatal("the run did not record a PAUSED execution")
	}
	select {
	case r := <-done:
		t.Fatalf("workflow run returned while paused: %d %s", r.code, r.errs)
	case <-time.After(50 * time.Millisecond):
	}
	if _, errs, code := runCLI(t, "", "execution", "resume", id, "--state-dir", state); code != 0 {
		t.Fatalf("resume: %d %s", code, errs)
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.out, `"SUCCESS"`) || !strings.Contains(r.errs, "execution "+id+" PAUSED: it waits for fernetflow execution resume "+id) {
		t.Fatalf("workflow run: %d\n%s\n%s", r.code, r.out, r.errs)
	}
}
