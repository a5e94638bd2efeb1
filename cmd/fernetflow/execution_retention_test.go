package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// After fernetflow rotate --target local, executions.db holds no envelope
// (keys.package's outputs and fleet.deploy's inputs are stored as
// fingerprints); execution delete --older-than and --keep-executions bound
// what is kept.
func TestExecutionStoreHoldsNoEnvelopeAndIsBounded(t *testing.T) {
	r := newRig(t, 2)
	for range 2 {
		if _, errs, code := r.run("rotate"); code != 0 {
			t.Fatalf("rotate: %d %s", code, errs)
		}
	}
	state := filepath.Join(r.base, "undercloud")
	db := filepath.Join(state, "executions.db")
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("BEGIN AGE ENCRYPTED FILE")) {
		t.Fatal("executions.db holds an armored envelope")
	}
	if !bytes.Contains(raw, []byte("age envelope sha256:")) {
		t.Error("executions.db does not name the envelopes it left out")
	}
	list := func() []execRow {
		t.Helper()
		out, errs, code := runCLI(t, "", "execution", "list", "--state-dir", state, "-f", "json")
		var rows []execRow
		if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
			t.Fatalf("execution list: %d %s", code, errs)
		}
		return rows
	}
	if n := len(list()); n != 2 {
		t.Fatalf("%d executions, want 2", n)
	}
	// A third run with --keep-executions 2 drops the oldest.
	if _, errs, code := r.run("rotate", "--keep-executions", "2"); code != 0 {
		t.Fatalf("rotate: %d %s", code, errs)
	}
	if n := len(list()); n != 2 {
		t.Fatalf("%d executions after --keep-executions 2, want 2", n)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--older-than", "1h", "some-id"}, "not both"},
		{[]string{"--older-than", "-1h"}, "positive"},
		{nil, "--older-than"},
	} {
		if _, errs, code := runCLI(t, "", append([]string{"execution", "delete", "--state-dir", state}, c.args...)...); code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("execution delete %v: %d %s", c.args, code, errs)
		}
	}
	out, _, code := runCLI(t, "", "execution", "delete", "--state-dir", state, "--older-than", "1h")
	if code != 0 || strings.Count(out, "accepted") != 0 || len(list()) != 2 {
		t.Fatalf("--older-than 1h deleted recent executions: %d %s", code, out)
	}
	out, _, code = runCLI(t, "", "execution", "delete", "--state-dir", state, "--older-than", "1ns")
	if code != 0 || strings.Count(out, "accepted") != 2 || len(list()) != 0 {
		t.Fatalf("--older-than 1ns: %d %s", code, out)
	}
}
