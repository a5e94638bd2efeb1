//go:build integration

package integration

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/heat"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/mistralapi"
	"github.com/fernetflow/fernetflow/internal/node"
)

// fernetflowServicePassword is the password of the Keystone user
// fernetflow serve runs as (the service user, as Mistral's "mistral").
const fernetflowServicePassword = "fernetflow-it-pw"

// ffAPI is fernetflow serve's Mistral v2 API, called with one token.
type ffAPI struct {
	base  string // http://127.0.0.1:PORT/v2
	token string
}

func (a *ffAPI) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return tokenJSON(t, "fernetflow", a.base, a.token, method, path, body)
}

// list is GET path's items under key (a 200 is required).
func (a *ffAPI) list(t *testing.T, path, key string) []map[string]any {
	t.Helper()
	code, m := a.do(t, "GET", path, nil)
	if code != 200 {
		t.Fatalf("GET %s: HTTP %d %v", path, code, m)
	}
	var out []map[string]any
	items, _ := m[key].([]any)
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

// startFernetflowWorkflowService runs fernetflow serve --listen as the
// Keystone user fernetflow (admin of project service) over a local fleet of
// three nodes under root, and registers it in the catalog as Mistral is
// registered: service type workflowv2, endpoint .../v2. No Mistral runs.
func startFernetflowWorkflowService(t *testing.T, e *heatEnv, root string) (srv *actionServer, svc, user string) {
	t.Helper()
	m, _ := e.ks(t, "GET", "/projects?name=service", nil, 200)
	service := m["projects"].([]any)[0].(map[string]any)["id"].(string)
	user = e.create(t, "user", map[string]any{"name": "fernetflow", "password": fernetflowServicePassword, "domain_id": "default"})
	e.ks(t, "PUT", "/projects/"+service+"/users/"+user+"/roles/"+e.roleID(t, "admin"), nil, 204)

	nodes := fleetDirs(filepath.Join(root, "fleet"), 3)
	env := []string{"OS_AUTH_URL=" + e.ksURL, "OS_USERNAME=fernetflow", "OS_PASSWORD=" + fernetflowServicePassword,
		"OS_PROJECT_NAME=service", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_CLOUD=", "OS_CLIENT_CONFIG_FILE="}
	srv = startActionServerOn(t, filepath.Join(root, "undercloud"), env,
		[]string{"--target", "local", "--nodes", strings.Join(nodes, ",")}, nodes,
		"--auth", "keystone", "--keystone-url", e.ksURL, "--allowed-project", "service",
		// The stack's owner (demo, with member) runs the rotation: fernetflow's
		// own actions run only for these projects and roles.
		"--allowed-project", "demo", "--allowed-role", "admin", "--allowed-role", "member")

	// The operator's registration (README, "fernetflow as the workflow
	// service"): openstack service create --name fernetflow workflowv2,
	// then one endpoint per interface.
	svc = e.create(t, "service", map[string]any{"name": "fernetflow", "type": "workflowv2"})
	for _, iface := range []string{"public", "internal", "admin"} {
		e.create(t, "endpoint", map[string]any{"service_id": svc, "interface": iface, "region_id": "RegionOne", "url": srv.URL + "/v2"})
	}
	return srv, svc, user
}

// trustsTo are the ids of Keystone's trusts whose trustee is user, after
// checking that each is from trustor.
func trustsTo(t *testing.T, e *heatEnv, user, trustor string) []string {
	t.Helper()
	m, _ := e.ks(t, "GET", "/OS-TRUST/trusts?trustee_user_id="+user, nil, 200)
	var ids []string
	for _, tr := range m["trusts"].([]any) {
		tm := tr.(map[string]any)
		if tm["trustor_user_id"] != trustor || tm["impersonation"] != true {
			t.Errorf("trust %v: want one from %s, impersonating", tm, trustor)
		}
		ids = append(ids, tm["id"].(string))
	}
	return ids
}

// testHeatOnFernetflow runs the rotation template's stack on a real Heat
// against fernetflow serve registered as workflowv2 (no Mistral anywhere):
// CREATE (the workflow and the cron trigger in fernetflow); the trigger,
// every minute, fires and rotates the local fleet; a schedule UPDATE
// replaces the trigger while one of its executions runs, which goes on
// and succeeds; Heat's signal starts an execution under its trust (a
// trust-scoped token); DELETE, with that execution still running, deletes
// it without force and completes.
func testHeatOnFernetflow(t *testing.T, e *heatEnv, h *heatAPI) {
	root := t.TempDir()
	srv, svc, ffUser := startFernetflowWorkflowService(t, e, root)
	t.Cleanup(func() { // leave the catalog as it was for the other subtests
		e.ks(t, "DELETE", "/services/"+svc, nil, 204)
	})
	ff := &ffAPI{base: srv.URL + "/v2", token: h.token}
	t.Logf("fernetflow serve at %s registered as workflowv2", srv.URL)
	if !t.Run("validate", func(t *testing.T) { validateTemplates(t, h) }) {
		return
	}

	params := map[string]any{"schedule": "* * * * *", "max_active_keys": 5, "token_expiration": 1, "allow_expired_window": 0}
	t0 := time.Now()
	code, res := h.do(t, "POST", "/stacks", map[string]any{"stack_name": "fernet-rotation-ff",
		"template": readTemplate(t, heat.RotationTemplate), "parameters": params, "timeout_mins": 5})
	if code != 201 {
		t.Fatalf("stack create: HTTP %d %v", code, res)
	}
	path := "/stacks/fernet-rotation-ff/" + res["stack"].(map[string]any)["id"].(string)
	st := h.waitStack(t, e, path, "CREATE_COMPLETE")
	outs := stackOutputs(st)
	if outs["workflow_name"] != heat.RotationWorkflow || outs["next_rotation"] == nil || outs["next_rotation"] == "" {
		t.Errorf("outputs %v", outs)
	}
	t.Logf("CREATE_COMPLETE in %s, outputs %v", time.Since(t0).Round(100*time.Millisecond), outs)
	if code, wf := ff.do(t, "GET", "/workflows/"+heat.RotationWorkflow, nil); code != 200 || wf["project_id"] != e.demoProj {
		t.Fatalf("fernetflow's workflow %s: HTTP %d %v, want the demo project's", heat.RotationWorkflow, code, wf)
	}
	triggers := ff.list(t, "/cron_triggers", "cron_triggers")
	if len(triggers) != 1 || triggers[0]["pattern"] != "* * * * *" || triggers[0]["workflow_name"] != heat.RotationWorkflow {
		t.Fatalf("cron triggers %v, want one of %s every minute", triggers, heat.RotationWorkflow)
	}
	first := triggers[0]["name"].(string)
	// The trigger fires as the stack's owner: a trust from demo to
	// fernetflow's user (cron triggers fire as their creator).
	firstTrusts := trustsTo(t, e, ffUser, e.demoUser)
	if len(firstTrusts) != 1 {
		t.Fatalf("trusts to fernetflow after CREATE: %v, want one from demo", firstTrusts)
	}

	// The trigger fires within a minute and rotates the fleet.
	ex := waitFFExecution(t, ff, srv, 0, "SUCCESS", 3*time.Minute)
	if !strings.Contains(fmt.Sprint(ex["description"]), "cron trigger") {
		t.Errorf("the first execution %v was not started by the cron trigger", ex)
	}
	checkFleetRotated(t, srv)

	// An execution of the trigger runs (held by node 0's lock) when a
	// stack update replaces the trigger: it is not killed.
	unlock := holdNodeLock(t, srv.nodes[0])
	running := waitFFExecution(t, ff, srv, 1, "RUNNING", 3*time.Minute)
	code, res = h.do(t, "PATCH", path, map[string]any{"parameters": map[string]any{"schedule": "0 3 * * 0"}})
	if code != 202 {
		t.Fatalf("stack update: HTTP %d %v", code, res)
	}
	h.waitStack(t, e, path, "UPDATE_COMPLETE")
	triggers = ff.list(t, "/cron_triggers", "cron_triggers")
	if len(triggers) != 1 || triggers[0]["pattern"] != "0 3 * * 0" || triggers[0]["name"] == first {
		t.Fatalf("after the schedule update, cron triggers %v: want one new trigger, 0 3 * * 0", triggers)
	}
	if tr := trustsTo(t, e, ffUser, e.demoUser); len(tr) != 1 || tr[0] == firstTrusts[0] {
		t.Errorf("trusts to fernetflow after the trigger was replaced: %v, want one, not the first trigger's %s", tr, firstTrusts[0])
	}
	if code, got := ff.do(t, "GET", "/executions/"+running["id"].(string), nil); code != 200 || got["state"] != "RUNNING" {
		t.Fatalf("the trigger's running execution after the trigger was replaced: HTTP %d %v, want RUNNING", code, got)
	}
	unlock()
	waitFFExecution(t, ff, srv, 1, "SUCCESS", 2*time.Minute)
	checkFleetRotated(t, srv)

	// Heat's signal starts an execution with a trust-scoped token of
	// Heat's trustee; it is still running (node 0's lock again) when the
	// stack is deleted: Heat deletes it without force, and the stack
	// delete completes.
	unlock = holdNodeLock(t, srv.nodes[0])
	defer unlock()
	code, res = h.do(t, "POST", path+"/resources/rotate_fernet_keys/signal", map[string]any{"input": map[string]any{"dry_run": false}})
	if code != 200 {
		t.Fatalf("signal the workflow: HTTP %d %v\n%s", code, res, e.tail())
	}
	signalled := waitFFExecution(t, ff, srv, 2, "RUNNING", time.Minute)
	if signalled["description"] != "" {
		t.Logf("the signal's execution: %v", signalled["description"])
	}
	code, res = h.do(t, "DELETE", path, nil)
	if code != 204 {
		t.Fatalf("stack delete: HTTP %d %v", code, res)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		code, res = h.do(t, "GET", path, nil)
		if code == 404 {
			break
		}
		status := ""
		if code == 200 {
			status, _ = res["stack"].(map[string]any)["stack_status"].(string)
		}
		if status == "DELETE_COMPLETE" {
			break
		}
		if status == "DELETE_FAILED" || time.Now().After(deadline) {
			t.Fatalf("stack delete: HTTP %d %v\n%s\nserve:\n%s", code, res, e.tail(), srv.out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code, got := ff.do(t, "GET", "/executions/"+signalled["id"].(string), nil); code != 404 {
		t.Errorf("the signal's execution after the stack delete: HTTP %d %v, want 404 (Heat deletes it)", code, got)
	}
	// What is left of the name is fernetflow's public system workflow,
	// not the stack's.
	if code, got := ff.do(t, "GET", "/workflows/"+heat.RotationWorkflow, nil); code != 200 || got["project_id"] != mistralapi.SystemProject {
		t.Errorf("after the stack delete, fernetflow still has the stack's workflow (or lost its system one): HTTP %d %v", code, got)
	}
	if l := ff.list(t, "/cron_triggers", "cron_triggers"); len(l) != 0 {
		t.Errorf("after the stack delete, fernetflow still has cron triggers %v", l)
	}
	if tr := trustsTo(t, e, ffUser, e.demoUser); len(tr) != 0 {
		t.Errorf("after the stack delete, Keystone still has trusts to fernetflow: %v", tr)
	}
}

// waitFFExecution waits until the rotation's executions, oldest first,
// number more than i and the i-th is in state want; it fails on another
// final state.
func waitFFExecution(t *testing.T, ff *ffAPI, srv *actionServer, i int, want string, timeout time.Duration) map[string]any {
	t.Helper()
	q := url.Values{"workflow_name": {heat.RotationWorkflow}, "sort_keys": {"created_at,id"}, "sort_dirs": {"asc,asc"}}
	var last map[string]any
	for deadline := time.Now().Add(timeout); ; {
		l := ff.list(t, "/executions?"+q.Encode(), "executions")
		if len(l) > i {
			last = l[i]
			st := last["state"]
			if st == want {
				if want == "RUNNING" {
					time.Sleep(2 * time.Second) // held, not merely starting
					_, again := ff.do(t, "GET", "/executions/"+last["id"].(string), nil)
					if again["state"] != "RUNNING" {
						t.Fatalf("execution %d left RUNNING: %v\nserve:\n%s", i, again, srv.out)
					}
				}
				return last
			}
			if st == "SUCCESS" || st == "ERROR" || st == "CANCELLED" {
				t.Fatalf("execution %d is %v (%v), want %s\nserve:\n%s", i, st, last["state_info"], want, srv.out)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no execution %d of %s in state %s within %s (last %v)\nserve:\n%s", i, heat.RotationWorkflow, want, timeout, last, srv.out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// holdNodeLock takes a local node's state lock, as a node install in
// progress would: the workflow's install on that node waits for it.
func holdNodeLock(t *testing.T, nodeDir string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(local.StateDir(nodeDir), node.LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := false
	return func() {
		if !done {
			done = true
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		}
	}
}

// checkFleetRotated checks that every node holds the master's keys at the
// master's generation.
func checkFleetRotated(t *testing.T, srv *actionServer) {
	t.Helper()
	master := filepath.Join(srv.state, "master", "fernet-keys")
	mr, err := keys.Open(master)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := keys.ReadMetadata(master)
	if err != nil || meta.Generation == 0 {
		t.Fatalf("the master's metadata %+v: %v", meta, err)
	}
	for _, n := range srv.nodes {
		r, err := keys.Open(local.KeyRepository(n))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		ns, err := node.ReadState(local.StateDir(n))
		if err != nil || ns == nil || ns.Generation != meta.Generation || r.Keys.Fingerprint() != mr.Keys.Fingerprint() {
			t.Fatalf("%s: installed %+v (%v), keys the master's: %v; want the master's generation %d", n, ns, err, r.Keys.Fingerprint() == mr.Keys.Fingerprint(), meta.Generation)
		}
	}
	t.Logf("the fleet is at the master's generation %d", meta.Generation)
}
