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
	// Mistral's parser accepts an unknown action: a warning, not an error.
	typo := writeFile(t, "typo.yaml", strings.Replace(twoWorkflows, "std.fail", "std.fial", 1))
	// A transition to an unknown task: Mistral's parser rejects it too.
	broken := writeFile(t, "broken.yaml", strings.Replace(twoWorkflows, "action: std.fail", "action: std.fail\n      on-error: [nowhere]", 1))
	typoMsg := typo + ":12:7: workflow other: task boom: action: unknown action \"std.fial\""
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stderr    string
		valid     []bool
		nWarnings []int
	}{
		{"valid", []string{good}, 0, "", []bool{true}, []int{0}},
		{"warning only", []string{good, typo}, 0, "warning: " + typoMsg, []bool{true, true}, []int{0, 1}},
		{"strict makes warnings errors", []string{"--strict", good, typo}, 1, typoMsg, []bool{true, false}, []int{0, 0}},
		{"error", []string{typo, broken}, 1, `transition to unknown task "nowhere"`, []bool{true, false}, []int{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runCLI(t, "", append([]string{"workflow", "validate", "-f", "json"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)\n%s", code, tc.code, errs, tc.stderr, out)
			}
			var res []validateResult
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != len(tc.valid) {
				t.Fatalf("%v %s", err, out)
			}
			for i, r := range res {
				if r.Valid != tc.valid[i] || len(r.Warnings) != tc.nWarnings[i] {
					t.Errorf("%s: valid %v with %d warnings, want %v with %d", r.File, r.Valid, len(r.Warnings), tc.valid[i], tc.nWarnings[i])
				}
			}
		})
	}
}

const workbook = `version: '2.0'
name: wb1
actions:
  greet:
    base: std.echo
    base-input:
      output: "hello <% $.who %>"
    input: [who]
workflows:
  main:
    tasks:
      t1:
        action: wb1.greet who="bob"
        publish:
          g: <% task().result %>
          ns: <% execution().params.namespace %>
          name: <% execution().name %>
        on-success: [t2]
      t2:
        workflow: sub
        input: {x: <% $.g %>}
        publish:
          y: <% task().result.y %>
  sub:
    input: [x]
    output:
      y: <% $.x %>!
      ns: <% execution().params.namespace %>
    tasks:
      s: {action: greet who=<% $.x %>}
`

// TestWorkflowRunWorkbook runs a workbook's workflows: WB.NAME names,
// ad-hoc actions and sub-workflows by short or qualified name, and the
// namespace as execution().params.namespace (a sub-workflow's too).
func TestWorkflowRunWorkbook(t *testing.T) {
	f := writeFile(t, "wb.yaml", workbook)
	out, errs, code := runCLI(t, "", "workflow", "validate", "-f", "json", f)
	if code != 0 || !strings.Contains(out, `"wb1.main"`) || !strings.Contains(out, `"wb1.sub"`) {
		t.Fatalf("validate: %d %s %s", code, out, errs)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		workflow string
		ns       string
		output   map[string]any
	}{
		{"first workflow", nil, "wb1.main", "", map[string]any{"g": "hello bob", "ns": "", "name": "wb1.main", "y": "hello bob!"}},
		{"namespace", []string{"--namespace", "ns1"}, "wb1.main", "ns1", map[string]any{"g": "hello bob", "ns": "ns1", "name": "wb1.main", "y": "hello bob!"}},
		{"qualified --workflow", []string{"--workflow", "wb1.sub", "--input", "x=1"}, "wb1.sub", "", map[string]any{"y": "1!", "ns": ""}},
		{"short --workflow", []string{"--workflow", "sub", "--input", "x=2", "--namespace", "n"}, "wb1.sub", "n", map[string]any{"y": "2!", "ns": "n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runCLI(t, "", append([]string{"workflow", "run", f, "--no-store", "-f", "json"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("%d %s %s", code, out, errs)
			}
			var v execView
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatal(err, out)
			}
			if v.WorkflowName != tc.workflow || v.WorkflowNamespace != tc.ns || fmt.Sprint(v.Output) != fmt.Sprint(tc.output) {
				t.Errorf("got %s %q %v, want %s %q %v", v.WorkflowName, v.WorkflowNamespace, v.Output, tc.workflow, tc.ns, tc.output)
			}
		})
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
