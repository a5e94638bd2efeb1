package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
)

// fakeKeystone serves v3 password auth with a catalog holding Heat in two
// regions; it counts token requests.
func fakeKeystone(t *testing.T, fs th.FakeServer, tokens *atomic.Int32) {
	base := strings.TrimSuffix(fs.Endpoint(), "/")
	fs.Mux.HandleFunc("/v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "POST")
		n := tokens.Add(1)
		w.Header().Set("X-Subject-Token", fmt.Sprintf("token-%d", n))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"expires_at":"2099-01-01T00:00:00.000000Z","catalog":[
		  {"type":"orchestration","name":"heat","endpoints":[
		    {"region_id":"RegionOne","region":"RegionOne","interface":"public","url":"%[1]s/heat1/v1/p"},
		    {"region_id":"RegionTwo","region":"RegionTwo","interface":"public","url":"%[1]s/heat2/v1/p"},
		    {"region_id":"RegionOne","region":"RegionOne","interface":"internal","url":"%[1]s/heat1-internal/v1/p"}]}]}}`, base)
	})
}

func TestNewOrchestrationClientFromCloudsYAML(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	var tokens atomic.Int32
	fakeKeystone(t, fs, &tokens)
	dir := t.TempDir()
	clouds := fmt.Sprintf(`clouds:
  overcloud:
    auth: {auth_url: %[1]sv3, username: admin, password: pw, project_name: admin, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionTwo
  undercloud:
    auth: {auth_url: %[1]sv3, username: admin, password: pw, project_name: admin, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    interface: internal
`, fs.Endpoint())
	path := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(path, []byte(clouds), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	t.Setenv("OS_CLOUD", "undercloud")
	for _, v := range []string{"OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_REGION_NAME", "OS_INTERFACE", "OS_PROJECT_NAME"} {
		t.Setenv(v, "")
	}
	ctx := context.Background()
	// --os-cloud wins over OS_CLOUD, as with the openstack CLI.
	c, err := NewOrchestrationClient(ctx, Options{Cloud: "overcloud"})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, fs.Endpoint()+"heat2/v1/p/", c.Endpoint)
	// OS_CLOUD alone picks the entry, with its interface.
	c, err = NewOrchestrationClient(ctx, Options{})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, fs.Endpoint()+"heat1-internal/v1/p/", c.Endpoint)

	// A 401 from Heat re-authenticates with the stored credentials.
	var heatCalls atomic.Int32
	fs.Mux.HandleFunc("/heat1-internal/v1/p/software_deployments/d1", func(w http.ResponseWriter, r *http.Request) {
		if heatCalls.Add(1) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"software_deployment":{"id":"d1","status":"COMPLETE"}}`)
	})
	before := tokens.Load()
	var body map[string]any
	_, err = c.Get(ctx, c.ServiceURL("software_deployments", "d1"), &body, nil)
	th.AssertNoErr(t, err)
	th.CheckEquals(t, before+1, tokens.Load())

	_, err = NewOrchestrationClient(ctx, Options{Cloud: "nope"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown cloud: err = %v", err)
	}
}

func TestNewOrchestrationClientFromEnv(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	var tokens atomic.Int32
	fakeKeystone(t, fs, &tokens)
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", fs.Endpoint()+"v3")
	t.Setenv("OS_USERNAME", "demo")
	t.Setenv("OS_PASSWORD", "pw")
	t.Setenv("OS_PROJECT_NAME", "demo")
	t.Setenv("OS_USER_DOMAIN_ID", "default")
	t.Setenv("OS_PROJECT_DOMAIN_ID", "default")
	t.Setenv("OS_REGION_NAME", "RegionOne")
	t.Setenv("OS_INTERFACE", "")
	c, err := NewOrchestrationClient(context.Background(), Options{})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, fs.Endpoint()+"heat1/v1/p/", c.Endpoint)
}

// Keystone's (and Heat's) answers are bounded: a token response of more
// than MaxResponse bytes fails authentication instead of being read whole.
func TestNewOrchestrationClientBoundsResponses(t *testing.T) {
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "tok")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"token":{"pad":"`)
		chunk := strings.Repeat("x", 1<<20)
		for range 65 { // MaxResponse is 64 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `","catalog":[]}}`)
	}))
	defer ks.Close()
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", ks.URL+"/v3")
	t.Setenv("OS_USERNAME", "demo")
	t.Setenv("OS_PASSWORD", "pw")
	t.Setenv("OS_PROJECT_NAME", "demo")
	t.Setenv("OS_USER_DOMAIN_ID", "default")
	t.Setenv("OS_PROJECT_DOMAIN_ID", "default")
	_, err := NewOrchestrationClient(context.Background(), Options{Retries: -1})
	if err == nil || !strings.Contains(err.Error(), "bytes: refusing it") {
		t.Fatalf("err = %v, want the oversized token response refused", err)
	}
}

// Mistral is found in the same catalog, or at Options.Endpoint with the
// same token; Unauthenticated sends none.
func TestWorkflowClient(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	var tokens atomic.Int32
	base := strings.TrimSuffix(fs.Endpoint(), "/")
	fs.Mux.HandleFunc("/v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		tokens.Add(1)
		w.Header().Set("X-Subject-Token", "tok")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"expires_at":"2099-01-01T00:00:00.000000Z","catalog":[
		  {"type":"workflowv2","name":"mistral","endpoints":[
		    {"region_id":"RegionOne","region":"RegionOne","interface":"public","url":"%[1]s/mistral/v2"}]}]}}`, base)
	})
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", fs.Endpoint()+"v3")
	t.Setenv("OS_USERNAME", "demo")
	t.Setenv("OS_PASSWORD", "pw")
	t.Setenv("OS_PROJECT_NAME", "demo")
	t.Setenv("OS_USER_DOMAIN_ID", "default")
	t.Setenv("OS_PROJECT_DOMAIN_ID", "default")
	t.Setenv("OS_REGION_NAME", "RegionOne")
	t.Setenv("OS_INTERFACE", "")
	ctx := context.Background()
	c, err := NewWorkflowClient(ctx, Options{})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, fs.Endpoint()+"mistral/v2/", c.Endpoint)
	th.CheckEquals(t, "tok", c.TokenID)

	c, err = NewWorkflowClient(ctx, Options{Endpoint: "http://127.0.0.1:8989/v2"})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, "http://127.0.0.1:8989/v2/", c.Endpoint)
	th.CheckEquals(t, "tok", c.TokenID)

	if _, err := NewOrchestrationClient(ctx, Options{}); err == nil || !strings.Contains(err.Error(), "Heat (orchestration)") {
		t.Errorf("no Heat in the catalog: err = %v", err)
	}

	u, err := Unauthenticated("workflowv2", Options{Endpoint: "http://127.0.0.1:8989/v2/"})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, "http://127.0.0.1:8989/v2/", u.Endpoint)
	th.CheckEquals(t, "", u.TokenID)
	if _, err := Unauthenticated("workflowv2", Options{}); err == nil {
		t.Error("Unauthenticated without an endpoint: no error")
	}
}

// Without any cloud named or described the error wraps ErrNoCredentials,
// so that a caller can say how to name one; a named cloud that cannot be
// read is another failure, naming it.
func TestNoCredentials(t *testing.T) {
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(t.TempDir(), "none.yaml"))
	for _, v := range []string{"OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_TOKEN"} {
		t.Setenv(v, "")
	}
	_, err := Authenticate(context.Background(), Options{})
	if !errors.Is(err, ErrNoCredentials) {
		t.Errorf("err = %v, want ErrNoCredentials", err)
	}
	_, err = Authenticate(context.Background(), Options{Cloud: "nope"})
	if errors.Is(err, ErrNoCredentials) || err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("named cloud: err = %v, want one naming it", err)
	}
}
