package softwareconfigs

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Input declares one input of a software config. Value is set on derived
// configs only: it is what the agent on the server reads.
type Input struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	Default     any    `json:"default,omitempty"`
	Value       any    `json:"value,omitempty"`
	// ReplaceOnChange is Heat's replace_on_change flag.
	ReplaceOnChange bool `json:"replace_on_change,omitempty"`
}

// Output declares one output a software config reports back.
type Output struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	// ErrorOutput marks an output whose non-empty value fails the deployment.
	ErrorOutput bool `json:"error_output,omitempty"`
}

// CreateOptsBuilder allows extensions to add parameters to the Create request.
type CreateOptsBuilder interface {
	ToSoftwareConfigCreateMap() (map[string]any, error)
}

// CreateOpts is the body of a software config create request.
type CreateOpts struct {
	// Name of the config. Required.
	Name string `json:"name" required:"true"`
	// Group names the agent hook that applies it (script, puppet, fernetflow...).
	Group   string         `json:"group,omitempty"`
	Config  string         `json:"config,omitempty"`
	Inputs  []Input        `json:"inputs,omitempty"`
	Outputs []Output       `json:"outputs,omitempty"`
	Options map[string]any `json:"options,omitempty"`
}

// ToSoftwareConfigCreateMap builds the request body.
func (opts CreateOpts) ToSoftwareConfigCreateMap() (map[string]any, error) {
	b, err := gophercloud.BuildRequestBody(opts, "")
	if err != nil {
		return nil, err
	}
	// Heat rejects a missing group with a 400 on some releases; default as heatclient does.
	if opts.Group == "" {
		b["group"] = "Heat::Ungrouped"
	}
	if opts.Options == nil {
		b["options"] = map[string]any{}
	}
	return b, nil
}

// Create creates a software config.
func Create(ctx context.Context, c *gophercloud.ServiceClient, opts CreateOptsBuilder) (r CreateResult) {
	b, err := opts.ToSoftwareConfigCreateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Post(ctx, createURL(c), b, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{200, 201}})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get retrieves one software config.
func Get(ctx context.Context, c *gophercloud.ServiceClient, id string) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListOptsBuilder allows extensions to add parameters to the List request.
type ListOptsBuilder interface {
	ToSoftwareConfigListQuery() (string, error)
}

// ListOpts filters and pages the list. Marker and Limit are Heat's paging.
type ListOpts struct {
	Limit  int    `q:"limit"`
	Marker string `q:"marker"`
}

// ToSoftwareConfigListQuery formats the query string.
func (opts ListOpts) ToSoftwareConfigListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

// List lists software configs (without their config text: Heat leaves it out).
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c)
	if opts != nil {
		q, err := opts.ToSoftwareConfigListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		p := SoftwareConfigPage{pagination.MarkerPageBase{PageResult: r}}
		p.Owner = p
		return p
	})
}

// Delete deletes a software config. Heat refuses (409 on recent
// releases) while a deployment still points at it.
func Delete(ctx context.Context, c *gophercloud.ServiceClient, id string) (r DeleteResult) {
	resp, err := c.Delete(ctx, deleteURL(c, id), nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
