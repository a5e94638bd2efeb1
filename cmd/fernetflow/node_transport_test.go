package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeCollectAndHookCLI: the same install deployment through
// `node collect` (NO_SIGNAL, from a metadata file) and `node hook` (stdin)
// on two nodes gives the same outputs.
func TestNodeCollectAndHookCLI(t *testing.T) {
	f := newEnvelopeFlow(t, 2)
	deployment := func(i int) map[string]any {
		return map[string]any{"id": "cfg-" + f.servers[i], "name": "fernetflow-install", "group": "fernetflow", "config": "install",
			"inputs": []any{
				map[string]any{"name": "envelope", "type": "String", "value": f.seal(i)},
				map[string]any{"name": "deploy_server_id", "type": "String", "value": f.servers[i]},
				map[string]any{"name": "deploy_signal_transport", "type": "String", "value": "NO_SIGNAL"},
			}}
	}
	md, _ := json.Marshal(map[string]any{"deployments": []any{deployment(0),
		map[string]any{"id": "other", "group": "script", "config": "#!/bin/sh\nexit 1", "inputs": []any{}}}})
	mdFile := filepath.Join(t.TempDir(), "heat.json")
	if err := os.WriteFile(mdFile, md, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CONFIG_FILES", mdFile)
	out := f.mustRun("", "node", "collect", "--state-dir", f.stateDirs[0], "--key-repository", f.repos[0], "--signer-public-key", f.pub)
	var rep struct {
		Applied []struct {
			Outputs map[string]any `json:"outputs"`
		} `json:"applied"`
		Skipped int `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Applied) != 1 || rep.Skipped != 1 {
		t.Fatalf("collect printed %q (%v)", out, err)
	}
	collected := rep.Applied[0].Outputs

	in, _ := json.Marshal(deployment(1))
	out = f.mustRun(string(in), "node", "hook", "--state-dir", f.stateDirs[1], "--key-repository", f.repos[1], "--signer-public-key", f.pub)
	var hooked map[string]any
	if err := json.Unmarshal([]byte(out), &hooked); err != nil {
		t.Fatalf("hook printed %q: %v", out, err)
	}
	for _, k := range []string{"generation", "fingerprint", "changed", "deploy_status_code", "deploy_stderr", "deploy_stdout"} {
		if collected[k] != hooked[k] {
			t.Errorf("%s: collect %v, hook %v", k, collected[k], hooked[k])
		}
	}
	if collected["deploy_status_code"] != 0.0 || collected["changed"] != true {
		t.Fatalf("collect outputs %v", collected)
	}

	// Usage errors.
	t.Setenv("OS_CONFIG_FILES", "")
	if _, errs, code := f.run("", "node", "collect", "--signer-public-key", f.pub); code != 2 || !strings.Contains(errs, "OS_CONFIG_FILES") {
		t.Fatalf("collect without metadata: %d %s", code, errs)
	}
	if _, errs, code := f.run("garbage", "node", "hook", "--signer-public-key", f.pub); code != 1 || !strings.Contains(errs, "not a heat-config deployment") {
		t.Fatalf("hook on garbage: %d %s", code, errs)
	}
}
