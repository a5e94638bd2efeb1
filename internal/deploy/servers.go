package deploy

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"
)

// DefaultServerTypes are the resource types that are servers: TripleO's
// role alias, Nova servers and pre-provisioned (deployed) servers.
var DefaultServerTypes = []string{"OS::TripleO::ControllerServer", "OS::Nova::Server", "OS::Heat::DeployedServer"}

// ServerFilter selects the servers of a role in a stack.
type ServerFilter struct {
	// Types are the resource types kept (default DefaultServerTypes).
	Types []string
	// Name is a shell pattern (path.Match) on the server's name
	// ("Controller-0"), on its resource name, or on "group/member" for a
	// server inside a group resource: "Controller/*" selects every member
	// of the group named Controller, whatever the members are named and
	// however deep the server is nested in a member (a plain ResourceGroup
	// of DeployedServers, or TripleO's role templates). Empty keeps all.
	Name string
	// Depth is the nested_depth of the listing (default 5, enough for
	// TripleO's role groups).
	Depth int
}

// Server is one server found in a stack.
type Server struct {
	// Name is the resource name, qualified with its parent resource
	// ("Controller/0") when names repeat.
	Name string `json:"name"`
	// ID is the server id: the resource's physical id, which Heat uses as
	// the server_id of software deployments.
	ID string `json:"server_id"`
	// Type is the resource type.
	Type string `json:"type"`
	// Resource is the resource name inside its stack.
	Resource string `json:"resource"`
	// StackName and StackID are the (nested) stack holding the resource.
	StackName string `json:"stack_name"`
	StackID   string `json:"stack_id"`
	// Status is the resource status (CREATE_COMPLETE...).
	Status string `json:"status"`
}

// FindStack resolves a stack name (or name/id, or id) to its name and id.
func FindStack(ctx context.Context, c *gophercloud.ServiceClient, stack string) (name, id string, err error) {
	if n, i, ok := strings.Cut(stack, "/"); ok && n != "" && i != "" {
		return n, i, nil
	}
	s, err := stacks.Find(ctx, c, stack).Extract()
	if err != nil {
		if gophercloud.ResponseCodeIs(err, 404) {
			return "", "", fmt.Errorf("deploy: stack %q not found: check the name with `openstack stack list`: %w", stack, err)
		}
		return "", "", fmt.Errorf("deploy: find stack %q: %w", stack, err)
	}
	return s.Name, s.ID, nil
}

// DiscoverServers lists the resources of stack with nested depth and keeps
// the servers that f selects, sorted by name.
func DiscoverServers(ctx context.Context, c *gophercloud.ServiceClient, stack string, f ServerFilter) ([]Server, error) {
	name, id, err := FindStack(ctx, c, stack)
	if err != nil {
		return nil, err
	}
	depth := f.Depth
	if depth == 0 {
		depth = 5
	}
	types := f.Types
	if len(types) == 0 {
		types = DefaultServerTypes
	}
	pages, err := stackresources.List(c, name, id, stackresources.ListOpts{Depth: depth}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: list resources of stack %s: %w", name, err)
	}
	res, err := stackresources.ExtractResources(pages)
	if err != nil {
		return nil, fmt.Errorf("deploy: read resources of stack %s: %w", name, err)
	}
	// byStack finds the resource whose nested stack is a given stack id.
	byStack := map[string]stackresources.Resource{}
	for _, r := range res {
		if r.PhysicalID != "" {
			byStack[r.PhysicalID] = r
		}
	}
	parent := func(r stackresources.Resource) (stackresources.Resource, bool) {
		_, sid := stackOf(r, name, id)
		p, ok := byStack[sid]
		return p, ok && sid != id
	}
	isServer := func(r stackresources.Resource) bool {
		return slices.Contains(types, r.Type) && r.PhysicalID != ""
	}
	var out []Server
	for _, r := range res {
		if !isServer(r) {
			continue
		}
		// The outermost server-typed resource names it (TripleO's
		// ControllerServer alias around a DeployedServer template); the
		// innermost one's physical id is the server id.
		outer := r
		for p, ok := parent(r); ok; p, ok = parent(p) {
			if isServer(p) {
				outer = p
			}
		}
		if hasInnerServer(res, r, isServer, name, id) {
			continue
		}
		srvName := outer.Name
		// Inside a group: qualify with the nearest numbered member (the
		// server itself, in a plain ResourceGroup of servers, or the
		// nested stack holding it), as TripleO names its nodes
		// (Controller-0).
		for p, ok, self := outer, true, true; ok; self = false {
			if _, err := strconv.Atoi(p.Name); err == nil {
				if g, ok := parent(p); ok {
					srvName = g.Name + "-" + p.Name
				} else if !self {
					srvName = outer.Name + "-" + p.Name
				}
				break
			}
			p, ok = parent(p)
		}
		if f.Name != "" {
			// "group/member" for every group the server is nested in.
			names := []string{srvName, r.Name}
			for p, ok := outer, true; ok; p, ok = parent(p) {
				if g, ok := parent(p); ok {
					names = append(names, g.Name+"/"+p.Name)
				}
			}
			if _, err := path.Match(f.Name, ""); err != nil {
				return nil, fmt.Errorf("deploy: server name pattern %q: %w", f.Name, err)
			}
			if !slices.ContainsFunc(names, func(n string) bool { m, _ := path.Match(f.Name, n); return m }) {
				continue
			}
		}
		sn, sid := stackOf(r, name, id)
		out = append(out, Server{
			Name: srvName, ID: r.PhysicalID, Type: r.Type, Resource: r.Name,
			StackName: sn, StackID: sid, Status: r.Status,
		})
	}
	slices.SortFunc(out, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// hasInnerServer reports whether a server-typed resource lives in r's
// nested stack: then r is a wrapper, not the server.
func hasInnerServer(res []stackresources.Resource, r stackresources.Resource, isServer func(stackresources.Resource) bool, name, id string) bool {
	for _, c := range res {
		if _, sid := stackOf(c, name, id); sid == r.PhysicalID && isServer(c) {
			return true
		}
	}
	return false
}

// stackOf returns the stack holding resource r from its "stack" link.
func stackOf(r stackresources.Resource, defName, defID string) (string, string) {
	for _, l := range r.Links {
		if l.Rel != "stack" {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
		if n := len(parts); n >= 3 && parts[n-3] == "stacks" {
			return parts[n-2], parts[n-1]
		}
	}
	return defName, defID
}

// ResourceMetadata returns a stack resource's metadata as nested JSON
// (gophercloud's stackresources.Metadata().Extract() wants strings and
// fails on Heat's nested objects). For a server it holds "deployments",
// what os-collect-config polls.
func ResourceMetadata(ctx context.Context, c *gophercloud.ServiceClient, stackName, stackID, resource string) (map[string]any, error) {
	var body struct {
		Metadata map[string]any `json:"metadata"`
	}
	u := c.ServiceURL("stacks", stackName, stackID, "resources", resource, "metadata")
	resp, err := c.Get(ctx, u, &body, nil)
	if err != nil {
		if gophercloud.ResponseCodeIs(err, 404) {
			return nil, fmt.Errorf("deploy: resource %s of stack %s not found: %w", resource, stackName, err)
		}
		return nil, fmt.Errorf("deploy: metadata of resource %s in stack %s: %w", resource, stackName, err)
	}
	_ = resp
	return body.Metadata, nil
}
