//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oscEnv is OSC (python3-openstackclient with python3-mistralclient's
// plugin) against fernetflow serve, registered as workflowv2 in a
// throw-away Keystone.
type oscEnv struct {
	t   *testing.T
	env []string
	dir string
}

// run runs `openstack ARGS` and fails the test on a non-zero exit.
func (o *oscEnv) run(args ...string) string {
	o.t.Helper()
	out, err := o.try(args...)
	if err != nil {
		o.t.Fatalf("openstack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (o *oscEnv) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/openstack", args...)
	cmd.Env = o.env
	cmd.Dir = o.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// json runs `openstack ARGS -f json` and decodes the answer into v.
func (o *oscEnv) json(v any, args ...string) {
	o.t.Helper()
	out := o.run(append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		o.t.Fatalf("openstack %s: not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

func (o *oscEnv) file(name, text string) string {
	o.t.Helper()
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// TestMistralOSC runs Debian's `openstack workflow|workbook|action|cron
// trigger|task ...` commands (python-mistralclient's OSC plugin, the list
// in the shared NOTES section 3 plus workbooks, actions, action executions
// and environments) against fernetflow serve --auth keystone, checking
// what each prints.
func TestMistralOSC(t *testing.T) {
	requireTool(t, "/usr/bin/openstack", "python3-openstackclient")
	requirePythonModule(t, "mistralclient", "python3-mistralclient")
	requirePythonModule(t, "keystoneclient", "python3-keystoneclient")
	began := time.Now()
	keys := t.TempDir()
	e := startKeystone(t, keys, true)
	ksBase := strings.TrimSuffix(e.ksURL, "/v3")
	port := heatFreePort(t)
	wfURL := fmt.Sprintf("http://127.0.0.1:%d/v2", port)
	setup, _ := filepath.Abs("testdata/mistral-api/ks_setup.py")
	heatRunEnv(t, 2*time.Minute, nil, debianPython, setup, ksBase, "adminpw", wfURL, "svcpw")
	state := t.TempDir()
	e.start(t, filepath.Join(e.base, "serve.log"), []string{
		"OS_AUTH_URL=" + e.ksURL, "OS_USERNAME=mistral", "OS_PASSWORD=svcpw", "OS_PROJECT_NAME=service",
		"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default",
	}, fernetflowBin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--auth", "keystone",
		"--allowed-project", "service", "--keystone-url", ksBase, "--state-dir", state)
	if err := heatWaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/", port), time.Minute); err != nil {
		t.Fatalf("serve: %v\n%s", err, e.tail())
	}
	o := &oscEnv{t: t, dir: t.TempDir(), env: heatSubprocessEnv(
		"OS_AUTH_URL="+e.ksURL, "OS_USERNAME=admin", "OS_PASSWORD=adminpw", "OS_PROJECT_NAME=admin",
		"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_IDENTITY_API_VERSION=3",
		"OS_REGION_NAME=RegionOne", "OS_INTERFACE=public")}
	defer func() {
		if t.Failed() {
			t.Logf("serve and Keystone logs:\n%s", e.tail())
		}
	}()

	// Workflows.
	wf := o.file("osc_wf.yaml", "version: '2.0'\nosc_wf:\n  input:\n    - x\n  tasks:\n    say:\n      action: std.echo output=<% $.x %>\n      publish:\n        said: <% task().result %>\n  output:\n    said: <% $.said %>\n")
	bad := o.file("bad.yaml", "version: '2.0'\nbad_wf:\n  tasks:\n    t:\n      action: std.nope\n")
	var v map[string]any
	if o.json(&v, "workflow", "validate", wf); v["Valid"] != true {
		t.Errorf("validate: %v", v)
	}
	if o.json(&v, "workflow", "validate", bad); v["Valid"] != false || !strings.Contains(fmt.Sprint(v["Error"]), "std.nope") {
		t.Errorf("validate bad: %v", v)
	}
	var list []map[string]any
	if o.json(&list, "workflow", "create", wf); len(list) != 1 || list[0]["Name"] != "osc_wf" || list[0]["Input"] != "x" {
		t.Fatalf("workflow create: %v", list)
	}
	if o.json(&list, "workflow", "list"); !hasRow(list, "Name", "osc_wf") || !hasRow(list, "Name", "rotate_fernet_keys") {
		t.Errorf("workflow list (own and system workflows): %v", list)
	}
	if o.json(&v, "workflow", "show", "osc_wf"); v["Name"] != "osc_wf" || v["Scope"] != "private" {
		t.Errorf("workflow show: %v", v)
	}
	if out := o.run("workflow", "definition", "show", "osc_wf"); !strings.Contains(out, "action: std.echo output=<% $.x %>") {
		t.Errorf("workflow definition show: %s", out)
	}

	// Executions, tasks, action executions.
	var ex map[string]any
	if o.json(&ex, "workflow", "execution", "create", "osc_wf", `{"x": "hi"}`); ex["State"] != "RUNNING" || ex["Workflow name"] != "osc_wf" {
		t.Fatalf("execution create: %v", ex)
	}
	exID := ex["ID"].(string)
	for deadline := time.Now().Add(30 * time.Second); ex["State"] == "RUNNING" && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		o.json(&ex, "workflow", "execution", "show", exID)
	}
	if ex["State"] != "SUCCESS" {
		t.Fatalf("execution: %v", ex)
	}
	if out := o.run("workflow", "execution", "output", "show", exID); !strings.Contains(out, `"said": "hi"`) {
		t.Errorf("execution output show: %s", out)
	}
	if o.json(&list, "workflow", "execution", "list"); !hasRow(list, "ID", exID) {
		t.Errorf("execution list: %v", list)
	}
	if o.json(&list, "task", "execution", "list", exID); len(list) != 1 || list[0]["Name"] != "say" || list[0]["State"] != "SUCCESS" {
		t.Fatalf("task execution list: %v", list)
	}
	taskID := list[0]["ID"].(string)
	if out := o.run("task", "execution", "result", "show", taskID); !strings.Contains(out, "hi") {
		t.Errorf("task result show: %s", out)
	}
	if o.json(&list, "action", "execution", "list", taskID); len(list) != 1 || list[0]["Name"] != "std.echo" || list[0]["State"] != "SUCCESS" {
		t.Errorf("action execution list: %v", list)
	}

	// Cron triggers.
	var tr map[string]any
	if o.json(&tr, "cron", "trigger", "create", "osc_tr", "osc_wf", `{"x": "c"}`, "--pattern", "0 0 1 1 *", "--count", "2"); tr["Name"] != "osc_tr" || tr["Pattern"] != "0 0 1 1 *" || fmt.Sprint(tr["Remaining executions"]) != "2" {
		t.Errorf("cron trigger create: %v", tr)
	}
	if o.json(&list, "cron", "trigger", "list"); !hasRow(list, "Name", "osc_tr") {
		t.Errorf("cron trigger list: %v", list)
	}
	if o.json(&tr, "cron", "trigger", "show", "osc_tr"); tr["Workflow"] != "osc_wf" {
		t.Errorf("cron trigger show: %v", tr)
	}
	if out, err := o.try("workflow", "delete", "osc_wf"); err == nil || !strings.Contains(out, "cron triggers") {
		t.Errorf("deleting a workflow a trigger uses: %v %s", err, out)
	}
	o.run("cron", "trigger", "delete", "osc_tr")

	// Workbooks and their actions.
	wb := o.file("osc_wb.yaml", "version: '2.0'\nname: osc_wb\nactions:\n  hello:\n    base: std.echo\n    base-input:\n      output: Hello <% $.who %>\n    input:\n      - who\nworkflows:\n  greet:\n    tasks:\n      h:\n        action: hello who=\"wb\"\n")
	if o.json(&v, "workbook", "validate", wb); v["Valid"] != true {
		t.Errorf("workbook validate: %v", v)
	}
	if o.json(&v, "workbook", "create", wb); v["Name"] != "osc_wb" {
		t.Errorf("workbook create: %v", v)
	}
	if o.json(&list, "workbook", "list"); !hasRow(list, "Name", "osc_wb") {
		t.Errorf("workbook list: %v", list)
	}
	if o.json(&v, "workbook", "show", "osc_wb"); v["Name"] != "osc_wb" {
		t.Errorf("workbook show: %v", v)
	}
	if out := o.run("workbook", "definition", "show", "osc_wb"); !strings.Contains(out, "name: osc_wb") {
		t.Errorf("workbook definition show: %s", out)
	}
	if out := o.run("workflow", "definition", "show", "osc_wb.greet"); !strings.HasPrefix(out, "greet:") || strings.Contains(out, "actions:") {
		t.Errorf("a workbook workflow's own definition: %q", out)
	}
	if o.json(&v, "action", "definition", "show", "osc_wb.hello"); v["Name"] != "osc_wb.hello" || v["Input"] != "who" {
		t.Errorf("workbook action: %v", v)
	}
	o.run("workbook", "delete", "osc_wb")

	// Ad-hoc actions.
	act := o.file("osc_act.yaml", "version: '2.0'\nosc_greet:\n  base: std.echo\n  base-input:\n    output: Hi <% $.name %>\n  input:\n    - name\n")
	if o.json(&list, "action", "definition", "create", act); len(list) != 1 || list[0]["Name"] != "osc_greet" {
		t.Errorf("action definition create: %v", list)
	}
	if o.json(&list, "action", "definition", "list", "--filter", "name=in:osc_greet,std.echo"); len(list) != 2 {
		t.Errorf("action definition list --filter: %v", list)
	}
	if o.json(&v, "action", "definition", "show", "std.echo"); v["Is system"] != true {
		t.Errorf("std.echo: %v", v)
	}
	if out := o.run("action", "definition", "definition", "show", "osc_greet"); !strings.Contains(out, "osc_greet:") {
		t.Errorf("action definition definition show: %s", out)
	}
	o.run("action", "definition", "update", act)

	// Action executions run directly.
	if out := o.run("action", "execution", "run", "osc_greet", `{"name": "Ann"}`); !strings.Contains(out, "Hi Ann") {
		t.Errorf("action execution run (sync): %s", out)
	}
	var ae map[string]any
	if o.json(&ae, "action", "execution", "run", "std.echo", `{"output": "saved"}`, "--save-result"); ae["State"] != "RUNNING" && ae["State"] != "SUCCESS" {
		t.Errorf("action execution run --save-result: %v", ae)
	}
	aeID := ae["ID"].(string)
	for deadline := time.Now().Add(30 * time.Second); ae["State"] == "RUNNING" && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		o.json(&ae, "action", "execution", "show", aeID)
	}
	if out := o.run("action", "execution", "output", "show", aeID); ae["State"] != "SUCCESS" || !strings.Contains(out, "saved") {
		t.Errorf("saved action execution: %v %s", ae, out)
	}
	o.run("action", "execution", "delete", aeID)
	o.run("action", "definition", "delete", "osc_greet")

	// Environments, used by name.
	envFile := o.file("env.yaml", "name: osc_env\ndescription: for OSC\nvariables:\n  x: from-env\n")
	if o.json(&v, "workflow", "env", "create", envFile); v["Name"] != "osc_env" {
		t.Errorf("env create: %v", v)
	}
	if o.json(&list, "workflow", "env", "list"); !hasRow(list, "Name", "osc_env") {
		t.Errorf("env list: %v", list)
	}
	if o.json(&v, "workflow", "env", "show", "osc_env"); !strings.Contains(fmt.Sprint(v["Variables"]), "from-env") {
		t.Errorf("env show: %v", v)
	}
	if o.json(&ex, "workflow", "execution", "create", "osc_wf", `{"x": "<% env().x %>"}`, `{"env": "osc_env"}`); ex["State"] != "RUNNING" {
		t.Errorf("execution with env: %v", ex)
	}
	o.run("workflow", "env", "delete", "osc_env")

	// Services, and clean-up.
	if o.json(&list, "workflow", "engine", "service", "list"); len(list) == 0 || !strings.HasPrefix(fmt.Sprint(list[0]["Name"]), "fernetflow@") {
		t.Errorf("engine service list: %v", list)
	}
	o.run("workflow", "execution", "delete", exID)
	if out, err := o.try("workflow", "execution", "show", exID); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("deleted execution: %v %s", err, out)
	}
	t.Logf("OSC against fernetflow serve: %s", time.Since(began).Round(time.Second))
}

// hasRow reports whether a list of OSC rows has one with column = value.
func hasRow(rows []map[string]any, column, value string) bool {
	for _, r := range rows {
		if fmt.Sprint(r[column]) == value {
			return true
		}
	}
	return false
}
