package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/output"
)

// defaultSignerDir is where the undercloud keeps its signing key: the
// state directory rotate, distribute and serve read it from
// (--state-dir), so that signer init makes the key they use.
func defaultSignerDir() string { return fleet.DefaultStateDir() }

// signerResult is what signer init and signer public print.
type signerResult struct {
	PublicKey string `json:"public_key"`
	Created   bool   `json:"created"`
	Dir       string `json:"signer_dir"`
}

func (a *app) signerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signer",
		Short: "Manage the undercloud's envelope signing key",
		Long: `The undercloud signs every key envelope with an Ed25519 key; nodes accept
only envelopes signed by the public key they pin. The private key stays in
the signer directory (signer.key, mode 0600); the public key is one line,
"ed25519:" and its base64, to pass to fernetflow node install
--signer-public-key.`,
	}
	cmd.AddCommand(a.signerInitCmd(), a.signerPublicCmd())
	return cmd
}

func (a *app) printSigner(r signerResult) error {
	if a.format == string(output.Table) {
		_, err := fmt.Fprintln(a.stdout, r.PublicKey)
		return err
	}
	return a.print(r)
}

func (a *app) signerInitCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the signing key unless it exists, and print its public key",
		Long: `Create the undercloud's signing key in --state-dir (signer.key, mode 0600,
and signer.pub) unless it exists, and print the public key as one line.
The default is the state directory fernetflow rotate uses (its --state-dir),
which also makes the key on its first run if it is missing.
Running it again changes nothing and prints the same key. With -f json or
yaml it prints {"public_key": ..., "created": ..., "signer_dir": ...}.`,
		Example: `  fernetflow signer init --state-dir /var/lib/fernetflow
  ed25519:Hk3v...=`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, created, err := envelope.InitSigner(dir)
			if err != nil {
				return err
			}
			if created {
				a.log.Info("created the signing key", "signer_dir", dir, "public_key", s.Public().String())
			}
			return a.printSigner(signerResult{PublicKey: s.Public().String(), Created: created, Dir: dir})
		},
	}
	cmd.Flags().StringVar(&dir, "state-dir", defaultSignerDir(), "directory of the signing key (created 0700)")
	return cmd
}

func (a *app) signerPublicCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "public",
		Short: "Print the signer's public key, to pin on the nodes",
		Example: `  # Pin it on a node
  fernetflow node install --signer-public-key "$(fernetflow signer public --state-dir /var/lib/fernetflow)" ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := envelope.LoadPublicKey(dir)
			if err != nil {
				return err
			}
			return a.printSigner(signerResult{PublicKey: p.String(), Dir: dir})
		},
	}
	cmd.Flags().StringVar(&dir, "state-dir", defaultSignerDir(), "directory of the signing key")
	return cmd
}
