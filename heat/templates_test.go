package heat

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/internal/node"
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

// TestNodeTemplate checks that fernet-node.yaml's deployment is one that
// fernetflow node collect and node hook apply: group fernetflow, config
// pin-signer, its inputs declared; then applies it as Heat derives it and
// checks the pinned signer.
func TestNodeTemplate(t *testing.T) {
	var h hotFile
	readHOT(t, "fernet-node.yaml", &h)
	cfg := h.Resources["FernetflowNodeConfig"]
	if cfg.Type != "OS::Heat::SoftwareConfig" || cfg.Properties["group"] != node.HeatGroup || cfg.Properties["config"] != node.PinSignerConfig {
		t.Fatalf("FernetflowNodeConfig: %s group %v config %v, want group %s config %s (what node collect applies)",
			cfg.Type, cfg.Properties["group"], cfg.Properties["config"], node.HeatGroup, node.PinSignerConfig)
	}
	var inputs, outputs []string
	for _, in := range cfg.Properties["inputs"].([]any) {
		inputs = append(inputs, in.(map[string]any)["name"].(string))
	}
	for _, out := range cfg.Properties["outputs"].([]any) {
		outputs = append(outputs, out.(map[string]any)["name"].(string))
	}
	dep := h.Resources["FernetflowNodeDeployment"]
	if dep.Type != "OS::Heat::SoftwareDeployment" {
		t.Fatalf("FernetflowNodeDeployment is %s", dep.Type)
	}
	values := dep.Properties["input_values"].(map[string]any)
	for name := range values {
		if !slices.Contains(inputs, name) {
			t.Errorf("input_values sets %s, which the config does not declare", name)
		}
	}
	if !slices.Contains(outputs, "signer_public_key") {
		t.Errorf("outputs %v: the template's pinned_signer reads signer_public_key", outputs)
	}
	if len(h.Parameters) != 2 || h.Parameters["server"] == nil || h.Parameters["signer_public_key"] == nil {
		t.Errorf("parameters %v, want server and signer_public_key only (no paths of the node in Heat)", h.Parameters)
	}

	// The derived config, as Heat publishes it in the server's metadata.
	const signer = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	c := node.HeatConfig{ID: "d1", Name: "FernetflowNodeDeployment", Group: cfg.Properties["group"].(string), Config: cfg.Properties["config"],
		Inputs: []node.HeatInput{{Name: "signer_public_key", Value: signer}, {Name: "deploy_server_id", Value: "0d4f6e1a"},
			{Name: "deploy_signal_transport", Value: "NO_SIGNAL"}}}
	state := filepath.Join(t.TempDir(), "state")
	out := node.ApplyHeatConfig(context.Background(), c, node.TransportOptions{Install: node.InstallOptions{StateDir: state}})
	if out["deploy_status_code"] != 0 || out["signer_public_key"] != signer {
		t.Fatalf("applied: %v", out)
	}
	if b, err := os.ReadFile(filepath.Join(state, node.SignerFile)); err != nil || string(b) != signer+"\n" {
		t.Fatalf("%s: %q %v", node.SignerFile, b, err)
	}
}
