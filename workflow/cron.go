package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// CronTrigger starts a workflow on a schedule, with Mistral's cron-trigger
// semantics: a 5-field cron Pattern (UTC), an optional FirstExecutionTime
// (the first fire; without a Pattern the trigger fires once), and an
// optional RemainingExecutions count that each fire decrements, the
// trigger being deleted when it reaches 0. NextExecutionTime is the slot
// the trigger fires next; a slot fires once (see store.ClaimDue).
type CronTrigger struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	WorkflowName        string         `json:"workflow_name"`
	WorkflowInput       map[string]any `json:"workflow_input"`
	Pattern             string         `json:"pattern"`
	FirstExecutionTime  *time.Time     `json:"first_execution_time"`
	NextExecutionTime   time.Time      `json:"next_execution_time"`
	RemainingExecutions *int           `json:"remaining_executions"`
	LastFireTime        *time.Time     `json:"last_fire_time,omitempty"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
	// Definition is the workflow file the trigger runs (fernetflow has no
	// workflow service to look the name up in later).
	Definition string `json:"definition"`
	SourceFile string `json:"source_file"`
}

// NewCronTrigger checks the schedule as Mistral does and sets the first
// NextExecutionTime: FirstExecutionTime when given (it must be in the
// future), else the pattern's next slot after now.
func NewCronTrigger(name, pattern string, first *time.Time, remaining *int, now time.Time) (*CronTrigger, error) {
	now = now.UTC()
	if name == "" {
		return nil, errors.New("cron trigger: a name is required")
	}
	if pattern == "" && first == nil {
		return nil, fmt.Errorf("cron trigger %s: give a pattern, a first execution time, or both", name)
	}
	if pattern != "" && !gronx.New().IsValid(pattern) {
		return nil, fmt.Errorf("cron trigger %s: pattern %q is not a valid cron expression (minute hour day-of-month month day-of-week, e.g. '0 3 * * *')", name, pattern)
	}
	if pattern != "" && len(strings.Fields(pattern)) != 5 {
		return nil, fmt.Errorf("cron trigger %s: pattern %q must have 5 fields (minute hour day-of-month month day-of-week)", name, pattern)
	}
	if remaining != nil && *remaining < 1 {
		return nil, fmt.Errorf("cron trigger %s: remaining executions must be at least 1, got %d", name, *remaining)
	}
	if pattern == "" {
		one := 1
		remaining = &one
	}
	t := &CronTrigger{ID: NewID(), Name: name, Pattern: pattern, RemainingExecutions: remaining, CreatedAt: now, UpdatedAt: now}
	if first != nil {
		f := first.UTC().Truncate(time.Second)
		if !f.After(now) {
			return nil, fmt.Errorf("cron trigger %s: first execution time %s is not in the future (UTC now %s)", name, f.Format("2006-01-02 15:04:05"), now.Format("2006-01-02 15:04:05"))
		}
		t.FirstExecutionTime = &f
		t.NextExecutionTime = f
		return t, nil
	}
	next, err := gronx.NextTickAfter(pattern, now, false)
	if err != nil {
		return nil, fmt.Errorf("cron trigger %s: pattern %q: %w", name, pattern, err)
	}
	t.NextExecutionTime = next.UTC()
	return t, nil
}

// Due reports whether the trigger's next slot has come.
func (t *CronTrigger) Due(now time.Time) bool { return !t.NextExecutionTime.After(now) }

// Advance records a fire of the current slot and moves NextExecutionTime
// to the pattern's next slot after it (after now, so a trigger that was
// down for a while fires once, not once per missed slot). It reports
// false when the trigger is used up and must be deleted.
func (t *CronTrigger) Advance(now time.Time) (bool, error) {
	fired := t.NextExecutionTime
	t.LastFireTime = &fired
	t.UpdatedAt = now.UTC()
	if t.RemainingExecutions != nil {
		n := *t.RemainingExecutions - 1
		t.RemainingExecutions = &n
		if n <= 0 {
			return false, nil
		}
	}
	if t.Pattern == "" {
		return false, nil
	}
	ref := fired
	if now.After(ref) {
		ref = now
	}
	next, err := gronx.NextTickAfter(t.Pattern, ref.UTC(), false)
	if err != nil {
		return false, fmt.Errorf("cron trigger %s: pattern %q: %w", t.Name, t.Pattern, err)
	}
	t.NextExecutionTime = next.UTC()
	return true, nil
}
