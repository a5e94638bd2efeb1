package testing

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gcworkflows "github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/workflows"
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	fake "github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/mistral/workflows"
)

const definition = `---
version: '2.0'
rotate_fernet_keys:
  tags: [fernetflow]
  tasks:
    check:
      action: fleet.check
`

func TestUpdate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/workflows", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "PUT")
		th.TestHeader(t, r, "X-Auth-Token", fake.TokenID)
		th.TestHeader(t, r, "Content-Type", "text/plain")
		th.TestHeader(t, r, "Accept", "")
		th.TestFormValues(t, r, map[string]string{"namespace": "ns"})
		b, _ := io.ReadAll(r.Body)
		th.CheckEquals(t, definition, string(b))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"workflows": [{"id": "w1", "name": "rotate_fernet_keys", "namespace": "ns", "definition": %q,
		  "tags": ["fernetflow"], "scope": "private", "project_id": "p1", "created_at": "2026-01-02 03:04:05", "updated_at": "2026-01-03 03:04:05"}]}`, definition)
	})
	got, err := workflows.Update(context.TODO(), fake.ServiceClient(fs), workflows.UpdateOpts{Definition: strings.NewReader(definition), Namespace: "ns"}).Extract()
	th.AssertNoErr(t, err)
	updated := time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC)
	th.CheckDeepEquals(t, []gcworkflows.Workflow{{ID: "w1", Name: "rotate_fernet_keys", Namespace: "ns", Definition: definition,
		Tags: []string{"fernetflow"}, Scope: "private", ProjectID: "p1", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: &updated}}, got)
}

func TestUpdateMissing(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/workflows", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	_, err := workflows.Update(context.TODO(), fake.ServiceClient(fs), workflows.UpdateOpts{Definition: strings.NewReader(definition)}).Extract()
	if err == nil {
		t.Fatal("404: no error")
	}
}
