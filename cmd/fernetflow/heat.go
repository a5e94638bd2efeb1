package main

import (
	"context"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/cloud"
	"github.com/fernetflow/fernetflow/internal/deploy"
)

// heatFlags are the flags of every command that talks to Heat.
type heatFlags struct {
	cloud   cloud.Options
	timeout time.Duration
}

func (f *heatFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.cloud.Cloud, "os-cloud", "", "the clouds.yaml entry to use (default: OS_CLOUD, or the OS_* variables), as the openstack CLI")
	cmd.PersistentFlags().StringVar(&f.cloud.RegionName, "os-region-name", "", "the region (default: the cloud's, or OS_REGION_NAME)")
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
}

func (f *heatFlags) client(cmd *cobra.Command) (context.Context, context.CancelFunc, *gophercloud.ServiceClient, error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := cloud.NewOrchestrationClient(ctx, f.cloud)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, cancel, c, nil
}

func (a *app) heatCmd() *cobra.Command {
	var f heatFlags
	cmd := &cobra.Command{
		Use:   "heat",
		Short: "Look at what fernetflow sees and leaves in Heat: servers and deployments",
		Long: `Operator views of Heat, read as fernetflow reads it: the servers of a role in
the overcloud stack, and each server's software deployments with the
config each one runs. Credentials come from clouds.yaml and the OS_*
variables exactly as the openstack CLI reads them (--os-cloud).`,
	}
	f.register(cmd)
	cmd.AddCommand(a.heatServersCmd(&f), a.heatDeploymentsCmd(&f), a.heatCleanupCmd(&f), a.heatTemplateCmd())
	return cmd
}

type serverTable []deploy.Server

func (s serverTable) Table() ([]string, [][]string) {
	rows := make([][]string, len(s))
	for i, v := range s {
		rows[i] = []string{v.Name, v.ID, v.Type, v.Status, v.StackName}
	}
	return []string{"NAME", "SERVER ID", "TYPE", "STATUS", "STACK"}, rows
}

func (a *app) heatServersCmd(f *heatFlags) *cobra.Command {
	var filter deploy.ServerFilter
	var stack string
	cmd := &cobra.Command{
		Use:   "servers",
		Short: "List the servers of a role in the overcloud stack",
		Long: `List the resources of --stack with nested depth and keep the servers:
resources of the given types (default OS::TripleO::ControllerServer,
OS::Nova::Server, OS::Heat::DeployedServer) whose name matches --name (a
shell pattern on the name, such as Controller-*, or GROUP/* for the members
of a group resource, such as Controller/* for a ResourceGroup named
Controller, however its members are named). The server id is the
resource's physical id, which deployments are published under.`,
		Example: `  fernetflow heat servers --os-cloud undercloud --stack overcloud --name 'Controller-*'
  fernetflow heat servers --stack fernet --type OS::Heat::DeployedServer -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel, c, err := f.client(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			s, err := deploy.DiscoverServers(ctx, c, stack, filter)
			if err != nil {
				return err
			}
			if s == nil {
				s = []deploy.Server{}
			}
			return a.print(serverTable(s))
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "overcloud", "the stack: name, name/id or id")
	cmd.Flags().StringVar(&filter.Name, "name", "", "shell pattern on the server name, or GROUP/* for a group's members (default: all)")
	cmd.Flags().StringSliceVar(&filter.Types, "type", nil, "resource types that are servers (repeatable)")
	cmd.Flags().IntVar(&filter.Depth, "depth", 5, "nested_depth of the resource listing")
	return cmd
}

type deploymentTable []deploy.DeploymentInfo

func (d deploymentTable) Table() ([]string, [][]string) {
	rows := make([][]string, len(d))
	for i, v := range d {
		rows[i] = []string{v.Server, v.DeploymentID, v.ConfigName, v.Group, v.Action, v.Status, v.Created.UTC().Format(time.RFC3339)}
	}
	return []string{"SERVER", "DEPLOYMENT ID", "CONFIG", "GROUP", "ACTION", "STATUS", "CREATED"}, rows
}

func (a *app) heatDeploymentsCmd(f *heatFlags) *cobra.Command {
	var (
		serverIDs []string
		stack     string
		filter    deploy.ServerFilter
		all       bool
	)
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "List the software deployments of servers, with the config each runs",
		Long: `List the software deployments of each server (--server-id, or the servers
of --stack that match --name), oldest first, with the name and group of
the config each one runs, as in the metadata os-collect-config polls.
Only group fernetflow is shown unless --all.`,
		Example: `  fernetflow heat deployments --os-cloud undercloud --stack overcloud --name 'Controller-*'
  fernetflow heat deployments --server-id 0d4f6e1a-... --all -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel, c, err := f.client(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			servers, err := deploy.ServersByID(ctx, c, serverIDs, stack, filter)
			if err != nil {
				return err
			}
			out := deploymentTable{}
			for _, s := range servers {
				rows, err := deploy.Deployments(ctx, c, s, all)
				if err != nil {
					return err
				}
				out = append(out, rows...)
			}
			return a.print(out)
		},
	}
	cmd.Flags().StringSliceVar(&serverIDs, "server-id", nil, "server ids (repeatable); default: the servers of --stack")
	cmd.Flags().StringVar(&stack, "stack", "overcloud", "the stack whose servers to show")
	cmd.Flags().StringVar(&filter.Name, "name", "", "shell pattern on the server name")
	cmd.Flags().BoolVar(&all, "all", false, "show every group, not only fernetflow")
	return cmd
}

func (a *app) heatCleanupCmd(f *heatFlags) *cobra.Command {
	var (
		serverIDs []string
		stack     string
		filter    deploy.ServerFilter
		opts      deploy.CleanupOptions
		leftovers bool
	)
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete superseded fernetflow deployments so server metadata stays small",
		Long: `Delete, on each server, the fernetflow deployments superseded by a newer one
of the same config name (keeping --keep), and their derived configs. Heat
publishes every deployment of a server in the metadata its nodes poll, so
without this it grows with every rotation. Other groups are never touched.

With --leftovers, it instead marks FAILED (with the reason) the fernetflow
deployments that an earlier run left IN_PROGRESS: a run that failed or was
interrupted, whose signal receiver now answers 404 or refuses the
connection. Deployments a live fernetflow still waits for are left alone,
and nodes still apply the marked ones (harmless).`,
		Example: `  fernetflow heat cleanup --os-cloud undercloud --stack overcloud --name 'Controller-*' --dry-run
  fernetflow heat cleanup --server-id 0d4f6e1a-... --keep 2
  fernetflow heat cleanup --os-cloud undercloud --stack overcloud --name 'Controller-*' --leftovers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel, c, err := f.client(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			servers, err := deploy.ServersByID(ctx, c, serverIDs, stack, filter)
			if err != nil {
				return err
			}
			if leftovers {
				if cmd.Flags().Changed("keep") {
					return usagef("--keep is for superseded deployments, not --leftovers")
				}
				stale, err := deploy.CleanupStale(ctx, c, servers, deploy.StaleOptions{DryRun: opts.DryRun, Log: a.log})
				if perr := a.print(stale); err == nil {
					err = perr
				}
				return err
			}
			removed := []deploy.Removed{}
			for _, s := range servers {
				r, err := deploy.Cleanup(ctx, c, s.ID, opts)
				removed = append(removed, r...)
				if err != nil {
					return err
				}
			}
			return a.print(removed)
		},
	}
	cmd.Flags().StringSliceVar(&serverIDs, "server-id", nil, "server ids (repeatable); default: the servers of --stack")
	cmd.Flags().StringVar(&stack, "stack", "overcloud", "the stack whose servers to clean")
	cmd.Flags().StringVar(&filter.Name, "name", "", "shell pattern on the server name")
	cmd.Flags().IntVar(&opts.Keep, "keep", 1, "newest deployments kept per config name")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be deleted (or marked), change nothing")
	cmd.Flags().BoolVar(&leftovers, "leftovers", false, "mark FAILED the deployments earlier runs left IN_PROGRESS, whose signal receiver is gone, instead of deleting superseded ones")
	return cmd
}

// heatHostFlags registers --os-cloud, --signal-listen, --signal-url and
// --signal-key-file on a command that runs the heat.* actions (workflow
// run, rotate, serve) and returns the function that builds their host in
// RunE; the caller closes the host when the command ends, which stops the
// signal receiver.
func (a *app) heatHostFlags(cmd *cobra.Command) func() *deploy.Host {
	h := &deploy.Host{}
	cmd.Flags().StringVar(&h.Cloud.Cloud, "os-cloud", "", "the clouds.yaml entry to use (default: OS_CLOUD, or the OS_* variables), as the openstack CLI")
	cmd.Flags().StringVar(&h.SignalListen, "signal-listen", "", "heat target: where the servers' deployment signals are received, HOST:PORT on an address they reach (default: the address this host reaches Heat from, any free port; 127.0.0.1:0 when Heat is on loopback); not the address of serve --listen")
	cmd.Flags().StringVar(&h.SignalBaseURL, "signal-url", "", "heat target: the URL the servers reach --signal-listen by, behind a proxy or NAT (default http://<listen address>)")
	cmd.Flags().StringVar(&h.SignalKeyFile, "signal-key-file", "", "keep the signal receiver's key here (made 0600 on first use) so that signal URLs outlive a restart on the same --signal-listen")
	return func() *deploy.Host {
		h.Log = a.log
		return h
	}
}
