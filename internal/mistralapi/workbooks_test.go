package mistralapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const nestedWorkbook = `---
version: "2.0"
name: wb_with_nested_wf
workflows:
  wrapping_wf:
    type: direct
    tasks:
      call_inner_wf:
        workflow: inner_wf
  inner_wf:
    type: direct
    tasks:
      hello:
        action: std.echo output="Hello from inner workflow"
`

// waitDone polls an execution until it leaves RUNNING.
func (ts *testServer) waitDone(t *testing.T, token, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, ex := ts.call(t, token, "GET", "/v2/executions/"+id, "", "")
		if code != http.StatusOK {
			t.Fatalf("GET execution %s: %d %v", id, code, ex)
		}
		if ex["state"] != "RUNNING" || time.Now().After(deadline) {
			return ex
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkbooks follows tempest's test_workbooks and test_tasks: CRUD of
// a workbook, its workflows listed and run as WORKBOOK.WORKFLOW, and the
// texts and codes of Mistral's workbook controller.
func TestWorkbooks(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	code, wb := ts.call(t, tok, "POST", "/v2/workbooks", "text/plain", nestedWorkbook)
	if code != http.StatusCreated || wb["name"] != "wb_with_nested_wf" || wb["scope"] != "private" || !strings.Contains(wb["definition"].(string), "inner_wf") {
		t.Fatalf("POST workbook: %d %v", code, wb)
	}
	if code, body := ts.call(t, tok, "POST", "/v2/workbooks", "text/plain", nestedWorkbook); code != http.StatusConflict ||
		!strings.Contains(body["faultstring"].(string), "Duplicate entry for WorkbookDefinition") {
		t.Errorf("duplicate POST: %d %v", code, body)
	}
	if code, body := ts.call(t, tok, "POST", "/v2/workbooks", "text/plain", twoWorkflows); code != http.StatusBadRequest {
		t.Errorf("POST of a file without a workbook name: %d %v", code, body)
	}
	if code, body := ts.call(t, tok, "GET", "/v2/workflows", "", ""); code != http.StatusOK ||
		names(body, "workflows") != "wb_with_nested_wf.wrapping_wf,wb_with_nested_wf.inner_wf" {
		t.Errorf("workflows: %d %s", code, names(body, "workflows"))
	}
	if code, body := ts.call(t, tok, "GET", "/v2/workbooks", "", ""); code != http.StatusOK || names(body, "workbooks") != "wb_with_nested_wf" {
		t.Errorf("GET workbooks: %d %v", code, body)
	}
	if code, body := ts.call(t, "p2:member", "GET", "/v2/workbooks/wb_with_nested_wf", "", ""); code != http.StatusNotFound ||
		body["faultstring"] != "Workbook not found [name=wb_with_nested_wf, namespace=]" {
		t.Errorf("another project's GET: %d %v", code, body)
	}

	// Run it: the outer task is a WORKFLOW task, the inner one an ACTION.
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "wb_with_nested_wf.wrapping_wf"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST execution: %d %v", code, ex)
	}
	// POST answered once the sub-workflow's first task was recorded:
	// both tasks are listed at once (tempest's test_task_type).
	_, now := ts.call(t, tok, "GET", "/v2/tasks", "", "")
	if len(now["tasks"].([]any)) != 2 {
		t.Errorf("tasks right after POST: %v", now)
	}
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" {
		t.Fatalf("execution: %v", end)
	}
	_, tasks := ts.call(t, tok, "GET", "/v2/tasks?workflow_execution_id="+ex["id"].(string), "", "")
	list, _ := tasks["tasks"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["type"] != "WORKFLOW" {
		t.Errorf("tasks: %v", tasks)
	}
	// The sub-workflow's execution is listed under its root, with its task.
	_, subs := ts.call(t, tok, "GET", "/v2/executions?root_execution_id="+ex["id"].(string), "", "")
	if names := workflowNames(subs); names != "wb_with_nested_wf.inner_wf" {
		t.Errorf("sub-executions: %q %v", names, subs)
	} else {
		sub := subs["executions"].([]any)[0].(map[string]any)
		if code, got := ts.call(t, tok, "GET", "/v2/executions/"+sub["id"].(string), "", ""); code != http.StatusOK || got["task_execution_id"] != list[0].(map[string]any)["id"] {
			t.Errorf("GET sub-execution: %d %v", code, got)
		}
	}
	_, all := ts.call(t, tok, "GET", "/v2/tasks", "", "")
	var types []string
	for _, x := range all["tasks"].([]any) {
		types = append(types, x.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "WORKFLOW,ACTION" {
		t.Errorf("task types: %v", types)
	}

	// PUT drops a workflow the definition no longer has and keeps the ids of the others.
	_, before := ts.call(t, tok, "GET", "/v2/workflows/wb_with_nested_wf.inner_wf", "", "")
	updated := strings.Replace(nestedWorkbook, "  wrapping_wf:\n    type: direct\n    tasks:\n      call_inner_wf:\n        workflow: inner_wf\n", "", 1)
	if code, body := ts.call(t, tok, "PUT", "/v2/workbooks", "text/plain", updated); code != http.StatusOK || body["updated_at"] == nil {
		t.Errorf("PUT: %d %v", code, body)
	}
	if _, body := ts.call(t, tok, "GET", "/v2/workflows", "", ""); names(body, "workflows") != "wb_with_nested_wf.inner_wf" {
		t.Errorf("workflows after PUT: %s", names(body, "workflows"))
	}
	if _, after := ts.call(t, tok, "GET", "/v2/workflows/wb_with_nested_wf.inner_wf", "", ""); after["id"] != before["id"] {
		t.Errorf("PUT changed the workflow's id: %v -> %v", before["id"], after["id"])
	}
	if code, body := ts.call(t, "p2:member", "PUT", "/v2/workbooks", "text/plain", updated); code != http.StatusNotFound {
		t.Errorf("PUT by another project: %d %v", code, body)
	}

	if code, _ := ts.call(t, tok, "DELETE", "/v2/workbooks/wb_with_nested_wf", "", ""); code != http.StatusNoContent {
		t.Errorf("DELETE: %d", code)
	}
	if code, body := ts.call(t, tok, "DELETE", "/v2/workbooks/wb_with_nested_wf", "", ""); code != http.StatusNotFound ||
		body["faultstring"] != "Workbook not found [workbook_name=wb_with_nested_wf, namespace=]" {
		t.Errorf("second DELETE: %d %v", code, body)
	}
	// As Mistral 15: the workbook's workflows stay, each deleted on its own.
	if _, body := ts.call(t, tok, "GET", "/v2/workflows", "", ""); names(body, "workflows") != "wb_with_nested_wf.inner_wf" {
		t.Errorf("workflows after DELETE: %s", names(body, "workflows"))
	}
	// Created again, the workbook updates them (no 409).
	if code, body := ts.call(t, tok, "POST", "/v2/workbooks", "text/plain", nestedWorkbook); code != http.StatusCreated {
		t.Errorf("POST after DELETE: %d %v", code, body)
	}
}

const reverseAndEnv = `version: '2.0'
wf1:
  type: reverse
  input:
    - farewell
  tasks:
    addressee:
      action: std.echo output="John"
      publish:
        name: <% task(addressee).result %>
    goodbye:
      action: std.echo output="<% $.farewell %>, <% $.name %>"
      requires: [addressee]
with_env:
  tasks:
    say:
      action: std.echo output=<% env().greeting %>
      publish:
        said: <% task().result %>
`

// TestExecutionParams checks params.task_name for reverse workflows (with
// tempest's 400s) and params.env.
func TestExecutionParams(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	if code, body := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", reverseAndEnv); code != http.StatusCreated {
		t.Fatalf("POST workflows: %d %v", code, body)
	}
	for _, tc := range []struct{ name, body string }{
		{"bad task name", `{"workflow_name": "wf1", "input": "{\"farewell\": \"Bye\"}", "params": "{\"task_name\": \"nonexist\"}"}`},
		{"no task name", `{"workflow_name": "wf1", "input": "{\"farewell\": \"Bye\"}"}`},
		{"no input", `{"workflow_name": "wf1", "params": "{\"task_name\": \"goodbye\"}"}`},
		{"env not an object", `{"workflow_name": "with_env", "params": "{\"env\": 3}"}`},
	} {
		if code, body := ts.call(t, tok, "POST", "/v2/executions", "application/json", tc.body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %v", tc.name, code, body)
		}
	}
	code, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json",
		`{"workflow_name": "wf1", "input": "{\"farewell\": \"Bye\"}", "params": "{\"task_name\": \"goodbye\"}"}`)
	if code != http.StatusCreated || !strings.Contains(ex["params"].(string), `"task_name":"goodbye"`) {
		t.Fatalf("reverse: %d %v", code, ex)
	}
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" {
		t.Errorf("reverse execution: %v", end)
	}
	_, tasks := ts.call(t, tok, "GET", "/v2/executions/"+ex["id"].(string)+"/tasks", "", "")
	if names(tasks, "tasks") != "addressee,goodbye" {
		t.Errorf("reverse tasks: %s", names(tasks, "tasks"))
	}

	code, ex = ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "with_env", "params": {"env": {"greeting": "hi"}}}`)
	if code != http.StatusCreated {
		t.Fatalf("env: %d %v", code, ex)
	}
	end := ts.waitDone(t, tok, ex["id"].(string))
	if end["state"] != "SUCCESS" || !strings.Contains(end["params"].(string), `"greeting":"hi"`) {
		t.Errorf("env execution: %v", end)
	}
	_, tasks = ts.call(t, tok, "GET", "/v2/executions/"+ex["id"].(string)+"/tasks", "", "")
	if list := tasks["tasks"].([]any); len(list) != 1 || list[0].(map[string]any)["published"] != `{"said":"hi"}` {
		t.Errorf("env tasks: %v", tasks)
	}
}

// TestEventTriggers checks the store-only event triggers: create (and
// Mistral's 400, 404 and 409), get, list, and the 400 on deleting the
// workflow one uses.
func TestEventTriggers(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	_, wfs := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", twoWorkflows)
	wfID := wfs["workflows"].([]any)[1].(map[string]any)["id"].(string)
	body := `{"workflow_id": "` + wfID + `", "exchange": "openstack", "topic": "notification", "event": "fake.event", "name": ""}`
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"no event", strings.Replace(body, `"fake.event"`, `""`, 1), http.StatusBadRequest},
		{"unknown workflow", strings.Replace(body, wfID, "5b4a3c4e-0000-4000-8000-000000000000", 1), http.StatusNotFound},
	} {
		if code, b := ts.call(t, tok, "POST", "/v2/event_triggers", "application/json", tc.body); code != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.name, code, b, tc.status)
		}
	}
	code, tr := ts.call(t, tok, "POST", "/v2/event_triggers", "application/json", body)
	if code != http.StatusCreated || tr["workflow_id"] != wfID || tr["workflow_input"] != "{}" {
		t.Fatalf("POST: %d %v", code, tr)
	}
	if code, b := ts.call(t, tok, "POST", "/v2/event_triggers", "application/json", body); code != http.StatusConflict {
		t.Errorf("duplicate: %d %v", code, b)
	}
	if code, b := ts.call(t, "p2:member", "GET", "/v2/event_triggers/"+tr["id"].(string), "", ""); code != http.StatusNotFound {
		t.Errorf("another project's GET: %d %v", code, b)
	}
	if code, b := ts.call(t, tok, "GET", "/v2/event_triggers", "", ""); code != http.StatusOK || len(b["event_triggers"].([]any)) != 1 {
		t.Errorf("list: %d %v", code, b)
	}
	if code, b := ts.call(t, tok, "DELETE", "/v2/workflows/"+wfID, "", ""); code != http.StatusBadRequest ||
		!strings.Contains(b["faultstring"].(string), "Can't delete workflow that has event triggers associated") {
		t.Errorf("DELETE of the workflow: %d %v", code, b)
	}
	if code, _ := ts.call(t, tok, "DELETE", "/v2/event_triggers/"+tr["id"].(string), "", ""); code != http.StatusNoContent {
		t.Errorf("DELETE: %d", code)
	}
	if code, _ := ts.call(t, tok, "DELETE", "/v2/workflows/"+wfID, "", ""); code != http.StatusNoContent {
		t.Errorf("DELETE of the workflow after its trigger: %d", code)
	}
}

// TestAsyncNoopTimesOut checks std.async_noop (the engine's): when nobody
// sends its result (PUT /v2/action_executions), its task ends with the
// task's timeout, and the execution in ERROR (tempest's
// test_task_ex_concurrency).
func TestAsyncNoopTimesOut(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	const def = "version: '2.0'\nwaits:\n  tasks:\n    task1:\n      action: std.async_noop\n      timeout: 1\n"
	if code, b := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", def); code != http.StatusCreated {
		t.Fatalf("POST workflow: %d %v", code, b)
	}
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "waits"}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "ERROR" {
		t.Errorf("execution: %v", end)
	}
}

func workflowNames(body map[string]any) string {
	var out []string
	for _, x := range body["executions"].([]any) {
		out = append(out, x.(map[string]any)["workflow_name"].(string))
	}
	return strings.Join(out, ",")
}

// TestTasksListedWhileWaiting checks that a task is listed from its start
// (POST /v2/executions answers once one has started),
// during its wait-before, before the engine records a snapshot with it
// (tempest's TasksTestsV2 list the tasks right after POST /executions).
func TestTasksListedWhileWaiting(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	const def = "version: '2.0'\nwf:\n  tasks:\n    hello:\n      action: std.echo output=\"Hello\"\n      wait-before: 1\n"
	if code, b := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", def); code != http.StatusCreated {
		t.Fatalf("POST workflow: %d %v", code, b)
	}
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "wf"}`)
	id := ex["id"].(string)
	// POST answers once the first task has started: no polling.
	_, tasks := ts.call(t, tok, "GET", "/v2/tasks?workflow_execution_id="+id, "", "")
	if names(tasks, "tasks") != "hello" || tasks["tasks"].([]any)[0].(map[string]any)["state"] != "RUNNING" {
		t.Fatalf("tasks during wait-before: %v", tasks)
	}
	if end := ts.waitDone(t, tok, id); end["state"] != "SUCCESS" {
		t.Fatalf("execution: %v", end)
	}
	if _, tasks = ts.call(t, tok, "GET", "/v2/tasks?workflow_execution_id="+id, "", ""); names(tasks, "tasks") != "hello" {
		t.Errorf("tasks at the end: %v", tasks)
	}
}

// TestNestedAcrossNamespaces follows tempest's
// test_workflow_execution_of_nested_workflows_within_namespace: each
// workflow in its own definition, sub-workflows resolved in the
// execution's namespace first, then in the default one; the chain is
// walked through task_execution_id, workflow_execution_id and
// action_executions.
func TestNestedAcrossNamespaces(t *testing.T) {
	ts := newTestServer(t, "")
	const tok = "p1:member"
	low := "version: '2.0'\nlowest_level_wf:\n  tasks:\n    noop_task:\n      action: std.noop\n"
	middle := "version: '2.0'\nmiddle_wf:\n  tasks:\n    run_low:\n      workflow: lowest_level_wf\n"
	top := "version: '2.0'\ntop_level_wf:\n  tasks:\n    run_middle:\n      workflow: middle_wf\n"
	for _, d := range []struct{ def, ns string }{{low, ""}, {low, "abc"}, {middle, ""}, {top, ""}, {top, "abc"}} {
		if code, b := ts.call(t, tok, "POST", "/v2/workflows?namespace="+d.ns, "text/plain", d.def); code != http.StatusCreated {
			t.Fatalf("POST workflow in %q: %d %v", d.ns, code, b)
		}
	}
	if code, b := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", strings.Replace(top, "middle_wf\n", "nowhere_wf\n", 1)); code != http.StatusBadRequest {
		t.Errorf("a sub-workflow defined nowhere: %d %v", code, b)
	}
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "top_level_wf", "workflow_namespace": "abc"}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" || !strings.Contains(end["params"].(string), `"namespace":"abc"`) {
		t.Fatalf("execution: %v", end)
	}
	first := func(path, key string) map[string]any {
		t.Helper()
		code, b := ts.call(t, tok, "GET", path, "", "")
		list, _ := b[key].([]any)
		if code != http.StatusOK || len(list) == 0 {
			t.Fatalf("GET %s: %d %v", path, code, b)
		}
		return list[0].(map[string]any)
	}
	task := first("/v2/tasks?workflow_execution_id="+ex["id"].(string), "tasks")
	mid := first("/v2/executions?task_execution_id="+task["id"].(string), "executions")
	if mid["workflow_name"] != "middle_wf" || mid["workflow_namespace"] != "" || !strings.Contains(mid["params"].(string), `"namespace":"abc"`) {
		t.Errorf("middle execution: %v", mid)
	}
	task = first("/v2/tasks?workflow_execution_id="+mid["id"].(string), "tasks")
	lowEx := first("/v2/executions?task_execution_id="+task["id"].(string), "executions")
	if lowEx["workflow_name"] != "lowest_level_wf" || lowEx["workflow_namespace"] != "abc" {
		t.Errorf("lowest execution: %v", lowEx)
	}
	task = first("/v2/tasks?workflow_execution_id="+lowEx["id"].(string), "tasks")
	if task["workflow_namespace"] != "abc" {
		t.Errorf("lowest task: %v", task)
	}
	ae := first("/v2/action_executions?task_execution_id="+task["id"].(string), "action_executions")
	if ae["workflow_name"] != "lowest_level_wf" || ae["workflow_namespace"] != "abc" || ae["name"] != "std.noop" || ae["output"] != nil {
		t.Errorf("action execution: %v", ae)
	}
	if code, got := ts.call(t, tok, "GET", "/v2/action_executions/"+ae["id"].(string), "", ""); code != http.StatusOK || got["output"] != `{"result":null}` {
		t.Errorf("GET action execution: %d %v", code, got)
	}
	if code, _ := ts.call(t, tok, "GET", "/v2/action_executions/nonexist", "", ""); code != http.StatusNotFound {
		t.Errorf("GET unknown action execution: %d", code)
	}
}
