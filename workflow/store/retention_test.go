package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

const testEnvelope = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZWNyZXQ=\n-----END AGE ENCRYPTED FILE-----\n"

// An armored envelope anywhere in an execution (a keys.package output, a
// fleet.deploy input published, a state_info) is stored as its
// fingerprint only: the file never holds it.
func TestStoreKeepsNoEnvelope(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ex := &workflow.Execution{ID: "e1", WorkflowName: "rotate_fernet_keys", State: workflow.Success, CreatedAt: now, UpdatedAt: now,
		StateInfo: "failed on " + testEnvelope,
		Input:     map[string]any{"envelope": testEnvelope},
		Output:    map[string]any{"n": 1},
		Tasks: []*workflow.TaskExecution{{ID: "t1", Name: "package", State: workflow.Success,
			Result:    map[string]any{"envelopes": []any{map[string]any{"server_id": "s0", "envelope": testEnvelope, "generation": 3}}},
			Published: map[string]any{"sealed": []any{testEnvelope, "x" + testEnvelope[:60]}}}},
	}
	if err := st.Record(context.Background(), ex); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("BEGIN AGE ENCRYPTED FILE")) || bytes.Contains(raw, []byte("YWdlLWVuY3J5cHRpb24")) {
		t.Fatal("the store holds an envelope")
	}
	got, err := st.Get("e1")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(testEnvelope))
	marker := "<age envelope sha256:" + hex.EncodeToString(sum[:]) + ", not stored>"
	env := got.Tasks[0].Result.(map[string]any)["envelopes"].([]any)[0].(map[string]any)
	if env["envelope"] != marker || env["server_id"] != "s0" || fmt.Sprint(env["generation"]) != "3" {
		t.Errorf("result = %v, want the envelope replaced by %s", env, marker)
	}
	if got.Input["envelope"] != marker || got.StateInfo != "failed on "+marker {
		t.Errorf("input %v, state_info %q", got.Input, got.StateInfo)
	}
	if s := got.Tasks[0].Published["sealed"].([]any)[1].(string); !strings.HasPrefix(s, "x<age envelope sha256:") {
		t.Errorf("a cut envelope: %q", s)
	}
}

// Recording beyond MaxExecutions drops the oldest finished executions (a
// running one stays); DeleteOlderThan drops the finished ones last updated
// before the cutoff.
func TestStoreRetention(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	st.MaxExecutions = 3
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(id string, state workflow.State, age time.Duration) {
		t.Helper()
		at := base.Add(-age)
		if err := st.Record(context.Background(), &workflow.Execution{ID: id, State: state, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	record("running-old", workflow.Running, 100*time.Hour)
	for i := 5; i >= 1; i-- {
		record(fmt.Sprintf("done-%d", i), workflow.Success, time.Duration(i)*time.Hour)
	}
	ids := func() string {
		list, err := st.List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.ID)
		}
		return strings.Join(out, " ")
	}
	if got, want := ids(), "done-1 done-2 running-old"; got != want {
		t.Fatalf("after 6 records with MaxExecutions 3: %s, want %s", got, want)
	}
	// Updating a kept execution prunes nothing.
	record("done-2", workflow.Success, 2*time.Hour)
	if got := ids(); got != "done-1 done-2 running-old" {
		t.Fatalf("after an update: %s", got)
	}
	deleted, err := st.DeleteOlderThan(base.Add(-90 * time.Minute))
	if err != nil || strings.Join(deleted, " ") != "done-2" {
		t.Fatalf("DeleteOlderThan: %v %v", deleted, err)
	}
	if got := ids(); got != "done-1 running-old" {
		t.Fatalf("after DeleteOlderThan: %s", got)
	}
	st.MaxExecutions = -1
	for i := range 5 {
		record(fmt.Sprintf("more-%d", i), workflow.Success, 0)
	}
	if list, _ := st.List(); len(list) != 7 {
		t.Fatalf("MaxExecutions -1 keeps %d of 7", len(list))
	}
}
