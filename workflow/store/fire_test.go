package store

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

const echoFlow = `---
version: '2.0'
hello:
  input:
    - who
  tasks:
    say:
      action: std.echo output=<% $.who %>
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
`

// TestFirerRunsDueSlotsOnce runs a Firer on a virtual clock: a trigger due
// twice fires twice, each execution recorded with Mistral's description,
// and a trigger whose definition no longer loads is an error that names
// it, not a fired execution.
func TestFirerRunsDueSlotsOnce(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	for _, tc := range []struct{ name, def string }{{"greet", echoFlow}, {"broken", "version: '2.0'\nhello: [not a workflow"}} {
		tr, err := workflow.NewCronTrigger(tc.name, "* * * * *", nil, nil, start)
		if err != nil {
			t.Fatal(err)
		}
		tr.WorkflowName, tr.WorkflowInput, tr.Definition, tr.SourceFile = "hello", map[string]any{"who": "ops"}, tc.def, tc.name+".yaml"
		if err := st.CreateTrigger(tr); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu       sync.Mutex
		now      = start
		ended    []*workflow.Execution
		failures []string
	)
	ctx, cancel := context.WithCancel(context.Background())
	f := &Firer{Store: st, Registry: workflow.StdRegistry(), Tick: time.Millisecond,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		OnEnd: func(_ Claim, ex *workflow.Execution) {
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, ex)
		},
		OnError: func(c Claim, err error) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, err.Error())
		},
	}
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	wait := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			got := len(ended)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d executions ended, want %d", got, n)
			}
		}
	}
	mu.Lock()
	now = start.Add(time.Minute) // 10:01:30: both triggers' 10:01 slot
	mu.Unlock()
	wait(1)
	time.Sleep(20 * time.Millisecond) // many ticks at the same time: no second firing
	mu.Lock()
	now = start.Add(2 * time.Minute)
	mu.Unlock()
	wait(2)
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(ended) != 2 {
		t.Fatalf("%d executions, want one per slot (2)", len(ended))
	}
	for _, ex := range ended {
		if ex.State != workflow.Success || ex.Output["said"] != "ops" {
			t.Errorf("execution %s: %s %v", ex.ID, ex.State, ex.Output)
		}
		var d struct {
			TriggeredBy struct{ Type, Name string } `json:"triggered_by"`
		}
		if err := json.Unmarshal([]byte(ex.Description), &d); err != nil || d.TriggeredBy.Type != "cron_trigger" || d.TriggeredBy.Name != "greet" {
			t.Errorf("description %q", ex.Description)
		}
		if rec, err := st.Get(ex.ID); err != nil || rec.State != workflow.Success {
			t.Errorf("recorded %s: %v %v", ex.ID, rec, err)
		}
	}
	if len(failures) != 2 || !strings.Contains(failures[0], "cron trigger broken") {
		t.Errorf("failures %q, want the broken trigger named once per slot", failures)
	}
}

// TestFirerGuard: a slot whose guard refuses is skipped with an error
// naming the trigger, and a guard's release comes after the execution.
func TestFirerGuard(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	tr, err := workflow.NewCronTrigger("greet", "* * * * *", nil, nil, start)
	if err != nil {
		t.Fatal(err)
	}
	tr.WorkflowName, tr.WorkflowInput, tr.Definition, tr.SourceFile = "hello", map[string]any{"who": "ops"}, echoFlow, "hello.yaml"
	c := Claim{Trigger: *tr, Slot: start.Add(30 * time.Second)}
	busy := errors.New("another run holds the state")
	var events []string
	f := &Firer{Store: st, Registry: workflow.StdRegistry(),
		Guard: func(context.Context, Claim) (func(), error) {
			if len(events) == 0 {
				events = append(events, "refused")
				return nil, busy
			}
			events = append(events, "guarded")
			return func() { events = append(events, "released") }, nil
		},
		OnEnd: func(Claim, *workflow.Execution) { events = append(events, "ended") },
	}
	if _, err := f.Fire(context.Background(), c); !errors.Is(err, busy) || !strings.Contains(err.Error(), "cron trigger greet") {
		t.Fatalf("a refused guard: %v", err)
	}
	ex, err := f.Fire(context.Background(), c)
	if err != nil || ex.State != workflow.Success {
		t.Fatalf("guarded slot: %v %v", ex, err)
	}
	if got := strings.Join(events, ","); got != "refused,guarded,ended,released" {
		t.Errorf("events %s", got)
	}
}
