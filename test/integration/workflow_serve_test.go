//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTwoProcessesFireOnce starts two fernetflow serve processes on
// one state directory with a trigger firing every minute, and checks that
// the slot produced exactly one execution, then that a restarted serve
// does not fire it again.
func TestServeTwoProcessesFireOnce(t *testing.T) {
	state := t.TempDir()
	wf := filepath.Join(t.TempDir(), "tick.yaml")
	if err := os.WriteFile(wf, []byte("version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.echo output=\"tock\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, fernetflowBin, "cron-trigger", "create", "every_min", wf, "--pattern", "* * * * *", "--state-dir", state)
	// Wait until the next minute has come, then start both at once.
	now := time.Now().UTC()
	next := now.Truncate(time.Minute).Add(time.Minute)
	if d := time.Until(next); d > 0 {
		if d > 65*time.Second {
			t.Fatalf("next slot %v is too far", next)
		}
		t.Logf("waiting %s for the %s slot", d.Round(time.Second), next.Format("15:04"))
		time.Sleep(d + 200*time.Millisecond)
	}
	serve := func() (*exec.Cmd, *strings.Builder) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		var errb strings.Builder
		cmd := exec.CommandContext(ctx, fernetflowBin, "serve", "--state-dir", state, "--tick", "50ms")
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &errb
	}
	a, aerr := serve()
	b, berr := serve()
	time.Sleep(3 * time.Second)
	for _, c := range []*exec.Cmd{a, b} {
		_ = c.Process.Signal(os.Interrupt)
		_ = c.Wait()
	}
	fired := strings.Count(aerr.String(), "fired:") + strings.Count(berr.String(), "fired:")
	if fired != 1 {
		t.Fatalf("the %s slot fired %d times:\nA: %s\nB: %s", next.Format("15:04"), fired, aerr, berr)
	}
	// A restart within the same minute does not fire the slot again.
	c, cerr := serve()
	time.Sleep(1500 * time.Millisecond)
	_ = c.Process.Signal(os.Interrupt)
	_ = c.Wait()
	if strings.Contains(cerr.String(), "fired:") && time.Now().UTC().Truncate(time.Minute).Equal(next) {
		t.Fatalf("a restarted serve fired the slot again: %s", cerr)
	}
	out := run(t, fernetflowBin, "execution", "list", "--state-dir", state, "-f", "json")
	var list []struct{ State string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) < 1 || list[0].State != "SUCCESS" {
		t.Fatalf("%v %s", err, out)
	}
}
