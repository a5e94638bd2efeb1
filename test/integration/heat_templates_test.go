//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/heat"
	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// heatTemplatesDir is heat/templates/ seen from this package.
const heatTemplatesDir = "../../heat/templates/"

// heatAPI is a project-scoped client of a heatEnv's Heat API, as the demo
// user (heat_stack_owner).
type heatAPI struct {
	base  string // http://127.0.0.1:PORT/v1/PROJECT
	token string
}

func newHeatAPI(t *testing.T, e *heatEnv) *heatAPI {
	t.Helper()
	body, _ := json.Marshal(heatPasswordAuth("demo", "default", demoPassword, map[string]any{"project": map[string]any{"id": e.demoProj}}))
	resp, err := heatHTTP.Post(e.ksURL+"/auth/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("demo token: HTTP %d %s", resp.StatusCode, b)
	}
	return &heatAPI{base: fmt.Sprintf("http://127.0.0.1:%d/v1/%s", e.heatPort, e.demoProj), token: resp.Header.Get("X-Subject-Token")}
}

func (h *heatAPI) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return tokenJSON(t, "heat", h.base, h.token, method, path, body)
}

// tokenJSON sends body (JSON, if any) to base+path with an X-Auth-Token
// and decodes the JSON answer ({"body": text} when it is not JSON); what
// names the service in a failure.
func tokenJSON(t *testing.T, what, base, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := heatHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", what, method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if m == nil {
		m = map[string]any{"body": string(data)}
	}
	return resp.StatusCode, m
}

// waitStack polls a stack until its status leaves IN_PROGRESS.
func (h *heatAPI) waitStack(t *testing.T, e *heatEnv, path, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, m := h.do(t, "GET", path, nil)
		if code != 200 {
			t.Fatalf("GET %s: HTTP %d %v", path, code, m)
		}
		st := m["stack"].(map[string]any)
		status, _ := st["stack_status"].(string)
		if !strings.HasSuffix(status, "_IN_PROGRESS") {
			if status != want {
				t.Fatalf("stack %s: %s (%v), want %s\n%s", path, status, st["stack_status_reason"], want, e.tail())
			}
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s after 3 minutes\n%s", path, status, e.tail())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func readTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(heatTemplatesDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// overcloudStandIn uses the two TripleO hooks the environment file maps,
// with the properties TripleO passes them.
const overcloudStandIn = `heat_template_version: wallaby
parameters:
  controller_id: {type: string, default: 0d4f6e1a-0000-4000-8000-000000000001}
resources:
  ControllerExtraConfigPre:
    type: OS::TripleO::ControllerExtraConfigPre
    properties:
      server: {get_param: controller_id}
  NodeExtraConfigPost:
    type: OS::TripleO::NodeExtraConfigPost
    properties:
      servers: {Controller: {get_param: controller_id}}
`

// environmentFor is environments/fernet-rotation.yaml as heatclient sends
// it: the registry's relative paths resolved to names of files sent along.
func environmentFor(t *testing.T, extra map[string]any) (map[string]any, map[string]string) {
	t.Helper()
	var env map[string]any
	if err := yaml.Unmarshal([]byte(readTemplate(t, "environments/fernet-rotation.yaml")), &env); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	reg := env["resource_registry"].(map[string]any)
	for typ, path := range reg {
		name := strings.TrimPrefix(path.(string), "../")
		reg[typ] = "file:///heat/templates/" + name
		files["file:///heat/templates/"+name] = readTemplate(t, name)
	}
	pd := env["parameter_defaults"].(map[string]any)
	for k, v := range extra {
		pd[k] = v
	}
	return env, files
}

// testSigner is a well-formed public key (RFC 8032's first test vector).
const testSigner = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

// TestHeatTemplates validates every template of heat/templates/ with a real
// Heat and creates, updates and deletes the rotation template's stack
// against fernetflow serve registered as the workflow service, then against
// a real Mistral, and checks what Heat registered in each. One Keystone and
// one Heat serve them all; -run 'TestHeatTemplates/fernetflow' runs the
// fernetflow part alone.
func TestHeatTemplates(t *testing.T) {
	e := startHeatEnv(t)
	defer e.stop()
	h := newHeatAPI(t, e)

	// The same Keystone and Heat, with fernetflow serve as the workflow
	// service (mistral_heat_test.go), then with real Mistral: one at a
	// time in the catalog.
	t.Run("fernetflow", func(t *testing.T) { testHeatOnFernetflow(t, e, h) })
	t.Run("Mistral", func(t *testing.T) { testHeatOnMistral(t, e, h) })
}

// testHeatOnMistral creates, updates and deletes the rotation template's
// stack against a real Mistral, checks what Heat registered there, then
// follows the README's overcloud path.
func testHeatOnMistral(t *testing.T, e *heatEnv, h *heatAPI) {
	m := startMistralCron(t) // the overcloud path's trigger must fire

	// Heat finds Mistral in the catalog (service type workflowv2).
	svc := e.create(t, "service", map[string]any{"name": "mistral", "type": "workflowv2"})
	for _, iface := range []string{"public", "internal", "admin"} {
		e.create(t, "endpoint", map[string]any{"service_id": svc, "interface": iface, "region_id": "RegionOne", "url": m.API})
	}
	// A new token: Heat's keystonemiddleware keeps a validated token's
	// catalog for minutes, and the old token's still names fernetflow serve
	// (Heat then called the stopped fernetflow: ECONNREFUSED).
	h = newHeatAPI(t, e)

	t.Run("stack against Mistral", func(t *testing.T) {
		code, res := h.do(t, "POST", "/stacks", map[string]any{
			"stack_name": "fernet-rotation", "template": readTemplate(t, heat.RotationTemplate),
			"parameters": map[string]any{"schedule": "0 3 * * 0"}, "timeout_mins": 5})
		if code != 201 {
			t.Fatalf("stack create: HTTP %d %v", code, res)
		}
		path := "/stacks/fernet-rotation/" + res["stack"].(map[string]any)["id"].(string)
		st := h.waitStack(t, e, path, "CREATE_COMPLETE")
		outs := map[string]any{}
		for _, o := range st["outputs"].([]any) {
			om := o.(map[string]any)
			outs[om["output_key"].(string)] = om["output_value"]
		}
		if outs["workflow_name"] != heat.RotationWorkflow || outs["next_rotation"] == nil || outs["next_rotation"] == "" {
			t.Errorf("outputs %v", outs)
		}
		checkMistral(t, m, "0 3 * * 0", 3, 10)

		// An update with new values updates the workflow and the schedule.
		code, res = h.do(t, "PATCH", path, map[string]any{"parameters": map[string]any{"schedule": "30 4 * * 1", "concurrency": 4, "max_active_keys": 5}})
		if code != 202 {
			t.Fatalf("stack update: HTTP %d %v", code, res)
		}
		h.waitStack(t, e, path, "UPDATE_COMPLETE")
		checkMistral(t, m, "30 4 * * 1", 5, 4)

		code, res = h.do(t, "DELETE", path, nil)
		if code != 204 {
			t.Fatalf("stack delete: HTTP %d %v", code, res)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			code, res = h.do(t, "GET", path, nil)
			if code == 404 || (code == 200 && res["stack"].(map[string]any)["stack_status"] == "DELETE_COMPLETE") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stack not deleted: %d %v", code, res)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code, b := m.do(t, "GET", "/workflows/"+heat.RotationWorkflow, "", nil); code != 404 {
			t.Errorf("after stack delete, Mistral still has the workflow: HTTP %d %s", code, b)
		}
		if triggers := mistralCronTriggers(t, m); len(triggers) != 0 {
			t.Errorf("after stack delete, Mistral still has cron triggers %v", triggers)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("overcloud path as the README says", func(t *testing.T) { testOvercloudPath(t, e, h, m) })
}

// overcloudWithPins stands in for an overcloud: three controllers
// (OS::Heat::DeployedServer, polled by real os-collect-config) and, per
// controller, the resource TripleO runs before its configuration,
// OS::TripleO::ControllerExtraConfigPre, which environments/
// fernet-rotation.yaml maps to fernet-node.yaml.
const overcloudWithPins = `heat_template_version: wallaby
resources:
  Controller-0: {type: OS::Heat::DeployedServer, properties: {software_config_transport: POLL_SERVER_HEAT}}
  Controller-1: {type: OS::Heat::DeployedServer, properties: {software_config_transport: POLL_SERVER_HEAT}}
  Controller-2: {type: OS::Heat::DeployedServer, properties: {software_config_transport: POLL_SERVER_HEAT}}
  Controller-0-Pre: {type: OS::TripleO::ControllerExtraConfigPre, properties: {server: {get_resource: Controller-0}}}
  Controller-1-Pre: {type: OS::TripleO::ControllerExtraConfigPre, properties: {server: {get_resource: Controller-1}}}
  Controller-2-Pre: {type: OS::TripleO::ControllerExtraConfigPre, properties: {server: {get_resource: Controller-2}}}
outputs:
  pinned:
    value:
      - {get_attr: [Controller-0-Pre, pinned_signer]}
      - {get_attr: [Controller-1-Pre, pinned_signer]}
      - {get_attr: [Controller-2-Pre, pinned_signer]}
`

// testOvercloudPath follows the README's "Deploying with the overcloud
// (Heat)" with the openstack CLI: nodes run os-collect-config with
// fernetflow node collect (no --signer-public-key); the overcloud, created
// with the environment file, pins the signer on each through
// ControllerExtraConfigPre and reaches CREATE_COMPLETE; the action server
// runs, mistral register --actions-only registers the actions; the
// rotation stack is created from fernet-rotation.yaml with the environment
// file; and its cron trigger (every minute; deleted after it fired once)
// fires on real Mistral and brings every node to the master's new
// generation.
func testOvercloudPath(t *testing.T, e *heatEnv, h *heatAPI, m *mistralServer) {
	requireTool(t, "/usr/bin/openstack", "python3-openstackclient")
	requirePythonModule(t, "heatclient", "python3-heatclient")
	ctx := context.Background()
	root := t.TempDir()
	t.Setenv("OS_CLIENT_CONFIG_FILE", e.clouds)
	osEnv := []string{"OS_CLIENT_CONFIG_FILE=" + e.clouds, "OS_CLOUD=" + heatItCloud}
	openstack := func(args ...string) string {
		t.Helper()
		return heatRunEnv(t, 5*time.Minute, osEnv, "openstack", args...)
	}
	c, err := deploy.NewOrchestrationClient(ctx, deploy.CloudOptions{Cloud: heatItCloud})
	if err != nil {
		t.Fatal(err)
	}

	// The undercloud: the signer, in the action server's state directory.
	srvDir := filepath.Join(root, "undercloud")
	state := filepath.Join(srvDir, "state")
	run(t, fernetflowBin, "signer", "init", "--state-dir", state)
	pub := strings.TrimSpace(run(t, fernetflowBin, "signer", "public", "--state-dir", state))
	params := filepath.Join(root, "fernet-params.yaml")
	heatWriteFile(t, params, fmt.Sprintf(`parameter_defaults:
  signer_public_key: %s
  schedule: "* * * * *"
  max_active_keys: 5
  token_expiration: 3600
  allow_expired_window: 0
`, pub))
	envFile := heatTemplatesDir + "environments/fernet-rotation.yaml"

	// The overcloud: its controllers come up, then wait for their pins.
	overcloud := filepath.Join(root, "overcloud.yaml")
	heatWriteFile(t, overcloud, overcloudWithPins)
	t0 := time.Now()
	openstack("stack", "create", "-t", overcloud, "-e", envFile, "-e", params, "--timeout", "10", "overcloud")
	var servers []deploy.Server
	for deadline := time.Now().Add(3 * time.Minute); ; {
		servers, err = deploy.DiscoverServers(ctx, c, "overcloud", deploy.ServerFilter{Name: "Controller*"})
		done := 0
		for _, s := range servers {
			if s.Status == "CREATE_COMPLETE" {
				done++
			}
		}
		if err == nil && len(servers) == 3 && done == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the overcloud's servers: %v %v\n%s", servers, err, e.tail())
		}
		time.Sleep(time.Second)
	}
	var nodes []*heatNode
	for _, s := range servers {
		code, res := h.do(t, "GET", fmt.Sprintf("/stacks/%s/%s/resources/%s", s.StackName, s.StackID, s.Resource), nil)
		if code != 200 {
			t.Fatalf("resource %s: HTTP %d %v", s.Resource, code, res)
		}
		occ, _ := res["resource"].(map[string]any)["attributes"].(map[string]any)["os_collect_config"].(map[string]any)
		if occ == nil {
			t.Fatalf("resource %s has no os_collect_config: %v", s.Resource, res)
		}
		nodes = append(nodes, newHeatNode(t, root, s, occ, &heatUndercloud{}))
	}
	st := waitStackPolling(t, e, h, "/stacks/overcloud/"+servers[0].StackID, "CREATE_COMPLETE", nodes)
	t.Logf("overcloud CREATE_COMPLETE in %s, the signer pinned on 3 controllers", time.Since(t0).Round(time.Second))
	for _, n := range nodes {
		if b, err := os.ReadFile(filepath.Join(n.stateDir, node.SignerFile)); err != nil || string(b) != pub+"\n" {
			t.Errorf("%s: %s holds %q (%v), want %s", n.name, node.SignerFile, b, err, pub)
		}
	}
	if pinned := stackOutputs(st)["pinned"]; !jsonEqual(pinned, []any{pub, pub, pub}) {
		t.Errorf("the overcloud's pinned signers %v, want %s thrice", pinned, pub)
	}

	// The action server and the ad-hoc actions, only.
	sigPort := freePort(t)
	srv := startActionServerOn(t, srvDir, osEnv, []string{"--target", "heat", "--os-cloud", heatItCloud, "--stack", "overcloud",
		"--role", "Controller", "--signal-listen", fmt.Sprintf("127.0.0.1:%d", sigPort)}, nil)
	out := fernetflowOK(t, "mistral", "register", "--actions-only", "--mistral-url", m.API, "--action-server", srv.URL,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", filepath.Join(srvDir, "secrets"), "-f", "json")
	if strings.Contains(out, `"workflow"`) || strings.Contains(out, `"cron trigger"`) || !strings.Contains(out, `"fleet.servers"`) {
		t.Fatalf("register --actions-only: %s", out)
	}
	if code, b := m.do(t, "GET", "/workflows/"+heat.RotationWorkflow, "", nil); code != 404 {
		t.Fatalf("register --actions-only made the workflow: HTTP %d %s", code, b)
	}

	// The rotation's stack, as the README says.
	t0 = time.Now()
	openstack("stack", "create", "-t", heatTemplatesDir+heat.RotationTemplate, "-e", envFile, "-e", params, "--wait", "fernet-rotation")
	triggers := mistralCronTriggers(t, m)
	if len(triggers) != 1 || triggers[0].Pattern != "* * * * *" {
		t.Fatalf("cron triggers %+v, want one, every minute", triggers)
	}
	t.Logf("fernet-rotation CREATE_COMPLETE in %s; cron trigger %s next at %s", time.Since(t0).Round(time.Second), triggers[0].Name, triggers[0].NextExecution)

	// The trigger fires within a minute; the nodes poll meanwhile. Once
	// it has fired, the test deletes it in Mistral (the template has no
	// remaining-executions parameter: Heat turns a null integer property
	// into 0, which Mistral refuses), so that it runs once.
	trigger := triggers[0].Name
	var ex struct {
		ID          string `json:"id"`
		State       string `json:"state"`
		StateInfo   string `json:"state_info"`
		Description string `json:"description"`
	}
	for deadline := time.Now().Add(4 * time.Minute); ; {
		code, b := m.do(t, "GET", "/executions?workflow_name="+heat.RotationWorkflow, "", nil)
		if code != 200 {
			t.Fatalf("executions: HTTP %d %s", code, b)
		}
		var l struct {
			Executions []json.RawMessage `json:"executions"`
		}
		_ = json.Unmarshal(b, &l)
		if len(l.Executions) > 0 {
			if trigger != "" {
				if code, b := m.do(t, "DELETE", "/cron_triggers/"+trigger, "", nil); code != 204 {
					t.Fatalf("delete the cron trigger after its first run: HTTP %d %s", code, b)
				}
				trigger = ""
			}
			if len(l.Executions) != 1 {
				t.Fatalf("%d executions of the cron trigger, want one", len(l.Executions))
			}
			_ = json.Unmarshal(l.Executions[0], &ex)
			if ex.State == "SUCCESS" || ex.State == "ERROR" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stack's cron trigger did not fire and finish within 4 minutes (execution %+v)\n%s\nserve:\n%s", ex, m.logTail(), srv.out)
		}
		pollAll(t, nodes, 3)
		time.Sleep(time.Second)
	}
	if ex.State != "SUCCESS" || !strings.Contains(ex.Description, "cron_trigger") {
		t.Fatalf("the cron trigger's execution: %+v\nserve:\n%s", ex, srv.out)
	}
	master := filepath.Join(state, "master", "fernet-keys")
	mr, err := keys.Open(master)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := keys.ReadMetadata(master)
	if err != nil || meta.Generation == 0 {
		t.Fatalf("the master's metadata %+v: %v", meta, err)
	}
	for _, n := range nodes {
		r, err := keys.Open(n.repo)
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		ns, err := node.ReadState(n.stateDir)
		if err != nil || ns == nil {
			t.Fatalf("%s: installed %v %v", n.name, ns, err)
		}
		if r.Keys.Fingerprint() != mr.Keys.Fingerprint() || ns.Generation != meta.Generation {
			t.Errorf("%s: generation %d, its keys the master's: %v; want the master's generation %d", n.name, ns.Generation, r.Keys.Fingerprint() == mr.Keys.Fingerprint(), meta.Generation)
		}
	}
	t.Logf("the stack's cron trigger rotated 3 controllers to generation %d (execution %s)", meta.Generation, ex.ID)
}

// waitStackPolling is heatAPI.waitStack with the nodes' os-collect-config
// run between polls, as their timers would.
func waitStackPolling(t *testing.T, e *heatEnv, h *heatAPI, path, want string, nodes []*heatNode) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		code, m := h.do(t, "GET", path, nil)
		if code != 200 {
			t.Fatalf("GET %s: HTTP %d %v", path, code, m)
		}
		st := m["stack"].(map[string]any)
		if status, _ := st["stack_status"].(string); !strings.HasSuffix(status, "_IN_PROGRESS") {
			if status != want {
				t.Fatalf("stack %s: %s (%v), want %s\n%s", path, status, st["stack_status_reason"], want, e.tail())
			}
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still in progress after 5 minutes\n%s", path, e.tail())
		}
		pollAll(t, nodes, 3)
	}
}

func stackOutputs(st map[string]any) map[string]any {
	outs := map[string]any{}
	for _, o := range st["outputs"].([]any) {
		om := o.(map[string]any)
		outs[om["output_key"].(string)] = om["output_value"]
	}
	return outs
}

type mistralCronTrigger struct {
	Name          string `json:"name"`
	WorkflowName  string `json:"workflow_name"`
	Pattern       string `json:"pattern"`
	WorkflowInput string `json:"workflow_input"`
	NextExecution string `json:"next_execution_time"`
}

func mistralCronTriggers(t *testing.T, m *mistralServer) []mistralCronTrigger {
	t.Helper()
	code, b := m.do(t, "GET", "/cron_triggers", "", nil)
	if code != 200 {
		t.Fatalf("cron triggers: HTTP %d %s", code, b)
	}
	var l struct {
		CronTriggers []mistralCronTrigger `json:"cron_triggers"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.CronTriggers
}

// checkMistral checks the workflow and the cron trigger Heat left in
// Mistral: the workflow is the embedded definition but for the changes the
// template's header states, and the trigger runs it on pattern with every
// input.
func checkMistral(t *testing.T, m *mistralServer, pattern string, maxActive, concurrency int) {
	t.Helper()
	code, b := m.do(t, "GET", "/workflows/"+heat.RotationWorkflow, "", nil)
	if code != 200 {
		t.Fatalf("Mistral has no workflow %s: HTTP %d %s", heat.RotationWorkflow, code, b)
	}
	var wf struct {
		Definition string `json:"definition"`
	}
	if err := json.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	type wfDef struct {
		Input  []any                     `yaml:"input"`
		Output map[string]any            `yaml:"output"`
		Tasks  map[string]map[string]any `yaml:"tasks"`
	}
	type wfFile struct {
		Version string `yaml:"version"`
		W       wfDef  `yaml:"rotate_fernet_keys"`
	}
	var got, want wfFile
	if err := yaml.Unmarshal([]byte(wf.Definition), &got); err != nil {
		t.Fatalf("Mistral's definition: %v\n%s", err, wf.Definition)
	}
	src, _ := definitions.Source(heat.RotationWorkflow + ".yaml")
	if err := yaml.Unmarshal(src, &want); err != nil {
		t.Fatal(err)
	}
	g := got.W
	if !jsonEqual(g.Output, want.W.Output) {
		t.Errorf("output %v, want %v", g.Output, want.W.Output)
	}
	var gotIn, wantIn []string
	for _, in := range g.Input {
		gotIn = append(gotIn, fmt.Sprint(in))
	}
	for _, in := range want.W.Input {
		for k := range in.(map[string]any) {
			wantIn = append(wantIn, k)
		}
	}
	sort.Strings(gotIn)
	sort.Strings(wantIn)
	if !reflect.DeepEqual(gotIn, wantIn) {
		t.Errorf("inputs %v, want %v", gotIn, wantIn)
	}
	if len(g.Tasks) != len(want.W.Tasks) {
		t.Errorf("%d tasks, want %d", len(g.Tasks), len(want.W.Tasks))
	}
	for name, wt := range want.W.Tasks {
		gt, ok := g.Tasks[name]
		if !ok {
			t.Errorf("task %s missing", name)
			continue
		}
		if len(gt) != len(wt) {
			t.Errorf("task %s: keys %v, want %v", name, gt, wt)
		}
		for k, wv := range wt {
			switch {
			case strings.HasPrefix(k, "on-"):
				if _, isList := wv.([]any); !isList {
					wv = []any{wv}
				}
			case k == "concurrency":
				wv = concurrency
			case k == "timeout" && wv == "<% $.timeout %>":
				wv = 600
			}
			if !jsonEqual(gt[k], wv) {
				t.Errorf("task %s: %s = %v, want %v", name, k, gt[k], wv)
			}
		}
	}

	triggers := mistralCronTriggers(t, m)
	if len(triggers) != 1 {
		t.Fatalf("cron triggers %v, want one", triggers)
	}
	ct := triggers[0]
	var input map[string]any
	if err := json.Unmarshal([]byte(ct.WorkflowInput), &input); err != nil {
		t.Fatal(err)
	}
	wantInput := map[string]any{"stack": "overcloud", "role": "Controller", "max_active_keys": maxActive, "token_expiration": 3600,
		"allow_expired_window": 172800, "concurrency": concurrency, "timeout": 600, "dry_run": false,
		"check_timeout": 90, "adopt_from": "", "discard_existing_keys": false, "overwrite_drifted": []any{}, "force": false}
	if ct.WorkflowName != heat.RotationWorkflow || ct.Pattern != pattern || !jsonEqual(input, wantInput) {
		t.Errorf("cron trigger %+v, want workflow %s pattern %q input %v", ct, heat.RotationWorkflow, pattern, wantInput)
	}
	t.Logf("Mistral: workflow %s (%d tasks), cron trigger %s %q next at %s", heat.RotationWorkflow, len(g.Tasks), ct.Name, ct.Pattern, ct.NextExecution)
}

// validateTemplates validates every template of heat/templates/, and the
// environment with a stand-in overcloud, with a real Heat. Heat refuses an
// OS::Mistral resource type while no workflowv2 service is in the catalog
// (ResourceTypeUnavailable), so it runs once fernetflow serve is registered.
func validateTemplates(t *testing.T, h *heatAPI) {
	for _, name := range []string{heat.RotationTemplate, "fernet-node.yaml"} {
		code, res := h.do(t, "POST", "/validate", map[string]any{"template": readTemplate(t, name)})
		if code != 200 {
			t.Fatalf("validate %s: HTTP %d %v", name, code, res)
		}
		params, _ := res["Parameters"].(map[string]any)
		t.Logf("%s: valid, %d parameters", name, len(params))
	}
	env, files := environmentFor(t, map[string]any{"signer_public_key": testSigner})
	code, res := h.do(t, "POST", "/validate", map[string]any{"template": overcloudStandIn, "environment": env, "files": files})
	if code != 200 {
		t.Fatalf("validate the environment with a stand-in overcloud: HTTP %d %v", code, res)
	}
	// A private key, or anything but the signer's public key, is
	// refused (validate does not check values; a preview does).
	code, res = h.do(t, "POST", "/stacks/preview", map[string]any{"stack_name": "bad-signer", "template": readTemplate(t, "fernet-node.yaml"),
		"parameters": map[string]any{"server": "0d4f6e1a", "signer_public_key": "AGE-SECRET-KEY-1QQQ"}})
	if code != 400 || !strings.Contains(fmt.Sprint(res), "signer_public_key") {
		t.Fatalf("preview with a bad signer key: HTTP %d %v, want 400 naming signer_public_key", code, res)
	}
}
