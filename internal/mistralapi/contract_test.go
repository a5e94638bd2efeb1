package mistralapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// call sends one request and decodes the JSON answer (nil for none).
func (ts *testServer) call(t testing.TB, token, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, out
}

func names(body map[string]any, key string) string {
	list, _ := body[key].([]any)
	var out []string
	for _, it := range list {
		out = append(out, it.(map[string]any)["name"].(string))
	}
	return strings.Join(out, ",")
}

const threeWorkflows = `version: '2.0'
alpha:
  tasks:
    a: {action: std.noop}
beta:
  tasks:
    b: {action: std.noop}
gamma:
  tasks:
    c: {action: std.noop}
`

// TestListContract checks lists against the shapes and texts real Mistral
// answered (NOTES.md 1.6 and the traces): filters, sort, fields, the next
// link and its 400s.
func TestListContract(t *testing.T) {
	ts := newTestServer(t, "")
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", threeWorkflows); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, body := ts.call(t, "p2", "POST", "/v2/workflows?scope=public", "text/plain", "version: '2.0'\ndelta:\n  tasks:\n    d: {action: std.noop}\n"); code != 201 {
		t.Fatalf("create public: %d %v", code, body)
	}
	if code, body := ts.call(t, "p2", "POST", "/v2/workflows", "text/plain", "version: '2.0'\nhidden:\n  tasks:\n    d: {action: std.noop}\n"); code != 201 {
		t.Fatalf("create private: %d %v", code, body)
	}
	for _, tc := range []struct {
		name, token, query string
		status             int
		names              string // the list, for 200
		fault              string // a substring of faultstring, for errors
		next               string // a substring of next ("-": no next key)
	}{
		{"own and public", "p1", "", 200, "alpha,beta,gamma,delta", "", "-"},
		{"eq", "p1", "name=beta", 200, "beta", "", "-"},
		{"eq explicit", "p1", "name=eq:beta", 200, "beta", "", "-"},
		{"neq", "p1", "name=neq:beta", 200, "alpha,gamma,delta", "", "-"},
		{"in", "p1", "name=in:alpha,gamma", 200, "alpha,gamma", "", "-"},
		{"nin", "p1", "name=nin:alpha,gamma", 200, "beta,delta", "", "-"},
		{"gt", "p1", "name=gt:beta&sort_keys=name", 200, "delta,gamma", "", "-"},
		{"gte", "p1", "name=gte:beta&sort_keys=name", 200, "beta,delta,gamma", "", "-"},
		{"lt", "p1", "name=lt:beta", 200, "alpha", "", "-"},
		{"lte", "p1", "name=lte:beta", 200, "alpha,beta", "", "-"},
		{"has", "p1", "name=has:ta", 200, "beta,delta", "", "-"},
		{"scope", "p1", "scope=public", 200, "delta", "", "-"},
		{"sort desc", "p1", "sort_keys=name&sort_dirs=desc", 200, "gamma,delta,beta,alpha", "", "-"},
		{"limit", "p1", "limit=1&sort_keys=name&sort_dirs=desc", 200, "gamma", "", "/v2/workflows?sort_keys=name,id&sort_dirs=desc,asc&limit=1&marker="},
		{"limit with filter", "p1", "limit=2&name=neq:beta", 200, "alpha,gamma", "", "sort_keys=created_at,id&sort_dirs=asc,asc&name=neq%3Abeta&limit=2&marker="},
		{"page not full", "p1", "limit=5", 200, "alpha,beta,gamma,delta", "", "-"},
		{"fields", "p1", "fields=name&name=alpha", 200, "alpha", "", "-"},
		{"admin all projects", "p1:admin", "all_projects=true&sort_keys=name", 200, "alpha,beta,delta,gamma,hidden", "", "-"},
		{"admin project_id", "p1:admin", "project_id=p2&sort_keys=name", 200, "delta,hidden", "", "-"},
		{"project_id hides private", "p1", "project_id=p2", 200, "delta", "", "-"},
		{"limit 0", "p1", "limit=0", 400, "", "Limit must be positive", ""},
		{"limit -1", "p1", "limit=-1", 400, "", "Limit must be positive", ""},
		{"sort dir", "p1", "sort_keys=name&sort_dirs=up", 400, "", "Unknown sort direction, must be 'desc' or 'asc'.", ""},
		{"more dirs", "p1", "sort_keys=name&sort_dirs=asc,desc", 400, "", "Length of sort_keys must be equal or greater than sort_dirs.", ""},
		{"duplicate sort keys", "p1", "limit=1&sort_keys=id,id&sort_dirs=asc,asc", 400, "", "Length of sort_keys must be equal or greater than sort_dirs.", ""},
		{"bad field", "p1", "fields=nope", 400, "", "Some fields do not exist  [nope]", ""},
		{"unknown marker", "p1", "marker=nope", 404, "", "not found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ts.call(t, tc.token, "GET", "/v2/workflows?"+tc.query, "", "")
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, body)
			}
			if code != 200 {
				if body["faultcode"] != "Client" || !strings.Contains(body["faultstring"].(string), tc.fault) || body["debuginfo"] != nil {
					t.Fatalf("error body %v, want faultstring with %q", body, tc.fault)
				}
				return
			}
			if got := names(body, "workflows"); got != tc.names {
				t.Errorf("names %s, want %s", got, tc.names)
			}
			next, has := body["next"].(string)
			switch {
			case tc.next == "-" && has:
				t.Errorf("next %q, want none", next)
			case tc.next != "-" && (!strings.HasPrefix(next, ts.url+"/v2/workflows?") || !strings.Contains(next, tc.next)):
				t.Errorf("next %q, want it absolute with %q", next, tc.next)
			}
		})
	}
	// fields: only those and id.
	_, body := ts.call(t, "p1", "GET", "/v2/workflows?fields=name&name=alpha", "", "")
	if w := body["workflows"].([]any)[0].(map[string]any); len(w) != 2 || w["id"] == nil {
		t.Errorf("fields=name gave %v, want name and id", w)
	}
	// Following next links visits every item once.
	u, seen := ts.url+"/v2/workflows?limit=1&sort_keys=name", []string{}
	for u != "" {
		_, body := ts.call(t, "p1", "GET", strings.TrimPrefix(u, ts.url), "", "")
		seen = append(seen, names(body, "workflows"))
		u, _ = body["next"].(string)
	}
	if got := strings.Join(seen, ","); got != "alpha,beta,delta,gamma," {
		t.Errorf("following next: %s", got)
	}
}

// TestErrorsAndShapes checks single-resource answers: statuses, Mistral's
// texts and the JSON-string fields.
func TestErrorsAndShapes(t *testing.T) {
	ts := newTestServer(t, "")
	code, body := ts.call(t, "", "GET", "/", "", "")
	if code != 200 || body["versions"] == nil {
		t.Fatalf("GET / without a token: %d %v", code, body)
	}
	if code, body := ts.call(t, "", "GET", "/v2/workflows", "", ""); code != 401 || body["faultstring"] == nil {
		t.Fatalf("no token: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", "version: '1.0'\nworkflows: {}\n"); code != 400 || !strings.HasPrefix(body["faultstring"].(string), "Invalid DSL") {
		t.Fatalf("invalid definition: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows/validate", "text/plain", "version: '2.0'\nw:\n  tasks:\n    a: {action: std.nope}\n"); code != 200 || body["valid"] != false || body["error"] == "" {
		t.Fatalf("validate: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows/validate", "text/plain", twoWorkflows); code != 200 || body["valid"] != true {
		t.Fatalf("validate: %d %v", code, body)
	}
	code, body = ts.call(t, "p1", "GET", "/v2/workflows/nonexist_wf?namespace=nonexist_namespace", "", "")
	if code != 404 || body["faultstring"] != "Workflow not found [workflow_identifier=nonexist_wf, namespace=nonexist_namespace]" {
		t.Fatalf("unknown workflow: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows?namespace=ns1", "text/plain", twoWorkflows); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	if code, _ := ts.call(t, "p1", "GET", "/v2/workflows/greet", "", ""); code != 404 {
		t.Fatalf("greet outside its namespace: %d, want 404", code)
	}
	code, body = ts.call(t, "p1", "GET", "/v2/workflows/greet?namespace=ns1", "", "")
	if code != 200 || body["interface"] != `{"input":["who",{"greeting":"hello"}],"output":["said"]}` || body["updated_at"] != nil {
		t.Fatalf("workflow: %d %v", code, body)
	}
	if _, err := time.Parse(timeFormat, body["created_at"].(string)); err != nil {
		t.Fatalf("created_at %v: %v", body["created_at"], err)
	}
	// Execution: input as a JSON string (OSC, Heat, tempest), answered as strings.
	code, body = ts.call(t, "p1", "POST", "/v2/executions", "application/json",
		`{"workflow_name": "greet", "workflow_namespace": "ns1", "input": "{\"who\": \"osc\"}", "params": "{\"env\": {}}", "description": ""}`)
	if code != 201 || body["state"] != "RUNNING" || body["input"] != `{"greeting":"hello","who":"osc"}` || body["params"] != `{"env":{},"namespace":"ns1"}` || body["output"] != "{}" {
		t.Fatalf("create execution: %d %v", code, body)
	}
	id := body["id"].(string)
	if code, _ := ts.call(t, "p2", "GET", "/v2/executions/"+id, "", ""); code != 404 {
		t.Fatalf("another project's execution: %d, want 404", code)
	}
	if code, _ := ts.call(t, "p2", "PUT", "/v2/executions/"+id, "application/json", `{"description": "x"}`); code != 404 {
		t.Fatalf("PUT on another project's execution: %d, want 404", code)
	}
	if code, _ := ts.call(t, "p2:admin", "GET", "/v2/executions/"+id, "", ""); code != 200 {
		t.Fatalf("admin reads any execution: %d", code)
	}
	code, body = ts.call(t, "p1", "GET", "/v2/executions/1a2b3c", "", "")
	if code != 404 || body["faultstring"] != "WorkflowExecution not found [id=1a2b3c]" {
		t.Fatalf("unknown execution: %d %v", code, body)
	}
	code, body = ts.call(t, "p1", "PUT", "/v2/executions/"+id, "application/json", `{}`)
	if code != 400 || body["faultstring"] != "The property state, description, or env is not provided for update." {
		t.Fatalf("empty PUT: %d %v", code, body)
	}
	code, body = ts.call(t, "p1", "PUT", "/v2/executions/"+id, "application/json", `{"description": "new"}`)
	if code != 200 || body["description"] != "new" {
		t.Fatalf("PUT description: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "GET", "/v2/executions?fields=state,workflow_name&include_output=true", "", ""); code != 200 || len(body["executions"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, _ := ts.call(t, "p1", "GET", "/v2/executions?all_projects=true", "", ""); code != 403 {
		t.Fatalf("all_projects as a member: %d, want 403", code)
	}
	// Tasks.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body = ts.call(t, "p1", "GET", "/v2/executions/"+id, "", "")
		if body["state"] != "RUNNING" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if body["state"] != "SUCCESS" || body["output"] != `{"said":"hello osc"}` {
		t.Fatalf("execution ended %v", body)
	}
	code, body = ts.call(t, "p1", "GET", "/v2/executions/"+id+"/tasks", "", "")
	tasks, _ := body["tasks"].([]any)
	if code != 200 || len(tasks) != 1 {
		t.Fatalf("tasks: %d %v", code, body)
	}
	task := tasks[0].(map[string]any)
	if task["name"] != "say" || task["type"] != "ACTION" || task["workflow_execution_id"] != id || task["published"] != `{"said":"hello osc"}` || task["result"] != nil {
		t.Fatalf("task in a list %v", task)
	}
	code, body = ts.call(t, "p1", "GET", "/v2/tasks/"+task["id"].(string), "", "")
	if code != 200 || body["result"] != `"hello osc"` {
		t.Fatalf("task: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "GET", "/v2/tasks?workflow_execution_id="+id, "", ""); code != 200 || len(body["tasks"].([]any)) != 1 {
		t.Fatalf("tasks filter: %d %v", code, body)
	}
	if code, _ := ts.call(t, "p2", "GET", "/v2/tasks/"+task["id"].(string), "", ""); code != 404 {
		t.Fatalf("another project's task: %d, want 404", code)
	}
}

// TestCronTriggerContract checks the validation and uniqueness rules
// tempest's test_cron_triggers exercises.
func TestCronTriggerContract(t *testing.T) {
	ts := newTestServer(t, "")
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows?scope=public", "text/plain", twoWorkflows); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	post := func(token, body string) (int, map[string]any) {
		return ts.call(t, token, "POST", "/v2/cron_triggers", "application/json", body)
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"count q", `{"name": "t", "workflow_name": "noop_wf", "pattern": "* * * * *", "remaining_executions": "q"}`, 400},
		{"count -1", `{"name": "t", "workflow_name": "noop_wf", "pattern": "* * * * *", "remaining_executions": -1}`, 400},
		{"date q", `{"name": "t", "workflow_name": "noop_wf", "first_execution_time": "q"}`, 400},
		{"count only", `{"name": "t", "workflow_name": "noop_wf", "remaining_executions": 3}`, 400},
		{"pattern 5 *", `{"name": "t", "workflow_name": "noop_wf", "pattern": "5 *"}`, 400},
		{"pattern 88", `{"name": "t", "workflow_name": "noop_wf", "pattern": "88 * * * *"}`, 400},
		{"past", `{"name": "t", "workflow_name": "noop_wf", "first_execution_time": "2000-01-01 00:00"}`, 400},
		{"unknown workflow", `{"name": "t", "workflow_name": "nope", "pattern": "* * * * *"}`, 404},
		{"date and count without pattern", `{"name": "t", "workflow_name": "nonexist", "first_execution_time": "4242-12-25 13:37", "remaining_executions": "42"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := post("p1", tc.body); code != tc.status || body["faultstring"] == nil {
				t.Fatalf("%d %v, want %d", code, body, tc.status)
			}
		})
	}
	code, body := post("p1", `{"name": "once", "workflow_name": "noop_wf", "first_execution_time": "4242-12-25 13:37"}`)
	if code != 201 || body["next_execution_time"] != "4242-12-25 13:37:00" || body["pattern"] != nil {
		t.Fatalf("one-shot: %d %v", code, body)
	}
	in := `{"name": "t1", "workflow_name": "noop_wf", "pattern": "5 * * * *", "workflow_input": "{}", "remaining_executions": 2}`
	if code, body := post("p1", in); code != 201 || body["workflow_input"] != "{}" || body["remaining_executions"] != 2.0 {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, _ := post("p1", in); code != 409 {
		t.Fatalf("same name: %d, want 409", code)
	}
	if code, _ := post("p1", strings.Replace(in, `"t1"`, `"t2"`, 1)); code != 409 {
		t.Fatalf("identical trigger, another name: %d, want 409", code)
	}
	// tempest sends the count as a string ("42"), which wsme converts.
	if code, body := post("p1", strings.Replace(in, `"t1"`, `"t3"`, 1)[:len(in)-2]+`"2"}`); code != 409 {
		t.Fatalf("identical trigger, count as a string: %d %v, want 409", code, body)
	}
	if code, _ := post("p2", in); code != 201 {
		t.Fatalf("same name in another project (public workflow): %d, want 201", code)
	}
	// p2's trigger on p1's public workflow blocks p1's delete.
	if code, body := ts.call(t, "p1", "DELETE", "/v2/cron_triggers/t1", "", ""); code != 204 {
		t.Fatalf("delete: %d %v", code, body)
	}
	if code, _ := ts.call(t, "p1", "DELETE", "/v2/cron_triggers/once", "", ""); code != 204 {
		t.Fatalf("delete once: %d", code)
	}
	if code, body := ts.call(t, "p1", "DELETE", "/v2/workflows/noop_wf", "", ""); code != 400 || !strings.Contains(body["faultstring"].(string), "Can't delete workflow that has cron triggers associated") {
		t.Fatalf("delete of a workflow another project's trigger uses: %d %v", code, body)
	}
	if code, _ := ts.call(t, "p1", "GET", "/v2/cron_triggers/t1", "", ""); code != 404 {
		t.Fatalf("deleted trigger: %d, want 404", code)
	}
	if code, body := ts.call(t, "p2", "GET", "/v2/cron_triggers?fields=name,pattern", "", ""); code != 200 || names(body, "cron_triggers") != "t1" {
		t.Fatalf("p2's list: %d %v", code, body)
	}
}

// TestCronTriggerFires checks that a due trigger of the API starts an
// execution of its project, through FireTriggers.
func TestCronTriggerFires(t *testing.T) {
	ts := newTestServer(t, "")
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", twoWorkflows); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	first := time.Now().UTC().Add(2 * time.Second).Format(timeFormat)
	if code, body := ts.call(t, "p1", "POST", "/v2/cron_triggers", "application/json",
		`{"name": "soon", "workflow_name": "greet", "workflow_input": {"who": "cron"}, "first_execution_time": "`+first+`"}`); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.FireTriggers(ctx, nil, 50*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, body := ts.call(t, "p1", "GET", "/v2/executions?include_output=true", "", "")
		if list := body["executions"].([]any); len(list) == 1 {
			ex := list[0].(map[string]any)
			if ex["state"] == "SUCCESS" {
				if ex["output"] != `{"said":"hello cron"}` || !strings.Contains(ex["description"].(string), "cron trigger") {
					t.Fatalf("fired execution %v", ex)
				}
				if code, _ := ts.call(t, "p1", "GET", "/v2/cron_triggers/soon", "", ""); code != 404 {
					t.Fatalf("a used-up one-shot trigger: %d, want 404", code)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the trigger did not fire")
}

const sleepy = `version: '2.0'
sleepy:
  tasks:
    wait:
      action: std.sleep seconds=30
`

// TestStopAndRestart checks PUT state on a running execution, DELETE of a
// running one without force (Heat), and that a restart ends a running
// execution in ERROR with a reason.
func TestStopAndRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, dir)
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", sleepy); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	start := func() string {
		code, body := ts.call(t, "p1", "POST", "/v2/executions", "application/json", `{"workflow_name": "sleepy"}`)
		if code != 201 {
			t.Fatalf("%d %v", code, body)
		}
		return body["id"].(string)
	}
	id := start()
	code, body := ts.call(t, "p1", "PUT", "/v2/executions/"+id, "application/json", `{"state": "ERROR", "state_info": "Forced"}`)
	if code != 200 || body["state"] != "ERROR" || body["state_info"] != "Forced" {
		t.Fatalf("PUT ERROR: %d %v", code, body)
	}
	if code, body := ts.call(t, "p1", "PUT", "/v2/executions/"+id, "application/json", `{"state": "PAUSED"}`); code != 200 && code != 400 {
		t.Fatalf("PUT PAUSED on an ended execution: %d %v", code, body)
	}
	id2 := start()
	if code, _ := ts.call(t, "p1", "DELETE", "/v2/executions/"+id2, "", ""); code != 204 {
		t.Fatalf("DELETE of a running execution without force: %d", code)
	}
	if code, _ := ts.call(t, "p1", "GET", "/v2/executions/"+id2, "", ""); code != 404 {
		t.Fatalf("deleted execution: %d", code)
	}

	// A restart: a second server on the store finds a running execution
	// that it does not run (the first server stands for the dead process).
	id3 := start()
	if _, err := New(Options{Store: ts.st, Registry: workflow.StdRegistry(), Identify: tokenIdentify}); err != nil {
		t.Fatal(err)
	}
	got, err := ts.st.Get(id3)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != workflow.Failed || got.StateInfo != interruptedInfo {
		t.Fatalf("after a restart: %s %q, want ERROR with the reason", got.State, got.StateInfo)
	}
}
