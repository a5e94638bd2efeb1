package mistralapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// asyncWorkflow's waiter waits for a result sent through PUT
// /v2/action_executions, then publishes it and runs a second task; idle
// only waits.
const asyncWorkflow = `version: '2.0'
waiter:
  output:
    got: <% $.got %>
  tasks:
    wait:
      action: std.async_noop
      publish:
        got: <% task().result %>
      on-success: [after]
    after:
      action: std.echo output="after"
idle:
  tasks:
    wait:
      action: std.async_noop
`

// startWaiter posts asyncWorkflow (once) and starts an execution of its
// workflow wf, returning its id and the id of its waiting action
// execution.
func (ts *testServer) startWaiter(t *testing.T, tok, wf string) (execID, actionID string) {
	t.Helper()
	if code, _ := ts.call(t, tok, "GET", "/v2/workflows/waiter", "", ""); code == http.StatusNotFound {
		if code, b := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", asyncWorkflow); code != http.StatusCreated {
			t.Fatalf("POST workflow: %d %v", code, b)
		}
	}
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "`+wf+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST execution: %d %v", code, ex)
	}
	execID = ex["id"].(string)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// The engine knows the pending action before the store's snapshot
		// shows it; a client learns the id from the API, so wait for that.
		if p := ts.ctl.PendingActions(execID); len(p) == 1 {
			if code, _ := ts.call(t, tok, "GET", "/v2/action_executions/"+p[0].ID, "", ""); code == http.StatusOK {
				return execID, p[0].ID
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("execution %s: no pending action", execID)
	return "", ""
}

func (ts *testServer) state(t *testing.T, tok, id string) (string, map[string]any) {
	t.Helper()
	code, ex := ts.call(t, tok, "GET", "/v2/executions/"+id, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET execution %s: %d %v", id, code, ex)
	}
	s, _ := ex["state"].(string)
	return s, ex
}

// TestPauseResumeComplete follows Mistral's life of an asynchronous
// action under a pause: the action execution waits RUNNING, is completed
// through the API while the execution is paused, and the execution goes
// on only once resumed.
func TestPauseResumeComplete(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	id, aid := ts.startWaiter(t, tok, "waiter")

	code, ae := ts.call(t, tok, "GET", "/v2/action_executions/"+aid, "", "")
	if code != http.StatusOK || ae["state"] != "RUNNING" || ae["id"] != aid || ae["name"] != "std.async_noop" {
		t.Fatalf("GET action execution: %d %v", code, ae)
	}
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusOK || ex["state"] != "PAUSED" {
		t.Fatalf("PUT PAUSED: %d %v", code, ex)
	}
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusOK || ex["state"] != "PAUSED" {
		t.Errorf("PUT PAUSED again: %d %v", code, ex)
	}
	// Mistral: SUCCESS is no transition from PAUSED (400); ERROR leaves a
	// paused execution as it is (200).
	if code, b := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "SUCCESS"}`); code != http.StatusBadRequest ||
		!strings.Contains(b["faultstring"].(string), "Can't change workflow execution state from PAUSED to SUCCESS. [workflow=waiter, execution_id="+id+"]") {
		t.Errorf("PUT SUCCESS on a paused execution: %d %v", code, b)
	}
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "ERROR"}`); code != http.StatusOK || ex["state"] != "PAUSED" {
		t.Errorf("PUT ERROR on a paused execution: %d %v", code, ex)
	}

	code, ae = ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "SUCCESS", "output": "{\"answer\": 42}"}`)
	if code != http.StatusOK || ae["state"] != "SUCCESS" || ae["output"] != `{"result":{"answer":42}}` {
		t.Fatalf("PUT action execution: %d %v", code, ae)
	}
	if code, b := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "SUCCESS", "output": {}}`); code != http.StatusBadRequest ||
		!strings.Contains(b["faultstring"].(string), "is already completed") {
		t.Errorf("second PUT action execution: %d %v", code, b)
	}
	time.Sleep(100 * time.Millisecond)
	if st, ex := ts.state(t, tok, id); st != "PAUSED" {
		t.Fatalf("after the action completed while paused: %v", ex)
	}
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "RUNNING"}`); code != http.StatusOK || (ex["state"] != "RUNNING" && ex["state"] != "SUCCESS") {
		t.Fatalf("PUT RUNNING: %d %v", code, ex)
	}
	end := ts.waitDone(t, tok, id)
	if end["state"] != "SUCCESS" || end["output"] != `{"got":{"answer":42}}` {
		t.Fatalf("end: %v", end)
	}
	// Mistral: RUNNING on an ended execution does nothing, PAUSED is 400.
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "RUNNING"}`); code != http.StatusOK || ex["state"] != "SUCCESS" {
		t.Errorf("PUT RUNNING on an ended execution: %d %v", code, ex)
	}
	if code, b := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusBadRequest ||
		!strings.Contains(b["faultstring"].(string), "from SUCCESS to PAUSED") {
		t.Errorf("PUT PAUSED on an ended execution: %d %v", code, b)
	}
}

// TestStopStates checks SUCCESS, ERROR and CANCELLED on running and
// paused executions, with state_info as the message.
func TestStopStates(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	for _, tc := range []struct {
		name      string
		pause     bool
		body      string
		wantState string
		wantInfo  any
	}{
		{"fail running", false, `{"state": "ERROR", "state_info": "Forced"}`, "ERROR", "Forced"},
		{"succeed running", false, `{"state": "SUCCESS", "state_info": "done by hand"}`, "SUCCESS", "done by hand"},
		{"cancel running", false, `{"state": "CANCELLED", "state_info": "no more"}`, "CANCELLED", "no more"},
		{"cancel paused", true, `{"state": "CANCELLED", "state_info": "no more"}`, "CANCELLED", "no more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := ts.startWaiter(t, tok, "idle")
			if tc.pause {
				if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusOK {
					t.Fatalf("PUT PAUSED: %d %v", code, ex)
				}
			}
			code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", tc.body)
			if code != http.StatusOK || ex["state"] != tc.wantState || ex["state_info"] != tc.wantInfo {
				t.Fatalf("PUT %s: %d %v", tc.body, code, ex)
			}
			if len(ts.ctl.Running()) != 0 {
				t.Errorf("still running: %v", ts.ctl.Running())
			}
			// An ended execution: ERROR and CANCELLED do nothing.
			for _, again := range []string{`{"state": "ERROR"}`, `{"state": "CANCELLED"}`} {
				if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", again); code != http.StatusOK || ex["state"] != tc.wantState {
					t.Errorf("PUT %s after: %d %v", again, code, ex)
				}
			}
		})
	}
}

// TestActionExecutionErrors checks PUT /v2/action_executions: an error
// result fails the task, and Mistral's answers to bad requests.
func TestActionExecutionErrors(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	id, aid := ts.startWaiter(t, tok, "idle")
	for _, tc := range []struct {
		name, id, body string
		code           int
		text           string
	}{
		{"bad state", aid, `{"state": "DONE"}`, http.StatusBadRequest, "Error. Expected one of ['SUCCESS', 'ERROR', 'CANCELLED', 'PAUSED', 'RUNNING'], actual: DONE"},
		{"output not an object", aid, `{"state": "SUCCESS", "output": "[1]"}`, http.StatusBadRequest, "JsonType field value must be a dictionary"},
		{"unknown id", "nope", `{"state": "SUCCESS"}`, http.StatusNotFound, "ActionExecution not found [id=nope]"},
		{"other project", aid, `{"state": "SUCCESS"}`, http.StatusNotFound, "ActionExecution not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tok
			if tc.name == "other project" {
				token = "p2:member"
			}
			code, b := ts.call(t, token, "PUT", "/v2/action_executions/"+tc.id, "application/json", tc.body)
			if code != tc.code || !strings.Contains(b["faultstring"].(string), tc.text) {
				t.Errorf("%d %v, want %d %q", code, b, tc.code, tc.text)
			}
		})
	}
	code, ae := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "ERROR"}`)
	if code != http.StatusOK || ae["state"] != "ERROR" || ae["output"] != `{"result":"Unknown error"}` {
		t.Fatalf("PUT ERROR: %d %v", code, ae)
	}
	if end := ts.waitDone(t, tok, id); end["state"] != "ERROR" || !strings.Contains(end["state_info"].(string), "Unknown error") {
		t.Errorf("end: %v", end)
	}
}

// TestActionExecutionControl: PUT PAUSED, RUNNING and CANCELLED on a
// waiting workflow action pause, resume and cancel its execution.
func TestActionExecutionControl(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	id, aid := ts.startWaiter(t, tok, "idle")
	for _, tc := range []struct{ put, want string }{
		{"PAUSED", "PAUSED"},
		{"RUNNING", "RUNNING"},
		{"CANCELLED", "CANCELLED"},
	} {
		code, ae := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "`+tc.put+`"}`)
		if code != http.StatusOK || ae["state"] != tc.put {
			t.Fatalf("PUT %s: %d %v", tc.put, code, ae)
		}
		var st string
		for range 200 {
			if st, _ = ts.state(t, tok, id); st == tc.want {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st != tc.want {
			t.Errorf("after PUT %s the execution is %s", tc.put, st)
		}
	}
	if end := ts.waitDone(t, tok, id); !strings.Contains(fmt.Sprint(end["state_info"]), "Action execution "+aid+" cancelled") {
		t.Errorf("end: %v", end)
	}
	if code, b := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "PAUSED"}`); code != http.StatusBadRequest {
		t.Errorf("PUT PAUSED on a cancelled action: %d %v", code, b)
	}
}

// TestDeletePaused checks that DELETE ends a paused execution.
func TestDeletePaused(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	id, _ := ts.startWaiter(t, tok, "idle")
	if code, ex := ts.call(t, tok, "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != http.StatusOK {
		t.Fatalf("PUT PAUSED: %d %v", code, ex)
	}
	if code, b := ts.call(t, tok, "DELETE", "/v2/executions/"+id, "", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", code, b)
	}
	if len(ts.ctl.Running()) != 0 {
		t.Errorf("still running: %v", ts.ctl.Running())
	}
}

// TestServeControl checks that a control request left in the store
// (`fernetflow execution pause|resume|cancel`) reaches the API's
// executions through Controller, as serve wires it.
func TestServeControl(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ts.st.ServeControl(ctx, ts.Controller(), func(req store.ControlRequest, err error) { t.Errorf("%v: %v", req, err) })
	id, _ := ts.startWaiter(t, tok, "idle")
	for _, want := range []workflow.State{workflow.Paused, workflow.Running, workflow.Cancelled} {
		if err := ts.st.RequestControl(store.ControlRequest{ExecutionID: id, State: want, Message: "from the CLI"}); err != nil {
			t.Fatal(err)
		}
		if err := ts.st.WaitControl(ctx, id, 5*time.Second); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, ex := ts.state(t, tok, id)
			if st == string(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %v", want, ex)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
