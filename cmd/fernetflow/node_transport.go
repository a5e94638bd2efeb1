package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/node"
)

// nodeTransportFlags are the node settings collect and hook share with
// node install.
type nodeTransportFlags struct {
	o                      node.InstallOptions
	signerKey, user, group string
}

func (f *nodeTransportFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.o.StateDir, "state-dir", node.DefaultStateDir, "the node's state directory (identity, installed.json, heat/ records)")
	cmd.Flags().StringVar(&f.o.KeyRepository, "key-repository", "/etc/keystone/fernet-keys", "Keystone's [fernet_tokens] key_repository")
	cmd.Flags().StringVar(&f.o.ServerID, "server-id", "", "this node's server id (default: each deployment's deploy_server_id)")
	cmd.Flags().StringVar(&f.signerKey, "signer-public-key", "", "the pinned undercloud signer: ed25519:... or a file holding it (default: STATE_DIR/"+node.SignerFile+", which a pin-signer deployment writes)")
	cmd.Flags().StringVar(&f.user, "keystone-user", "", "user that owns the key files, as keystone-manage's --keystone-user")
	cmd.Flags().StringVar(&f.group, "keystone-group", "", "group that owns the key files, as keystone-manage's --keystone-group")
}

// nodeSigner is --signer-public-key on a node: empty is the zero key,
// which node.Install replaces by the signer pinned in the state directory
// (STATE_DIR/signer.pub, see fernetflow node collect --help).
func nodeSigner(v string) (envelope.PublicKey, error) {
	if strings.TrimSpace(v) == "" {
		return envelope.PublicKey{}, nil
	}
	return pinnedSigner(v)
}

func (f *nodeTransportFlags) options(a *app) (node.TransportOptions, error) {
	pinned, err := nodeSigner(f.signerKey)
	if err != nil {
		return node.TransportOptions{}, err
	}
	owner, err := resolveOwner(f.user, f.group)
	if err != nil {
		return node.TransportOptions{}, err
	}
	o := f.o
	o.Signer, o.Owner, o.Logger = pinned, owner, a.log
	return node.TransportOptions{Install: o, Logger: a.log}, nil
}

// nodeTransportCmds are `node collect` and `node hook`, the Heat transport
// on a node; node.go's constructor adds them under `node`.
func (a *app) nodeTransportCmds() []*cobra.Command {
	return []*cobra.Command{a.nodeCollectCmd(), a.nodeHookCmd()}
}

func (a *app) nodeCollectCmd() *cobra.Command {
	var (
		f       nodeTransportFlags
		files   []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "os-collect-config's command: apply new fernetflow deployments and signal each",
		Long: `Run as os-collect-config's command. Reads the metadata files in
OS_CONFIG_FILES (or --config-file), applies every deployment of group
"fernetflow" not applied before (config "report", "install",
"pin-signer" or "enroll", from its inputs), and signals each one per its
deploy_signal_transport:
TEMP_URL_SIGNAL (deploy_signal_id, by deploy_signal_verb), HEAT_SIGNAL
(the deploy_* credentials), NO_SIGNAL (none). Other groups are ignored.

Each deployment is applied once (records in STATE_DIR/heat/); a signal
that failed is sent again by the next run, and the command then exits 1
so that os-collect-config runs it again. A signal whose receiver is gone
(HTTP 404 or 410: the undercloud run that pushed the deployment has ended;
or a connection refused on two runs in a row) is given up instead: it is
logged once, recorded, and does not fail the command, as nothing waits for
it. A deployment that fails (a refused envelope, say) is signalled with
deploy_status_code 1 and its error in deploy_stderr.

The signer: --signer-public-key, or else STATE_DIR/signer.pub. A
"pin-signer" deployment (heat/templates/fernet-node.yaml) writes its
signer_public_key input there the first time; the same key again changes
nothing, and another key is refused (the deployment fails naming the file)
until an operator removes STATE_DIR/signer.pub on the node.`,
		Example: `  # /etc/os-collect-config.conf
  [DEFAULT]
  command = fernetflow node collect --state-dir /var/lib/fernetflow --key-repository /etc/keystone/fernet-keys --keystone-user keystone --keystone-group keystone

  # by hand, on the cached metadata
  OS_CONFIG_FILES=/var/lib/os-collect-config/heat.json fernetflow node collect --state-dir /var/lib/fernetflow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			to, err := f.options(a)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				for _, p := range filepath.SplitList(os.Getenv("OS_CONFIG_FILES")) {
					if strings.TrimSpace(p) != "" {
						files = append(files, p)
					}
				}
			}
			if len(files) == 0 {
				return usagef("no metadata: OS_CONFIG_FILES is empty; run me as os-collect-config's command, or pass --config-file")
			}
			ctx, cancel := contextWithTimeout(cmd, timeout)
			defer cancel()
			rep, err := node.Collect(ctx, node.CollectOptions{TransportOptions: to, ConfigFiles: files})
			if rep != nil {
				if perr := a.printJSONByDefault(cmd, rep); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&files, "config-file", nil, "a metadata file (default: the colon-separated OS_CONFIG_FILES)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}

func (a *app) nodeHookCmd() *cobra.Command {
	var (
		f       nodeTransportFlags
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "heat-config's hook for group fernetflow: a deployment on stdin, its outputs on stdout",
		Long: `heat-config's hook contract: the deployment (the derived config JSON) on
stdin; deploy_stdout, deploy_stderr, deploy_status_code and the outputs as
one JSON object on stdout. heat-config-notify then signals them. Install it
on a TripleO node with heat-agents as /var/lib/heat-config/hooks/fernetflow,
a script that execs this command with the node's flags.

A failing deployment is reported in the JSON (deploy_status_code 1) and the
command exits 0; it exits 1 only when stdin is not a deployment. The
signer is --signer-public-key or STATE_DIR/signer.pub, as for node collect
(a "pin-signer" deployment writes it).`,
		Example: `  # /var/lib/heat-config/hooks/fernetflow
  #!/bin/sh
  exec fernetflow node hook --state-dir /var/lib/fernetflow --key-repository /etc/keystone/fernet-keys \
      --keystone-user keystone --keystone-group keystone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			to, err := f.options(a)
			if err != nil {
				return err
			}
			ctx, cancel := contextWithTimeout(cmd, timeout)
			defer cancel()
			out, err := node.Hook(ctx, a.stdin, to)
			if err != nil {
				return err
			}
			a.format = "json"
			return a.print(out)
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}

func contextWithTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), d)
}
