package deploy

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// TestCleanupStale: leftovers of runs whose receiver is gone (closed:
// connection refused; or up but not knowing them: 404) are marked FAILED
// with one INFO line per server; what a live receiver (this process's or
// another's) waits for, NO_SIGNAL, COMPLETE and other groups are left
// alone.
func TestCleanupStale(t *testing.T) {
	h, current, targets := setup(t, 3)
	c := current.client
	newRcv := func() *Receiver {
		r, err := NewReceiver(c, ReceiverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	push := func(cfg softwareconfigs.CreateOpts, rcv *Receiver, ts ...Target) []Deployment {
		t.Helper()
		deps, err := Push(context.Background(), c, ts, PushOptions{Config: cfg, Receiver: rcv})
		if err != nil {
			t.Fatal(err)
		}
		return deps
	}
	// An interrupted run: its process (receiver) is gone.
	gone := newRcv()
	interrupted := push(installConfig, gone, targets...)
	gone.Close()
	// A run whose receiver is up but no longer knows its deployment (a
	// restarted fernetflow on the same address, without a key).
	forgot := newRcv()
	forgotten := push(installConfig, forgot, targets[2])
	forgot.Forget(forgotten[0].SignalID)
	// Another live run waits on server 1.
	live := push(installConfig, newRcv(), targets[1])
	// This process's own deployment, a NO_SIGNAL one, a COMPLETE one and
	// another group's, on server 0.
	own := push(installConfig, current, targets[0])
	nosig := push(installConfig, nil, targets[0])
	done := push(installConfig, newRcv(), targets[0])
	if _, err := softwaredeployments.Update(context.Background(), c, done[0].DeploymentID, softwaredeployments.UpdateOpts{Status: "COMPLETE"}).Extract(); err != nil {
		t.Fatal(err)
	}
	other := newRcv()
	script := push(softwareconfigs.CreateOpts{Name: "other", Group: "script", Config: "true"}, other, targets[0])
	other.Close()

	// Dry run: reports, changes nothing.
	got, err := CleanupStale(context.Background(), c, []Server{targets[0].Server, targets[1].Server, targets[2].Server}, StaleOptions{Receiver: current, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("dry run found %d leftovers: %+v", len(got), got)
	}
	if d := h.Deployment(interrupted[0].DeploymentID); d["status"] != "IN_PROGRESS" {
		t.Fatalf("dry run changed %v", d)
	}

	var logs syncBuffer
	got, err = CleanupStale(context.Background(), c, []Server{targets[0].Server, targets[1].Server, targets[2].Server},
		StaleOptions{Receiver: current, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Server+":"+s.DeploymentID+":"+strings.Fields(s.Why)[0])
	}
	want := []string{
		"ctrl-0:" + interrupted[0].DeploymentID + ":connection",
		"ctrl-1:" + interrupted[1].DeploymentID + ":connection",
		"ctrl-2:" + interrupted[2].DeploymentID + ":connection",
		"ctrl-2:" + forgotten[0].DeploymentID + ":HTTP",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("leftovers\n got %v\nwant %v", names, want)
	}
	for _, d := range append(interrupted, forgotten...) {
		if got := h.Deployment(d.DeploymentID); got["status"] != "FAILED" || got["status_reason"] != StaleReason {
			t.Errorf("%s on %s: %v %v", d.DeploymentID, d.Server.Name, got["status"], got["status_reason"])
		}
	}
	for what, d := range map[string]Deployment{"live": live[0], "own": own[0], "no signal": nosig[0], "script": script[0]} {
		if got := h.Deployment(d.DeploymentID); got["status"] != "IN_PROGRESS" {
			t.Errorf("%s deployment %s was changed: %v", what, d.DeploymentID, got["status"])
		}
	}
	if got := h.Deployment(done[0].DeploymentID); got["status"] != "COMPLETE" {
		t.Errorf("complete deployment changed: %v", got["status"])
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per server with leftovers, got:\n%s", logs.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, "level=INFO") || !strings.Contains(l, "leftover deployments of an earlier run marked FAILED") || strings.Contains(l, "/signal/") {
			t.Errorf("log line: %s", l)
		}
	}
	// Marked once: a second pass finds nothing.
	if again, err := CleanupStale(context.Background(), c, []Server{targets[2].Server}, StaleOptions{}); err != nil || len(again) != 0 {
		t.Fatalf("second pass: %v %v", again, err)
	}
	// Heat failing: the error names the server, the others still run.
	h.Fail = func(r *http.Request) int {
		if strings.Contains(r.URL.RawQuery, "srv-1") {
			return 500
		}
		return 0
	}
	if _, err := CleanupStale(context.Background(), c, []Server{targets[1].Server, targets[0].Server}, StaleOptions{}); err == nil || !strings.Contains(err.Error(), "leftovers of server ctrl-1") {
		t.Fatalf("err = %v", err)
	}
}

// TestCleanupStaleKeyedReceiver: a receiver with a key accepts the
// signals of an earlier receiver with that key, so their deployments are
// not leftovers.
func TestCleanupStaleKeyedReceiver(t *testing.T) {
	_, rcv, targets := setup(t, 1)
	key := []byte(strings.Repeat("k", 32))
	first, err := NewReceiver(rcv.client, ReceiverOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := Push(context.Background(), rcv.client, targets, PushOptions{Config: installConfig, Receiver: first})
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	first.Close()
	second, err := NewReceiver(rcv.client, ReceiverOptions{Key: key, Listen: addr})
	if err != nil {
		t.Skipf("could not listen again on %s: %v", addr, err)
	}
	defer second.Close()
	got, err := CleanupStale(context.Background(), rcv.client, []Server{targets[0].Server}, StaleOptions{})
	if err != nil || len(got) != 0 {
		t.Fatalf("deployment %s: %v %v", deps[0].DeploymentID, got, err)
	}
}
