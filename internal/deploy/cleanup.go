package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

// CleanupOptions configure Cleanup.
type CleanupOptions struct {
	// Keep is how many of the newest deployments to keep per config name
	// (default 1: the one that holds the server's current state).
	Keep int
	// DryRun lists what would be deleted without deleting it.
	DryRun bool
}

// Removed is one deployment Cleanup deleted (or would delete).
type Removed struct {
	ServerID     string `json:"server_id"`
	DeploymentID string `json:"deployment_id"`
	ConfigID     string `json:"config_id"`
	ConfigName   string `json:"config_name"`
	Status       string `json:"status"`
}

// Cleanup deletes the superseded fernetflow deployments of a server, and
// their derived configs: for each config name (fernetflow-install,
// fernetflow-enroll...) of group "fernetflow", all but the newest Keep.
// Heat publishes every deployment of a server in its metadata, so without
// this the metadata each node polls grows with every rotation. Other groups
// are never touched.
func Cleanup(ctx context.Context, c *gophercloud.ServiceClient, serverID string, opts CleanupOptions) ([]Removed, error) {
	keep := opts.Keep
	if keep <= 0 {
		keep = 1
	}
	pages, err := softwaredeployments.List(c, softwaredeployments.ListOpts{ServerID: serverID}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: cleanup server %s: list deployments: %w", serverID, err)
	}
	deps, err := softwaredeployments.ExtractSoftwareDeployments(pages)
	if err != nil {
		return nil, fmt.Errorf("deploy: cleanup server %s: read deployments: %w", serverID, err)
	}
	md, err := softwaredeployments.Metadata(ctx, c, serverID).Extract()
	if err != nil {
		return nil, fmt.Errorf("deploy: cleanup server %s: metadata: %w", serverID, err)
	}
	configs := map[string]softwareconfigs.SoftwareConfig{}
	for _, cfg := range md {
		configs[cfg.ID] = cfg
	}
	byName := map[string][]softwaredeployments.SoftwareDeployment{}
	for _, d := range deps {
		cfg, ok := configs[d.ConfigID]
		if !ok || cfg.Group != Group {
			continue
		}
		byName[cfg.Name] = append(byName[cfg.Name], d)
	}
	var out []Removed
	var errs []error
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ds := byName[name]
		slices.Reverse(ds) // Heat lists oldest first: ties keep the later one first
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].CreationTime.After(ds[j].CreationTime) })
		if len(ds) <= keep {
			continue
		}
		for _, d := range ds[keep:] {
			r := Removed{ServerID: serverID, DeploymentID: d.ID, ConfigID: d.ConfigID, ConfigName: name, Status: d.Status}
			if !opts.DryRun {
				if err := softwaredeployments.Delete(ctx, c, d.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
					errs = append(errs, fmt.Errorf("delete deployment %s: %w", d.ID, err))
					continue
				}
				if err := softwareconfigs.Delete(ctx, c, d.ConfigID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
					errs = append(errs, fmt.Errorf("delete config %s of deployment %s: %w", d.ConfigID, d.ID, err))
				}
			}
			out = append(out, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("deploy: cleanup server %s: %w", serverID, err)
	}
	return out, nil
}
