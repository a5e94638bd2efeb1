//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/heat"
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", h.token)
	resp, err := heatHTTP.Do(req)
	if err != nil {
		t.Fatalf("heat %s %s: %v", method, path, err)
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
// Heat, then creates, updates and deletes the rotation template's stack
// against a real Mistral, and checks what Heat registered there.
func TestHeatTemplates(t *testing.T) {
	e := startHeatEnv(t)
	defer e.stop()
	m := startMistral(t)

	// Heat finds Mistral in the catalog (service type workflowv2).
	svc := e.create(t, "service", map[string]any{"name": "mistral", "type": "workflowv2"})
	for _, iface := range []string{"public", "internal", "admin"} {
		e.create(t, "endpoint", map[string]any{"service_id": svc, "interface": iface, "region_id": "RegionOne", "url": m.API})
	}
	h := newHeatAPI(t, e)

	t.Run("validate", func(t *testing.T) {
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
	})
	if t.Failed() {
		return
	}

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
		"allow_expired_window": 172800, "concurrency": concurrency, "timeout": 600, "dry_run": false}
	if ct.WorkflowName != heat.RotationWorkflow || ct.Pattern != pattern || !jsonEqual(input, wantInput) {
		t.Errorf("cron trigger %+v, want workflow %s pattern %q input %v", ct, heat.RotationWorkflow, pattern, wantInput)
	}
	t.Logf("Mistral: workflow %s (%d tasks), cron trigger %s %q next at %s", heat.RotationWorkflow, len(g.Tasks), ct.Name, ct.Pattern, ct.NextExecution)
}
