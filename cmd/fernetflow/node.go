package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/output"
)

func (a *app) nodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "What runs on a Keystone node: enroll it, install the key sets sealed to it",
		Long: `Commands that run on each Keystone node. The Heat transport runs node enroll
and node install in software deployments and reports their JSON as the
deployments' outputs, so both print JSON unless -f says otherwise.

The state directory holds the node's identity (identity, age's format,
mode 0600: it never leaves the node) and what was installed last
(installed.json) and the undercloud signer it pinned (signer.pub).`,
	}
	cmd.AddCommand(a.nodeEnrollCmd(), a.nodeInstallCmd())
	cmd.AddCommand(a.nodeTransportCmds()...)
	return cmd
}

// printJSONByDefault prints v as JSON unless -f was given.
func (a *app) printJSONByDefault(cmd *cobra.Command, v any) error {
	if f := cmd.Flags().Lookup("format"); f == nil || !f.Changed {
		a.format = string(output.JSON)
	}
	return a.print(v)
}

func (a *app) nodeEnrollCmd() *cobra.Command {
	var stateDir, serverID string
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Make this node's identity unless it exists, and print its recipient",
		Long: `Make the node's age identity in --state-dir (identity, mode 0600; the
directory 0700) unless it exists, and print the node's recipient, the
public key the undercloud seals envelopes to. Running it again changes
nothing. The identity itself is never printed.

Output (JSON by default, a stable contract the Heat transport parses):

  {"server_id": "<--server-id>", "recipient": "age1..."}`,
		Example: `  fernetflow node enroll --state-dir /var/lib/fernetflow --server-id 0d4f6e1a-...
  {
    "server_id": "0d4f6e1a-...",
    "recipient": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
  }`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serverID == "" {
				return usagef("--server-id is required: the Nova server id Heat knows this node by")
			}
			res, err := node.Enroll(stateDir, serverID, time.Now())
			if err != nil {
				return err
			}
			return a.printJSONByDefault(cmd, res)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", node.DefaultStateDir, "the node's state directory (created 0700)")
	cmd.Flags().StringVar(&serverID, "server-id", "", "this node's server id")
	return cmd
}

func (a *app) nodeInstallCmd() *cobra.Command {
	var (
		in                     envelopeInput
		o                      node.InstallOptions
		signerKey, user, group string
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Open an envelope and install its keys, refusing rollbacks and split brains",
		Long: `Open the envelope with this node's identity, check that the pinned undercloud
signer signed it for --server-id, and apply the generation rules against
the state directory's installed.json:

  older generation than installed          refused (no rollback by a replayed
                                           deployment or a stack update)
  same generation, same fingerprint        nothing to do (a repository edited
                                           by hand is repaired)
  same generation, another fingerprint     refused (split brain)
  newer generation, or the first envelope  installed

Installing writes the new primary first, then 0, then deletes the pruned
keys, each file with its final owner and mode before it is renamed into
place, so Keystone validates every token at every instant. A refusal exits
1 and leaves the repository byte-for-byte as it was; exit code 75 means
another install or key writer held the lock past --timeout (retry).

Pass the envelope in a file, on stdin (--envelope -) or in an environment
variable (--envelope-env): never as an argument.

Output (JSON by default, a stable contract the Heat transport parses);
"changed" is true when the key repository on disk was modified:

  {"generation": 7, "fingerprint": "sha256:...", "changed": true}`,
		Example: `  fernetflow node install --state-dir /var/lib/fernetflow \
      --key-repository /etc/keystone/fernet-keys \
      --keystone-user keystone --keystone-group keystone \
      --signer-public-key ed25519:Hk3v...= --server-id 0d4f6e1a-... \
      --envelope-env FERNETFLOW_ENVELOPE
  {
    "generation": 7,
    "fingerprint": "sha256:5b0e...",
    "changed": true
  }`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pinned, err := nodeSigner(signerKey)
			if err != nil {
				return err
			}
			if pinned == (envelope.PublicKey{}) {
				// No --signer-public-key: the one pinned on this node.
				if pinned, err = node.PinnedSigner(o.StateDir); errors.Is(err, node.ErrNoSigner) {
					return usageError{err}
				} else if err != nil {
					return err
				}
			}
			if o.ServerID == "" {
				return usagef("--server-id is required: the Nova server id Heat knows this node by")
			}
			owner, err := resolveOwner(user, group)
			if err != nil {
				return err
			}
			b, err := in.read(a)
			if err != nil {
				return err
			}
			o.Signer, o.Owner, o.Logger = pinned, owner, a.log
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := node.Install(ctx, b, o)
			if err != nil {
				return err
			}
			return a.printJSONByDefault(cmd, res)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&o.StateDir, "state-dir", node.DefaultStateDir, "the node's state directory (holds identity and installed.json)")
	cmd.Flags().StringVar(&o.KeyRepository, "key-repository", "/etc/keystone/fernet-keys", "Keystone's [fernet_tokens] key_repository")
	cmd.Flags().StringVar(&o.ServerID, "server-id", "", "this node's server id")
	cmd.Flags().StringVar(&signerKey, "signer-public-key", "", "the pinned undercloud signer: ed25519:... (fernetflow signer public) or a file holding it (default: STATE_DIR/"+node.SignerFile+")")
	cmd.Flags().StringVar(&user, "keystone-user", "", "user (name or id) that owns the key files, as keystone-manage's --keystone-user")
	cmd.Flags().StringVar(&group, "keystone-group", "", "group (name or id) that owns the key files, as keystone-manage's --keystone-group")
	cmd.Flags().BoolVar(&o.AllowFewer, "allow-fewer", false, "install a set with fewer keys than the repository holds (deletes keys)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up waiting for another install or key writer after this long (exit code 75)")
	return cmd
}
