package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fernetflow/fernetflow/workflow"
)

func TestStoreRoundTripAndRedaction(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "x", FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := workflow.StdRegistry()
	reg.Add(workflow.FuncAction{ActionName: "test.secret", IsSecret: true, Fn: func(context.Context, map[string]any) (any, error) {
		return map[string]any{"key": "very-secret-value"}, nil
	}})
	f, err := workflow.Load("t.yaml", []byte(`version: '2.0'
wf:
  input: [n: 2]
  output: {k: <% $.k %>, f: <% 1.5 %>}
  tasks:
    s:
      action: test.secret
      publish: {k: <% task().result.key %>}
`), reg)
	if err != nil {
		t.Fatal(err)
	}
	e := &workflow.Engine{Registry: reg, File: f, Recorder: st}
	ex, err := e.Run(context.Background(), f.Workflows[0], nil)
	if err != nil || ex.State != workflow.Success {
		t.Fatalf("%v %v", err, ex)
	}
	got, err := st.Get(ex.ID[:8])
	if err != nil {
		t.Fatal(err)
	}
	if got.State != workflow.Success || got.Input["n"] != int64(2) || got.Output["f"] != 1.5 {
		t.Fatalf("%+v", got)
	}
	if got.Output["k"] != workflow.Redacted || got.Tasks[0].Published["k"] != workflow.Redacted || got.Tasks[0].Result != workflow.Redacted {
		t.Fatalf("not redacted: %+v %+v", got.Output, got.Tasks[0])
	}
	list, err := st.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("%v %d", err, len(list))
	}
	if err := st.Delete(ex.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ex.ID); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), ex.ID) {
		t.Fatalf("%v", err)
	}
}
