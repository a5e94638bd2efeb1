package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/output"
)

// envelopeInput is how a command receives an envelope: a file, stdin, or
// an environment variable, never an argument (argv is world-readable).
type envelopeInput struct {
	file, env string
}

func (in *envelopeInput) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&in.file, "envelope", "", "file holding the armored envelope, - for stdin")
	cmd.Flags().StringVar(&in.env, "envelope-env", "", "name of an environment variable holding the armored envelope")
}

func (in *envelopeInput) read(a *app) ([]byte, error) {
	var r io.Reader
	switch {
	case in.file != "" && in.env != "":
		return nil, usagef("--envelope and --envelope-env exclude each other: pass one")
	case in.file == "" && in.env == "":
		return nil, usagef("no envelope: pass --envelope FILE, --envelope - (stdin) or --envelope-env NAME")
	case in.env != "":
		v, ok := os.LookupEnv(in.env)
		if !ok {
			return nil, usagef("--envelope-env %s: the variable is not set", in.env)
		}
		return []byte(v), nil
	case in.file == "-":
		r = a.stdin
	default:
		f, err := os.Open(in.file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, envelope.MaxEnvelopeSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the envelope: %w", err)
	}
	return b, nil
}

func (a *app) envelopeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "envelope",
		Short: "Seal a key set to one node, or open and inspect an envelope",
		Long: `An envelope carries a key set to one node: signed with the undercloud's
key, then encrypted with age to the node's recipient and ASCII-armored.
The transport seals and installs envelopes itself; these commands are for
operators and scripts.`,
	}
	cmd.AddCommand(a.envelopeSealCmd(), a.envelopeOpenCmd(), a.envelopeInspectCmd())
	return cmd
}

// sealResult is what seal prints with -f json or yaml.
type sealResult struct {
	ServerID    string `json:"server_id"`
	Generation  uint64 `json:"generation"`
	Fingerprint string `json:"fingerprint"`
	Envelope    string `json:"envelope"`
}

func (a *app) envelopeSealCmd() *cobra.Command {
	var (
		repo, signerDir, recipient, serverID string
		generation                           uint64
	)
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Seal the keys of a repository to one node and write the armored envelope",
		Long: `Read the key repository, sign its keys for --server-id at --generation
with the signer in --signer-dir, encrypt them to the node's --recipient
(printed by fernetflow node enroll), and write the armored envelope to
stdout. Without --generation, the generation recorded in the repository's
metadata (DIR.fernetflow.json) is used. With -f json or yaml the envelope
is printed inside {"server_id", "generation", "fingerprint", "envelope"}.`,
		Example: `  fernetflow envelope seal --key-repository /var/lib/fernetflow/master-keys \
      --signer-dir /var/lib/fernetflow --recipient age1qyqszqgpqyqszqgp... \
      --server-id 0d4f6e1a-... --generation 7 > controller-0.age`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if recipient == "" || serverID == "" {
				return usagef("--recipient and --server-id are required")
			}
			r, err := envelope.ParseRecipient(recipient)
			if err != nil {
				return usageError{err}
			}
			repoSet, err := keys.Open(repo, keys.WithLogger(a.log))
			if err != nil {
				return err
			}
			if generation == 0 {
				m, err := keys.ReadMetadata(repo)
				if err != nil {
					return err
				}
				if m == nil || m.Stale(repoSet.Keys) {
					return usagef("%s has no up-to-date metadata to take the generation from: pass --generation", repo)
				}
				generation = m.Generation
			}
			s, err := envelope.LoadSigner(signerDir)
			if err != nil {
				return err
			}
			env, err := envelope.Seal(repoSet.Keys, generation, serverID, r, s)
			if err != nil {
				return err
			}
			a.log.Info("sealed an envelope", "server", serverID, "generation", generation, "fingerprint", repoSet.Keys.Fingerprint().Short(), "recipient", r.String())
			if a.format == string(output.Table) {
				_, err = a.stdout.Write(env)
				return err
			}
			return a.print(sealResult{ServerID: serverID, Generation: generation, Fingerprint: repoSet.Keys.Fingerprint().String(), Envelope: string(env)})
		},
	}
	cmd.Flags().StringVar(&repo, "key-repository", "", "the key repository to seal (the undercloud's master copy)")
	cmd.Flags().StringVar(&signerDir, "signer-dir", defaultSignerDir(), "directory of the signing key (fernetflow signer init)")
	cmd.Flags().StringVar(&recipient, "recipient", "", "the node's age recipient, age1... (fernetflow node enroll prints it)")
	cmd.Flags().StringVar(&serverID, "server-id", "", "the node's server id")
	cmd.Flags().Uint64Var(&generation, "generation", 0, "the key set's generation (default: the repository metadata's)")
	_ = cmd.MarkFlagRequired("key-repository")
	return cmd
}

// openResult is what envelope open prints: the signed metadata and the
// keys by index, role and ID, never their content.
type openResult struct {
	ServerID    string      `json:"server_id"`
	Generation  uint64      `json:"generation"`
	Issued      time.Time   `json:"issued"`
	Fingerprint string      `json:"fingerprint"`
	Keys        []openedKey `json:"keys"`
}

type openedKey struct {
	Index int    `json:"index"`
	Role  string `json:"role"`
	ID    string `json:"id"`
}

func (r *openResult) Table() ([]string, [][]string) {
	rows := [][]string{
		{"server id", r.ServerID},
		{"generation", fmt.Sprint(r.Generation)},
		{"issued", r.Issued.UTC().Format(time.RFC3339)},
		{"fingerprint", r.Fingerprint},
	}
	for _, k := range r.Keys {
		rows = append(rows, []string{fmt.Sprintf("key %d", k.Index), k.Role + " " + k.ID})
	}
	return []string{"FIELD", "VALUE"}, rows
}

// pinnedSigner reads --signer-public-key: the key itself, or a file
// holding it (such as signer.pub).
func pinnedSigner(v string) (envelope.PublicKey, error) {
	if v == "" {
		return envelope.PublicKey{}, usagef("--signer-public-key is required: the line fernetflow signer public prints on the undercloud")
	}
	if !strings.HasPrefix(strings.TrimSpace(v), "ed25519:") {
		b, err := os.ReadFile(v)
		if err != nil {
			return envelope.PublicKey{}, usagef("--signer-public-key is neither ed25519:... nor a readable file: %v", err)
		}
		v = string(b)
	}
	p, err := envelope.ParsePublicKey(v)
	if err != nil {
		return envelope.PublicKey{}, usageError{err}
	}
	return p, nil
}

func (a *app) envelopeOpenCmd() *cobra.Command {
	var (
		in                 envelopeInput
		stateDir, serverID string
		signerKey          string
	)
	cmd := &cobra.Command{
		Use:   "open",
		Short: "Decrypt and verify an envelope on its node, and show what it holds",
		Long: `Decrypt an envelope with this node's identity, verify its signature against
the pinned signer and check that it names --server-id, exactly as node
install does, but install nothing. It shows the generation, fingerprint
and the keys by index, role and ID; never key material (for that, see the
README's break-glass section).`,
		Example: `  fernetflow envelope open --state-dir /var/lib/fernetflow --server-id 0d4f6e1a-... \
      --signer-public-key ed25519:Hk3v...= --envelope controller-0.age`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pinned, err := pinnedSigner(signerKey)
			if err != nil {
				return err
			}
			if serverID == "" {
				return usagef("--server-id is required")
			}
			b, err := in.read(a)
			if err != nil {
				return err
			}
			id, err := envelope.LoadIdentity(filepath.Join(stateDir, node.IdentityFile))
			if err != nil {
				return err
			}
			env, err := envelope.Open(b, id, pinned, serverID)
			if err != nil {
				return err
			}
			r := &openResult{ServerID: env.ServerID, Generation: env.Generation, Issued: env.Issued, Fingerprint: env.Fingerprint.String(), Keys: []openedKey{}}
			for _, i := range env.Keys.Indexes() {
				r.Keys = append(r.Keys, openedKey{Index: i, Role: env.Keys.Role(i).String(), ID: env.Keys[i].ID()})
			}
			return a.print(r)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&stateDir, "state-dir", node.DefaultStateDir, "the node's state directory (holds identity)")
	cmd.Flags().StringVar(&serverID, "server-id", "", "this node's server id")
	cmd.Flags().StringVar(&signerKey, "signer-public-key", "", "the pinned undercloud signer: ed25519:... or a file holding it")
	return cmd
}

func (a *app) envelopeInspectCmd() *cobra.Command {
	var in envelopeInput
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show an envelope's outer metadata without decrypting anything",
		Long: `Show what can be read from an envelope without any key: its SHA-256, sizes,
age's format and recipient types. The server id, generation and keys are
encrypted: use envelope open on the node.`,
		Example: `  fernetflow envelope inspect --envelope controller-0.age -f json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := in.read(a)
			if err != nil {
				return err
			}
			info, err := envelope.Inspect(b)
			if err != nil {
				return err
			}
			return a.print(info)
		},
	}
	in.register(cmd)
	return cmd
}
