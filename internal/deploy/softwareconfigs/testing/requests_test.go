package testing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

func TestCreate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	handleCreate(t, fs)
	got, err := softwareconfigs.Create(context.Background(), client.ServiceClient(fs), softwareconfigs.CreateOpts{
		Name: "fernet-keys", Group: "script", Config: "#!/bin/sh\necho hello\n",
		Inputs:  []softwareconfigs.Input{{Name: "fernet_keys", Type: "Json"}},
		Outputs: []softwareconfigs.Output{{Name: "result"}},
	}).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, Expected, *got)
}

func TestCreateNeedsName(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	_, err := softwareconfigs.Create(context.Background(), client.ServiceClient(fs), softwareconfigs.CreateOpts{}).Extract()
	if err == nil {
		t.Fatal("Create without a name: no error")
	}
}

func TestCreateDefaultsGroup(t *testing.T) {
	b, err := softwareconfigs.CreateOpts{Name: "x"}.ToSoftwareConfigCreateMap()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, "Heat::Ungrouped", b["group"])
	th.CheckDeepEquals(t, map[string]any{}, b["options"])
}

func TestGet(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	handleGet(t, fs)
	got, err := softwareconfigs.Get(context.Background(), client.ServiceClient(fs), configID).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, Expected, *got)
}

func TestList(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_configs", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("marker") {
		case "":
			if l := r.URL.Query().Get("limit"); l != "10" && l != "" {
				t.Errorf("limit = %q", l)
			}
			fmt.Fprint(w, ListBody)
		case configID:
			fmt.Fprint(w, `{"software_configs": []}`)
		default:
			t.Errorf("unexpected marker %q", r.URL.Query().Get("marker"))
		}
	})
	pages, err := softwareconfigs.List(client.ServiceClient(fs), softwareconfigs.ListOpts{Limit: 10}).AllPages(context.Background())
	th.AssertNoErr(t, err)
	all, err := softwareconfigs.ExtractSoftwareConfigs(pages)
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 1, len(all))
	th.CheckEquals(t, configID, all[0].ID)
	th.CheckEquals(t, created, all[0].CreationTime)
	var n int
	err = softwareconfigs.List(client.ServiceClient(fs), nil).EachPage(context.Background(), func(_ context.Context, p pagination.Page) (bool, error) {
		n++
		return true, nil
	})
	th.AssertNoErr(t, err)
	th.CheckEquals(t, 1, n)
}

func TestDelete(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_configs/"+configID, func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "DELETE")
		w.WriteHeader(http.StatusNoContent)
	})
	th.AssertNoErr(t, softwareconfigs.Delete(context.Background(), client.ServiceClient(fs), configID).ExtractErr())
}

// TestErrors covers Heat's error answers and broken bodies on every call.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *gophercloud.ServiceClient) error{
		"create": func(c *gophercloud.ServiceClient) error {
			_, err := softwareconfigs.Create(ctx, c, softwareconfigs.CreateOpts{Name: "x"}).Extract()
			return err
		},
		"get": func(c *gophercloud.ServiceClient) error {
			_, err := softwareconfigs.Get(ctx, c, configID).Extract()
			return err
		},
		"list": func(c *gophercloud.ServiceClient) error {
			_, err := softwareconfigs.List(c, nil).AllPages(ctx)
			return err
		},
		"delete": func(c *gophercloud.ServiceClient) error {
			return softwareconfigs.Delete(ctx, c, configID).ExtractErr()
		},
	}
	statuses := []struct {
		name   string
		status int
		body   string
	}{
		{"not found", 404, `{"error":{"code":404,"message":"Software config ` + configID + ` not found","title":"Not Found"}}`},
		{"conflict", 409, `{"error":{"code":409,"title":"Conflict"}}`},
		{"forbidden", 403, `{"error":{"code":403}}`},
		{"server error", 500, `{"error":{"code":500}}`},
	}
	for name, call := range calls {
		for _, s := range statuses {
			t.Run(name+"/"+s.name, func(t *testing.T) {
				fs := th.SetupHTTP()
				defer fs.Teardown()
				handleStatus(fs, "/software_configs/", s.status, s.body)
				handleStatus(fs, "/software_configs", s.status, s.body)
				err := call(client.ServiceClient(fs))
				if !gophercloud.ResponseCodeIs(err, s.status) {
					t.Fatalf("err = %v, want HTTP %d", err, s.status)
				}
			})
		}
		if name == "delete" {
			continue
		}
		t.Run(name+"/malformed JSON", func(t *testing.T) {
			fs := th.SetupHTTP()
			defer fs.Teardown()
			handleStatus(fs, "/software_configs/", 200, `{"software_config": {"id": `)
			handleStatus(fs, "/software_configs", 200, `{"software_configs": [`)
			if err := call(client.ServiceClient(fs)); err == nil {
				t.Fatal("no error on a truncated body")
			}
		})
	}
	t.Run("get/wrong shape", func(t *testing.T) {
		fs := th.SetupHTTP()
		defer fs.Teardown()
		handleStatus(fs, "/software_configs/", 200, `{"stack": {}}`)
		if err := calls["get"](client.ServiceClient(fs)); err == nil {
			t.Fatal("no error on a body without software_config")
		}
	})
}

// TestReauth: a 401 makes the client authenticate again once and retry.
func TestReauth(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_configs/"+configID, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, ConfigBody)
	})
	c := client.ServiceClient(fs)
	var reauths atomic.Int32
	c.ProviderClient.ReauthFunc = func(context.Context) error {
		reauths.Add(1)
		c.ProviderClient.SetToken("fresh")
		return nil
	}
	got, err := softwareconfigs.Get(context.Background(), c, configID).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, configID, got.ID)
	th.CheckEquals(t, int32(1), reauths.Load())

	// A 401 that survives re-auth is reported, not looped on.
	c.ProviderClient.SetToken("stale")
	c.ProviderClient.ReauthFunc = func(context.Context) error { reauths.Add(1); return nil }
	_, err = softwareconfigs.Get(context.Background(), c, configID).Extract()
	var after *gophercloud.ErrErrorAfterReauthentication
	if !errors.As(err, &after) {
		t.Fatalf("err = %v, want ErrErrorAfterReauthentication", err)
	}
}

// TestRetry5xx: 502/503/504 are retried with backoff; a 500 on a POST is not.
func TestRetry5xx(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	var n atomic.Int32
	fs.Mux.HandleFunc("/software_configs/"+configID, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, ConfigBody)
	})
	var posts atomic.Int32
	fs.Mux.HandleFunc("/software_configs", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	c := client.ServiceClient(fs)
	c.ProviderClient.RetryFunc = deploy.RetryFunc(3, time.Millisecond)
	_, err := softwareconfigs.Get(context.Background(), c, configID).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, int32(3), n.Load())

	_, err = softwareconfigs.Create(context.Background(), c, softwareconfigs.CreateOpts{Name: "x"}).Extract()
	if !gophercloud.ResponseCodeIs(err, 500) {
		t.Fatalf("err = %v, want 500", err)
	}
	th.CheckEquals(t, int32(1), posts.Load())

	// Retries run out.
	n.Store(-100)
	_, err = softwareconfigs.Get(context.Background(), c, configID).Extract()
	if !gophercloud.ResponseCodeIs(err, 503) {
		t.Fatalf("err = %v, want 503 after the retries", err)
	}
}

// TestTimeout: a Heat that does not answer ends with the context's deadline.
func TestTimeout(t *testing.T) {
	fs := th.SetupHTTP()
	release := make(chan struct{})
	defer fs.Teardown()
	defer close(release)
	fs.Mux.HandleFunc("/software_configs/"+configID, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := client.ServiceClient(fs)
	c.ProviderClient.RetryFunc = deploy.RetryFunc(3, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := softwareconfigs.Get(ctx, c, configID).Extract()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v after a 50ms deadline", d)
	}
}
