package mistralapi

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestActions follows tempest's test_actions: system actions listed with
// is_system and their input, ad-hoc CRUD, filters, Mistral's 400s, and an
// ad-hoc action that a workflow and POST /v2/action_executions run.
func TestActions(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	def := readTestdata(t, "action_v2.yaml")
	code, body := ts.call(t, tok, "POST", "/v2/actions", "text/plain", def)
	if code != http.StatusCreated || names(body, "actions") != "greeting,farewell" {
		t.Fatalf("POST: %d %v", code, body)
	}
	first := body["actions"].([]any)[0].(map[string]any)
	if first["input"] != "name" || first["definition"] != def || first["is_system"] != false || first["scope"] != "private" {
		t.Errorf("created action: %v", first)
	}
	if code, body := ts.call(t, tok, "POST", "/v2/actions", "text/plain", def); code != http.StatusConflict {
		t.Errorf("second POST: %d %v", code, body)
	}

	for _, tc := range []struct {
		query string
		code  int
		want  string // names, "" to skip; or a faultstring fragment for 400s
	}{
		{"?name=greeting", 200, "greeting"},
		{"?name=in:greeting,std.echo", 200, "greeting,std.echo"},
		{"?name=in:greeting,farewell&name=greeting", 200, "greeting"},
		{"?name=std.echo&is_system=True", 200, "std.echo"},
		{"?name=greeting&is_system=True", 200, ""},
		{"?is_system<False", 400, `Unknown argument: "is_system<False"`},
		{"?is_system!=False", 400, `Unknown argument: "is_system!"`}, // the query is is_system!=False
		{"?created_at>2016-02-23%2008:51:26", 400, "Unknown argument"},
		{"?limit=1&sort_keys=id&sort_dirs=nonexist", 400, "Unknown sort direction"},
		{"?limit=-1", 400, "Limit must be positive"},
		{"?limit=1&sort_keys=id,id&sort_dirs=asc,asc", 400, "Length of sort_keys must be equal or greater than sort_dirs"},
	} {
		code, body := ts.call(t, tok, "GET", "/v2/actions"+tc.query, "", "")
		if code != tc.code {
			t.Errorf("GET %s: %d %v", tc.query, code, body)
			continue
		}
		if code == 400 {
			if fs, _ := body["faultstring"].(string); !strings.Contains(fs, tc.want) {
				t.Errorf("GET %s: faultstring %q, want %q", tc.query, fs, tc.want)
			}
			continue
		}
		if got := names(body, "actions"); got != tc.want {
			t.Errorf("GET %s: %q, want %q", tc.query, got, tc.want)
		}
	}
	if _, b := ts.call(t, tok, "GET", "/v2/actions?fields=input&name=std.echo", "", ""); len(b["actions"].([]any)) != 1 || len(b["actions"].([]any)[0].(map[string]any)) != 3 {
		t.Errorf("fields=input gives id, name and input: %v", b)
	}
	_, all := ts.call(t, tok, "GET", "/v2/actions?name=nin:greeting,farewell", "", "")
	for _, a := range all["actions"].([]any) {
		m := a.(map[string]any)
		if m["is_system"] != true {
			t.Errorf("not system: %v", m)
		}
		if m["name"] == "std.echo" && m["input"] != "output, delay=null" {
			t.Errorf("std.echo input %q", m["input"])
		}
	}
	if _, other := ts.call(t, "p2:member", "GET", "/v2/actions?name=greeting", "", ""); names(other, "actions") != "" {
		t.Errorf("another project sees %s", names(other, "actions"))
	}

	if code, got := ts.call(t, tok, "GET", "/v2/actions/greeting", "", ""); code != 200 || got["definition"] != def {
		t.Errorf("GET one: %d %v", code, got)
	}
	if code, got := ts.call(t, tok, "GET", "/v2/actions/std.echo", "", ""); code != 200 || got["is_system"] != true {
		t.Errorf("GET system: %d %v", code, got)
	}
	if code, got := ts.call(t, tok, "GET", "/v2/actions/nonexist", "", ""); code != 404 || got["faultstring"] != "Action not found [name=nonexist, namespace=]" {
		t.Errorf("GET unknown: %d %v", code, got)
	}

	// Run it directly, then from a workflow.
	code, run := ts.call(t, tok, "POST", "/v2/action_executions", "application/json", `{"name": "greeting", "input": "{\"name\": \"Ann\"}"}`)
	if code != http.StatusCreated || run["output"] != `{"result":{"string":"Hello,  Ann"}}` || run["state"] != "SUCCESS" {
		t.Errorf("run greeting: %d %v", code, run)
	}
	wf := "version: '2.0'\nuse_greeting:\n  tasks:\n    g:\n      action: greeting name=\"Bob\"\n      publish:\n        said: <% task().result.string %>\n  output:\n    said: <% $.said %>\n"
	if code, body := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", wf); code != http.StatusCreated {
		t.Fatalf("POST workflow using the action: %d %v", code, body)
	}
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "use_greeting"}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" || end["output"] != `{"said":"Hello,  Bob"}` {
		t.Errorf("execution: %v", end)
	}

	// PUT replaces, keeps created_at, sets updated_at.
	changed := strings.Replace(def, "Bye!", "Ciao!", 1)
	code, upd := ts.call(t, tok, "PUT", "/v2/actions", "text/plain", changed)
	if code != 200 || len(upd["actions"].([]any)) != 2 {
		t.Fatalf("PUT: %d %v", code, upd)
	}
	if u := upd["actions"].([]any)[0].(map[string]any); u["created_at"] != first["created_at"] || u["updated_at"] == nil {
		t.Errorf("PUT times: %v (created %v)", u, first["created_at"])
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/v2/actions", readTestdata(t, "wb_actions.yaml"), 400},
		{"PUT", "/v2/actions", readTestdata(t, "wb_actions.yaml"), 400},
		{"POST", "/v2/actions", "version: '2.0'\nx:\n  base: std.nope\n", 400},
		{"POST", "/v2/actions", "version: '2.0'\nx:\n  base: std.echo\n  colour: red\n", 400},
		{"POST", "/v2/actions", "version: '2.0'\nstd.echo:\n  base: std.noop\n", 400},
		{"PUT", "/v2/actions", "version: '2.0'\nnew_one:\n  base: std.noop\n", 404},
		{"DELETE", "/v2/actions/nonexist", "", 404},
		{"DELETE", "/v2/actions/std.echo", "", 400},
	} {
		if code, body := ts.call(t, tok, tc.method, tc.path, "text/plain", tc.body); code != tc.code {
			t.Errorf("%s %s %.30q: %d %v, want %d", tc.method, tc.path, tc.body, code, body, tc.code)
		}
	}
	if code, _ := ts.call(t, "p2:member", "DELETE", "/v2/actions/greeting", "", ""); code != 404 {
		t.Errorf("DELETE by another project: %d", code)
	}
	for _, n := range []string{"greeting", "farewell"} {
		if code, _ := ts.call(t, tok, "DELETE", "/v2/actions/"+n, "", ""); code != 204 {
			t.Errorf("DELETE %s: %d", n, code)
		}
	}
	if _, body := ts.call(t, tok, "GET", "/v2/actions?name=in:greeting,farewell", "", ""); names(body, "actions") != "" {
		t.Errorf("after DELETE: %s", names(body, "actions"))
	}
}

// TestWorkbookActionsAndDefinitions: a workbook's actions become
// WB.ACTION, its workflows show their own text, and its workflow runs the
// workbook's action.
func TestWorkbookActionsAndDefinitions(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	src := readTestdata(t, "wb_actions.yaml")
	for _, tc := range []struct {
		def   string
		valid bool
	}{
		{src, true},
		{strings.Replace(src, "base: std.echo", "base: std.nope", 1), false},
		{readTestdata(t, "action_v2.yaml"), false},
	} {
		if code, b := ts.call(t, tok, "POST", "/v2/workbooks/validate", "text/plain", tc.def); code != 200 || b["valid"] != tc.valid {
			t.Errorf("validate: %d %v, want valid=%v", code, b, tc.valid)
		}
	}
	if code, body := ts.call(t, tok, "POST", "/v2/workbooks", "text/plain", src); code != http.StatusCreated || body["definition"] != src {
		t.Fatalf("POST workbook: %d %v", code, body)
	}
	code, a := ts.call(t, tok, "GET", "/v2/actions/wb.hello", "", "")
	wantAction := "hello:\n  base: std.echo\n  base-input:\n    output: \"Hello, <% $.name %>\"\n  input:\n    - name\n  output:\n    said: <% $ %>\n"
	if code != 200 || a["definition"] != wantAction || a["input"] != "name" {
		t.Errorf("workbook action: %d %q", code, a["definition"])
	}
	_, wf := ts.call(t, tok, "GET", "/v2/workflows/wb.say", "", "")
	wantWF := "say:\n  # greets\n  input:\n    - who\n  tasks:\n    greet:\n      action: hello name=<% $.who %>\n      publish:\n        said: <% task().result.said %>\n  output:\n    said: <% $.said %>\n"
	if wf["definition"] != wantWF {
		t.Errorf("workflow definition:\n%s\nwant:\n%s", wf["definition"], wantWF)
	}
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "wb.say", "input": {"who": "Cy"}}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" || end["output"] != `{"said":"Hello, Cy"}` {
		t.Errorf("execution: %v", end)
	}
	// PUT with the action dropped removes it.
	noActions := src[:strings.Index(src, "actions:")] + src[strings.Index(src, "workflows:"):]
	noActions = strings.Replace(noActions, "action: hello name=<% $.who %>", "action: std.echo output=<% $.who %>", 1)
	noActions = strings.Replace(noActions, "task().result.said", "task().result", 1)
	if code, body := ts.call(t, tok, "PUT", "/v2/workbooks", "text/plain", noActions); code != 200 {
		t.Fatalf("PUT: %d %v", code, body)
	}
	if code, _ := ts.call(t, tok, "GET", "/v2/actions/wb.hello", "", ""); code != 404 {
		t.Errorf("dropped action: %d", code)
	}
}

func TestCutWorkbookItem(t *testing.T) {
	wb := "version: '2.0'\nname: b\nworkflows:\n  a:\n    tasks:\n\n      t: {action: std.noop}\n  # a comment\n  b:\n    tasks: {}\n"
	for _, tc := range []struct{ section, item, want string }{
		// A comment at the item's indentation stays (Mistral's cut keeps it).
		{"workflows:", "a", "a:\n  tasks:\n\n    t: {action: std.noop}\n# a comment\n"},
		{"workflows:", "b", "b:\n  tasks: {}\n"},
		{"workflows:", "zz", wb},
		{"actions:", "a", wb},
	} {
		if got := cutWorkbookItem(wb, tc.section, tc.item); got != tc.want {
			t.Errorf("cut %s %s: %q, want %q", tc.section, tc.item, got, tc.want)
		}
	}
}

// TestActionRuns follows tempest's test_action_executions: a synchronous
// run answers its output and is not recorded; save_result runs in the
// background (RUNNING, then SUCCESS); async actions wait for PUT;
// DELETE, and the errors.
func TestActionRuns(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	code, run := ts.call(t, tok, "POST", "/v2/action_executions", "application/json", `{"name": "std.echo", "input": "{\"output\": \"Hello, Mistral!\"}"}`)
	if code != 201 || run["output"] != `{"result":"Hello, Mistral!"}` {
		t.Fatalf("sync run: %d %v", code, run)
	}
	if _, list := ts.call(t, tok, "GET", "/v2/action_executions", "", ""); len(list["action_executions"].([]any)) != 0 {
		t.Errorf("a sync run is recorded: %v", list)
	}
	code, run = ts.call(t, tok, "POST", "/v2/action_executions", "application/json",
		`{"name": "std.echo", "input": "{\"output\": \"saved\"}", "params": "{\"save_result\": true}"}`)
	if code != 201 || run["state"] != "RUNNING" {
		t.Fatalf("saved run: %d %v", code, run)
	}
	id := run["id"].(string)
	var got map[string]any
	for range 200 {
		_, got = ts.call(t, tok, "GET", "/v2/action_executions/"+id, "", "")
		if got["state"] != "RUNNING" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got["state"] != "SUCCESS" || got["output"] != `{"result":"saved"}` {
		t.Errorf("saved run after: %v", got)
	}
	_, list := ts.call(t, tok, "GET", "/v2/action_executions", "", "")
	if l := list["action_executions"].([]any); len(l) != 1 || l[0].(map[string]any)["output"] != nil {
		t.Errorf("list: %v", list)
	}
	_, list = ts.call(t, tok, "GET", "/v2/action_executions?include_output=True", "", "")
	if l := list["action_executions"].([]any); len(l) != 1 || l[0].(map[string]any)["output"] == nil {
		t.Errorf("list with output: %v", list)
	}
	if _, list := ts.call(t, "p2:member", "GET", "/v2/action_executions", "", ""); len(list["action_executions"].([]any)) != 0 {
		t.Errorf("another project sees %v", list)
	}

	// An asynchronous action waits for PUT.
	_, async := ts.call(t, tok, "POST", "/v2/action_executions", "application/json", `{"name": "std.async_noop", "params": {"save_result": true}}`)
	aid := async["id"].(string)
	if code, b := ts.call(t, tok, "DELETE", "/v2/action_executions/"+aid, "", ""); code != 400 {
		t.Errorf("DELETE running: %d %v", code, b)
	}
	code, put := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "SUCCESS", "output": "{\"x\": 1}"}`)
	if code != 200 || put["state"] != "SUCCESS" || put["output"] != `{"result":{"x":1}}` {
		t.Errorf("PUT: %d %v", code, put)
	}
	if code, _ := ts.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "ERROR"}`); code != 400 {
		t.Errorf("PUT again: %d", code)
	}

	for _, tc := range []struct {
		method, path, body string
		code               int
		fault              string
	}{
		{"POST", "/v2/action_executions", `{"input": "{}"}`, 400, "Please provide at least action name to run action."},
		{"POST", "/v2/action_executions", `{"name": "nope"}`, 404, "Action not found [name=nope, namespace=]"},
		{"POST", "/v2/action_executions", `{"name": "std.echo", "input": "{}"}`, 400, "Invalid input"},
		{"POST", "/v2/action_executions", `{"name": "std.async_noop"}`, 400, "save_result"},
		{"POST", "/v2/action_executions", `{"name": "std.fail"}`, 201, ""},
		{"DELETE", "/v2/action_executions/nonexist", "", 404, "ActionExecution not found [id=nonexist]"},
		{"DELETE", "/v2/action_executions/" + id, "", 204, ""},
		{"GET", "/v2/action_executions/" + id, "", 404, ""},
	} {
		code, b := ts.call(t, tok, tc.method, tc.path, "application/json", tc.body)
		if code != tc.code || (tc.fault != "" && !strings.Contains(b["faultstring"].(string), tc.fault)) {
			t.Errorf("%s %s %s: %d %v, want %d %q", tc.method, tc.path, tc.body, code, b, tc.code, tc.fault)
		}
		if tc.path == "/v2/action_executions" && code == 201 && b["state"] != "ERROR" {
			t.Errorf("std.fail: %v", b)
		}
	}
}

// TestEnvironmentsAndServices: CRUD of /v2/environments, params.env by
// name, and /v2/services.
func TestEnvironmentsAndServices(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	code, env := ts.call(t, tok, "POST", "/v2/environments", "application/json", `{"name": "prod", "variables": "{\"who\": \"ops\"}", "description": "d"}`)
	if code != 201 || env["variables"] != `{"who":"ops"}` || env["scope"] != "private" {
		t.Fatalf("POST: %d %v", code, env)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/v2/environments", `{"name": "prod"}`, 409},
		{"POST", "/v2/environments", `{"variables": {}}`, 400},
		{"POST", "/v2/environments", `{"name": "x", "variables": "[1]"}`, 400},
		{"GET", "/v2/environments/nope", "", 404},
		{"PUT", "/v2/environments", `{"name": "nope"}`, 404},
		{"DELETE", "/v2/environments/nope", "", 404},
	} {
		if code, b := ts.call(t, tok, tc.method, tc.path, "application/json", tc.body); code != tc.code {
			t.Errorf("%s %s %s: %d %v", tc.method, tc.path, tc.body, code, b)
		}
	}
	if code, b := ts.call(t, "p2:member", "GET", "/v2/environments/prod", "", ""); code != 404 {
		t.Errorf("another project's GET: %d %v", code, b)
	}
	if code, b := ts.call(t, tok, "PUT", "/v2/environments", "application/json", `{"name": "prod", "variables": {"who": "sre"}}`); code != 200 || b["variables"] != `{"who":"sre"}` || b["description"] != "d" {
		t.Errorf("PUT: %d %v", code, b)
	}
	wf := "version: '2.0'\nwho_env:\n  tasks:\n    t:\n      action: std.echo output=<% env().who %>\n      publish:\n        w: <% task().result %>\n  output:\n    w: <% $.w %>\n"
	ts.call(t, tok, "POST", "/v2/workflows", "text/plain", wf)
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "who_env", "params": "{\"env\": \"prod\"}"}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["output"] != `{"w":"sre"}` {
		t.Errorf("execution with env by name: %v", end)
	}
	if code, b := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "who_env", "params": {"env": "nope"}}`); code != 400 || b["faultstring"] != "Environment is not found: nope" {
		t.Errorf("unknown env: %d %v", code, b)
	}
	if _, list := ts.call(t, tok, "GET", "/v2/environments", "", ""); names(list, "environments") != "prod" {
		t.Errorf("list: %v", list)
	}
	if code, _ := ts.call(t, tok, "DELETE", "/v2/environments/prod", "", ""); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
	code, svc := ts.call(t, tok, "GET", "/v2/services", "", "")
	b, _ := json.Marshal(svc)
	if code != 200 || !strings.Contains(string(b), `"name":"fernetflow@`) || !strings.Contains(string(b), `"type":"engine_group"`) {
		t.Errorf("services: %d %s", code, b)
	}
}

// TestTrailingSlash: python-mistralclient asks for /v2/actions/NAME/.
func TestTrailingSlash(t *testing.T) {
	ts := newTestServer(t, "")
	for _, path := range []string{"/v2/actions/std.echo/", "/v2/actions/std.echo", "/v2/workflows/"} {
		if code, body := ts.call(t, "p1:member", "GET", path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s: %d %v", path, code, body)
		}
	}
}

// TestActionRunsAcrossRestart: a recorded run that was running when the
// server stopped ends in ERROR at the next start; one waiting for PUT
// (std.async_noop) still waits, and PUT completes it.
func TestActionRunsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, dir)
	tok := "p1:member"
	_, async := ts.call(t, tok, "POST", "/v2/action_executions", "application/json", `{"name": "std.async_noop", "params": {"save_result": true}}`)
	aid := async["id"].(string)
	for range 200 { // the run's goroutine records that it waits
		if rec, _ := ts.findActionRun(&caller{admin: true}, aid); rec != nil && rec.Pending {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A run the stop interrupted, as the store keeps it.
	cut := &actionRunRecord{ID: "cut-run", Name: "std.sleep", ProjectID: "p1", State: "RUNNING", CreatedAt: time.Now()}
	if err := ts.putActionRun(cut); err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts2 := newTestServer(t, dir)
	if _, got := ts2.call(t, tok, "GET", "/v2/action_executions/cut-run", "", ""); got["state"] != "ERROR" || !strings.Contains(got["state_info"].(string), "did not finish") {
		t.Errorf("interrupted run: %v", got)
	}
	if _, got := ts2.call(t, tok, "GET", "/v2/action_executions/"+aid, "", ""); got["state"] != "RUNNING" {
		t.Errorf("waiting run: %v", got)
	}
	if code, got := ts2.call(t, tok, "PUT", "/v2/action_executions/"+aid, "application/json", `{"state": "SUCCESS", "output": {"done": true}}`); code != 200 || got["state"] != "SUCCESS" {
		t.Errorf("PUT after restart: %d %v", code, got)
	}
}

// TestOwnDefinition: a file of several workflows gives each its own text
// (version and that workflow), as Mistral; a file of one keeps its text.
func TestOwnDefinition(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	ts.call(t, tok, "POST", "/v2/workflows", "text/plain", twoWorkflows)
	one := "version: '2.0'\nsolo:\n  tasks:\n    a: {action: std.noop}\n"
	ts.call(t, tok, "POST", "/v2/workflows", "text/plain", one)
	for _, tc := range []struct{ name, want string }{
		{"noop_wf", "version: '2.0'\nnoop_wf:\n  tasks:\n    nothing:\n      action: std.noop\n"},
		{"solo", one},
	} {
		if _, wf := ts.call(t, tok, "GET", "/v2/workflows/"+tc.name, "", ""); wf["definition"] != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, wf["definition"], tc.want)
		}
	}
	_, greet := ts.call(t, tok, "GET", "/v2/workflows/greet", "", "")
	if d := greet["definition"].(string); !strings.HasPrefix(d, "version: '2.0'\ngreet:\n") || strings.Contains(d, "noop_wf") {
		t.Errorf("greet: %q", d)
	}
	// Still runs from the whole file.
	_, ex := ts.call(t, tok, "POST", "/v2/executions", "application/json", `{"workflow_name": "greet", "input": {"who": "x"}}`)
	if end := ts.waitDone(t, tok, ex["id"].(string)); end["state"] != "SUCCESS" {
		t.Errorf("greet: %v", end)
	}
}

// TestOwnDefinitionLastKeyWins: a key given twice anywhere in a workflow
// counts once, with its last value, in the definition served, as PyYAML
// reads the source (FuzzCutWorkbookItem found nested duplicates kept).
func TestOwnDefinitionLastKeyWins(t *testing.T) {
	src := "version: '2.0'\na:\n  tasks:\n    t:\n      action: std.noop\n      action: std.echo output=1\nb:\n  tasks:\n    u: {action: std.noop}\n"
	two := &workflow.File{Workflows: []*workflow.Workflow{{Name: "a"}, {Name: "b"}}}
	want := "version: '2.0'\na:\n  tasks:\n    t:\n      action: std.echo output=1\n"
	if got := ownDefinition(two, src, "a"); got != want {
		t.Errorf("ownDefinition:\n%s\nwant\n%s", got, want)
	}
}
