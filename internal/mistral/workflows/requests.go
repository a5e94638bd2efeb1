package workflows

import (
	"context"
	"io"
	"net/http"

	"github.com/gophercloud/gophercloud/v2"
)

// UpdateOptsBuilder allows extensions to add parameters to the Update
// request.
type UpdateOptsBuilder interface {
	ToWorkflowUpdateParams() (body io.Reader, query string, err error)
}

// UpdateOpts is the new definition of existing workflows.
type UpdateOpts struct {
	// Definition is a document of the Mistral workflow language; each of
	// its workflows replaces the one of the same name.
	Definition io.Reader
	// Scope is "private" (the default) or "public".
	Scope string `q:"scope"`
	// Namespace is the workflows' namespace (default: none).
	Namespace string `q:"namespace"`
}

// ToWorkflowUpdateParams returns the body and the query string.
func (opts UpdateOpts) ToWorkflowUpdateParams() (io.Reader, string, error) {
	q, err := gophercloud.BuildQueryString(opts)
	if err != nil {
		return nil, "", err
	}
	return opts.Definition, q.String(), nil
}

// Update replaces the workflows of a definition. Mistral answers 404 when
// one of them does not exist.
func Update(ctx context.Context, client *gophercloud.ServiceClient, opts UpdateOptsBuilder) (r UpdateResult) {
	body, query, err := opts.ToWorkflowUpdateParams()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := client.Request(ctx, http.MethodPut, updateURL(client)+query, &gophercloud.RequestOpts{
		RawBody:      body,
		JSONResponse: &r.Body,
		OkCodes:      []int{http.StatusOK},
		// Mistral answers 406 to text/plain with gophercloud's default
		// Accept: application/json.
		MoreHeaders: map[string]string{"Content-Type": "text/plain", "Accept": ""},
	})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
