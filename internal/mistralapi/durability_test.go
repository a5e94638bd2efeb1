package mistralapi

import (
	"errors"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// nestedSleepy runs a sub-workflow (which sleeps) from its first task.
const nestedSleepy = `version: '2.0'
outer:
  tasks:
    call:
      workflow: inner
inner:
  tasks:
    wait:
      action: std.sleep seconds=30
`

// subExecutionsOf waits until root has a sub-workflow execution in the
// store (linked to it) and returns their ids.
func subExecutionsOf(t *testing.T, ts *testServer, root string) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		links, err := ts.st.Records(colSubExecutions)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range links {
			ids = append(ids, l.ID)
		}
		if len(ids) > 0 {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s has no sub-execution linked after 10 s", root)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSubExecutionsDurable checks what a restart and a DELETE do to the
// sub-workflow executions of the API's executions: a restart ends a running
// one in ERROR with the reason (as its root), and DELETE of the root
// removes them from the store.
func TestSubExecutionsDurable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool // else DELETE the root
	}{
		{"restart ends the running sub-execution in ERROR", true},
		{"DELETE of the root removes its sub-executions", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, "")
			if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", nestedSleepy); code != 201 {
				t.Fatalf("%d %v", code, body)
			}
			code, body := ts.call(t, "p1", "POST", "/v2/executions", "application/json", `{"workflow_name": "outer"}`)
			if code != 201 {
				t.Fatalf("%d %v", code, body)
			}
			root := body["id"].(string)
			subs := subExecutionsOf(t, ts, root)
			if code, body := ts.call(t, "p1", "GET", "/v2/executions/"+subs[0], "", ""); code != 200 || body["root_execution_id"] != root {
				t.Fatalf("sub-execution %s: %d %v, want root_execution_id %s", subs[0], code, body, root)
			}
			if !tc.restart {
				if code, _ := ts.call(t, "p1", "DELETE", "/v2/executions/"+root, "", ""); code != 204 {
					t.Fatalf("DELETE the root: %d", code)
				}
				for _, id := range subs {
					if _, err := ts.st.Get(id); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("sub-execution %s after DELETE of its root: %v, want not found", id, err)
					}
					if code, _ := ts.call(t, "p1", "GET", "/v2/executions/"+id, "", ""); code != 404 {
						t.Errorf("GET sub-execution %s after DELETE of its root: %d, want 404", id, code)
					}
				}
				if links, _ := ts.st.Records(colSubExecutions); len(links) != 0 {
					t.Errorf("links left after DELETE of the root: %v", links)
				}
				return
			}
			// A second server on the store stands for the restarted
			// process (the first, still running, for the dead one).
			if _, err := New(Options{Store: ts.st, Registry: workflow.StdRegistry(), Identify: tokenIdentify}); err != nil {
				t.Fatal(err)
			}
			for _, id := range append([]string{root}, subs...) {
				got, err := ts.st.Get(id)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != workflow.Failed || got.StateInfo != interruptedInfo {
					t.Errorf("execution %s after a restart: %s %q, want ERROR with the reason", id, got.State, got.StateInfo)
				}
				for _, te := range got.Tasks {
					if !te.State.Done() {
						t.Errorf("execution %s after a restart: task %s still %s", id, te.Name, te.State)
					}
				}
			}
		})
	}
}
