package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fernetflow/fernetflow/workflow"
)

// TestDecodeCache checks that the decode cache never serves stale or
// shared executions: a record another Store (another process) rewrote is
// read afresh, a caller's changes to what it got do not reach the next
// reader, a deleted execution is gone, and a prefix lookup finds the
// execution under its own id.
func TestDecodeCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path) // another process's view of the same file
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ex := benchExecution(1)
	ex.State = workflow.Running
	if err := a.Record(ctx, ex); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"first read", func(t *testing.T) {
			got, err := b.Get(ex.ID)
			if err != nil || got.State != workflow.Running {
				t.Fatalf("%v %v", got, err)
			}
		}},
		{"a caller's changes stay its own", func(t *testing.T) {
			got, _ := b.Get(ex.ID)
			got.State = workflow.Failed
			got.Tasks[0].State = workflow.Failed
			got.Tasks = append(got.Tasks, &workflow.TaskExecution{ID: "extra"})
			got.Input["n"] = "changed"
			again, _ := b.Get(ex.ID)
			if again.State != workflow.Running || again.Tasks[0].State != workflow.Success || len(again.Tasks) != 3 || again.Input["n"] == "changed" {
				t.Fatalf("the cache kept a caller's change: %+v %+v", again, again.Tasks[0])
			}
		}},
		{"another store's write is seen", func(t *testing.T) {
			ex.State, ex.StateInfo = workflow.Success, "done elsewhere"
			if err := a.Record(ctx, ex); err != nil {
				t.Fatal(err)
			}
			got, err := b.Get(ex.ID)
			if err != nil || got.State != workflow.Success || got.StateInfo != "done elsewhere" {
				t.Fatalf("stale: %v %v", got, err)
			}
			l, err := b.List()
			if err != nil || len(l) != 1 || l[0].StateInfo != "done elsewhere" {
				t.Fatalf("stale list: %v %v", l, err)
			}
		}},
		{"a prefix finds the execution", func(t *testing.T) {
			got, err := b.Get(ex.ID[:8])
			if err != nil || got.ID != ex.ID {
				t.Fatalf("%v %v", got, err)
			}
		}},
		{"a deleted execution is gone", func(t *testing.T) {
			if err := a.Delete(ex.ID); err != nil {
				t.Fatal(err)
			}
			if got, err := b.Get(ex.ID); err == nil {
				t.Fatalf("deleted, yet read: %v", got)
			}
			if l, _ := b.List(); len(l) != 0 {
				t.Fatalf("deleted, yet listed: %v", l)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.check)
	}
}
