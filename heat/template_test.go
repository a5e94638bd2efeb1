package heat

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// TestTemplatesUpToDate fails when heat/templates/ is not what the
// generator makes from the embedded definitions.
func TestTemplatesUpToDate(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("templates", name))
		if err != nil {
			t.Fatalf("%v: run fernetflow heat template --output heat/templates", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("heat/templates/%s differs from workflow/definitions/%s.yaml: run fernetflow heat template --output heat/templates", name, RotationWorkflow)
		}
	}
}

// TestRotationCarriesTheDefinition decodes the generated template and checks
// that each task is the definition's task, but for the documented changes.
func TestRotationCarriesTheDefinition(t *testing.T) {
	b, err := Rotation()
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]map[string]any `yaml:"parameters"`
		Resources  map[string]struct {
			Type       string         `yaml:"type"`
			Properties map[string]any `yaml:"properties"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	src, err := definitions.Source(RotationWorkflow + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	var defs struct {
		Rotate struct {
			Input  []any                     `yaml:"input"`
			Output map[string]any            `yaml:"output"`
			Tasks  map[string]map[string]any `yaml:"tasks"`
		} `yaml:"rotate_fernet_keys"`
	}
	if err := yaml.Unmarshal(src, &defs); err != nil {
		t.Fatal(err)
	}
	def := defs.Rotate
	wf := tmpl.Resources[RotationWorkflow]
	if wf.Type != "OS::Mistral::Workflow" || wf.Properties["name"] != RotationWorkflow {
		t.Fatalf("resource %s: type %s name %v", RotationWorkflow, wf.Type, wf.Properties["name"])
	}
	if !reflect.DeepEqual(wf.Properties["output"], def.Output) {
		t.Errorf("output %v, want %v", wf.Properties["output"], def.Output)
	}
	tasks := wf.Properties["tasks"].([]any)
	if len(tasks) != len(def.Tasks) {
		t.Fatalf("%d tasks, want %d", len(tasks), len(def.Tasks))
	}
	for _, tv := range tasks {
		task := tv.(map[string]any)
		name := task["name"].(string)
		want, ok := def.Tasks[name]
		if !ok {
			t.Fatalf("task %s is not in the definition", name)
		}
		if len(task)-1 != len(want) {
			t.Errorf("task %s: %d keys, want %d", name, len(task)-1, len(want))
		}
		for k, wv := range want {
			gv := task[strings.ReplaceAll(k, "-", "_")]
			switch {
			case strings.HasPrefix(k, "on-"):
				if _, isList := wv.([]any); !isList {
					wv = []any{wv}
				}
			case k == "concurrency" && wv == "<% $.concurrency %>":
				wv = map[string]any{"get_param": "concurrency"}
			case k == "timeout" && wv == "<% $.timeout %>":
				wv = uint64(600)
			}
			if !reflect.DeepEqual(gv, wv) {
				t.Errorf("task %s: %s = %#v, want %#v", name, k, gv, wv)
			}
		}
	}
	// The cron trigger passes every input: each parameter, the default otherwise.
	cron := tmpl.Resources["rotation_schedule"]
	if cron.Type != "OS::Mistral::CronTrigger" {
		t.Fatalf("rotation_schedule is %s", cron.Type)
	}
	in := cron.Properties["workflow"].(map[string]any)["input"].(map[string]any)
	if len(in) != len(def.Input) {
		t.Errorf("cron trigger input has %d keys, want every input (%d)", len(in), len(def.Input))
	}
	for _, p := range Parameters {
		if p.Name == "schedule" || p.Name == "servers" {
			continue
		}
		if !reflect.DeepEqual(in[p.Name], map[string]any{"get_param": p.Name}) {
			t.Errorf("cron trigger input %s = %v, want get_param", p.Name, in[p.Name])
		}
		if _, ok := tmpl.Parameters[p.Name]; !ok {
			t.Errorf("parameter %s missing", p.Name)
		}
	}
	if in["dry_run"] != false || in["timeout"] != uint64(600) {
		t.Errorf("cron trigger input dry_run=%v timeout=%v, want the definition's defaults", in["dry_run"], in["timeout"])
	}
}

func TestRotationRefusesWhatHeatCannotCarry(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"workflow vars", "rotate_fernet_keys:\n  vars: {a: 1}\n  tasks: {t: {action: std.noop}}\n", "vars: Heat's OS::Mistral::Workflow has no property"},
		{"publish-on-error", "rotate_fernet_keys:\n  tasks: {t: {action: std.noop, publish-on-error: {a: 1}}}\n", "task t: publish-on-error"},
		{"expression timeout", "rotate_fernet_keys:\n  tasks: {t: {action: std.noop, timeout: '<% 1 + 2 %>'}}\n", "task t: timeout: Heat takes an integer"},
		{"timeout without default", "rotate_fernet_keys:\n  input: [t]\n  tasks: {t: {action: std.noop, timeout: '<% $.t %>'}}\n", "input t has no default"},
		{"required input", "rotate_fernet_keys:\n  input: [nodes]\n  tasks: {t: {action: std.noop}}\n", "input nodes is required"},
		{"missing", "other:\n  tasks: {t: {action: std.noop}}\n", "does not define it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rotationResources([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
