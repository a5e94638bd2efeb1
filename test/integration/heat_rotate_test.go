//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"

	"os"
	"os/exec"
	"path/filepath"

	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// TestHeatRotate runs `fernetflow rotate --target heat` against a real
// Keystone and heat-all: three OS::Heat::DeployedServer resources stand in
// for the overcloud's controllers, and each "node" runs real
// os-collect-config with `fernetflow node collect` as its command, polled
// in a loop as its timer would. After every rotation each node holds the
// master's set, and every token signed on any node so far validates on
// every node.
func TestHeatRotate(t *testing.T) {
	e, c := startHeatClient(t)
	ctx := context.Background()
	root := t.TempDir()
	state := filepath.Join(root, "undercloud")
	run(t, fernetflowBin, "signer", "init", "--state-dir", state)
	u := &heatUndercloud{pubFile: filepath.Join(state, "signer.pub")}

	names := []string{"Controller-0", "Controller-1", "Controller-2"}
	occ := createServersStack(t, c, "overcloud", names)
	servers, err := deploy.DiscoverServers(ctx, c, "overcloud", deploy.ServerFilter{Name: "Controller*"})
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers %v: %v", servers, err)
	}
	var nodes []*heatNode
	for _, s := range servers {
		nodes = append(nodes, newHeatNode(t, root, s, occ[s.Name], u))
	}

	// rotate runs fernetflow rotate while the nodes' os-collect-config polls.
	rotate := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(fernetflowBin, append([]string{"rotate", "--target", "heat", "--os-cloud", heatItCloud,
			"--stack", "overcloud", "--role", "Controller", "--state-dir", state, "--max-active-keys", "5",
			"--token-expiration", "1h", "--allow-expired-window", "0", "--timeout", "3m", "-f", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+e.clouds)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(8 * time.Minute)
		for {
			select {
			case err := <-done:
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if code != 0 {
					t.Logf("fernetflow rotate exit %d:\n%s", code, errb.String())
				}
				return out.String(), code
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("fernetflow rotate did not finish in 8 minutes:\n%s\n%s", errb.String(), e.tail())
			default:
			}
			pollAll(t, nodes, 3) // os-collect-config on every node, as their timers would
		}
	}

	var tokens []string
	for g := uint64(1); g <= 3; g++ {
		out, code := rotate()
		if code != 0 {
			t.Fatalf("rotation to generation %d: exit %d\n%s", g, code, out)
		}
		var res struct {
			State      string `json:"state"`
			Generation uint64 `json:"generation"`
			Servers    []struct {
				Name, State, Fingerprint string
				Generation               uint64
			} `json:"servers"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if res.State != "SUCCESS" || res.Generation != g || len(res.Servers) != 3 {
			t.Fatalf("rotation to generation %d: %s", g, out)
		}
		master, err := keys.Open(filepath.Join(state, "master", "fernet-keys"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			r, err := keys.Open(n.repo)
			if err != nil {
				t.Fatalf("generation %d: %s: %v", g, n.name, err)
			}
			if r.Keys.Fingerprint() != master.Keys.Fingerprint() {
				t.Fatalf("generation %d: %s holds another set than the master", g, n.name)
			}
			tok, err := keys.IssueToken(r.Keys, []byte(n.name))
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
		for _, n := range nodes {
			r, _ := keys.Open(n.repo)
			for i, tok := range tokens {
				if _, _, err := keys.VerifyToken(r.Keys, tok, 0); err != nil {
					t.Fatalf("generation %d: %s rejects token %d", g, n.name, i)
				}
			}
		}
		t.Logf("generation %d on 3 Heat servers", g)
	}
	// The servers' metadata does not grow with every rotation.
	out := run(t, fernetflowBin, "heat", "deployments", "--os-cloud", heatItCloud, "--stack", "overcloud", "--name", "Controller*", "-f", "json")
	var deps []map[string]any
	if err := json.Unmarshal([]byte(out), &deps); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(deps) > 3*2 {
		t.Fatalf("%d fernetflow deployments left on 3 servers after 3 rotations: superseded ones are not cleaned up\n%s", len(deps), out)
	}
}
