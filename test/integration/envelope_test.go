//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ffEnv runs the fernetflow binary with extra environment variables and
// stdin, and fails the test when it fails.
func ffEnv(t testing.TB, env []string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(fernetflowBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("fernetflow %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// envelopeNode is one enrolled node of the end-to-end flow.
type envelopeNode struct {
	server, state, repo, recipient string
}

// envelopeFleet makes a signer, a master repository and n enrolled nodes.
func envelopeFleet(t *testing.T, n int) (signerDir, pub, master string, nodes []envelopeNode) {
	root := t.TempDir()
	signerDir, master = filepath.Join(root, "signer"), filepath.Join(root, "master")
	pub = strings.TrimSpace(ffEnv(t, nil, "", "signer", "init", "--state-dir", signerDir))
	if again := strings.TrimSpace(ffEnv(t, nil, "", "signer", "public", "--state-dir", signerDir)); again != pub {
		t.Fatalf("signer public %q, signer init %q", again, pub)
	}
	ffEnv(t, nil, "", "keys", "setup", "--key-repository", master)
	for i := range n {
		nd := envelopeNode{server: fmt.Sprintf("controller-%d", i), state: filepath.Join(root, fmt.Sprint(i), "state"), repo: filepath.Join(root, fmt.Sprint(i), "fernet-keys")}
		var res struct {
			ServerID  string `json:"server_id"`
			Recipient string `json:"recipient"`
		}
		out := ffEnv(t, nil, "", "node", "enroll", "--state-dir", nd.state, "--server-id", nd.server)
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.ServerID != nd.server {
			t.Fatalf("node enroll printed %q: %v", out, err)
		}
		nd.recipient = res.Recipient
		nodes = append(nodes, nd)
	}
	return signerDir, pub, master, nodes
}

func sealFor(t *testing.T, master, signerDir string, nd envelopeNode) string {
	return ffEnv(t, nil, "", "envelope", "seal", "--key-repository", master, "--signer-dir", signerDir,
		"--recipient", nd.recipient, "--server-id", nd.server)
}

// TestEnvelopeBreakGlass decrypts an envelope with the stock age CLI and
// the node's identity file, as the README tells an operator to.
func TestEnvelopeBreakGlass(t *testing.T) {
	requireTool(t, "/usr/bin/age", "age")
	signerDir, _, master, nodes := envelopeFleet(t, 1)
	envPath := filepath.Join(t.TempDir(), "controller-0.age")
	if err := os.WriteFile(envPath, []byte(sealFor(t, master, signerDir, nodes[0])), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "/usr/bin/age", "-d", "-i", filepath.Join(nodes[0].state, "identity"), envPath)
	var doc struct {
		Signed struct {
			ServerID   string            `json:"server_id"`
			Generation uint64            `json:"generation"`
			Keys       map[string]string `json:"keys"`
		} `json:"signed"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("age -d printed no envelope document: %v", err)
	}
	if doc.Signed.ServerID != "controller-0" || doc.Signed.Generation != 1 || len(doc.Signed.Keys) != 2 {
		t.Fatalf("decrypted: server %q generation %d, %d keys", doc.Signed.ServerID, doc.Signed.Generation, len(doc.Signed.Keys))
	}
	for name, key := range doc.Signed.Keys {
		b, err := os.ReadFile(filepath.Join(master, name))
		if err != nil || string(b) != key {
			t.Fatalf("key %s decrypted by age differs from the master repository's", name)
		}
	}
	// Another node's identity cannot.
	other := t.TempDir()
	ffEnv(t, nil, "", "node", "enroll", "--state-dir", other, "--server-id", "controller-9")
	if err := exec.Command("/usr/bin/age", "-d", "-i", filepath.Join(other, "identity"), envPath).Run(); err == nil {
		t.Fatal("another node's identity decrypted the envelope")
	}
}

// TestEnvelopeEndToEnd runs the whole flow with the binary: signer init,
// three enrollments, seal, install (the envelope in the environment, never
// in argv), a rotation, and tokens issued on each node verified on every
// other.
func TestEnvelopeEndToEnd(t *testing.T) {
	signerDir, pub, master, nodes := envelopeFleet(t, 3)
	for gen := 1; gen <= 3; gen++ {
		if gen > 1 {
			ffEnv(t, nil, "", "keys", "rotate", "--key-repository", master, "--force")
		}
		for _, nd := range nodes {
			env := sealFor(t, master, signerDir, nd)
			args := []string{"node", "install", "--state-dir", nd.state, "--key-repository", nd.repo,
				"--signer-public-key", pub, "--server-id", nd.server, "--envelope-env", "FERNETFLOW_ENVELOPE"}
			for _, a := range args {
				if strings.Contains(a, "BEGIN AGE") {
					t.Fatal("the envelope is in argv")
				}
			}
			out := ffEnv(t, []string{"FERNETFLOW_ENVELOPE=" + env}, "", args...)
			var res struct {
				Generation  int    `json:"generation"`
				Fingerprint string `json:"fingerprint"`
				Changed     bool   `json:"changed"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.Generation != gen || !res.Changed || !strings.HasPrefix(res.Fingerprint, "sha256:") {
				t.Fatalf("node install printed %q (%v)", out, err)
			}
			// The same envelope again: a no-op.
			out = ffEnv(t, []string{"FERNETFLOW_ENVELOPE=" + env}, "", args...)
			if !strings.Contains(out, `"changed": false`) {
				t.Fatalf("replayed install printed %q", out)
			}
		}
		want := strings.TrimSpace(ffEnv(t, nil, "", "keys", "fingerprint", "--key-repository", master, "-f", "json"))
		for _, issuer := range nodes {
			tok := strings.TrimSpace(ffEnv(t, nil, "", "keys", "token", "issue", "--key-repository", issuer.repo))
			for _, verifier := range nodes {
				ffEnv(t, nil, tok+"\n", "keys", "token", "verify", "-", "--key-repository", verifier.repo)
			}
			got := strings.TrimSpace(ffEnv(t, nil, "", "keys", "fingerprint", "--key-repository", issuer.repo, "-f", "json"))
			if fingerprintOf(t, got) != fingerprintOf(t, want) {
				t.Fatalf("generation %d: %s holds another set than the master", gen, issuer.server)
			}
		}
	}
}

func fingerprintOf(t *testing.T, js string) string {
	var r struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil || r.Fingerprint == "" {
		t.Fatalf("keys fingerprint printed %q", js)
	}
	return r.Fingerprint
}
