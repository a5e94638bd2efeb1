package deploy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
)

// resourcesBody is a TripleO-like overcloud: role groups of nested stacks,
// each with a server alias implemented by a template holding the real
// OS::Heat::DeployedServer, plus a plain DeployedServer and a non-server.
func resourcesBody(base string) string {
	link := func(stack string) string {
		return fmt.Sprintf(`[{"href":"%s/stacks/%s/resources/x","rel":"self"},{"href":"%s/stacks/%s","rel":"stack"}]`, base, stack, base, stack)
	}
	r := func(name, typ, phys, parent, stack string) string {
		return fmt.Sprintf(`{"resource_name":%q,"resource_type":%q,"physical_resource_id":%q,"parent_resource":%q,"resource_status":"CREATE_COMPLETE","links":%s,"creation_time":"2026-11-23T15:00:00"}`,
			name, typ, phys, parent, link(stack))
	}
	return `{"resources":[` + strings.Join([]string{
		r("Controller", "OS::Heat::ResourceGroup", "group-stack-id", "", "overcloud/oc-id"),
		r("0", "OS::TripleO::Controller", "c0-stack-id", "Controller", "overcloud-Controller-x/group-stack-id"),
		r("Controller", "OS::TripleO::ControllerServer", "c0-server-stack-id", "0", "overcloud-Controller-x-0-y/c0-stack-id"),
		r("deployed-server", "OS::Heat::DeployedServer", "srv-uuid-0", "Controller", "overcloud-Controller-x-0-y-Controller-z/c0-server-stack-id"),
		r("1", "OS::TripleO::Controller", "c1-stack-id", "Controller", "overcloud-Controller-x/group-stack-id"),
		r("Controller", "OS::TripleO::ControllerServer", "srv-uuid-1", "1", "overcloud-Controller-x-1-y/c1-stack-id"),
		r("ctrl-2", "OS::Heat::DeployedServer", "srv-uuid-2", "", "overcloud/oc-id"),
		r("compute-0", "OS::Heat::DeployedServer", "srv-uuid-c", "", "overcloud/oc-id"),
		r("net", "OS::Heat::None", "none-id", "", "overcloud/oc-id"),
		r("pending", "OS::Heat::DeployedServer", "", "", "overcloud/oc-id"),
	}, ",") + `]}`
}

func TestDiscoverServers(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/stacks/overcloud", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", fs.Endpoint()+"stacks/overcloud/oc-id")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"stack":{"id":"oc-id","stack_name":"overcloud","creation_time":"2026-11-23T15:00:00Z"}}`)
	})
	fs.Mux.HandleFunc("/stacks/overcloud/oc-id/resources", func(w http.ResponseWriter, r *http.Request) {
		th.TestFormValues(t, r, map[string]string{"nested_depth": "5"})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, resourcesBody(strings.TrimSuffix(fs.Endpoint(), "/")))
	})
	c := client.ServiceClient(fs)
	got, err := DiscoverServers(context.Background(), c, "overcloud", ServerFilter{})
	th.AssertNoErr(t, err)
	var names []string
	for _, s := range got {
		names = append(names, s.Name+"="+s.ID)
	}
	th.CheckEquals(t, "Controller-0=srv-uuid-0 Controller-1=srv-uuid-1 compute-0=srv-uuid-c ctrl-2=srv-uuid-2", strings.Join(names, " "))
	th.CheckEquals(t, "overcloud-Controller-x-0-y-Controller-z", got[0].StackName)
	th.CheckEquals(t, "c0-server-stack-id", got[0].StackID)
	th.CheckEquals(t, "deployed-server", got[0].Resource)

	for _, tc := range []struct {
		filter ServerFilter
		want   string
	}{
		{ServerFilter{Name: "Controller-*"}, "Controller-0 Controller-1"},
		{ServerFilter{Name: "ctrl-*"}, "ctrl-2"},
		{ServerFilter{Name: "Controller/*"}, "Controller-0 Controller-1"},
		{ServerFilter{Name: "Controller/1"}, "Controller-1"},
		{ServerFilter{Types: []string{"OS::TripleO::ControllerServer"}}, "Controller-0 Controller-1"},
		{ServerFilter{Name: "nothing"}, ""},
	} {
		got, err := DiscoverServers(context.Background(), c, "overcloud/oc-id", tc.filter)
		th.AssertNoErr(t, err)
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		th.CheckEquals(t, tc.want, strings.Join(names, " "))
	}
	_, err = DiscoverServers(context.Background(), c, "overcloud", ServerFilter{Name: "["})
	if err == nil || !strings.Contains(err.Error(), "pattern") {
		t.Fatalf("bad pattern: err = %v", err)
	}
}

func TestDiscoverServersStackNotFound(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/stacks/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":404,"message":"The Stack (missing) could not be found."}}`)
	})
	_, err := DiscoverServers(context.Background(), client.ServiceClient(fs), "missing", ServerFilter{})
	if err == nil || !strings.Contains(err.Error(), `stack "missing" not found`) {
		t.Fatalf("err = %v", err)
	}
}

func TestResourceMetadataNested(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/stacks/s/sid/resources/server/metadata", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"metadata":{"deployments":[{"id":"c1","group":"fernetflow","inputs":[{"name":"deploy_server_id","value":"srv"}]}],
			"os-collect-config":{"collectors":["heat","local"],"heat":{"resource_name":"server"}}}}`)
	})
	fs.Mux.HandleFunc("/stacks/s/sid/resources/gone/metadata", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	md, err := ResourceMetadata(context.Background(), client.ServiceClient(fs), "s", "sid", "server")
	th.AssertNoErr(t, err)
	deps := md["deployments"].([]any)
	th.CheckEquals(t, "fernetflow", deps[0].(map[string]any)["group"])
	th.CheckEquals(t, "server", md["os-collect-config"].(map[string]any)["heat"].(map[string]any)["resource_name"])
	_, err = ResourceMetadata(context.Background(), client.ServiceClient(fs), "s", "sid", "gone")
	if err == nil || !strings.Contains(err.Error(), "resource gone of stack s not found") {
		t.Fatalf("err = %v", err)
	}
}

// TestDiscoverServersPlainGroup: a plain OS::Heat::ResourceGroup of
// DeployedServers lists its members as 0, 1, 2; "Controller/*" (and the
// role prefix) finds them, named Controller-0...; "Storage/*" finds a
// member that is not numbered, which keeps its own name.
func TestDiscoverServersPlainGroup(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	h := deploytest.New(fs)
	h.AddGroup("Controller", []string{"0", "1", "2"}, []string{"srv-c0", "srv-c1", "srv-c2"})
	h.AddGroup("Compute", []string{"0"}, []string{"srv-n0"})
	h.AddGroup("Storage", []string{"ceph-a"}, []string{"srv-s0"})
	h.AddServer("ControllerSpare", "srv-spare")
	c := client.ServiceClient(fs)
	for _, tc := range []struct {
		pattern, want string
	}{
		{"", "Compute-0=srv-n0 Controller-0=srv-c0 Controller-1=srv-c1 Controller-2=srv-c2 ControllerSpare=srv-spare ceph-a=srv-s0"},
		{"Controller/*", "Controller-0=srv-c0 Controller-1=srv-c1 Controller-2=srv-c2"},
		{"Controller-*", "Controller-0=srv-c0 Controller-1=srv-c1 Controller-2=srv-c2"},
		{"Controller/1", "Controller-1=srv-c1"},
		{"Compute/*", "Compute-0=srv-n0"},
		{"Storage/*", "ceph-a=srv-s0"},
		{"ControllerSpare", "ControllerSpare=srv-spare"},
		{"Nothing/*", ""},
	} {
		got, err := DiscoverServers(context.Background(), c, "overcloud", ServerFilter{Name: tc.pattern})
		th.AssertNoErr(t, err)
		var names []string
		for _, s := range got {
			names = append(names, s.Name+"="+s.ID)
		}
		if strings.Join(names, " ") != tc.want {
			t.Errorf("%q: got %q, want %q", tc.pattern, strings.Join(names, " "), tc.want)
		}
	}
}
