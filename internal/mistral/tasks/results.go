package tasks

import (
	"encoding/json"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Task is one task execution.
type Task struct {
	// ID is the task execution's id.
	ID string `json:"id"`
	// Name is the task's name in its workflow.
	Name string `json:"name"`
	// WorkflowExecutionID is the execution the task belongs to.
	WorkflowExecutionID string `json:"workflow_execution_id"`
	// State is IDLE, WAITING, RUNNING, RUNNING_DELAYED, PAUSED, SUCCESS,
	// CANCELLED or ERROR.
	State string `json:"state"`
	// StateInfo says why the task is in its state (nil: nothing said).
	StateInfo *string `json:"state_info"`
	// CreatedAt and UpdatedAt are when the task started and last changed
	// (UpdatedAt nil: never).
	CreatedAt time.Time  `json:"-"`
	UpdatedAt *time.Time `json:"-"`
}

// UnmarshalJSON decodes Mistral's dates.
func (r *Task) UnmarshalJSON(b []byte) error {
	type tmp Task
	var s struct {
		tmp
		CreatedAt gophercloud.JSONRFC3339ZNoTNoZ  `json:"created_at"`
		UpdatedAt *gophercloud.JSONRFC3339ZNoTNoZ `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*r = Task(s.tmp)
	r.CreatedAt = time.Time(s.CreatedAt)
	if s.UpdatedAt != nil {
		t := time.Time(*s.UpdatedAt)
		r.UpdatedAt = &t
	}
	return nil
}

// TaskPage is one page of a List.
type TaskPage struct {
	pagination.LinkedPageBase
}

// IsEmpty says whether the page holds no task.
func (r TaskPage) IsEmpty() (bool, error) {
	if r.StatusCode == 204 {
		return true, nil
	}
	t, err := ExtractTasks(r)
	return len(t) == 0, err
}

// NextPageURL returns Mistral's "next" link, or "" on the last page.
func (r TaskPage) NextPageURL() (string, error) {
	var s struct {
		Next string `json:"next"`
	}
	err := r.ExtractInto(&s)
	return s.Next, err
}

// ExtractTasks returns the tasks of a page.
func ExtractTasks(r pagination.Page) ([]Task, error) {
	var s struct {
		Tasks []Task `json:"tasks"`
	}
	err := (r.(TaskPage)).ExtractInto(&s)
	return s.Tasks, err
}
