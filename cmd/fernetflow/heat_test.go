package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

func TestHeatCommands(t *testing.T) {
	h := deploytest.NewCloud(t)
	h.AddServer("ctrl-0", "srv-0")
	h.AddServer("ctrl-1", "srv-1")
	ctx := context.Background()
	c, err := deploy.NewOrchestrationClient(ctx, deploy.CloudOptions{Cloud: deploytest.CloudName})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []softwareconfigs.CreateOpts{
		{Name: "fernetflow-install", Config: "install"}, {Name: "fernetflow-install", Config: "install"}, {Name: "other", Group: "script"},
	} {
		if _, err := deploy.Push(ctx, c, []deploy.Target{{Server: deploy.Server{Name: "ctrl-0", ID: "srv-0"}}}, deploy.PushOptions{Config: cfg}); err != nil {
			t.Fatal(err)
		}
	}

	out, errs, code := runCLI(t, "", "heat", "servers", "--os-cloud", "fake", "--stack", "overcloud", "--name", "ctrl-*")
	if code != 0 || !strings.Contains(out, "ctrl-0") || !strings.Contains(out, "srv-1") || !strings.Contains(out, "SERVER ID") {
		t.Fatalf("heat servers: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "", "heat", "deployments", "--os-cloud", "fake", "-f", "json")
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[0]["config_name"] != "fernetflow-install" || rows[0]["server"] != "ctrl-0" {
		t.Fatalf("heat deployments: %d\n%s%s", code, out, errs)
	}
	out, _, code = runCLI(t, "", "heat", "deployments", "--os-cloud", "fake", "--server-id", "srv-0", "--all", "-f", "json")
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 3 {
		t.Fatalf("heat deployments --all: %d %s", code, out)
	}
	out, _, code = runCLI(t, "", "heat", "cleanup", "--os-cloud", "fake", "--dry-run", "-f", "json")
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
		t.Fatalf("heat cleanup --dry-run: %d %s", code, out)
	}
	if _, c := h.Counts(); c != 3 {
		t.Fatalf("dry run deleted: %d deployments left", c)
	}
	out, _, code = runCLI(t, "", "heat", "cleanup", "--os-cloud", "fake", "-f", "json")
	if _, c := h.Counts(); code != 0 || c != 2 {
		t.Fatalf("heat cleanup: %d %s, %d deployments left", code, out, c)
	}
	_, errs, code = runCLI(t, "", "heat", "servers", "--os-cloud", "nope")
	if code != 1 || !strings.Contains(errs, `cloud "nope"`) {
		t.Fatalf("unknown cloud: %d %s", code, errs)
	}
	_, errs, code = runCLI(t, "", "heat", "servers", "--os-cloud", "fake", "--stack", "missing")
	if code != 1 || !strings.Contains(errs, `stack "missing" not found`) {
		t.Fatalf("missing stack: %d %s", code, errs)
	}
}

func TestHeatHostFlags(t *testing.T) {
	a := newApp(strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	cmd := a.root()
	build := a.heatHostFlags(cmd)
	if err := cmd.ParseFlags([]string{"--os-cloud", "fake", "--signal-listen", "127.0.0.1:7999", "--signal-url", "http://undercloud:7999", "--signal-key-file", "/k"}); err != nil {
		t.Fatal(err)
	}
	h := build()
	if h.Cloud.Cloud != "fake" || h.SignalListen != "127.0.0.1:7999" || h.SignalBaseURL != "http://undercloud:7999" || h.SignalKeyFile != "/k" || h.Log == nil {
		t.Fatalf("host %+v", h)
	}
}

// TestHeatCleanupLeftovers: --leftovers marks the deployment of a run
// whose receiver is gone FAILED, and only with it.
func TestHeatCleanupLeftovers(t *testing.T) {
	h := deploytest.NewCloud(t)
	h.AddServer("ctrl-0", "srv-0")
	ctx := context.Background()
	c, err := deploy.NewOrchestrationClient(ctx, deploy.CloudOptions{Cloud: deploytest.CloudName})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := deploy.NewReceiver(c, deploy.ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := deploy.Push(ctx, c, []deploy.Target{{Server: deploy.Server{Name: "ctrl-0", ID: "srv-0"}}}, deploy.PushOptions{Config: softwareconfigs.CreateOpts{Name: "fernetflow-enroll", Config: "enroll"}, Receiver: rcv})
	if err != nil {
		t.Fatal(err)
	}
	rcv.Close() // the run ended
	var rows []map[string]any
	out, errs, code := runCLI(t, "", "heat", "cleanup", "--os-cloud", "fake", "--leftovers", "--dry-run", "-f", "json")
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0]["deployment_id"] != deps[0].DeploymentID {
		t.Fatalf("dry run: %d %s%s", code, out, errs)
	}
	if d := h.Deployment(deps[0].DeploymentID); d["status"] != "IN_PROGRESS" {
		t.Fatalf("dry run changed it: %v", d["status"])
	}
	out, errs, code = runCLI(t, "", "heat", "cleanup", "--os-cloud", "fake", "--leftovers", "-v", "-f", "json")
	if d := h.Deployment(deps[0].DeploymentID); code != 0 || d["status"] != "FAILED" || !strings.Contains(errs, "leftover deployments of an earlier run marked FAILED") {
		t.Fatalf("leftovers: %d %s%s %v", code, out, errs, d["status"])
	}
	if _, errs, code = runCLI(t, "", "heat", "cleanup", "--os-cloud", "fake", "--leftovers", "--keep", "2"); code != exitUsage {
		t.Fatalf("--keep with --leftovers: %d %s", code, errs)
	}
}
