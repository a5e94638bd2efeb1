package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow/definitions"

	"github.com/fernetflow/fernetflow/workflow"
)

func TestCronTriggerCommands(t *testing.T) {
	f := writeFile(t, "wf.yaml", twoWorkflows)
	state := t.TempDir()
	out, errs, code := runCLI(t, "", "cron-trigger", "create", "nightly", f, `{"who": "cron"}`, "--pattern", "0 3 * * *", "--count", "2", "--state-dir", state, "-f", "json")
	if code != 0 {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	var v cronView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.WorkflowName != "greet" || *v.RemainingExecutions != 2 || !strings.HasSuffix(v.NextExecutionTime, "03:00:00") {
		t.Fatalf("%v %s", err, out)
	}
	_, errs, code = runCLI(t, "", "cron-trigger", "create", "bad", f, "--state-dir", state, "--pattern", "* * * * *")
	if code != 2 || !strings.Contains(errs, "missing who") {
		t.Fatalf("input must be checked at creation: %d %s", code, errs)
	}
	out, _, code = runCLI(t, "", "cron-trigger", "list", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "nightly") || !strings.Contains(out, "0 3 * * *") {
		t.Fatalf("%d %s", code, out)
	}
	out, _, code = runCLI(t, "", "cron-trigger", "show", "nightly", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "next_execution_time") {
		t.Fatalf("%d %s", code, out)
	}
	out, _, code = runCLI(t, "", "cron-trigger", "delete", "nightly", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "accepted") {
		t.Fatalf("%d %s", code, out)
	}
}

// TestServeFiresDueTrigger stores a trigger whose slot has come and runs
// serve until it has fired it once.
func TestServeFiresDueTrigger(t *testing.T) {
	state := t.TempDir()
	st, err := newApp(nil, io.Discard, io.Discard).openStore(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	// Due at the minute that just passed, and then not for a day: a minute
	// boundary during the run must not make a second slot due.
	prev := now.Add(-time.Minute)
	tr, err := workflow.NewCronTrigger("due", fmt.Sprintf("%d %d * * *", prev.Minute(), prev.Hour()), nil, nil, now.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tr.WorkflowName, tr.WorkflowInput, tr.Definition, tr.SourceFile = "greet", map[string]any{"who": "serve"}, twoWorkflows, "wf.yaml"
	if err := st.CreateTrigger(tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	root := newApp(strings.NewReader(""), &out, &errb).root()
	root.SetArgs([]string{"serve", "--state-dir", state, "--tick", "100ms"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("%v %s", err, errb.String())
	}
	if n := strings.Count(errb.String(), "cron trigger due fired"); n != 1 {
		t.Fatalf("fired %d times:\n%s", n, errb.String())
	}
	list, err := st.List()
	if err != nil || len(list) != 1 || list[0].State != workflow.Success || list[0].Output["text"] != "hello serve!" || !strings.Contains(list[0].Description, `"cron_trigger"`) {
		t.Fatalf("%v %+v", err, list)
	}
	got, _ := st.GetTrigger("due")
	if got.LastFireTime == nil || !got.NextExecutionTime.After(now) {
		t.Fatalf("%+v", got)
	}
}

// A cron trigger of the shipped rotate_fernet_keys, fired by serve with a
// local fleet, rotates every node.
func TestServeCronRotatesALocalFleet(t *testing.T) {
	base := t.TempDir()
	state := filepath.Join(base, "undercloud")
	nodes := filepath.Join(base, "ctl0") + "," + filepath.Join(base, "ctl1")
	// The CLI path (cron-trigger create with a shipped name) is checked to
	// load; the slot is then made due now through the store, as Mistral's
	// semantics refuse a first time in the past.
	if _, errs, code := runCLI(t, "", "cron-trigger", "create", "weekly", "rotate_fernet_keys", "--state-dir", state,
		"--pattern", "0 3 * * 0", "--input", "max_active_keys=5"); code != 0 {
		t.Fatalf("cron-trigger create with a shipped workflow: %d %s", code, errs)
	}
	st, err := newApp(nil, io.Discard, io.Discard).openStore(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	prev := now.Add(-time.Minute)
	tr, err := workflow.NewCronTrigger("due", fmt.Sprintf("%d %d * * *", prev.Minute(), prev.Hour()), nil, nil, now.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := definitions.Source("rotate_fernet_keys.yaml")
	tr.WorkflowName, tr.Definition, tr.SourceFile = "rotate_fernet_keys", string(def), "rotate_fernet_keys.yaml"
	tr.WorkflowInput = map[string]any{"max_active_keys": int64(5), "token_expiration": int64(3600), "allow_expired_window": int64(0)}
	if err := st.CreateTrigger(tr); err != nil {
		t.Fatal(err)
	}
	serve := func(d time.Duration) string {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		var out, errb bytes.Buffer
		root := newApp(strings.NewReader(""), &out, &errb).root()
		root.SetArgs([]string{"serve", "--state-dir", state, "--tick", "100ms", "--target", "local", "--nodes", nodes})
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("%v %s", err, errb.String())
		}
		return errb.String()
	}
	// While a fernetflow rotate holds the state's run lock, the slot is
	// skipped, not run beside it.
	unlock, err := lockfile.Lock(t.Context(), filepath.Join(state, rotation.RunLockFile), lockfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := serve(time.Second); !strings.Contains(got, "cron trigger due: slot") || !strings.Contains(got, "skipped") || strings.Contains(got, "fired") {
		t.Fatalf("a slot fired while another run held the state:\n%s", got)
	}
	unlock()
	tr.Name, tr.ID = "due-again", workflow.NewID()
	if err := st.CreateTrigger(tr); err != nil {
		t.Fatal(err)
	}
	if got := serve(3 * time.Second); !strings.Contains(got, "ended SUCCESS (rotated)") {
		t.Fatalf("the cron trigger's rotation did not succeed:\n%s", got)
	}
	for _, n := range strings.Split(nodes, ",") {
		st, err := keys.Inspect(filepath.Join(n, "fernet-keys"))
		if err != nil || len(st.Keys) != 2 {
			t.Fatalf("%s after the cron rotation: %+v %v", n, st, err)
		}
	}
}
