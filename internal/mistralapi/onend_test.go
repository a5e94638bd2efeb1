package mistralapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// TestOnEnd: Options.OnEnd sees each execution the API ran once, ended,
// with the store already holding its final state; never a sub-workflow's.
func TestOnEnd(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ended []*workflow.Execution
	var stored []workflow.State
	srv, err := New(Options{Store: st, Registry: workflow.StdRegistry(), Identify: tokenIdentify,
		OnEnd: func(ex *workflow.Execution) {
			got, err := st.Get(ex.ID)
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, ex)
			if err == nil {
				stored = append(stored, got.State)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ts := &testServer{Server: srv, st: st, url: hs.URL}
	const tok = "p1:member"
	const wfs = `version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    boom:
      action: std.fail
`
	if code, body := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", wfs); code != http.StatusCreated {
		t.Fatalf("POST workflows: %d %v", code, body)
	}
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "parent"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST execution: %d %v", code, ex)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Drain(ctx); err != nil { // the execution has ended, OnEnd returned
		t.Fatal(err)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ended) != 1 || ended[0].ID != ex["id"] || ended[0].WorkflowName != "parent" || ended[0].State != workflow.Failed {
		t.Fatalf("OnEnd saw %d executions: %+v; want parent %v once, ERROR", len(ended), ended, ex["id"])
	}
	if len(stored) != 1 || stored[0] != workflow.Failed {
		t.Fatalf("the store held %v when OnEnd ran, want ERROR", stored)
	}
}
