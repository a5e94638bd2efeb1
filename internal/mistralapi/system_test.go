package mistralapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow/definitions"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// TestSystemWorkflows: fernetflow's own workflows (workflow/definitions,
// checked against the whole action catalog) are public system workflows:
// every project lists and reads them, none updates or deletes them, and
// their ids stay the same across a restart.
func TestSystemWorkflows(t *testing.T) {
	dir := t.TempDir()
	var system []string
	for _, name := range definitions.Names() {
		src, err := definitions.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		system = append(system, string(src))
	}
	start := func() *testServer {
		st, err := store.Open(filepath.Join(dir, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Options{Store: st, Registry: actions.All(), Identify: tokenIdentify, SystemDefinitions: system})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Close(ctx)
			_ = st.Close()
		})
		return &testServer{Server: srv, st: st, url: hs.URL}
	}
	ts := start()
	var ids []string
	for _, project := range []string{"p1:member", "p2:member"} {
		code, body := ts.call(t, project, "GET", "/v2/workflows?sort_keys=name", "", "")
		got := names(body, "workflows")
		if code != http.StatusOK || !strings.Contains(got, "rotate_fernet_keys") || !strings.Contains(got, "distribute_fernet_keys") {
			t.Fatalf("%s: workflows %d %q", project, code, got)
		}
		for _, w := range body["workflows"].([]any) {
			m := w.(map[string]any)
			if m["scope"] != "public" || m["project_id"] != SystemProject {
				t.Errorf("system workflow %v", m)
			}
			if project == "p1:member" {
				ids = append(ids, m["id"].(string))
			}
		}
	}
	if code, wf := ts.call(t, "p2:member", "GET", "/v2/workflows/rotate_fernet_keys", "", ""); code != 200 || !strings.Contains(wf["definition"].(string), "rotate_fernet_keys:") {
		t.Errorf("GET: %d %v", code, wf)
	}
	for _, tc := range []struct{ method, path, body, fault string }{
		{"DELETE", "/v2/workflows/rotate_fernet_keys", "", "Attempt to delete a system workflow: rotate_fernet_keys"},
		{"PUT", "/v2/workflows", "version: '2.0'\nrotate_fernet_keys:\n  tasks:\n    a: {action: std.noop}\n", "Attempt to modify a system workflow: rotate_fernet_keys"},
	} {
		if code, b := ts.call(t, "p1:admin", tc.method, tc.path, "text/plain", tc.body); code != 400 || b["faultstring"] != tc.fault {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, code, b)
		}
	}
	// A project may have its own workflow of a system workflow's name.
	if code, b := ts.call(t, "p1:member", "POST", "/v2/workflows", "text/plain", "version: '2.0'\nrotate_fernet_keys:\n  tasks:\n    a: {action: std.noop}\n"); code != 201 {
		t.Errorf("own workflow of a system name: %d %v", code, b)
	}
	if err := ts.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ts.st.Close()
	ts2 := start()
	_, body := ts2.call(t, "p2:member", "GET", "/v2/workflows?sort_keys=name", "", "")
	var again []string
	for _, w := range body["workflows"].([]any) {
		again = append(again, w.(map[string]any)["id"].(string))
	}
	if strings.Join(again, ",") != strings.Join(ids, ",") {
		t.Errorf("ids after restart %v, before %v", again, ids)
	}
}

// TestEventTriggerUpdate: PUT changes name, scope and input; exchange,
// topic and event do not change (400); a workflow_id that is no uuid is
// 400 at creation, as Mistral's types.uuid.
func TestEventTriggerUpdate(t *testing.T) {
	ts := newTestServer(t, "")
	tok := "p1:member"
	_, wfs := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", twoWorkflows)
	wfID := wfs["workflows"].([]any)[1].(map[string]any)["id"].(string)
	if code, b := ts.call(t, tok, "POST", "/v2/event_triggers", "application/json", `{"workflow_id": "nonexist", "exchange": "e", "topic": "t", "event": "v"}`); code != 400 ||
		b["faultstring"] != "Invalid input for field/attribute workflow_id. Value: 'nonexist'. Expected a uuid but received nonexist." {
		t.Errorf("non-uuid workflow_id: %d %v", code, b)
	}
	code, tr := ts.call(t, tok, "POST", "/v2/event_triggers", "application/json", `{"workflow_id": "`+wfID+`", "exchange": "e", "topic": "t", "event": "v", "name": "a"}`)
	if code != 201 {
		t.Fatalf("POST: %d %v", code, tr)
	}
	id := tr["id"].(string)
	for _, tc := range []struct {
		token, body string
		code        int
	}{
		{tok, `{"name": "b", "workflow_input": "{\"x\": 1}", "scope": "public"}`, 200},
		{tok, `{"topic": "other"}`, 400},
		{tok, `{"scope": "world"}`, 400},
		{"p2:member", `{"name": "c"}`, 404},
	} {
		if code, b := ts.call(t, tc.token, "PUT", "/v2/event_triggers/"+id, "application/json", tc.body); code != tc.code {
			t.Errorf("PUT %s: %d %v", tc.body, code, b)
		}
	}
	if _, got := ts.call(t, tok, "GET", "/v2/event_triggers/"+id, "", ""); got["name"] != "b" || got["workflow_input"] != `{"x":1}` || got["scope"] != "public" || got["updated_at"] == nil {
		t.Errorf("after PUT: %v", got)
	}
}
