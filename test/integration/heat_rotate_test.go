//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// heatOvercloud is a Heat env with an "overcloud" stack of three
// controllers (OS::Heat::DeployedServer), each a node whose real
// os-collect-config runs fernetflow node collect, and an undercloud state
// directory with a signer the nodes pin.
type heatOvercloud struct {
	e     *heatEnv
	c     *gophercloud.ServiceClient
	root  string
	state string
	u     *heatUndercloud
	nodes []*heatNode
}

func startHeatOvercloud(t *testing.T) *heatOvercloud {
	t.Helper()
	e, c := startHeatClient(t)
	o := &heatOvercloud{e: e, c: c, root: t.TempDir()}
	o.state = filepath.Join(o.root, "undercloud")
	run(t, fernetflowBin, "signer", "init", "--state-dir", o.state)
	o.u = &heatUndercloud{pubFile: filepath.Join(o.state, "signer.pub")}
	names := []string{"Controller-0", "Controller-1", "Controller-2"}
	occ := createServersStack(t, c, "overcloud", names)
	servers, err := deploy.DiscoverServers(context.Background(), c, "overcloud", deploy.ServerFilter{Name: "Controller*"})
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers %v: %v", servers, err)
	}
	for _, s := range servers {
		o.nodes = append(o.nodes, newHeatNode(t, o.root, s, occ[s.Name], o.u))
	}
	return o
}

// TestHeatRotate runs `fernetflow rotate --target heat` against a real
// Keystone and heat-all: three OS::Heat::DeployedServer resources stand in
// for the overcloud's controllers, and each "node" runs real
// os-collect-config with `fernetflow node collect` as its command, polled
// in a loop as its timer would. After every rotation each node holds the
// master's set, and every token signed on any node so far validates on
// every node.
func TestHeatRotate(t *testing.T) {
	o := startHeatOvercloud(t)
	state, nodes := o.state, o.nodes

	// rotate runs fernetflow rotate while the nodes' os-collect-config polls.
	rotate := func(args ...string) (string, int) {
		t.Helper()
		out, errs, code, _ := heatFernetflow(t, o.e, nodes, append([]string{"rotate", "--target", "heat", "--os-cloud", heatItCloud,
			"--stack", "overcloud", "--role", "Controller", "--state-dir", state, "--max-active-keys", "5",
			"--token-expiration", "1h", "--allow-expired-window", "0", "--timeout", "3m", "-f", "json"}, args...)...)
		if code != 0 {
			t.Logf("fernetflow rotate exit %d:\n%s", code, errs)
		}
		return out, code
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
