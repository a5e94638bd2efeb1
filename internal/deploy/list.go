package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// ServersByID is the servers named by ids, or else (no ids) the servers
// DiscoverServers finds in stack.
func ServersByID(ctx context.Context, c *gophercloud.ServiceClient, ids []string, stack string, filter ServerFilter) ([]Server, error) {
	if len(ids) > 0 {
		out := make([]Server, len(ids))
		for i, id := range ids {
			out[i] = Server{Name: id, ID: id}
		}
		return out, nil
	}
	return DiscoverServers(ctx, c, stack, filter)
}

// DeploymentInfo is one software deployment of a server, with the name and
// group of the config it runs, as the server's metadata shows it.
type DeploymentInfo struct {
	Server       string         `json:"server"`
	ServerID     string         `json:"server_id"`
	DeploymentID string         `json:"deployment_id"`
	ConfigID     string         `json:"config_id"`
	ConfigName   string         `json:"config_name"`
	Group        string         `json:"group"`
	Action       string         `json:"action"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	Created      time.Time      `json:"created"`
	Outputs      map[string]any `json:"outputs,omitempty"`
}

// Deployments lists the software deployments of s, oldest first: only
// those of group fernetflow (Group) unless all.
func Deployments(ctx context.Context, c *gophercloud.ServiceClient, s Server, all bool) ([]DeploymentInfo, error) {
	pages, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: s.ID}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("deployments of server %s: %w", s.Name, err)
	}
	deps, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	if err != nil {
		return nil, fmt.Errorf("deployments of server %s: %w", s.Name, err)
	}
	md, err := softwaredeployments.Metadata(ctx, c, s.ID).Extract()
	if err != nil {
		return nil, fmt.Errorf("metadata of server %s: %w", s.Name, err)
	}
	configs := map[string]softwareconfigs.SoftwareConfig{}
	for _, cfg := range md {
		configs[cfg.ID] = cfg
	}
	var out []DeploymentInfo
	for _, d := range deps {
		cfg := configs[d.ConfigID]
		if !all && cfg.Group != Group {
			continue
		}
		out = append(out, DeploymentInfo{Server: s.Name, ServerID: s.ID, DeploymentID: d.ID, ConfigID: d.ConfigID,
			ConfigName: cfg.Name, Group: cfg.Group, Action: d.Action, Status: d.Status, StatusReason: d.StatusReason,
			Created: d.CreationTime, Outputs: d.OutputValues})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return slices.Clip(out), nil
}
