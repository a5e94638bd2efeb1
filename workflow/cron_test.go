package workflow

import (
	"strings"
	"testing"
	"time"
)

func TestCronTrigger(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 30, 0, time.UTC)
	three := 3
	tr, err := NewCronTrigger("tick", "* * * * *", nil, &three, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 23, 15, 1, 0, 0, time.UTC); !tr.NextExecutionTime.Equal(want) {
		t.Fatalf("next %v, want %v", tr.NextExecutionTime, want)
	}
	if tr.Due(now) || !tr.Due(now.Add(30*time.Second)) {
		t.Fatal("Due")
	}
	// Fire 15:01; the next slot is 15:02.
	keep, err := tr.Advance(time.Date(2026, 11, 23, 15, 1, 0, 5e8, time.UTC))
	if err != nil || !keep || *tr.RemainingExecutions != 2 || tr.NextExecutionTime.Minute() != 2 {
		t.Fatalf("%v %v %d %v", err, keep, *tr.RemainingExecutions, tr.NextExecutionTime)
	}
	// Down for ten minutes: the next fire is once, then the slot after now.
	keep, err = tr.Advance(time.Date(2026, 11, 23, 15, 12, 10, 0, time.UTC))
	if err != nil || !keep || *tr.RemainingExecutions != 1 || tr.NextExecutionTime.Minute() != 13 {
		t.Fatalf("%v %v %v", err, keep, tr.NextExecutionTime)
	}
	if keep, _ = tr.Advance(time.Date(2026, 11, 23, 15, 13, 0, 0, time.UTC)); keep {
		t.Fatal("a trigger whose remaining executions reach 0 must be deleted")
	}

	first := now.Add(2 * time.Hour)
	once, err := NewCronTrigger("once", "", &first, nil, now)
	if err != nil || *once.RemainingExecutions != 1 || !once.NextExecutionTime.Equal(first) {
		t.Fatalf("%v %+v", err, once)
	}
	for _, c := range []struct {
		name, pattern string
		first         *time.Time
		count         int
		want          string
	}{
		{"bad", "61 * * * *", nil, 0, "not a valid cron"},
		{"none", "", nil, 0, "give a pattern"},
		{"past", "* * * * *", &now, 0, "not in the future"},
		{"zero", "* * * * *", nil, -1, "at least 1"},
		{"six", "0 * * * * *", nil, 0, "5 fields"},
	} {
		var rem *int
		if c.count != 0 {
			rem = &c.count
		}
		if _, err := NewCronTrigger(c.name, c.pattern, c.first, rem, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
