package store

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// TestClaimDueOnce has several store handles (as several serve processes
// would have: separate opens of one file, serialised by bbolt's file lock)
// claim the same due slot at once: exactly one gets it, and a later claim
// at the same time (a restarted process) gets nothing.
func TestClaimDueOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 15, 0, 30, 0, time.UTC)
	tr, err := workflow.NewCronTrigger("tick", "* * * * *", nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTrigger(tr); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTrigger(tr); err == nil {
		t.Fatal("a second trigger of the same name was accepted")
	}
	fire := now.Add(31 * time.Second) // 15:01:01
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := Open(path) // its own handle, like another process
			if err != nil {
				t.Error(err)
				return
			}
			claims, err := h.ClaimDue(fire)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += len(claims)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 1 {
		t.Fatalf("the 15:01 slot was claimed %d times, want once", total)
	}
	again, err := st.ClaimDue(fire)
	if err != nil || len(again) != 0 {
		t.Fatalf("after a restart: %v %d claims", err, len(again))
	}
	got, err := st.GetTrigger("tick")
	if err != nil || got.LastFireTime == nil || got.NextExecutionTime.Minute() != 2 {
		t.Fatalf("%v %+v", err, got)
	}
	// A used-up trigger is deleted.
	one := 1
	tr2, _ := workflow.NewCronTrigger("once", "* * * * *", nil, &one, now)
	if err := st.CreateTrigger(tr2); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimDue(fire.Add(time.Minute)); len(c) != 2 {
		t.Fatalf("%d claims at 15:02, want 2", len(c))
	}
	list, _ := st.ListTriggers()
	if len(list) != 1 || list[0].Name != "tick" {
		t.Fatalf("%v", list)
	}
	if err := st.DeleteTrigger("tick"); err != nil {
		t.Fatal(err)
	}
}
