package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
)

// TestEveryOutputFormat runs the read-only output path of every command
// that has one and needs no cloud, in table, json and yaml: each must exit
// 0 and print what its format promises (JSON that parses, YAML that
// parses). Every action show NAME is among them.
func TestEveryOutputFormat(t *testing.T) {
	r := newRig(t, 2)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %d %s", code, errs)
	}
	state := filepath.Join(r.base, "undercloud")
	out, errs, code := runCLI(t, "", "execution", "list", "--state-dir", state, "-f", "json")
	var execs []execRow
	if code != 0 || json.Unmarshal([]byte(out), &execs) != nil || len(execs) == 0 {
		t.Fatalf("execution list: %d %s %s", code, out, errs)
	}
	repo := local.KeyRepository(r.nodes[0])
	commands := [][]string{
		{"action", "list"},
		{"execution", "list", "--state-dir", state},
		{"execution", "show", execs[0].ID, "--state-dir", state},
		{"cron-trigger", "list", "--state-dir", state},
		{"keys", "list", "--key-repository", repo},
		{"keys", "fingerprint", "--key-repository", repo},
		{"keys", "max-active", "--token-expiration", "1h", "--rotation-interval", "24h"},
		{"signer", "public", "--state-dir", state},
		{"check", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", state},
		{"status", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", state, "--schedule", "daily"},
	}
	reg := actions.All()
	for _, n := range reg.Names() {
		commands = append(commands, []string{"action", "show", n})
	}
	for _, args := range commands {
		for _, f := range []string{"table", "json", "yaml"} {
			name := strings.Join(args, " ") + " -f " + f
			out, errs, code := runCLI(t, "", append(append([]string{}, args...), "-f", f)...)
			if code != 0 || strings.TrimSpace(out) == "" {
				t.Errorf("%s: exit %d, stdout %q, stderr %s", name, code, out, errs)
				continue
			}
			var v any
			var err error
			switch f {
			case "json":
				err = json.Unmarshal([]byte(out), &v)
			case "yaml":
				err = yaml.Unmarshal([]byte(out), &v)
			}
			if err != nil {
				t.Errorf("%s: not %s: %v\n%s", name, f, err, out)
			}
		}
	}
}
