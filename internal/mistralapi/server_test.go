package mistralapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/crontriggers"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/executions"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/workflows"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// tokenIdentify is the tests' authentication: the token is
// "PROJECT[:ROLE,ROLE]"; "bad" is unknown to "Keystone".
func tokenIdentify(_ context.Context, r *http.Request) (*actions.Caller, error) {
	tok := r.Header.Get(actions.TokenHeader)
	if tok == "" || tok == "bad" {
		return nil, fmt.Errorf("%w: test token %q", actions.ErrUnauthenticated, tok)
	}
	project, roles, _ := strings.Cut(tok, ":")
	c := &actions.Caller{UserName: "u-" + project, ProjectID: project, ProjectName: project}
	if roles != "" {
		c.Roles = strings.Split(roles, ",")
	}
	return c, nil
}

type testServer struct {
	*Server
	st  *store.Store
	url string
}

func newTestServer(t testing.TB, dir string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Registry: workflow.StdRegistry(), Identify: tokenIdentify})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return &testServer{Server: srv, st: st, url: hs.URL}
}

// client is gophercloud's workflow/v2 client for a project's token.
func (ts *testServer) client(token string) *gophercloud.ServiceClient {
	return &gophercloud.ServiceClient{
		ProviderClient: &gophercloud.ProviderClient{TokenID: token, HTTPClient: http.Client{Timeout: 10 * time.Second}},
		Endpoint:       ts.url + "/v2/",
		Type:           "workflowv2",
	}
}

const twoWorkflows = `version: '2.0'
greet:
  input:
    - who
    - greeting: hello
  output:
    said: <% $.said %>
  tasks:
    say:
      action: std.echo output="<% $.greeting %> <% $.who %>"
      publish:
        said: <% task().result %>
noop_wf:
  tasks:
    nothing:
      action: std.noop
`

func waitState(t *testing.T, c *gophercloud.ServiceClient, id string) *executions.Execution {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ex, err := executions.Get(context.Background(), c, id).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if ex.State != "RUNNING" || time.Now().After(deadline) {
			return ex
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGophercloud runs gophercloud's workflow/v2 packages against the
// server: create, get, list (paged) and delete of workflows, executions
// and cron triggers, as the notes' trace saw them against real Mistral.
func TestGophercloud(t *testing.T) {
	ts := newTestServer(t, "")
	ctx := context.Background()
	c := ts.client("p1:member")

	wfs, err := workflows.Create(ctx, c, workflows.CreateOpts{Definition: strings.NewReader(twoWorkflows), Namespace: ""}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if len(wfs) != 2 || wfs[0].Name != "greet" || wfs[0].Input != `who, greeting="hello"` || wfs[0].ProjectID != "p1" || wfs[0].Scope != "private" {
		t.Fatalf("created %+v", wfs)
	}
	if _, err := workflows.Create(ctx, c, workflows.CreateOpts{Definition: strings.NewReader(twoWorkflows)}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Fatalf("duplicate create: %v, want 409", err)
	}
	got, err := workflows.Get(ctx, c, wfs[0].ID).Extract()
	if err != nil || got.Name != "greet" || got.CreatedAt.IsZero() {
		t.Fatalf("get by id: %+v, %v", got, err)
	}
	var names []string
	pages := 0
	err = workflows.List(c, workflows.ListOpts{Limit: 1}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		list, err := workflows.ExtractWorkflows(p)
		for _, w := range list {
			names = append(names, w.Name)
		}
		return true, err
	})
	if err != nil || strings.Join(names, ",") != "greet,noop_wf" || pages != 2 {
		t.Fatalf("paged list: %v in %d pages, %v; want greet,noop_wf in 2 (then an empty one ends the paging)", names, pages, err)
	}
	if _, err := workflows.Get(ctx, ts.client("p2"), wfs[0].ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("another project's private workflow: %v, want 404", err)
	}

	ex, err := executions.Create(ctx, c, executions.CreateOpts{WorkflowName: "greet", Input: map[string]any{"who": "world"}, Description: "gc"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if ex.State != "RUNNING" || ex.WorkflowID != wfs[0].ID || ex.Input["who"] != "world" || ex.Description != "gc" {
		t.Fatalf("created execution %+v, want RUNNING", ex)
	}
	done := waitState(t, c, ex.ID)
	if done.State != "SUCCESS" || done.Output["said"] != "hello world" {
		t.Fatalf("execution ended %s %v (%v), want SUCCESS with said", done.State, done.Output, done.StateInfo)
	}
	for range 2 {
		if _, err := executions.Create(ctx, c, executions.CreateOpts{WorkflowID: wfs[1].ID}).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	var exIDs []string
	err = executions.List(c, executions.ListOpts{Limit: 2}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		list, err := executions.ExtractExecutions(p)
		for _, e := range list {
			exIDs = append(exIDs, e.ID)
		}
		return true, err
	})
	if err != nil || len(exIDs) != 3 {
		t.Fatalf("paged execution list: %v, %v; want 3", exIDs, err)
	}
	if _, err := executions.Create(ctx, c, executions.CreateOpts{WorkflowName: "nope"}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("execution of an unknown workflow: %v, want 404", err)
	}
	if _, err := executions.Create(ctx, c, executions.CreateOpts{WorkflowName: "greet"}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Fatalf("execution without its input: %v, want 400", err)
	}

	first := time.Now().UTC().Add(time.Hour).Truncate(time.Minute)
	ct, err := crontriggers.Create(ctx, c, crontriggers.CreateOpts{Name: "gc_ct", Pattern: "5 * * * *", RemainingExecutions: 3,
		WorkflowName: "greet", WorkflowInput: map[string]any{"who": "cron"}, FirstExecutionTime: &first}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if ct.WorkflowID != wfs[0].ID || ct.WorkflowInput["who"] != "cron" || ct.RemainingExecutions != 3 || ct.NextExecutionTime == nil || !ct.NextExecutionTime.Equal(first) {
		t.Fatalf("created cron trigger %+v", ct)
	}
	if _, err := crontriggers.Get(ctx, c, "gc_ct").Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := crontriggers.Get(ctx, ts.client("p2"), "gc_ct").Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("another project's trigger: %v, want 404", err)
	}
	ct2, err := crontriggers.Create(ctx, c, crontriggers.CreateOpts{Name: "gc_ct2", Pattern: "0 3 * * 0", WorkflowID: wfs[1].ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var ctNames []string
	pages = 0
	err = crontriggers.List(c, crontriggers.ListOpts{Limit: 1, SortKeys: "name", SortDirs: "asc"}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		list, err := crontriggers.ExtractCronTriggers(p)
		for _, x := range list {
			ctNames = append(ctNames, x.Name)
		}
		return true, err
	})
	if err != nil || strings.Join(ctNames, ",") != "gc_ct,gc_ct2" || pages != 2 {
		t.Fatalf("paged cron trigger list: %v in %d pages, %v; want gc_ct,gc_ct2 in 2", ctNames, pages, err)
	}
	if err := crontriggers.Delete(ctx, c, ct2.Name).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := crontriggers.Get(ctx, c, ct2.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("deleted cron trigger: %v, want 404", err)
	}
	if err := workflows.Delete(ctx, c, "greet").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) ||
		!strings.Contains(err.Error(), "Can't delete workflow that has cron triggers associated") {
		t.Fatalf("delete of a workflow a trigger uses: %v, want 400", err)
	}
	if err := crontriggers.Delete(ctx, c, ct.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for _, id := range exIDs {
		if err := executions.Delete(ctx, c, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := workflows.Delete(ctx, c, "greet").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := workflows.Delete(ctx, c, "greet").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("second delete: %v, want 404", err)
	}
	var e gophercloud.ErrUnexpectedResponseCode
	if _, err := workflows.Get(ctx, ts.client("bad"), wfs[1].ID).Extract(); !errors.As(err, &e) || e.Actual != http.StatusUnauthorized {
		t.Fatalf("bad token: %v, want 401", err)
	}
}
