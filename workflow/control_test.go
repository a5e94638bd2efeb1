package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// asyncWF waits on an async action, then runs b.
const asyncWF = `version: '2.0'
wf:
  output:
    r: <% $.r %>
  tasks:
    a:
      action: std.async_noop
      publish: {r: <% task().result %>}
      on-success: b
    b:
      action: std.noop
`

// recorder keeps the states an execution was recorded in.
type recorder struct {
	mu     sync.Mutex
	states []State
	last   *Execution
}

func (r *recorder) Record(_ context.Context, ex *Execution) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, ex.State)
	r.last = ex
	return nil
}

func (r *recorder) lastState() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return ""
	}
	return r.last.State
}

// startControlled runs src in the background with a Controller and
// returns the controller, the execution id and the channel of the end.
func startControlled(t *testing.T, src string) (*Controller, *recorder, string, <-chan *Execution) {
	t.Helper()
	e, f := loadEngine(t, src)
	c := &Controller{}
	rec := &recorder{}
	e.Control, e.Recorder = c, rec
	ex, err := e.Start(f.Workflows[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	end := make(chan *Execution, 1)
	go func() { end <- e.Continue(context.Background(), f.Workflows[0], ex) }()
	return c, rec, ex.ID, end
}

// pending waits until execution id has n pending action executions.
func pending(t *testing.T, c *Controller, id string, n int) []PendingAction {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if p := c.PendingActions(id); len(p) == n {
			return p
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("execution %s: no %d pending action executions", id, n)
	return nil
}

func wait(t *testing.T, end <-chan *Execution) *Execution {
	t.Helper()
	select {
	case ex := <-end:
		return ex
	case <-time.After(5 * time.Second):
		t.Fatal("execution did not end")
		return nil
	}
}

func TestAsyncActionCompleted(t *testing.T) {
	c, _, id, end := startControlled(t, asyncWF)
	p := pending(t, c, id, 1)
	if p[0].TaskName != "a" || p[0].Action != "std.async_noop" {
		t.Fatalf("pending %+v", p[0])
	}
	if err := c.CompleteAction(p[0].ID, map[string]any{"k": 1}, nil); err != nil {
		t.Fatal(err)
	}
	ex := wait(t, end)
	if ex.State != Success || ex.Output["r"].(map[string]any)["k"] != int64(1) {
		t.Fatalf("state %s output %v (%s)", ex.State, ex.Output, ex.StateInfo)
	}
	if got := ex.Tasks[0].ActionExecutionIDs; len(got) != 1 || got[0] != p[0].ID {
		t.Errorf("action execution ids %v, want [%s]", got, p[0].ID)
	}
	if err := c.CompleteAction(p[0].ID, nil, nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second completion: %v, want ErrNotRunning", err)
	}
}

func TestAsyncActionFailed(t *testing.T) {
	c, _, id, end := startControlled(t, asyncWF)
	p := pending(t, c, id, 1)
	if err := c.CompleteAction(p[0].ID, "details", errors.New("remote job failed")); err != nil {
		t.Fatal(err)
	}
	ex := wait(t, end)
	if ex.State != Failed || ex.Tasks[0].StateInfo != "remote job failed" || ex.Tasks[0].Result != "details" {
		t.Fatalf("state %s task %+v", ex.State, ex.Tasks[0])
	}
}

func TestAsyncActionTimeout(t *testing.T) {
	ex := runYAML(t, `version: '2.0'
wf:
  tasks:
    a:
      action: std.async_noop
      timeout: 1
`, nil)
	if ex.State != Failed || ex.Tasks[0].StateInfo != "Task timed out [timeout(s)=1]." {
		t.Fatalf("state %s task %s: %s", ex.State, ex.Tasks[0].State, ex.Tasks[0].StateInfo)
	}
}

func TestControllerPauseResume(t *testing.T) {
	c, rec, id, end := startControlled(t, asyncWF)
	p := pending(t, c, id, 1)
	if err := c.Pause(id); err != nil {
		t.Fatal(err)
	}
	if s := rec.lastState(); s != Paused {
		t.Fatalf("recorded %s after Pause, want PAUSED at once", s)
	}
	// The task ends while paused: b waits for Resume.
	if err := c.CompleteAction(p[0].ID, 7, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	rec.mu.Lock()
	last := rec.last
	rec.mu.Unlock()
	if last.State != Paused || len(last.Tasks) != 1 || last.Tasks[0].State != Success {
		t.Fatalf("while paused: %s %v", last.State, taskStates(last))
	}
	// Mistral: SUCCESS and ERROR do not apply to a paused execution.
	for _, s := range []State{Success, Failed} {
		if err := c.Stop(id, s, "no"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Resume(id); err != nil {
		t.Fatal(err)
	}
	ex := wait(t, end)
	if ex.State != Success || ex.Output["r"] != int64(7) || taskStates(ex)["b"] != Success {
		t.Fatalf("state %s output %v tasks %v", ex.State, ex.Output, taskStates(ex))
	}
	if err := c.Pause(id); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Pause after the end: %v, want ErrNotRunning", err)
	}
}

func TestControllerStop(t *testing.T) {
	tests := []struct {
		name       string
		pause      bool
		state      State
		msg        string
		wantResult any
	}{
		{name: "cancel", state: Cancelled, msg: "Cancelled by operator", wantResult: "Cancelled by operator"},
		{name: "cancel without message", state: Cancelled, wantResult: nil},
		{name: "cancel paused", pause: true, state: Cancelled, msg: "bye", wantResult: "bye"},
		{name: "force fail", state: Failed, msg: "Forced by operator", wantResult: "Forced by operator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, id, end := startControlled(t, asyncWF)
			pending(t, c, id, 1)
			if tc.pause {
				if err := c.Pause(id); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Stop(id, tc.state, tc.msg); err != nil {
				t.Fatal(err)
			}
			ex := wait(t, end)
			if ex.State != tc.state || ex.StateInfo != tc.msg {
				t.Fatalf("state %s %q, want %s %q", ex.State, ex.StateInfo, tc.state, tc.msg)
			}
			if r, ok := ex.Output["result"]; !ok || r != tc.wantResult {
				t.Errorf("output %v, want result %v", ex.Output, tc.wantResult)
			}
			if s := taskStates(ex)["a"]; s != Cancelled {
				t.Errorf("running task ended %s, want CANCELLED", s)
			}
			if len(c.Running()) != 0 || len(c.PendingActions(id)) != 0 {
				t.Errorf("controller still holds %v", c.Running())
			}
		})
	}
}

func TestControllerPauseCommandWaits(t *testing.T) {
	c, rec, id, end := startControlled(t, `version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: [pause, b]
    b:
      action: std.noop
`)
	deadline := time.Now().Add(5 * time.Second)
	for rec.lastState() != Paused && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case ex := <-end:
		t.Fatalf("Continue returned %s: with a Controller it waits for Resume", ex.State)
	case <-time.After(20 * time.Millisecond):
	}
	if err := c.Resume(id); err != nil {
		t.Fatal(err)
	}
	if ex := wait(t, end); ex.State != Success || taskStates(ex)["b"] != Success {
		t.Fatalf("state %s tasks %v", ex.State, taskStates(ex))
	}
}

func TestControllerPausesSubWorkflows(t *testing.T) {
	c, _, id, end := startControlled(t, `version: '2.0'
main:
  tasks:
    call:
      workflow: sub
sub:
  tasks:
    a:
      action: std.async_noop
      on-success: b
    b:
      action: std.noop
`)
	var kid string
	deadline := time.Now().Add(5 * time.Second)
	for kid == "" && time.Now().Before(deadline) {
		for _, r := range c.Running() {
			if r != id && len(c.PendingActions(r)) == 1 {
				kid = r
			}
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.Pause(id); err != nil {
		t.Fatal(err)
	}
	p := c.PendingActions(kid)
	if err := c.CompleteAction(p[0].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if len(c.Running()) != 2 {
		t.Fatalf("running %v: the paused sub-workflow should wait", c.Running())
	}
	if err := c.Resume(id); err != nil {
		t.Fatal(err)
	}
	if ex := wait(t, end); ex.State != Success {
		t.Fatalf("state %s: %s", ex.State, ex.StateInfo)
	}
}

func TestControllerUnknown(t *testing.T) {
	c := &Controller{}
	for name, err := range map[string]error{
		"pause":    c.Pause("x"),
		"resume":   c.Resume("x"),
		"cancel":   c.Cancel("x", ""),
		"complete": c.CompleteAction("x", nil, nil),
	} {
		if !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s: %v, want ErrNotRunning", name, err)
		}
	}
	if err := c.Stop("x", Running, ""); err == nil || !strings.Contains(err.Error(), "cannot stop in state RUNNING") {
		t.Errorf("Stop RUNNING: %v", err)
	}
}

func TestStdTestDict(t *testing.T) {
	ex := runYAML(t, `version: '2.0'
wf:
  tasks:
    a:
      action: std.test_dict size=2 key_prefix="k" val="v"
      publish: {d: <% task().result %>}
`, nil)
	d, _ := ex.Output["d"].(map[string]any)
	if ex.State != Success || len(d) != 2 || d["k0"] != "v" || d["k1"] != "v" {
		t.Fatalf("state %s output %v", ex.State, ex.Output)
	}
}

func TestRefusedStdActions(t *testing.T) {
	for name := range RefusedStdActions {
		src := "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: " + name + "\n"
		_, err := Load("test.yaml", []byte(src), StdRegistry())
		if err == nil || !strings.Contains(err.Error(), "action "+name+" is one of Mistral's standard actions that fernetflow does not run") ||
			!strings.Contains(err.Error(), "test.yaml:5:") {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := Load("test.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.email\n      input: {from_addr: a@b, to_addrs: [c@d]}\n"), StdRegistry())
	if err == nil || !strings.Contains(err.Error(), "smtp_server") {
		t.Errorf("std.email without smtp_server: %v", err)
	}
}

func TestAsyncWithItems(t *testing.T) {
	c, _, id, end := startControlled(t, `version: '2.0'
wf:
  tasks:
    a:
      with-items: x in [1, 2, 3]
      action: std.async_noop
      publish: {r: <% task().result %>}
`)
	p := pending(t, c, id, 3)
	for i, pa := range p {
		if err := c.CompleteAction(pa.ID, i, nil); err != nil {
			t.Fatal(err)
		}
	}
	ex := wait(t, end)
	if ex.State != Success || len(ex.Tasks[0].ActionExecutionIDs) != 3 {
		t.Fatalf("state %s %s, ids %v", ex.State, ex.StateInfo, ex.Tasks[0].ActionExecutionIDs)
	}
	r, _ := ex.Output["r"].([]any)
	if len(r) != 3 {
		t.Fatalf("result %v", ex.Output["r"])
	}
}

// TestControllerResumeEnv: Mistral's PUT state RUNNING with params.env
// merges env into the execution's (nested mappings key by key) before it
// resumes; PUT params.env alone does so on a paused execution only.
func TestControllerResumeEnv(t *testing.T) {
	const src = `version: '2.0'
wf:
  output:
    x: <% env().x %>
    nested: <% env().nested %>
    params_env: <% execution().params.env.x %>
  tasks:
    a:
      action: std.noop
      on-success: [pause, b]
    b:
      action: std.noop
`
	for _, tc := range []struct {
		name   string
		update map[string]any // UpdateEnv while paused
		resume map[string]any // ResumeEnv
		want   string
	}{
		{"no env", nil, nil, "map[nested:map[a:1 b:1] params_env:1 x:1]"},
		{"resume env merges", nil, map[string]any{"x": 2, "nested": map[string]any{"b": "two"}}, "map[nested:map[a:1 b:two] params_env:2 x:2]"},
		{"update then resume", map[string]any{"x": 3}, map[string]any{"nested": map[string]any{"c": 3}}, "map[nested:map[a:1 b:1 c:3] params_env:3 x:3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, f := loadEngine(t, src)
			c := &Controller{}
			rec := &recorder{}
			e.Control, e.Recorder = c, rec
			start := map[string]any{"x": 1, "nested": map[string]any{"a": 1, "b": 1}}
			ex, err := e.StartWith(f.Workflows[0], nil, Params{Env: start})
			if err != nil {
				t.Fatal(err)
			}
			id := ex.ID
			end := make(chan *Execution, 1)
			go func() { end <- e.Continue(context.Background(), f.Workflows[0], ex) }()
			deadline := time.Now().Add(5 * time.Second)
			for rec.lastState() != Paused && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if tc.update != nil {
				if err := c.UpdateEnv(id, tc.update); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.ResumeEnv(id, tc.resume); err != nil {
				t.Fatal(err)
			}
			got := wait(t, end)
			if got.State != Success || fmt.Sprint(got.Output) != tc.want {
				t.Errorf("state %s output %v, want %s", got.State, got.Output, tc.want)
			}
			if start["x"] != 1 {
				t.Errorf("the caller's env map changed: %v", start)
			}
		})
	}
}

func TestControllerUpdateEnvRunning(t *testing.T) {
	c, _, id, end := startControlled(t, asyncWF)
	pending(t, c, id, 1)
	if err := c.UpdateEnv(id, map[string]any{"x": 1}); !errors.Is(err, ErrNotPaused) {
		t.Errorf("UpdateEnv on a running execution: %v, want ErrNotPaused", err)
	}
	if err := c.ResumeEnv(id, map[string]any{"x": 1}); err != nil {
		t.Errorf("ResumeEnv on a running execution: %v, want nil (nothing happens, as in Mistral)", err)
	}
	if err := c.ResumeEnv(id, map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("ResumeEnv took an env that is not JSON data")
	}
	p := c.PendingActions(id)
	if err := c.CompleteAction(p[0].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if ex := wait(t, end); ex.State != Success || len(ex.env()) != 0 {
		t.Fatalf("state %s env %v", ex.State, ex.env())
	}
}
