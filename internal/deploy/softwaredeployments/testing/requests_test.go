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
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

func TestCreate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments", jsonHandler(t, "POST", CreateRequest, 200, DeploymentBody))
	got, err := softwaredeployments.Create(context.Background(), client.ServiceClient(fs), softwaredeployments.CreateOpts{
		ConfigID: configID, ServerID: serverID, Action: "CREATE", Status: "IN_PROGRESS",
		StatusReason: "Deploy data available",
		InputValues:  map[string]any{"fernet_keys": map[string]any{"0": "abc", "1": "def"}},
	}).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, Expected, *got)
}

func TestCreateRequiresIDs(t *testing.T) {
	for name, o := range map[string]softwaredeployments.CreateOpts{
		"no config": {ServerID: serverID},
		"no server": {ConfigID: configID},
	} {
		if _, err := o.ToSoftwareDeploymentCreateMap(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	b, err := softwaredeployments.CreateOpts{ConfigID: "c", ServerID: "s"}.ToSoftwareDeploymentCreateMap()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, map[string]any{}, b["input_values"])
}

func TestGet(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments/"+deploymentID, jsonHandler(t, "GET", "", 200, DeploymentBody))
	got, err := softwaredeployments.Get(context.Background(), client.ServiceClient(fs), deploymentID).Extract()
	th.AssertNoErr(t, err)
	th.CheckDeepEquals(t, Expected, *got)
}

func TestListByServer(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		th.TestFormValues(t, r, map[string]string{"server_id": serverID})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, ListBody)
	})
	pages, err := softwaredeployments.List(client.ServiceClient(fs), softwaredeployments.ListOpts{ServerID: serverID}).AllPages(context.Background())
	th.AssertNoErr(t, err)
	ds, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 1, len(ds))
	th.CheckEquals(t, deploymentID, ds[0].ID)
	th.CheckEquals(t, created, ds[0].CreationTime)
}

func TestUpdate(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments/"+deploymentID, jsonHandler(t, "PUT", UpdateRequest, 200, UpdatedBody))
	got, err := softwaredeployments.Update(context.Background(), client.ServiceClient(fs), deploymentID, softwaredeployments.UpdateOpts{
		Status: "COMPLETE", StatusReason: "Outputs received",
		OutputValues: map[string]any{"deploy_stdout": "hello\n", "deploy_stderr": "", "deploy_status_code": 0, "result": "ok"},
	}).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, "COMPLETE", got.Status)
	th.CheckEquals(t, "ok", got.OutputValues["result"])
	th.CheckEquals(t, time.Date(2026, 11, 23, 15, 5, 1, 0, time.UTC), got.UpdatedTime)
}

func TestDelete(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments/"+deploymentID, func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "DELETE")
		w.WriteHeader(http.StatusNoContent)
	})
	th.AssertNoErr(t, softwaredeployments.Delete(context.Background(), client.ServiceClient(fs), deploymentID).ExtractErr())
}

func TestMetadata(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments/metadata/"+serverID, jsonHandler(t, "GET", "", 200, MetadataBody))
	md, err := softwaredeployments.Metadata(context.Background(), client.ServiceClient(fs), serverID).Extract()
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 1, len(md))
	th.CheckEquals(t, "fernetflow", md[0].Group)
	th.CheckEquals(t, serverID, md[0].Inputs[1].Value)

	fs2 := th.SetupHTTP()
	defer fs2.Teardown()
	handleStatus(fs2, "/software_deployments/metadata/"+serverID, 200, `{"metadata": []}`)
	md, err = softwaredeployments.Metadata(context.Background(), client.ServiceClient(fs2), serverID).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, 0, len(md))
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *gophercloud.ServiceClient) error{
		"create": func(c *gophercloud.ServiceClient) error {
			_, err := softwaredeployments.Create(ctx, c, softwaredeployments.CreateOpts{ConfigID: configID, ServerID: serverID}).Extract()
			return err
		},
		"get": func(c *gophercloud.ServiceClient) error {
			_, err := softwaredeployments.Get(ctx, c, deploymentID).Extract()
			return err
		},
		"list": func(c *gophercloud.ServiceClient) error {
			_, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: serverID}).AllPages(ctx)
			return err
		},
		"update": func(c *gophercloud.ServiceClient) error {
			_, err := softwaredeployments.Update(ctx, c, deploymentID, softwaredeployments.UpdateOpts{Status: "COMPLETE"}).Extract()
			return err
		},
		"delete": func(c *gophercloud.ServiceClient) error {
			return softwaredeployments.Delete(ctx, c, deploymentID).ExtractErr()
		},
		"metadata": func(c *gophercloud.ServiceClient) error {
			_, err := softwaredeployments.Metadata(ctx, c, serverID).Extract()
			return err
		},
	}
	statuses := []struct {
		name   string
		status int
	}{{"bad request", 400}, {"not found", 404}, {"conflict", 409}, {"server error", 500}}
	for name, call := range calls {
		for _, s := range statuses {
			t.Run(name+"/"+s.name, func(t *testing.T) {
				fs := th.SetupHTTP()
				defer fs.Teardown()
				body := fmt.Sprintf(`{"error":{"code":%d,"message":"boom"}}`, s.status)
				handleStatus(fs, "/software_deployments/", s.status, body)
				handleStatus(fs, "/software_deployments", s.status, body)
				if err := call(client.ServiceClient(fs)); !gophercloud.ResponseCodeIs(err, s.status) {
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
			handleStatus(fs, "/software_deployments/", 200, `{"software_deployment": {"id": `)
			handleStatus(fs, "/software_deployments", 200, `{"software_deployments": [{`)
			if err := call(client.ServiceClient(fs)); err == nil {
				t.Fatal("no error on a truncated body")
			}
		})
	}
	for _, name := range []string{"get", "metadata"} {
		t.Run(name+"/wrong shape", func(t *testing.T) {
			fs := th.SetupHTTP()
			defer fs.Teardown()
			handleStatus(fs, "/software_deployments/", 200, `{"stack": {}}`)
			if err := calls[name](client.ServiceClient(fs)); err == nil {
				t.Fatal("no error on a body of the wrong shape")
			}
		})
	}
}

func TestReauth(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/software_deployments/"+deploymentID, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		th.TestJSONRequest(t, r, UpdateRequest) // the body is sent again after re-auth
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, UpdatedBody)
	})
	c := client.ServiceClient(fs)
	var reauths atomic.Int32
	c.ProviderClient.ReauthFunc = func(context.Context) error {
		reauths.Add(1)
		c.ProviderClient.SetToken("fresh")
		return nil
	}
	got, err := softwaredeployments.Update(context.Background(), c, deploymentID, softwaredeployments.UpdateOpts{
		Status: "COMPLETE", StatusReason: "Outputs received",
		OutputValues: map[string]any{"deploy_stdout": "hello\n", "deploy_stderr": "", "deploy_status_code": 0, "result": "ok"},
	}).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, "COMPLETE", got.Status)
	th.CheckEquals(t, int32(1), reauths.Load())

	c.ProviderClient.SetToken("stale")
	c.ProviderClient.ReauthFunc = func(context.Context) error { return errors.New("keystone down") }
	_, err = softwaredeployments.Get(context.Background(), c, deploymentID).Extract()
	var unable *gophercloud.ErrUnableToReauthenticate
	if !errors.As(err, &unable) {
		t.Fatalf("err = %v, want ErrUnableToReauthenticate", err)
	}
}

func TestRetry5xx(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	var n atomic.Int32
	fs.Mux.HandleFunc("/software_deployments/"+deploymentID, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			w.WriteHeader(http.StatusInternalServerError) // PUT is idempotent: retried
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, UpdatedBody)
		}
	})
	var posts atomic.Int32
	fs.Mux.HandleFunc("/software_deployments", func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, DeploymentBody)
	})
	c := client.ServiceClient(fs)
	c.ProviderClient.RetryFunc = deploy.RetryFunc(3, time.Millisecond)
	_, err := softwaredeployments.Update(context.Background(), c, deploymentID, softwaredeployments.UpdateOpts{Status: "COMPLETE"}).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, int32(3), n.Load())
	_, err = softwaredeployments.Create(context.Background(), c, softwaredeployments.CreateOpts{ConfigID: configID, ServerID: serverID}).Extract()
	th.AssertNoErr(t, err)
	th.CheckEquals(t, int32(2), posts.Load())
}

func TestTimeout(t *testing.T) {
	fs := th.SetupHTTP()
	release := make(chan struct{})
	defer fs.Teardown()
	defer close(release)
	fs.Mux.HandleFunc("/software_deployments/metadata/"+serverID, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := softwaredeployments.Metadata(ctx, client.ServiceClient(fs), serverID).Extract()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}
