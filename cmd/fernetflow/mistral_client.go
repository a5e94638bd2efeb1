package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/utils/v2/openstack/clientconfig"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/deploy"
)

// mistralFlags reach Mistral: through clouds.yaml / OS_* (Keystone), or
// straight at --mistral-url for a Mistral without authentication.
type mistralFlags struct {
	cloud   string
	url     string
	timeout time.Duration
}

func (m *mistralFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.cloud, "os-cloud", "", "the clouds.yaml entry to use (default: OS_CLOUD, or the OS_* variables), as the openstack CLI")
	cmd.Flags().StringVar(&m.url, "mistral-url", "", "Mistral's v2 endpoint (such as http://127.0.0.1:8989/v2) instead of the service catalog's; without --os-cloud, no authentication (a Mistral with [pecan] auth_enable = False), as mistral --os-mistral-url")
	cmd.Flags().DurationVar(&m.timeout, "request-timeout", time.Minute, "time allowed for each request to Mistral or Keystone")
}

// client returns a workflow v2 ServiceClient: authenticated through
// gophercloud/utils' clientconfig, or unauthenticated at --mistral-url.
func (m *mistralFlags) client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	if m.url != "" && m.cloud == "" {
		if _, err := url.Parse(m.url); err != nil {
			return nil, usagef("--mistral-url: %v", err)
		}
		pc := &gophercloud.ProviderClient{HTTPClient: http.Client{Timeout: m.timeout}}
		pc.RetryFunc = deploy.RetryFunc(3, 250*time.Millisecond)
		return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: strings.TrimSuffix(m.url, "/") + "/", Type: "workflowv2"}, nil
	}
	co := &clientconfig.ClientOpts{Cloud: m.cloud}
	ao, err := clientconfig.AuthOptions(co)
	if err != nil {
		return nil, fmt.Errorf("mistral: read cloud credentials (--os-cloud, OS_CLOUD, or the OS_* variables): %w", err)
	}
	ao.AllowReauth = true
	var cloud clientconfig.Cloud
	if name := firstNonEmptyString(m.cloud, os.Getenv("OS_CLOUD")); name != "" {
		c, err := clientconfig.GetCloudFromYAML(&clientconfig.ClientOpts{Cloud: name})
		if err != nil {
			return nil, fmt.Errorf("mistral: cloud %q: %w", name, err)
		}
		cloud = *c
	}
	tlsConfig, err := clientconfig.PrepareTLSConfig("OS_", &cloud)
	if err != nil {
		return nil, fmt.Errorf("mistral: TLS settings: %w", err)
	}
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("mistral: auth URL %q: %w", ao.IdentityEndpoint, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	pc.HTTPClient = http.Client{Transport: transport, Timeout: m.timeout}
	pc.RetryFunc = deploy.RetryFunc(3, 250*time.Millisecond)
	actx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := openstack.Authenticate(actx, pc, *ao); err != nil {
		return nil, fmt.Errorf("mistral: authenticate to %s: %w", ao.IdentityEndpoint, err)
	}
	if m.url != "" {
		return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: strings.TrimSuffix(m.url, "/") + "/", Type: "workflowv2"}, nil
	}
	region := firstNonEmptyString(cloud.RegionName, os.Getenv("OS_REGION_NAME"))
	sc, err := openstack.NewWorkflowV2(pc, gophercloud.EndpointOpts{
		Region:       region,
		Availability: clientconfig.GetEndpointType(firstNonEmptyString(cloud.EndpointType, os.Getenv("OS_INTERFACE"))),
	})
	if err != nil {
		return nil, fmt.Errorf("mistral: find Mistral (workflowv2) in the service catalog, region %q: %w", region, err)
	}
	return sc, nil
}

func firstNonEmptyString(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// mistralAPI is the few raw calls gophercloud's workflow v2 packages lack:
// ad-hoc actions, updates (PUT text/plain), and lists filtered by tag.
type mistralAPI struct {
	c       *gophercloud.ServiceClient
	timeout time.Duration
}

// statusOf returns the HTTP status of a gophercloud error, or 0.
func statusOf(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

// do sends one request; body is YAML (text/plain) or JSON by ctype.
func (m *mistralAPI) do(ctx context.Context, method, path, ctype string, body []byte, ok []int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	opts := &gophercloud.RequestOpts{OkCodes: ok, MoreHeaders: map[string]string{}, KeepResponseBody: true}
	if body != nil {
		opts.RawBody = bytes.NewReader(body)
		opts.MoreHeaders["Content-Type"] = ctype
		if ctype == "text/plain" {
			opts.MoreHeaders["Accept"] = "" // Mistral answers 406 to text/plain with Accept: application/json
		}
	}
	resp, err := m.c.Request(ctx, method, m.c.ServiceURL(path), opts)
	if err != nil {
		return fmt.Errorf("mistral: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("mistral: %s %s: %w", method, path, err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("mistral: %s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// mistralResource is what Mistral says of an action or a workflow.
type mistralResource struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Definition string   `json:"definition"`
	Tags       []string `json:"tags"`
	IsSystem   bool     `json:"is_system"`
}

// get reads one action or workflow by name; found is false on 404.
func (m *mistralAPI) get(ctx context.Context, kind, name string) (r mistralResource, found bool, err error) {
	err = m.do(ctx, http.MethodGet, kind+"/"+url.PathEscape(name), "", nil, []int{200}, &r)
	if statusOf(err) == http.StatusNotFound {
		return r, false, nil
	}
	return r, err == nil, err
}

// put creates or updates the actions or workflows of one YAML document
// (kind "actions" or "workflows"), reporting created, updated or unchanged
// by comparing with what Mistral holds under name.
func (m *mistralAPI) put(ctx context.Context, kind, name string, def []byte) (string, error) {
	cur, found, err := m.get(ctx, kind, name)
	if err != nil {
		return "", err
	}
	if !found {
		err := m.do(ctx, http.MethodPost, kind, "text/plain", def, []int{201}, nil)
		if statusOf(err) == http.StatusConflict { // created meanwhile
			return "updated", m.do(ctx, http.MethodPut, kind, "text/plain", def, []int{200}, nil)
		}
		return "created", err
	}
	if cur.Definition == string(def) {
		return "unchanged", nil
	}
	return "updated", m.do(ctx, http.MethodPut, kind, "text/plain", def, []int{200}, nil)
}

// list reads every item of a collection (following "next"), decoding
// each into a mistralResource.
func (m *mistralAPI) list(ctx context.Context, kind string) ([]mistralResource, error) {
	var all []mistralResource
	path := kind + "?limit=500"
	for range 100 {
		var page map[string]json.RawMessage
		if err := m.do(ctx, http.MethodGet, path, "", nil, []int{200}, &page); err != nil {
			return nil, err
		}
		var items []mistralResource
		if err := json.Unmarshal(page[kind], &items); err != nil {
			return nil, fmt.Errorf("mistral: list %s: %w", kind, err)
		}
		all = append(all, items...)
		var next string
		_ = json.Unmarshal(page["next"], &next)
		if next == "" {
			return all, nil
		}
		u, err := url.Parse(next)
		if err != nil {
			return nil, fmt.Errorf("mistral: list %s: next page %q: %w", kind, next, err)
		}
		path = kind + "?" + u.RawQuery
	}
	return all, fmt.Errorf("mistral: list %s: more than 100 pages", kind)
}

func (m *mistralAPI) delete(ctx context.Context, kind, name string) error {
	err := m.do(ctx, http.MethodDelete, kind+"/"+url.PathEscape(name), "", nil, []int{204}, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return err
}
