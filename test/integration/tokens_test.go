//go:build integration

package integration

// Cross-language and cross-tool checks: tokens from `fernetflow keys token
// issue` decrypt with python3-cryptography's MultiFernet (what Keystone
// uses), tokens from python3-cryptography pass `fernetflow keys token
// verify`, and repositories made by either tool are used by the other.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pyDecrypt decrypts argv[2] with every integer-named key of the repository
// argv[1] as Keystone loads them (highest first, empty files skipped),
// after restoring the '=' padding Keystone strips, and prints the message
// and the keys that decrypt it alone.
const pyDecrypt = `
import json, os, sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
repo, tok = sys.argv[1], sys.argv[2]
t = (tok + '=' * (-len(tok) % 4)).encode()
names = sorted((f for f in os.listdir(repo) if f.isdigit()), key=int, reverse=True)
keys = [(n, open(os.path.join(repo, n), 'rb').read()) for n in names]
keys = [(n, k) for n, k in keys if k.strip()]
msg = MultiFernet([Fernet(k) for _, k in keys]).decrypt(t)
alone = []
for n, k in keys:
    try:
        Fernet(k).decrypt(t)
        alone.append(int(n))
    except InvalidToken:
        pass
print(json.dumps({"message_hex": msg.hex(), "keys": alone}))
`

// pyEncrypt prints a token for message argv[2] made with the key in file
// argv[1] (or a new random key when argv[1] is "-"), its '=' padding
// stripped as Keystone does.
const pyEncrypt = `
import sys
from cryptography.fernet import Fernet
key = Fernet.generate_key() if sys.argv[1] == '-' else open(sys.argv[1], 'rb').read()
print(Fernet(key).encrypt(sys.argv[2].encode()).decode().rstrip('='))
`

func pyRun(t testing.TB, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{"-c", script}, args...)...)
	cmd.Env = keystoneEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func requireCryptography(t testing.TB) {
	t.Helper()
	requirePythonModule(t, "cryptography.fernet", "python3-cryptography")
}

// randomMessage returns a printable message unique to the call.
func randomMessage(t testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "fernetflow integration " + hex.EncodeToString(b)
}

// keyIndexes returns the integer names of a repository's non-empty files,
// ascending: the keys Keystone loads.
func keyIndexes(tr repoTree) []int {
	var out []int
	for n, e := range tr {
		if i, err := strconv.Atoi(n); err == nil && len(e.data) > 0 {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// tokenRepos returns key repositories for the token tests: one made by
// keystone-manage (0 1 2) and one made by fernetflow (setup, then two
// rotations: 0 1 2 3).
func tokenRepos(t *testing.T) map[string]string {
	t.Helper()
	root := t.TempDir()
	ks := filepath.Join(root, "keystone-made", "fernet-keys")
	writeTree(t, ks, keystoneRepo(t, 1))
	ff := filepath.Join(root, "fernetflow-made", "fernet-keys")
	fernetflowOK(t, "keys", "setup", "--key-repository", ff)
	for range 2 {
		fernetflowOK(t, "keys", "rotate", "--key-repository", ff, "--max-active-keys", "4")
	}
	return map[string]string{"keystone-made": ks, "fernetflow-made": ff}
}

// TestTokenFernetflowToPython: a token from `fernetflow keys token issue`
// has Keystone's form (no '=' padding) and decrypts with
// python3-cryptography's MultiFernet over the repository, to the message
// given, and only with the primary key (the highest index).
func TestTokenFernetflowToPython(t *testing.T) {
	requireKeystone(t)
	requireCryptography(t)
	for name, dir := range tokenRepos(t) {
		t.Run(name, func(t *testing.T) {
			idx := keyIndexes(readTree(t, dir))
			primary := idx[len(idx)-1]
			// One more AES block per message: the '=' padding Keystone
			// strips (0, 1 or 2 characters) depends on the block count.
			for i := range 3 {
				msg := randomMessage(t) + strings.Repeat("x", 16*i)
				tok := strings.TrimSpace(fernetflowOK(t, "keys", "token", "issue", "--key-repository", dir, "--message", msg))
				if strings.ContainsAny(tok, "=\n ") || !strings.HasPrefix(tok, "gAAAAA") {
					t.Fatalf("token %q is not a Keystone-style Fernet token (version 0x80, '=' stripped)", tok)
				}
				var got struct {
					MessageHex string `json:"message_hex"`
					Keys       []int  `json:"keys"`
				}
				if err := json.Unmarshal([]byte(pyRun(t, pyDecrypt, dir, tok)), &got); err != nil {
					t.Fatal(err)
				}
				if want := hex.EncodeToString([]byte(msg)); got.MessageHex != want {
					t.Errorf("python decrypts %s, want %s", got.MessageHex, want)
				}
				if !slices.Equal(got.Keys, []int{primary}) {
					t.Errorf("the token decrypts with keys %v, want only the primary %d", got.Keys, primary)
				}
			}
		})
	}
}

type verifyResult struct {
	Valid bool   `json:"valid"`
	Index int    `json:"key_index"`
	Role  string `json:"role"`
}

// TestTokenPythonToFernetflow: a token python3-cryptography makes with any
// key of the repository (padding stripped, as Keystone does) passes
// `fernetflow keys token verify`, which names the key; a token made with a
// key not in the repository fails with a non-zero exit.
func TestTokenPythonToFernetflow(t *testing.T) {
	requireKeystone(t)
	requireCryptography(t)
	for name, dir := range tokenRepos(t) {
		t.Run(name, func(t *testing.T) {
			idx := keyIndexes(readTree(t, dir))
			primary := idx[len(idx)-1]
			for _, i := range idx {
				tok := pyRun(t, pyEncrypt, filepath.Join(dir, strconv.Itoa(i)), randomMessage(t))
				var got verifyResult
				out := fernetflowOK(t, "keys", "token", "verify", "--key-repository", dir, "-f", "json", tok)
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("verify -f json: %v\n%s", err, out)
				}
				role := "secondary"
				switch i {
				case primary:
					role = "primary"
				case 0:
					role = "staged"
				}
				if !got.Valid || got.Index != i || got.Role != role {
					t.Errorf("token made with key %d: verify says %+v, want valid, key_index %d, role %s", i, got, i, role)
				}
			}
			foreign := pyRun(t, pyEncrypt, "-", randomMessage(t))
			out, errOut, err := runFernetflow("keys", "token", "verify", "--key-repository", dir, foreign)
			var exit *exec.ExitError
			if err == nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("a token signed with a key not in the repository verifies (err %v):\n%s", err, out)
			}
			if !strings.Contains(errOut, "no key") {
				t.Errorf("the refusal does not say no key validates the token:\n%s", errOut)
			}
		})
	}
}

type listResult struct {
	Repository    string   `json:"key_repository"`
	Primary       int      `json:"primary"`
	MetadataStale bool     `json:"metadata_stale"`
	Skipped       []string `json:"skipped"`
	Ignored       []string `json:"ignored"`
	Keys          []struct {
		Index int    `json:"index"`
		Role  string `json:"role"`
		ID    string `json:"key_id"`
	} `json:"keys"`
}

func listKeys(t testing.TB, dir string) listResult {
	t.Helper()
	out := fernetflowOK(t, "keys", "list", "--key-repository", dir, "-f", "json")
	var l listResult
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("keys list -f json: %v\n%s", err, out)
	}
	return l
}

// checkListed checks that fernetflow lists exactly the keys Keystone
// loads from tr, with Keystone's roles.
func checkListed(t testing.TB, l listResult, tr repoTree) {
	t.Helper()
	idx := keyIndexes(tr)
	var got []int
	for _, k := range l.Keys {
		got = append(got, k.Index)
		want := "secondary"
		switch k.Index {
		case idx[len(idx)-1]:
			want = "primary"
		case 0:
			want = "staged"
		}
		if k.Role != want {
			t.Errorf("key %d is listed as %s, Keystone uses it as %s", k.Index, k.Role, want)
		}
		if len(k.ID) != 12 {
			t.Errorf("key %d has ID %q, want 12 hex digits", k.Index, k.ID)
		}
	}
	if !slices.Equal(got, idx) {
		t.Errorf("fernetflow lists keys %v, Keystone loads %v", got, idx)
	}
	if l.Primary != idx[len(idx)-1] {
		t.Errorf("fernetflow says the primary is %d, Keystone signs with %d", l.Primary, idx[len(idx)-1])
	}
}

// TestKeysInteropKeystoneRepoLoads: a repository keystone-manage made,
// with files Keystone ignores, loads in fernetflow with Keystone's roles,
// lists the ignored and skipped files, and is reported as not yet recorded
// by fernetflow. Two copies have one fingerprint; a rotation changes it.
func TestKeysInteropKeystoneRepoLoads(t *testing.T) {
	requireKeystone(t)
	tr := withJunk(keystoneRepo(t, 2))
	root := t.TempDir()
	a, b := filepath.Join(root, "a", "fernet-keys"), filepath.Join(root, "b", "fernet-keys")
	writeTree(t, a, tr)
	writeTree(t, b, tr)
	l := listKeys(t, a)
	checkListed(t, l, tr)
	if !slices.Equal(l.Ignored, []string{"foo"}) {
		t.Errorf("ignored files %v, want [foo]", l.Ignored)
	}
	if slices.Sort(l.Skipped); !slices.Equal(l.Skipped, []string{"4", "99"}) {
		t.Errorf("skipped empty files %v, want [4 99]", l.Skipped)
	}
	if !l.MetadataStale {
		t.Errorf("a repository fernetflow never wrote is not reported stale")
	}
	if _, err := os.Stat(a + ".fernetflow.json"); err == nil {
		t.Errorf("keys list wrote metadata")
	}
	if !equalTree(readTree(t, a), tr) {
		t.Errorf("keys list changed the repository")
	}
	fp := func(dir string) string {
		var f fingerprintJSON
		if err := json.Unmarshal([]byte(fernetflowOK(t, "keys", "fingerprint", "--key-repository", dir, "-f", "json")), &f); err != nil {
			t.Fatal(err)
		}
		return f.Long
	}
	if fa, fb := fp(a), fp(b); fa != fb || !strings.HasPrefix(fa, "sha256:") {
		t.Errorf("two copies of one repository have fingerprints %q and %q", fa, fb)
	}
	before := fp(b)
	newKeystone(t, filepath.Join(root, "ks"), b).manage(t, "fernet_rotate", 3)
	if fp(b) == before {
		t.Errorf("the fingerprint did not change when keystone-manage rotated the repository")
	}
	checkListed(t, listKeys(t, b), readTree(t, b))
}

type fingerprintJSON struct {
	Short string `json:"short"`
	Long  string `json:"fingerprint"`
}

// TestKeysInteropKeystoneRotatesFernetflowRepo: keystone-manage rotates a
// repository fernetflow made as its own (the staged key becomes the new
// primary, the oldest key is pruned, nothing of fernetflow's is inside),
// a token fernetflow issued before still verifies in fernetflow and in
// python, and fernetflow notices the change and rotates on.
func TestKeysInteropKeystoneRotatesFernetflowRepo(t *testing.T) {
	requireKeystone(t)
	requireCryptography(t)
	root := t.TempDir()
	dir := filepath.Join(root, "fernet-keys")
	fernetflowOK(t, "keys", "setup", "--key-repository", dir)
	fernetflowOK(t, "keys", "rotate", "--key-repository", dir, "--max-active-keys", "3")
	if _, err := os.Stat(dir + ".fernetflow.json"); err != nil {
		t.Fatalf("fernetflow wrote no metadata beside the repository: %v", err)
	}
	before := readTree(t, dir) // 0 1 2
	if got := keyIndexes(before); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("fernetflow setup + rotate made keys %v, want [0 1 2]", got)
	}
	msg := randomMessage(t)
	tok := strings.TrimSpace(fernetflowOK(t, "keys", "token", "issue", "--key-repository", dir, "--message", msg))

	newKeystone(t, filepath.Join(root, "ks"), dir).manage(t, "fernet_rotate", 3)
	after := readTree(t, dir)
	if got := after.names(); !slices.Equal(got, []string{"0", "2", "3"}) {
		t.Fatalf("keystone-manage rotated fernetflow's %s to %s, want 0 2 3", before.describe(before), after.describe(before))
	}
	if !bytes.Equal(after["3"].data, before["0"].data) || !bytes.Equal(after["2"].data, before["2"].data) || !isKey(after["0"].data) || before.origin(after["0"].data) != "new" {
		t.Fatalf("keystone-manage rotated fernetflow's %s to %s, want 0(new) 2(=2) 3(=0)", before.describe(before), after.describe(before))
	}

	l := listKeys(t, dir)
	checkListed(t, l, after)
	if !l.MetadataStale {
		t.Errorf("fernetflow does not notice that keystone-manage changed the keys")
	}
	var v verifyResult
	if err := json.Unmarshal([]byte(fernetflowOK(t, "keys", "token", "verify", "--key-repository", dir, "-f", "json", tok)), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Valid || v.Index != 2 || v.Role != "secondary" {
		t.Errorf("the token signed by key 2 before keystone-manage rotated verifies as %+v, want key 2, secondary", v)
	}
	var py struct {
		MessageHex string `json:"message_hex"`
	}
	if err := json.Unmarshal([]byte(pyRun(t, pyDecrypt, dir, tok)), &py); err != nil {
		t.Fatal(err)
	}
	if py.MessageHex != hex.EncodeToString([]byte(msg)) {
		t.Errorf("python decrypts the token to %s, want %x", py.MessageHex, msg)
	}

	fernetflowOK(t, "keys", "rotate", "--key-repository", dir, "--max-active-keys", "4")
	next := readTree(t, dir)
	if got := next.names(); !slices.Equal(got, []string{"0", "2", "3", "4"}) || !bytes.Equal(next["4"].data, after["0"].data) {
		t.Errorf("fernetflow rotated keystone-manage's %s to %s, want 0(new) 2(=2) 3(=3) 4(=0)", after.describe(after), next.describe(after))
	}
	checkListed(t, listKeys(t, dir), next)
}
