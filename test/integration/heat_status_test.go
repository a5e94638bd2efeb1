//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// TestHeatStatus runs `fernetflow status --target heat` against a real
// Keystone and heat-all with three os-collect-config nodes: after a
// rotation the nodes come from its last report round, with its age; a
// node drifted since is not seen there (the age says how old the report
// is), and --refresh asks every node now (one report round) and names it.
func TestHeatStatus(t *testing.T) {
	o := startHeatOvercloud(t)
	base := []string{"--target", "heat", "--os-cloud", heatItCloud, "--stack", "overcloud", "--role", "Controller", "--state-dir", o.state}
	if out, errs, code, _ := heatFernetflow(t, o.e, o.nodes, append(append([]string{"rotate"}, base...),
		"--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0", "--timeout", "3m")...); code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errs)
	}
	type status struct {
		NodesSource string `json:"nodes_source"`
		Report      *struct {
			AgeSeconds float64 `json:"age_seconds"`
		} `json:"report"`
		Nodes []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"nodes"`
		Warnings []struct{ Code, Message string } `json:"warnings"`
	}
	statusOf := func(polled bool, extra ...string) (status, int) {
		t.Helper()
		var nodes []*heatNode
		if polled {
			nodes = o.nodes
		}
		out, errs, code, _ := heatFernetflow(t, o.e, nodes, append(append(append([]string{"status"}, base...), "--schedule", "daily", "-f", "json"), extra...)...)
		var s status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status: exit %d: %v\n%s\n%s", code, err, out, errs)
		}
		return s, code
	}
	time.Sleep(time.Second)
	s, code := statusOf(false)
	if code != 0 || s.NodesSource != "last report" || s.Report == nil || s.Report.AgeSeconds < 1 || len(s.Nodes) != 3 || len(s.Warnings) != 0 {
		t.Fatalf("after the rotation: exit %d, %+v", code, s)
	}
	for _, n := range s.Nodes {
		if n.Status != "ok" {
			t.Fatalf("after the rotation: %+v", s.Nodes)
		}
	}
	// keystone-manage fernet_rotate, as it were, on Controller-1.
	drifted := o.nodes[1]
	if _, err := keys.Rotate(t.Context(), drifted.repo, keys.RotateOptions{MaxActiveKeys: 5, TokenExpiration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if s, code = statusOf(false); code != 0 {
		t.Fatalf("from the last report, before any new one: exit %d, %+v", code, s)
	}
	s, code = statusOf(true, "--refresh", "--check-timeout", "3m")
	if code != 3 || s.NodesSource != "fresh report" {
		t.Fatalf("--refresh: exit %d, %+v", code, s)
	}
	found := false
	for _, n := range s.Nodes {
		if n.Name == drifted.name {
			found = n.Status == "drifted" && strings.Contains(n.Reason, "changed outside fernetflow")
		} else if n.Status != "ok" {
			t.Fatalf("--refresh: %+v", s.Nodes)
		}
	}
	if !found || len(s.Warnings) != 1 || s.Warnings[0].Code != "node_disagrees" {
		t.Fatalf("--refresh: the drifted node is not named: %+v", s)
	}
}
