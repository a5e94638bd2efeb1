package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/actions"
)

const twoWorkflows = `version: '2.0'
greet:
  input: [who, punct: "!"]
  output: {text: <% $.text %>}
  tasks:
    hello:
      action: std.echo output=<% 'hello ' + $.who + $.punct %>
      publish: {text: <% task().result %>}
other:
  tasks:
    boom:
      action: std.fail
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWorkflowValidate(t *testing.T) {
	good := writeFile(t, "good.yaml", twoWorkflows)
	out, errs, code := runCLI(t, "", "workflow", "validate", good)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	bad := writeFile(t, "bad.yaml", strings.Replace(twoWorkflows, "std.fail", "std.fial", 1))
	out, errs, code = runCLI(t, "", "workflow", "validate", "-f", "json", good, bad)
	if code != 1 || !strings.Contains(errs, "bad.yaml:12:7: workflow other: task boom: action: unknown action \"std.fial\"") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	var res []validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 || !res[0].Valid || res[1].Valid {
		t.Fatalf("%v %s", err, out)
	}
}

func TestWorkflowRun(t *testing.T) {
	f := writeFile(t, "wf.yaml", twoWorkflows)
	state := t.TempDir()
	out, errs, code := runCLI(t, "", "workflow", "run", f, "--input", "who=world", "--state-dir", state, "-f", "json")
	if code != 0 {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	var v struct {
		ID, State    string
		WorkflowName string `json:"workflow_name"`
		Output       map[string]any
		Tasks        []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err, out)
	}
	if v.State != "SUCCESS" || v.WorkflowName != "greet" || v.Output["text"] != "hello world!" || len(v.Tasks) != 1 {
		t.Fatalf("%s", out)
	}
	if !strings.Contains(errs, "hello") || !strings.Contains(errs, "SUCCESS") {
		t.Errorf("no progress on stderr: %s", errs)
	}
	// --workflow picks another one; it fails: exit 1.
	out, errs, code = runCLI(t, "", "workflow", "run", f, "--workflow", "other", "--state-dir", state)
	if code != 1 || !strings.Contains(out, "ERROR") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	// Missing input is a usage error.
	_, errs, code = runCLI(t, "", "workflow", "run", f, "--state-dir", state)
	if code != 2 || !strings.Contains(errs, "missing who") {
		t.Fatalf("%d %s", code, errs)
	}
	// --input-file
	in := writeFile(t, "in.yaml", "who: file\npunct: '?'\n")
	out, _, code = runCLI(t, "", "workflow", "run", f, "--input-file", in, "--no-store", "-f", "json")
	if code != 0 || !strings.Contains(out, "hello file?") {
		t.Fatalf("%d %s", code, out)
	}
}

func TestExecutionCommands(t *testing.T) {
	f := writeFile(t, "wf.yaml", twoWorkflows)
	state := t.TempDir()
	out, errs, code := runCLI(t, "", "workflow", "run", f, "--input", "who=store", "--state-dir", state, "-f", "json")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	var run struct{ ID string }
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCLI(t, "", "execution", "list", "--state-dir", state)
	if code != 0 || !strings.Contains(out, run.ID) || !strings.Contains(out, "greet") || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	out, errs, code = runCLI(t, "", "execution", "show", run.ID[:8], "--state-dir", state, "-f", "json")
	if code != 0 || !strings.Contains(out, `"hello store!"`) || !strings.Contains(out, `"published"`) {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	out, errs, code = runCLI(t, "", "execution", "delete", run.ID, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "accepted") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	_, errs, code = runCLI(t, "", "execution", "show", run.ID, "--state-dir", state)
	if code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestWorkflowRunShippedName(t *testing.T) {
	_, errs, code := runCLI(t, "", "workflow", "run", "no_such_workflow", "--no-store")
	if code != 1 || !strings.Contains(errs, "no shipped workflow of that name") || !strings.Contains(errs, "rotate_fernet_keys") {
		t.Fatalf("%d %s", code, errs)
	}
	out, errs, code := runCLI(t, "", "workflow", "validate", "../../workflow/definitions/rotate_fernet_keys.yaml")
	if code != 0 {
		t.Fatalf("the shipped definitions must validate with the CLI's registry: %d %s %s", code, out, errs)
	}
}

// Every action fernetflow action list shows is one a workflow may use:
// workflow validate accepts a task that calls it.
func TestEveryListedActionValidates(t *testing.T) {
	reg := actions.All()
	dir := t.TempDir()
	for _, name := range reg.Names() {
		file := filepath.Join(dir, strings.ReplaceAll(name, ".", "_")+".yaml")
		src := fmt.Sprintf("---\nversion: '2.0'\nuses_it:\n  tasks:\n    t:\n      action: %s\n", name)
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errs, code := runCLI(t, "", "workflow", "validate", file)
		if code != 0 && strings.Contains(errs, "unknown action") {
			t.Errorf("action list shows %s, but workflow validate does not know it: %s", name, errs)
		}
	}
}
