package deploytest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
)

// CloudName is the clouds.yaml entry NewCloud writes.
const CloudName = "fake"

// NewCloud serves a fake Keystone (v3 password auth with a catalog) and a
// fake Heat behind it, writes a clouds.yaml for them and points
// OS_CLIENT_CONFIG_FILE at it (with OS_CLOUD and the OS_* credentials
// cleared), so that code reading clouds.yaml as the openstack CLI does
// reaches the fake with --os-cloud fake. It cannot be used by parallel
// tests (it sets the environment).
func NewCloud(tb testing.TB) *Heat {
	tb.Helper()
	fs := th.SetupHTTP()
	tb.Cleanup(fs.Teardown)
	h := &Heat{
		configs: map[string]map[string]any{}, deployments: map[string]map[string]any{},
		StackName: "overcloud", StackID: "oc-id", Requests: map[string]int{},
	}
	base := strings.TrimSuffix(fs.Endpoint(), "/")
	fs.Mux.Handle("/heat/v1/p/", http.StripPrefix("/heat/v1/p", h))
	fs.Mux.HandleFunc("/v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "fake-token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"expires_at":"2099-01-01T00:00:00.000000Z","catalog":[{"type":"orchestration","name":"heat",
		  "endpoints":[{"region_id":"RegionOne","region":"RegionOne","interface":"public","url":"%s/heat/v1/p"}]}]}}`, base)
	})
	path := filepath.Join(tb.TempDir(), "clouds.yaml")
	yaml := fmt.Sprintf("clouds:\n  %s:\n    auth: {auth_url: %s/v3, username: demo, password: pw, project_name: demo, user_domain_id: default, project_domain_id: default}\n    region_name: RegionOne\n", CloudName, base)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	setenv(tb, "OS_CLIENT_CONFIG_FILE", path)
	for _, v := range []string{"OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_REGION_NAME", "OS_INTERFACE"} {
		setenv(tb, v, "")
	}
	return h
}

func setenv(tb testing.TB, k, v string) {
	if t, ok := tb.(interface{ Setenv(string, string) }); ok {
		t.Setenv(k, v)
		return
	}
	tb.Fatalf("deploytest: %T cannot set the environment", tb)
}
