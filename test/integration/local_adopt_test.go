//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/keys"
)

// TestLocalAdoptThenDrift is the local target's migration day, with the
// real keystone-manage: three nodes share keys keystone-manage
// fernet_setup made, a real Keystone serves from the first and issued a
// token; the first fernetflow rotate adopts those keys (the token stays
// valid); a stray keystone-manage fernet_rotate on the second node then
// makes rotate, distribute and check refuse (exit 3) naming it, with its
// repository untouched; the probe names a node whose primary key was
// replaced; --overwrite-drifted repairs both.
func TestLocalAdoptThenDrift(t *testing.T) {
	base := t.TempDir()
	nodes := []string{filepath.Join(base, "ctl0"), filepath.Join(base, "ctl1"), filepath.Join(base, "ctl2")}
	repo := func(i int) string { return filepath.Join(nodes[i], "fernet-keys") }
	for _, n := range nodes {
		os.MkdirAll(n, 0o755)
	}
	ks := startKeystone(t, repo(0), true) // keystone-manage fernet_setup
	for i := 1; i < 3; i++ {
		if out, err := exec.Command("cp", "-a", repo(0), repo(i)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	before := keystoneToken(t, ks)

	ff := func(want int, args ...string) (string, string) {
		t.Helper()
		args = append(args, "--target", "local", "--nodes", strings.Join(nodes, ","), "--state-dir", filepath.Join(base, "undercloud"), "-f", "json")
		cmd := exec.Command(fernetflowBin, args...)
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("fernetflow %v: exit %d, want %d\n%s\n%s", args, code, want, out, errb.String())
		}
		return string(out), errb.String()
	}
	rot := []string{"rotate", "--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0"}

	out, _ := ff(0, rot...)
	if !strings.Contains(out, `"action": "adopt"`) || !strings.Contains(out, `"outcome": "rotated"`) {
		t.Fatalf("first run: %s", out)
	}
	if code := keystoneValidate(t, ks, before); code != 200 {
		t.Fatalf("the first run lost a token Keystone issued before it: HTTP %d\n%s", code, ks.tail())
	}
	after := keystoneToken(t, ks)
	for i := 1; i < 3; i++ {
		for _, tok := range []string{before, after} {
			run(t, fernetflowBin, "keys", "token", "verify", "--key-repository", repo(i), tok)
		}
	}

	conf := filepath.Join(base, "ctl1.conf")
	heatWriteFile(t, conf, fmt.Sprintf("[fernet_tokens]\nkey_repository = %s\nmax_active_keys = 5\n", repo(1)))
	heatRunEnv(t, 2*time.Minute, nil, "keystone-manage", "--config-file", conf, "fernet_rotate", "--keystone-user", "root", "--keystone-group", "root")
	fp1 := repoFingerprint(t, repo(1))
	for _, cmd := range [][]string{rot, {"distribute"}, {"check"}} {
		_, errs := ff(3, cmd...)
		if !strings.Contains(errs, "ctl1: its keys changed outside fernetflow") || !strings.Contains(errs, "keystone-manage fernet_rotate?") {
			t.Fatalf("%s after a stray fernet_rotate:\n%s", cmd[0], errs)
		}
		if repoFingerprint(t, repo(1)) != fp1 {
			t.Fatalf("%s changed the drifted repository", cmd[0])
		}
	}

	// ctl2's primary key is replaced by hand: the probe names it.
	r2, err := keys.Open(repo(2))
	if err != nil {
		t.Fatal(err)
	}
	primary, _ := r2.Keys.Primary()
	other, _ := keys.GenerateKey(nil)
	if err := os.WriteFile(filepath.Join(repo(2), fmt.Sprint(primary)), other.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs := ff(3, "check")
	if !strings.Contains(errs, "a token issued by ctl2") {
		t.Fatalf("check did not probe ctl2's replaced key:\n%s", errs)
	}

	ff(0, append(rot, "--overwrite-drifted", "ctl1,ctl2")...)
	if code := keystoneValidate(t, ks, before); code != 200 {
		t.Fatalf("after the overwrite, Keystone rejects the first token: HTTP %d", code)
	}
	ff(0, "check")
}
