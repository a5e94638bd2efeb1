package mistralapi

import (
	"net/http"
	"testing"
)

// envWorkflow publishes env() after its asynchronous action completes.
const envWorkflow = `version: '2.0'
envwait:
  output:
    x: <% env().x %>
    env: <% env() %>
  tasks:
    wait:
      action: std.async_noop
      on-success: [after]
    after:
      action: std.noop
`

// TestPutEnvOnResume follows Mistral 15's PUT /v2/executions/ID with
// params.env (api/controllers/v2/execution.py, services/workflows.py
// update_workflow_execution_env): env alone on a PAUSED execution is
// merged and it stays paused; with state RUNNING it is merged before the
// execution resumes, and the tasks that start then see it; with another
// state it is a 400.
func TestPutEnvOnResume(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	if code, b := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", envWorkflow); code != http.StatusCreated {
		t.Fatalf("POST workflow: %d %v", code, b)
	}
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json",
		`{"workflow_name": "envwait", "params": {"env": {"x": 1, "keep": {"a": 1, "b": 1}}}}`)
	if code != http.StatusCreated {
		t.Fatalf("POST execution: %d %v", code, ex)
	}
	id := ex["id"].(string)
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusOK || ex["state"] != "PAUSED" {
		t.Fatalf("PUT PAUSED: %d %v", code, ex)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		state      string
		params     string
	}{
		{"env with another state", `{"state": "ERROR", "params": {"env": {"x": 9}}}`, http.StatusBadRequest, "", ""},
		{"env alone while paused", `{"params": {"env": {"keep": {"b": 2}}}}`, http.StatusOK, "PAUSED",
			`{"env":{"keep":{"a":1,"b":2},"x":1},"namespace":""}`},
		{"env on resume", `{"state": "RUNNING", "params": "{\"env\": {\"x\": 2}}"}`, http.StatusOK, "RUNNING",
			`{"env":{"keep":{"a":1,"b":2},"x":2},"namespace":""}`},
	} {
		code, b := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", tc.body)
		if code != tc.code || (tc.state != "" && (b["state"] != tc.state || b["params"] != tc.params)) {
			t.Fatalf("%s: %d %v, want %d %s params %s", tc.name, code, b, tc.code, tc.state, tc.params)
		}
	}
	p := ts.ctl.PendingActions(id)
	if len(p) != 1 {
		t.Fatalf("pending actions %v", p)
	}
	if code, ae := ts.call(t, tok, "PUT", "/v2/action_executions/"+p[0].ID, "application/json", `{"state": "SUCCESS", "output": "{}"}`); code != http.StatusOK {
		t.Fatalf("PUT action execution: %d %v", code, ae)
	}
	end := ts.waitDone(t, tok, id)
	if end["state"] != "SUCCESS" || end["output"] != `{"env":{"keep":{"a":1,"b":2},"x":2},"x":2}` {
		t.Fatalf("end: %v", end)
	}
}
