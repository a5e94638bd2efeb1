//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotateUnderRealKeystone runs `fernetflow rotate` on three local
// nodes while a real Keystone (Debian's, under uwsgi) serves from the first
// node's key repository. After every rotation Keystone must validate every
// token it issued before (none has expired), the tokens it issues now, and
// the other nodes' repositories must validate Keystone's tokens too, as the
// other controllers' Keystones would. A rotation the prune guard refuses
// (exit 3) changes nothing Keystone sees.
func TestRotateUnderRealKeystone(t *testing.T) {
	base := t.TempDir()
	nodes := []string{filepath.Join(base, "ctl0"), filepath.Join(base, "ctl1"), filepath.Join(base, "ctl2")}
	repo0 := filepath.Join(nodes[0], "fernet-keys") // Keystone's [fernet_tokens] key_repository

	rotate := func(wantCode int) string {
		t.Helper()
		cmd := exec.Command(fernetflowBin, "rotate", "--target", "local", "--nodes", strings.Join(nodes, ","),
			"--state-dir", filepath.Join(base, "undercloud"), "--max-active-keys", "5",
			"--token-expiration", "1h", "--allow-expired-window", "0", "-f", "json")
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			out = append(out, ee.Stderr...)
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("fernetflow rotate: exit %d, want %d\n%s", code, wantCode, out)
		}
		return string(out)
	}

	// fernetflow makes the keys; keystone-manage never touches them.
	rotate(0)
	e := startKeystone(t, repo0, false) // Keystone serves from ctl0's repository

	issue := func() string {
		t.Helper()
		_, h := e.ks(t, "POST", "/auth/tokens", heatPasswordAuth("admin", "default", "adminpw", map[string]any{
			"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}), 201)
		tok := h.Get("X-Subject-Token")
		if tok == "" {
			t.Fatal("keystone issued no token")
		}
		return tok
	}
	validate := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", e.ksURL+"/auth/tokens", nil)
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("X-Subject-Token", tok)
		resp, err := heatHTTP.Do(req)
		if err != nil {
			t.Fatalf("validate: %v\n%s", err, e.tail())
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var tokens []string
	checkAll := func(when string) {
		t.Helper()
		for i, tok := range tokens {
			if code := validate(tok); code != 200 {
				t.Fatalf("%s: Keystone rejects token %d of %d (HTTP %d)\n%s", when, i, len(tokens), code, e.tail())
			}
			for _, n := range nodes[1:] {
				cmd := exec.Command(fernetflowBin, "keys", "token", "verify", "--key-repository", filepath.Join(n, "fernet-keys"), tok)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: %s rejects Keystone's token %d: %v\n%s", when, filepath.Base(n), i, err, out)
				}
			}
		}
	}

	tokens = append(tokens, issue())
	checkAll("generation 1")
	for g := 2; g <= 4; g++ {
		out := rotate(0)
		if !strings.Contains(out, fmt.Sprintf(`"generation": %d`, g)) {
			t.Fatalf("rotation to %d: %s", g, out)
		}
		checkAll(fmt.Sprintf("after rotation to generation %d", g)) // tokens of earlier generations
		tokens = append(tokens, issue())                            // and one signed by the new primary
		checkAll(fmt.Sprintf("generation %d", g))
	}
	// Generation 5 would prune key 1, demoted minutes ago with 1h tokens:
	// the guard refuses, and Keystone keeps validating everything.
	out := rotate(3)
	if !strings.Contains(out, "key 1") {
		t.Fatalf("the guard's refusal does not name key 1:\n%s", out)
	}
	checkAll("after the refused rotation")
}
