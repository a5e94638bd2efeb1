package mistralapi

import (
	"testing"
)

// TestTaskLookups checks the two shortcuts of the task endpoints against
// the full scan they replace: GET /v2/tasks/{id} through the task index
// (a hint, possibly stale) and GET /v2/tasks?workflow_execution_id=ID
// reading that execution only; projects stay apart either way.
func TestTaskLookups(t *testing.T) {
	ts := newTestServer(t, "")
	const def = "version: '2.0'\ntwo:\n  tasks:\n    a:\n      action: std.echo output=\"A\"\n      on-success: [b]\n    b:\n      action: std.noop\n"
	for _, p := range []string{"p1", "p2"} {
		if code, body := ts.call(t, p, "POST", "/v2/workflows", "text/plain", def); code != 201 {
			t.Fatalf("%d %v", code, body)
		}
	}
	_, body := ts.call(t, "p1", "POST", "/v2/executions", "application/json", `{"workflow_name": "two"}`)
	ex := body["id"].(string)
	ts.waitDone(t, "p1", ex)
	_, body = ts.call(t, "p1", "GET", "/v2/executions/"+ex+"/tasks", "", "")
	tasks := body["tasks"].([]any)
	if len(tasks) != 2 {
		t.Fatalf("tasks %v", body)
	}
	a := tasks[0].(map[string]any)["id"].(string)
	if tasks[0].(map[string]any)["name"] != "a" {
		a = tasks[1].(map[string]any)["id"].(string)
	}

	for _, tc := range []struct {
		name     string
		prepare  func()
		token    string
		path     string
		wantCode int
		want     string // the task's name, or the tasks' names
	}{
		{"by id, indexed as it ran", nil, "p1", "/v2/tasks/" + a, 200, "a"},
		{"by id, with a stale hint", func() { ts.taskOwners.note(a, "no-such-execution") }, "p1", "/v2/tasks/" + a, 200, "a"},
		{"by id, hint cleared (scan)", func() { ts.taskOwners = taskIndex{} }, "p1", "/v2/tasks/" + a, 200, "a"},
		{"another project's, indexed", nil, "p2", "/v2/tasks/" + a, 404, ""},
		{"an admin's", nil, "p2:admin", "/v2/tasks/" + a, 200, "a"},
		{"one execution's", nil, "p1", "/v2/tasks?workflow_execution_id=" + ex, 200, "a,b"},
		{"one execution's, eq:", nil, "p1", "/v2/tasks?workflow_execution_id=eq:" + ex, 200, "a,b"},
		{"another project's execution", nil, "p2", "/v2/tasks?workflow_execution_id=" + ex, 200, ""},
		{"an admin's, own project only", nil, "p2:admin", "/v2/tasks?workflow_execution_id=" + ex, 200, ""},
		{"an admin's, all projects", nil, "p2:admin", "/v2/tasks?all_projects=true&workflow_execution_id=" + ex, 200, "a,b"},
		{"an unknown execution", nil, "p1", "/v2/tasks?workflow_execution_id=nope", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare()
			}
			code, body := ts.call(t, tc.token, "GET", tc.path, "", "")
			if code != tc.wantCode {
				t.Fatalf("%s: %d %v, want %d", tc.path, code, body, tc.wantCode)
			}
			if code != 200 {
				return
			}
			got := ""
			if _, isList := body["tasks"]; isList {
				got = names(body, "tasks")
			} else {
				got, _ = body["name"].(string)
			}
			if got != tc.want {
				t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}
