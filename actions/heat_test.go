package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
)

// signalAll plays the nodes: each PUTs its outputs to the signal URL of
// its newest fernetflow deployment.
func signalAll(t *testing.T, h *deploytest.Heat, servers []string, code int) {
	t.Helper()
	for _, s := range servers {
		md := h.Metadata(s)
		cfg := md[len(md)-1]
		var url string
		for _, in := range cfg["inputs"].([]any) {
			if m := in.(map[string]any); m["name"] == "deploy_signal_id" {
				url = m["value"].(string)
			}
		}
		body, _ := json.Marshal(map[string]any{"deploy_status_code": code, "deploy_stdout": "", "deploy_stderr": "", "generation": 3, "fingerprint": "sha256:x", "changed": true})
		req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("signal %s: HTTP %d", s, resp.StatusCode)
		}
	}
}

func TestHeatActions(t *testing.T) {
	h := deploytest.NewCloud(t)
	h.AddServer("ctrl-0", "srv-0")
	h.AddServer("ctrl-1", "srv-1")
	h.AddServer("compute-0", "srv-c")
	host := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}}
	defer host.Close()
	r, err := newRegistry(heatActions(host)...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "heat.cleanup,heat.deploy,heat.servers,heat.wait" {
		t.Fatalf("names %s", got)
	}
	run := func(name string, in map[string]any) any {
		t.Helper()
		a, _ := r.Lookup(name)
		validate(t, name+".input", a.InputSchema(), in)
		out, err := a.Run(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		validate(t, name+".output", a.OutputSchema(), out)
		return out
	}
	servers := run("heat.servers", map[string]any{"stack": "overcloud", "name": "ctrl-*"}).([]any)
	if len(servers) != 2 || servers[0].(map[string]any)["server_id"] != "srv-0" {
		t.Fatalf("servers %v", servers)
	}
	var targets []any
	for _, s := range servers {
		m := s.(map[string]any)
		targets = append(targets, map[string]any{"name": m["name"], "server_id": m["server_id"], "input_values": map[string]any{"envelope": "AGE..."}})
	}
	for round := range 2 {
		deps := run("heat.deploy", map[string]any{"kind": "install", "targets": targets, "concurrency": int64(2)}).([]any)
		if len(deps) != 2 {
			t.Fatalf("deployments %v", deps)
		}
		signalAll(t, h, []string{"srv-0", "srv-1"}, 0)
		res := run("heat.wait", map[string]any{"deployments": deps, "timeout": 5.0}).([]any)
		for _, x := range res {
			m := x.(map[string]any)
			if m["status"] != "COMPLETE" || m["outputs"].(map[string]any)["fingerprint"] != "sha256:x" {
				t.Fatalf("round %d: result %v", round, m)
			}
		}
	}
	removed := run("heat.cleanup", map[string]any{"server_ids": []any{"srv-0", "srv-1"}}).([]any)
	if len(removed) != 2 {
		t.Fatalf("removed %v", removed)
	}

	// A failed node fails heat.wait, naming it.
	deps := run("heat.deploy", map[string]any{"kind": "install", "targets": targets[:1]}).([]any)
	signalAll(t, h, []string{"srv-0"}, 1)
	wait, _ := r.Lookup("heat.wait")
	_, err = wait.Run(context.Background(), map[string]any{"deployments": deps, "timeout": 5.0})
	if err == nil || !strings.Contains(err.Error(), "ctrl-0") || !strings.Contains(err.Error(), "FAILED") {
		t.Fatalf("failed node: %v", err)
	}
	deployA, _ := r.Lookup("heat.deploy")
	if _, err := deployA.Run(context.Background(), map[string]any{"kind": "rotate", "targets": []any{}}); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func TestHeatHostNoCloud(t *testing.T) {
	t.Setenv("OS_CLIENT_CONFIG_FILE", t.TempDir()+"/none.yaml")
	host := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: "missing"}}
	a := heatServers(host)
	if _, err := a.Run(context.Background(), map[string]any{"stack": "overcloud"}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err = %v", err)
	}
}

// TestHeatHostRefusesLoopbackSignal: with Heat on another host, a
// loopback --signal-listen is refused before anything is pushed, naming
// the flag; an empty one is derived from the route to Heat.
func TestHeatHostRefusesLoopbackSignal(t *testing.T) {
	h := deploytest.NewCloud(t)
	h.AddServer("ctrl-0", "srv-0")
	// The fake Heat is on 127.0.0.1; this route plays an undercloud whose
	// Heat is on the ctlplane (fault injection: no real second host).
	remote := func(context.Context, string) (net.IP, net.IP, error) {
		return net.ParseIP("127.0.0.1"), net.ParseIP("192.168.24.2"), nil
	}
	host := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}, SignalListen: "127.0.0.1:0", Route: remote}
	defer host.Close()
	_, err := host.Receiver(context.Background())
	if err == nil || !errors.Is(err, deploy.ErrSignalAddress) || !strings.Contains(err.Error(), "signal listen address 127.0.0.1:0 is a loopback address") {
		t.Fatalf("err = %v", err)
	}
	if c, d := h.Counts(); c != 0 || d != 0 {
		t.Fatalf("pushed %d configs, %d deployments", c, d)
	}
	// Derived: the route's local address (loopback here, so that the test
	// can listen on it), any port.
	derived := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}, Route: remote}
	defer derived.Close()
	rcv, err := derived.Receiver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rcv.BaseURL(), "http://127.0.0.1:") {
		t.Fatalf("base %s", rcv.BaseURL())
	}
}

// TestHeatHostCleanupStale: a run that ended (its host closed) leaves an
// IN_PROGRESS deployment; the next host marks it FAILED, and leaves its
// own alone.
func TestHeatHostCleanupStale(t *testing.T) {
	h := deploytest.NewCloud(t)
	h.AddServer("ctrl-0", "srv-0")
	srv := []deploy.Server{{Name: "ctrl-0", ID: "srv-0"}}
	push := func(host *deploy.Host) string {
		t.Helper()
		out, err := heatDeploy(host).Run(context.Background(), map[string]any{"kind": "enroll", "targets": []any{map[string]any{"name": "ctrl-0", "server_id": "srv-0"}}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(out)
		var deps []heatDeployOut
		_ = json.Unmarshal(b, &deps)
		return deps[0].DeploymentID
	}
	earlier := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}}
	left := push(earlier)
	earlier.Close()
	next := &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}}
	defer next.Close()
	own := push(next)
	got, err := next.CleanupStale(context.Background(), srv)
	if err != nil || len(got) != 1 || got[0].DeploymentID != left {
		t.Fatalf("got %+v, %v", got, err)
	}
	if d := h.Deployment(left); d["status"] != "FAILED" || d["status_reason"] != deploy.StaleReason {
		t.Fatalf("leftover %v", d)
	}
	if d := h.Deployment(own); d["status"] != "IN_PROGRESS" {
		t.Fatalf("own deployment %v", d["status"])
	}
}
