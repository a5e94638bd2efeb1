package heat

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

type hotFile struct {
	Parameters map[string]map[string]any `yaml:"parameters"`
	Resources  map[string]struct {
		Type       string         `yaml:"type"`
		Properties map[string]any `yaml:"properties"`
	} `yaml:"resources"`
}

func readHOT(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("templates", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestEnvironmentMatchesTemplates checks that the environment file maps
// templates that exist and sets only parameters they have.
func TestEnvironmentMatchesTemplates(t *testing.T) {
	var env struct {
		Registry map[string]string `yaml:"resource_registry"`
		Defaults map[string]any    `yaml:"parameter_defaults"`
	}
	readHOT(t, "environments/fernet-rotation.yaml", &env)
	params := map[string]bool{}
	for _, path := range env.Registry {
		var h hotFile
		readHOT(t, filepath.Join("environments", path), &h)
		for p := range h.Parameters {
			params[p] = true
		}
	}
	if len(env.Registry) != 2 {
		t.Errorf("registry %v, want the node and the rotation template", env.Registry)
	}
	for k := range env.Defaults {
		if !params[k] {
			t.Errorf("parameter_defaults sets %s, which no mapped template has", k)
		}
	}
	for _, p := range Parameters {
		if _, ok := env.Defaults[p.Name]; !ok && p.Name != "servers" {
			t.Errorf("parameter_defaults does not show %s", p.Name)
		}
	}
}

// TestNodeScript runs fernet-node.yaml's script under a scratch root and
// then the hook it installs, with a stand-in fernetflow that records its
// arguments.
func TestNodeScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	var h hotFile
	readHOT(t, "fernet-node.yaml", &h)
	cfg := h.Resources["FernetflowNodeConfig"]
	if cfg.Type != "OS::Heat::SoftwareConfig" || cfg.Properties["group"] != "script" {
		t.Fatalf("FernetflowNodeConfig: %s group %v", cfg.Type, cfg.Properties["group"])
	}
	var inputs []string
	for _, in := range cfg.Properties["inputs"].([]any) {
		inputs = append(inputs, in.(map[string]any)["name"].(string))
	}
	dep := h.Resources["FernetflowNodeDeployment"]
	for name := range dep.Properties["input_values"].(map[string]any) {
		if !slices.Contains(inputs, name) {
			t.Errorf("input_values sets %s, which the config does not declare", name)
		}
	}
	root := t.TempDir()
	script := cfg.Properties["config"].(string)
	script = strings.ReplaceAll(script, "/etc/fernetflow", root+"/etc/fernetflow")
	script = strings.ReplaceAll(script, "/var/lib/heat-config/hooks", root+"/hooks")
	ff := filepath.Join(root, "fernetflow")
	if err := os.WriteFile(ff, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const signer = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	run := func(signerKey string) (string, error) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "signer_public_key=" + signerKey, "fernetflow=" + ff,
			"state_dir=" + root + "/state", "key_repository=/etc/keystone/fernet-keys",
			"keystone_user=keystone", "keystone_group=keystone", "heat_outputs_path=" + root + "/out"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("ssh-ed25519 AAAA"); err == nil || !strings.Contains(out, "not ed25519:") {
		t.Errorf("a wrong key: %v %s", err, out)
	}
	if out, err := run("ed25519:x'y"); err == nil || !strings.Contains(out, "quote") {
		t.Errorf("a quote: %v %s", err, out)
	}
	if out, err := run(signer); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pin, err := os.ReadFile(root + "/etc/fernetflow/signer.pub")
	if err != nil || string(pin) != signer+"\n" {
		t.Fatalf("signer.pub %q %v", pin, err)
	}
	if out, _ := os.ReadFile(root + "/out.hook"); string(out) != root+"/hooks/fernetflow" {
		t.Errorf("hook output %q", out)
	}
	hook := exec.Command(root + "/hooks/fernetflow")
	if out, err := hook.CombinedOutput(); err != nil {
		t.Fatalf("hook: %v %s", err, out)
	}
	args, err := os.ReadFile(ff + ".args")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{"node", "hook", "--state-dir", root + "/state", "--key-repository", "/etc/keystone/fernet-keys",
		"--keystone-user", "keystone", "--keystone-group", "keystone", "--signer-public-key", root + "/etc/fernetflow/signer.pub"}, "\n") + "\n"
	if string(args) != want {
		t.Errorf("the hook ran fernetflow with\n%s\nwant\n%s", args, want)
	}
	if fi, err := os.Stat(root + "/state"); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v %v", fi, err)
	}
}
