package testing

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/mistral/actions"
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	fake "github.com/gophercloud/gophercloud/v2/testhelper/client"
)

const definition = `---
version: '2.0'
fleet.check:
  base: std.http
  base-input:
    url: http://127.0.0.1:8990/v1/actions/fleet.check
  tags: [fernetflow]
`

const actionJSON = `{
  "id": "0f5b5e2a-6a0e-4f5e-9f5e-0c1f1b5d0a11",
  "name": "fleet.check",
  "namespace": "",
  "description": "",
  "definition": %q,
  "input": "",
  "tags": ["fernetflow"],
  "is_system": false,
  "scope": "private",
  "project_id": "p1",
  "created_at": "2026-01-02 03:04:05",
  "updated_at": null
}`

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var fleetCheck = actions.Action{
	ID: "0f5b5e2a-6a0e-4f5e-9f5e-0c1f1b5d0a11", Name: "fleet.check", Definition: definition,
	Tags: []string{"fernetflow"}, Scope: "private", ProjectID: "p1", CreatedAt: created,
}

// handleDefinition serves method on /actions: a text/plain body without
// Accept: application/json (Mistral answers that with 406).
func handleDefinition(t *testing.T, fs th.FakeServer, method string, code int) {
	fs.Mux.HandleFunc("/actions", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, method)
		th.TestHeader(t, r, "X-Auth-Token", fake.TokenID)
		th.TestHeader(t, r, "Content-Type", "text/plain")
		th.TestHeader(t, r, "Accept", "")
		th.TestFormValues(t, r, map[string]string{"scope": "public"})
		b, _ := io.ReadAll(r.Body)
		th.CheckEquals(t, definition, string(b))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"actions": [`+actionJSON+`]}`, definition)
	})
}
