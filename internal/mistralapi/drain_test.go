package mistralapi

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestDrain: a stopping server lets its running executions end (SUCCESS,
// not cut off), refuses to start new ones with 503, and Drain returns once
// they have ended; a drain whose deadline comes first says so.
func TestDrain(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	const slow = `version: '2.0'
slow:
  tasks:
    nap:
      action: std.sleep seconds=1
      on-success: [done]
    done:
      action: std.echo output="rested"
`
	if code, body := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", slow); code != http.StatusCreated {
		t.Fatalf("POST workflow: %d %v", code, body)
	}
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "slow"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST execution: %d %v", code, ex)
	}

	// A drain that cannot wait long enough reports it and leaves the
	// execution running.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Drain(short); err == nil {
		t.Fatal("Drain returned before the execution ended")
	}
	if code, body := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "slow"}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST execution while draining: %d %v, want 503", code, body)
	}
	if code, body := ts.call(t, tok, "POST", "/v2/action_executions", "application/json",
		`{"name": "std.noop", "params": "{\"save_result\": true}"}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST saved action run while draining: %d %v, want 503", code, body)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	began := time.Now()
	if err := ts.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	_, got := ts.call(t, tok, "GET", "/v2/executions/"+ex["id"].(string), "", "")
	if got["state"] != "SUCCESS" {
		t.Errorf("after the drain (%s): %v %v, want SUCCESS", time.Since(began).Round(time.Millisecond), got["state"], got["state_info"])
	}
	_, list := ts.call(t, tok, "GET", "/v2/executions", "", "")
	if n := len(list["executions"].([]any)); n != 1 {
		t.Errorf("%d executions, want 1 (none started while draining)", n)
	}
}
