// Package deploytest is an in-memory stand-in for the parts of Heat that
// fernetflow uses (software configs, software deployments, server
// metadata, stacks and their resources), for unit tests on gophercloud's
// testhelper fake server. It follows Heat 19's JSON shapes; it is not a
// Heat: it checks nothing Heat does not, and no more.
package deploytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
)

// Heat is the fake. Its fields are guarded by mu; use the methods.
type Heat struct {
	mu          sync.Mutex
	seq         int
	configs     map[string]map[string]any
	deployments map[string]map[string]any
	order       []string // deployment ids by creation
	// Resources are served by GET /stacks/{name}/{id}/resources.
	Resources []map[string]any
	// StackName and StackID identify the one stack served.
	StackName, StackID string
	// Fail, when set, is called first on every request; a non-zero status
	// is answered instead of serving the request.
	Fail func(r *http.Request) int
	// Requests counts requests by "METHOD path-prefix".
	Requests map[string]int
}

// New registers a fake Heat on fs's mux and returns it.
func New(fs th.FakeServer) *Heat {
	h := &Heat{
		configs:     map[string]map[string]any{},
		deployments: map[string]map[string]any{},
		StackName:   "overcloud", StackID: "oc-id",
		Requests: map[string]int{},
	}
	fs.Mux.Handle("/", h)
	return h
}

func (h *Heat) nextID(prefix string) string {
	h.seq++
	return fmt.Sprintf("%s-%04d", prefix, h.seq)
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05Z") }

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func notFound(w http.ResponseWriter, what string) {
	write(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": what + " not found", "title": "Not Found"}})
}

// ServeHTTP implements the fake API.
func (h *Heat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Fail != nil {
		if code := h.Fail(r); code != 0 {
			write(w, code, map[string]any{"error": map[string]any{"code": code}})
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	key := r.Method + " " + parts[0]
	if len(parts) > 1 && parts[1] == "metadata" {
		key += "/metadata"
	}
	h.Requests[key]++
	var body map[string]any
	if r.Method == "POST" || r.Method == "PUT" {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			write(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
			return
		}
	}
	switch {
	case parts[0] == "software_configs" && len(parts) == 1 && r.Method == "POST":
		c := map[string]any{"id": h.nextID("cfg"), "creation_time": now(), "inputs": []any{}, "outputs": []any{}, "options": map[string]any{}}
		for k, v := range body {
			c[k] = v
		}
		h.configs[c["id"].(string)] = c
		write(w, 200, map[string]any{"software_config": c})
	case parts[0] == "software_configs" && len(parts) == 2:
		c, ok := h.configs[parts[1]]
		if !ok {
			notFound(w, "Software config "+parts[1])
			return
		}
		switch r.Method {
		case "GET":
			write(w, 200, map[string]any{"software_config": c})
		case "DELETE":
			for _, d := range h.deployments {
				if d["config_id"] == parts[1] {
					write(w, 409, map[string]any{"error": map[string]any{"code": 409, "message": "config in use"}})
					return
				}
			}
			delete(h.configs, parts[1])
			w.WriteHeader(204)
		}
	case parts[0] == "software_deployments" && len(parts) == 1 && r.Method == "POST":
		d := map[string]any{"id": h.nextID("dep"), "creation_time": now(), "output_values": nil,
			"action": "CREATE", "status": "COMPLETE", "status_reason": "", "input_values": map[string]any{}}
		for k, v := range body {
			d[k] = v
		}
		if _, ok := h.configs[fmt.Sprint(d["config_id"])]; !ok {
			notFound(w, "Software config "+fmt.Sprint(d["config_id"]))
			return
		}
		h.deployments[d["id"].(string)] = d
		h.order = append(h.order, d["id"].(string))
		write(w, 200, map[string]any{"software_deployment": d})
	case parts[0] == "software_deployments" && len(parts) == 1 && r.Method == "GET":
		srv := r.URL.Query().Get("server_id")
		out := []any{}
		for _, id := range h.order {
			if d, ok := h.deployments[id]; ok && (srv == "" || d["server_id"] == srv) {
				out = append(out, d)
			}
		}
		write(w, 200, map[string]any{"software_deployments": out})
	case parts[0] == "software_deployments" && len(parts) == 3 && parts[1] == "metadata":
		write(w, 200, map[string]any{"metadata": h.metadataLocked(parts[2])})
	case parts[0] == "software_deployments" && len(parts) == 2:
		d, ok := h.deployments[parts[1]]
		if !ok {
			notFound(w, "Deployment "+parts[1])
			return
		}
		switch r.Method {
		case "GET":
			write(w, 200, map[string]any{"software_deployment": d})
		case "PUT":
			for k, v := range body {
				d[k] = v
			}
			d["updated_time"] = now()
			write(w, 200, map[string]any{"software_deployment": d})
		case "DELETE":
			delete(h.deployments, parts[1])
			w.WriteHeader(204)
		}
	case parts[0] == "stacks" && len(parts) == 2 && parts[1] == h.StackName:
		w.Header().Set("Location", "/stacks/"+h.StackName+"/"+h.StackID)
		write(w, 200, map[string]any{"stack": map[string]any{"id": h.StackID, "stack_name": h.StackName}})
	case parts[0] == "stacks" && len(parts) == 4 && parts[3] == "resources":
		write(w, 200, map[string]any{"resources": h.Resources})
	case parts[0] == "stacks" && len(parts) == 6 && parts[5] == "metadata":
		for _, res := range h.Resources {
			if res["resource_name"] == parts[4] {
				write(w, 200, map[string]any{"metadata": map[string]any{"deployments": h.metadataLocked(fmt.Sprint(res["physical_resource_id"]))}})
				return
			}
		}
		notFound(w, "Resource "+parts[4])
	default:
		notFound(w, r.Method+" "+r.URL.Path)
	}
}

func (h *Heat) metadataLocked(server string) []any {
	var ds []map[string]any
	for _, id := range h.order {
		if d, ok := h.deployments[id]; ok && d["server_id"] == server {
			ds = append(ds, d)
		}
	}
	sort.SliceStable(ds, func(i, j int) bool { return fmt.Sprint(ds[i]["creation_time"]) < fmt.Sprint(ds[j]["creation_time"]) })
	out := []any{}
	for _, d := range ds {
		if c, ok := h.configs[fmt.Sprint(d["config_id"])]; ok {
			out = append(out, c)
		}
	}
	return out
}

// AddServer adds an OS::Heat::DeployedServer resource to the stack.
func (h *Heat) AddServer(name, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Resources = append(h.Resources, map[string]any{
		"resource_name": name, "resource_type": "OS::Heat::DeployedServer", "physical_resource_id": id,
		"resource_status": "CREATE_COMPLETE", "parent_resource": "",
		"links": []any{map[string]any{"rel": "stack", "href": "http://heat/v1/p/stacks/" + h.StackName + "/" + h.StackID}},
	})
}

// Deployment returns a copy of one deployment, or nil.
func (h *Heat) Deployment(id string) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.deployments[id]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(d)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	return c
}

// Metadata returns what Heat would publish to server: its deployments'
// configs as JSON values, oldest first.
func (h *Heat) Metadata(server string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, _ := json.Marshal(h.metadataLocked(server))
	var out []map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// Counts returns how many configs and deployments exist.
func (h *Heat) Counts() (configs, deployments int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.configs), len(h.deployments)
}

// Count returns how many requests matched key ("GET software_deployments").
func (h *Heat) Count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Requests[key]
}

// AddGroup adds a group resource (OS::Heat::ResourceGroup) named group to
// the stack, with a nested stack holding one OS::Heat::DeployedServer per
// member, named as given ("0", "1"... as ResourceGroup names them) with
// the server id ids[i]: a plain ResourceGroup of deployed servers.
func (h *Heat) AddGroup(group string, members, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	nestedID := group + "-stack-id"
	nested := h.StackName + "-" + group + "-x/" + nestedID
	h.Resources = append(h.Resources, map[string]any{
		"resource_name": group, "resource_type": "OS::Heat::ResourceGroup", "physical_resource_id": nestedID,
		"resource_status": "CREATE_COMPLETE", "parent_resource": "",
		"links": []any{map[string]any{"rel": "stack", "href": "http://heat/v1/p/stacks/" + h.StackName + "/" + h.StackID}},
	})
	for i, m := range members {
		h.Resources = append(h.Resources, map[string]any{
			"resource_name": m, "resource_type": "OS::Heat::DeployedServer", "physical_resource_id": ids[i],
			"resource_status": "CREATE_COMPLETE", "parent_resource": group,
			"links": []any{map[string]any{"rel": "stack", "href": "http://heat/v1/p/stacks/" + nested}},
		})
	}
}
