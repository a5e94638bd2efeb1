package testing

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	fake "github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/mistral/actions"
)

func TestCreate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	handleDefinition(t, fs, "POST", http.StatusCreated)
	got, err := actions.Create(context.TODO(), fake.ServiceClient(fs), actions.CreateOpts{Definition: strings.NewReader(definition), Scope: "public"}).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, []actions.Action{fleetCheck}, got)
}

func TestUpdate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	handleDefinition(t, fs, "PUT", http.StatusOK)
	got, err := actions.Update(context.TODO(), fake.ServiceClient(fs), actions.UpdateOpts{Definition: strings.NewReader(definition), Scope: "public"}).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, []actions.Action{fleetCheck}, got)
}

func TestCreateConflict(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/actions", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
	})
	_, err := actions.Create(context.TODO(), fake.ServiceClient(fs), actions.CreateOpts{Definition: strings.NewReader(definition)}).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Fatalf("err = %v, want a 409", err)
	}
}

func TestGet(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/actions/fleet.check", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		th.TestHeader(t, r, "X-Auth-Token", fake.TokenID)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, actionJSON, definition)
	})
	got, err := actions.Get(context.TODO(), fake.ServiceClient(fs), "fleet.check").Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, &fleetCheck, got)

	_, err = actions.Get(context.TODO(), fake.ServiceClient(fs), "missing").Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("missing action: err = %v, want a 404", err)
	}
}

func TestDelete(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/actions/", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "DELETE")
		th.CheckEquals(t, "/actions/my%20action", r.URL.EscapedPath())
		w.WriteHeader(http.StatusNoContent)
	})
	th.AssertNoErr(t, actions.Delete(context.TODO(), fake.ServiceClient(fs), "my action").ExtractErr())
}

// List follows Mistral's "next" links on the client's endpoint, even when
// they name another host (Mistral behind a proxy).
func TestList(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/actions", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		th.CheckEquals(t, "fernetflow", r.URL.Query().Get("tags"))
		th.CheckEquals(t, "1", r.URL.Query().Get("limit"))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("marker") {
		case "":
			fmt.Fprintf(w, `{"actions": [`+actionJSON+`], "next": "http://internal.example:8989/v2/actions?limit=1&marker=fleet.check&tags=fernetflow"}`, definition)
		case "fleet.check":
			fmt.Fprint(w, `{"actions": [{"name": "keys.rotate", "tags": ["fernetflow"], "created_at": "2026-01-02 03:04:05"}]}`)
		default:
			t.Errorf("marker %q", r.URL.Query().Get("marker"))
		}
	})
	var names []string
	err := actions.List(fake.ServiceClient(fs), actions.ListOpts{Tags: []string{"fernetflow"}, Limit: 1}).EachPage(context.TODO(), func(_ context.Context, p pagination.Page) (bool, error) {
		page, err := actions.ExtractActions(p)
		for _, a := range page {
			names = append(names, a.Name)
		}
		return true, err
	})
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, []string{"fleet.check", "keys.rotate"}, names)
}
