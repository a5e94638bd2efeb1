package workflows

import (
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/workflows"
)

// UpdateResult is the answer to Update: call Extract for the workflows.
type UpdateResult struct {
	gophercloud.Result
}

// Extract returns the workflows the definition updated.
func (r UpdateResult) Extract() ([]workflows.Workflow, error) {
	var s struct {
		Workflows []workflows.Workflow `json:"workflows"`
	}
	err := r.ExtractInto(&s)
	return s.Workflows, err
}
