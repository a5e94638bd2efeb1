package softwaredeployments

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Deployment actions and statuses Heat uses.
const (
	ActionCreate = "CREATE"
	ActionUpdate = "UPDATE"

	StatusInProgress = "IN_PROGRESS"
	StatusComplete   = "COMPLETE"
	StatusFailed     = "FAILED"
)

// CreateOptsBuilder allows extensions to add parameters to the Create request.
type CreateOptsBuilder interface {
	ToSoftwareDeploymentCreateMap() (map[string]any, error)
}

// CreateOpts is the body of a deployment create request.
type CreateOpts struct {
	ConfigID     string         `json:"config_id" required:"true"`
	ServerID     string         `json:"server_id" required:"true"`
	Action       string         `json:"action,omitempty"`
	Status       string         `json:"status,omitempty"`
	StatusReason string         `json:"status_reason,omitempty"`
	InputValues  map[string]any `json:"input_values,omitempty"`
	// StackUserProjectID is the stack-domain project whose users may signal.
	StackUserProjectID string `json:"stack_user_project_id,omitempty"`
}

// ToSoftwareDeploymentCreateMap builds the request body.
func (opts CreateOpts) ToSoftwareDeploymentCreateMap() (map[string]any, error) {
	b, err := gophercloud.BuildRequestBody(opts, "")
	if err != nil {
		return nil, err
	}
	if opts.InputValues == nil {
		b["input_values"] = map[string]any{}
	}
	return b, nil
}

// Create creates a deployment.
func Create(ctx context.Context, c *gophercloud.ServiceClient, opts CreateOptsBuilder) (r CreateResult) {
	b, err := opts.ToSoftwareDeploymentCreateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Post(ctx, createURL(c), b, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{200, 201}})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get retrieves one deployment.
func Get(ctx context.Context, c *gophercloud.ServiceClient, id string) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListOptsBuilder allows extensions to add parameters to the List request.
type ListOptsBuilder interface {
	ToSoftwareDeploymentListQuery() (string, error)
}

// ListOpts filters the list. Heat returns every match in one page.
type ListOpts struct {
	ServerID string `q:"server_id"`
}

// ToSoftwareDeploymentListQuery formats the query string.
func (opts ListOpts) ToSoftwareDeploymentListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

// List lists deployments, of one server when ServerID is set.
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c)
	if opts != nil {
		q, err := opts.ToSoftwareDeploymentListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return SoftwareDeploymentPage{pagination.SinglePageBase(r)}
	})
}

// UpdateOptsBuilder allows extensions to add parameters to the Update request.
type UpdateOptsBuilder interface {
	ToSoftwareDeploymentUpdateMap() (map[string]any, error)
}

// UpdateOpts is the body of a deployment update; empty fields are left as they are.
type UpdateOpts struct {
	ConfigID     string         `json:"config_id,omitempty"`
	Action       string         `json:"action,omitempty"`
	Status       string         `json:"status,omitempty"`
	StatusReason string         `json:"status_reason,omitempty"`
	InputValues  map[string]any `json:"input_values,omitempty"`
	OutputValues map[string]any `json:"output_values,omitempty"`
}

// ToSoftwareDeploymentUpdateMap builds the request body.
func (opts UpdateOpts) ToSoftwareDeploymentUpdateMap() (map[string]any, error) {
	return gophercloud.BuildRequestBody(opts, "")
}

// Update changes a deployment: PUT /software_deployments/{id}. It is how a
// signal receiver marks a deployment COMPLETE or FAILED with its outputs.
func Update(ctx context.Context, c *gophercloud.ServiceClient, id string, opts UpdateOptsBuilder) (r UpdateResult) {
	b, err := opts.ToSoftwareDeploymentUpdateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Put(ctx, updateURL(c, id), b, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{200}})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Delete deletes a deployment; Heat removes it from the server's metadata.
func Delete(ctx context.Context, c *gophercloud.ServiceClient, id string) (r DeleteResult) {
	resp, err := c.Delete(ctx, deleteURL(c, id), nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Metadata returns what Heat publishes for a server: the (derived) configs
// of its deployments, oldest first.
func Metadata(ctx context.Context, c *gophercloud.ServiceClient, serverID string) (r MetadataResult) {
	resp, err := c.Get(ctx, metadataURL(c, serverID), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
