package actions

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// CreateOptsBuilder allows extensions to add parameters to the Create
// request.
type CreateOptsBuilder interface {
	ToActionCreateParams() (body io.Reader, query string, err error)
}

// CreateOpts is the definition of the actions to create.
type CreateOpts struct {
	// Definition is a document of the Mistral workflow language holding
	// one or more ad-hoc actions.
	Definition io.Reader
	// Scope is "private" (the default) or "public".
	Scope string `q:"scope"`
	// Namespace is the actions' namespace (default: none).
	Namespace string `q:"namespace"`
}

// ToActionCreateParams returns the body and the query string.
func (opts CreateOpts) ToActionCreateParams() (io.Reader, string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return nil, "", err
	}
	return opts.Definition, q.String(), nil
}

// textPlain are the headers of a YAML body: Mistral answers 406 to
// text/plain with gophercloud's default Accept: application/json.
func textPlain(ok ...int) *gophercloud.RequestOpts {
	return &gophercloud.RequestOpts{
		OkCodes:     ok,
		MoreHeaders: map[string]string{"Content-Type": "text/plain", "Accept": ""},
	}
}

// Create creates the actions of a definition. Mistral answers 409
// (gophercloud.ResponseCodeIs(err, http.StatusConflict)) when one exists.
func Create(ctx context.Context, client *gophercloud.ServiceClient, opts CreateOptsBuilder) (r CreateResult) {
	body, query, err := opts.ToActionCreateParams()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := client.Post(ctx, rootURL(client)+query, body, &r.Body, textPlain(http.StatusCreated))
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// UpdateOptsBuilder allows extensions to add parameters to the Update
// request.
type UpdateOptsBuilder interface {
	ToActionUpdateParams() (body io.Reader, query string, err error)
}

// UpdateOpts is the new definition of existing actions.
type UpdateOpts struct {
	// Definition is a document of the Mistral workflow language; each of
	// its actions replaces the one of the same name.
	Definition io.Reader
	// Scope is "private" (the default) or "public".
	Scope string `q:"scope"`
	// Namespace is the actions' namespace (default: none).
	Namespace string `q:"namespace"`
}

// ToActionUpdateParams returns the body and the query string.
func (opts UpdateOpts) ToActionUpdateParams() (io.Reader, string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return nil, "", err
	}
	return opts.Definition, q.String(), nil
}

// Update replaces the actions of a definition.
func Update(ctx context.Context, client *gophercloud.ServiceClient, opts UpdateOptsBuilder) (r UpdateResult) {
	body, query, err := opts.ToActionUpdateParams()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := client.Request(ctx, http.MethodPut, rootURL(client)+query, &gophercloud.RequestOpts{
		RawBody:      body,
		JSONResponse: &r.Body,
		OkCodes:      []int{http.StatusOK},
		MoreHeaders:  textPlain().MoreHeaders,
	})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get reads one action by name (or id).
func Get(ctx context.Context, client *gophercloud.ServiceClient, name string) (r GetResult) {
	resp, err := client.Get(ctx, resourceURL(client, name), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Delete deletes one action by name (or id).
func Delete(ctx context.Context, client *gophercloud.ServiceClient, name string) (r DeleteResult) {
	resp, err := client.Delete(ctx, resourceURL(client, name), nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListOptsBuilder allows extensions to add parameters to the List
// request.
type ListOptsBuilder interface {
	ToActionListQuery() (string, error)
}

// ListOpts filters and pages the List request.
type ListOpts struct {
	// Tags keeps the actions that carry every one of these tags.
	Tags []string `q:"-"`
	// Scope keeps "private" or "public" actions.
	Scope string `q:"scope"`
	// SortKeys and SortDirs ("asc" or "desc") order the list.
	SortKeys string `q:"sort_keys"`
	SortDirs string `q:"sort_dirs"`
	// Marker and Limit page the list: each page holds at most Limit
	// actions after Marker's.
	Marker string `q:"marker"`
	Limit  int    `q:"limit"`
}

// ToActionListQuery returns the query string.
func (opts ListOpts) ToActionListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return "", err
	}
	if len(opts.Tags) > 0 {
		v := q.Query()
		v.Set("tags", strings.Join(opts.Tags, ","))
		q.RawQuery = v.Encode()
	}
	return q.String(), nil
}

// List pages through the actions.
func List(client *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	u := rootURL(client)
	if opts != nil {
		query, err := opts.ToActionListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		u += query
	}
	return pagination.NewPager(client, u, func(r pagination.PageResult) pagination.Page {
		return ActionPage{pagination.LinkedPageBase{PageResult: r}}
	})
}
