package mistralapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// TestOwnActionsOnlyForAllowedCallers: with --auth keystone, any project's
// user may use the API, but the server's own actions (fernetflow's, acting
// with the server's credentials) run only for the action server's callers
// (an --allowed-project with an --allowed-role), in workflows, through
// ad-hoc actions and in direct action runs; std.* runs for everyone.
func TestOwnActionsOnlyForAllowedCallers(t *testing.T) {
	var ran atomic.Int32
	reg := workflow.StdRegistry()
	reg.Add(workflow.FuncAction{ActionName: "ff.touch", Desc: "a served action (test)", In: `{"type":"object"}`,
		Fn: func(context.Context, map[string]any) (any, error) { ran.Add(1); return "touched", nil }})
	st, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Registry: reg, Identify: tokenIdentify,
		AuthorizeActions: AuthorizeKeystone([]string{"ops"}, []string{"admin"})})
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
	ts := &testServer{Server: srv, st: st, url: hs.URL}

	const defs = `version: '2.0'
own:
  tasks:
    t:
      action: ff.touch
via_adhoc:
  tasks:
    t:
      action: my_touch
std_only:
  tasks:
    t:
      action: std.echo output="fine"
`
	const adhoc = `version: '2.0'
my_touch:
  base: ff.touch
`
	// Each project defines its own (private) workflows and action.
	for _, tok := range []string{"ops:admin", "other:admin"} {
		if code, body := ts.call(t, tok, "POST", "/v2/actions", "text/plain", adhoc); code != http.StatusCreated {
			t.Fatalf("%s: POST action: %d %v", tok, code, body)
		}
		if code, body := ts.call(t, tok, "POST", "/v2/workflows", "text/plain", defs); code != http.StatusCreated {
			t.Fatalf("%s: POST workflows: %d %v", tok, code, body)
		}
	}
	for _, tc := range []struct {
		token, workflow string
		want            string // execution state
		refusal         string // in state_info when ERROR
	}{
		{"ops:admin", "own", "SUCCESS", ""},
		{"ops:admin", "via_adhoc", "SUCCESS", ""},
		{"ops:member", "own", "ERROR", "none of the roles admin"},
		{"other:admin", "own", "ERROR", "project other"},
		{"other:admin", "via_adhoc", "ERROR", "project other"},
		{"other:member", "std_only", "SUCCESS", ""},
	} {
		t.Run(tc.token+"/"+tc.workflow, func(t *testing.T) {
			before := ran.Load()
			code, ex := ts.call(t, tc.token, "POST", "/v2/executions", "application/json", `{"workflow_name": "`+tc.workflow+`"}`)
			if code != http.StatusCreated {
				t.Fatalf("POST execution: %d %v", code, ex)
			}
			done := ts.waitDone(t, tc.token, ex["id"].(string))
			info, _ := done["state_info"].(string)
			if done["state"] != tc.want || !strings.Contains(info, tc.refusal) {
				t.Fatalf("state %v (%q), want %s with %q", done["state"], info, tc.want, tc.refusal)
			}
			touched := ran.Load() > before
			if wantTouch := tc.want == "SUCCESS" && tc.workflow != "std_only"; touched != wantTouch {
				t.Errorf("ff.touch ran: %v, want %v", touched, wantTouch)
			}
		})
	}

	// A direct run: refused for another project, run for ops.
	before := ran.Load()
	code, run := ts.call(t, "other:admin", "POST", "/v2/action_executions", "application/json", `{"name": "ff.touch"}`)
	if code != http.StatusCreated || run["state"] != "ERROR" || !strings.Contains(run["output"].(string), "--allowed-project") || ran.Load() != before {
		t.Errorf("direct run by another project: %d %v (ran %d times)", code, run, ran.Load()-before)
	}
	code, run = ts.call(t, "ops:admin", "POST", "/v2/action_executions", "application/json", `{"name": "ff.touch"}`)
	if code != http.StatusCreated || run["state"] != "SUCCESS" || ran.Load() != before+1 {
		t.Errorf("direct run by ops: %d %v", code, run)
	}
}
