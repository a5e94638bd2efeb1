//go:build integration

package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestActionServerProjectDomain: --allowed-project admin means the project
// admin of the Default domain. An admin of a project also called admin in
// a second domain is refused (403) unless that project is allowed by
// DOMAIN/NAME or by id; then Default's admin is refused. With
// --token-cache-ttl 0 a token revoked in Keystone is refused at once.
func TestActionServerProjectDomain(t *testing.T) {
	ks := startActionsKeystone(t)
	e := ks.env
	adminTok := ks.token(t, "admin", "adminpw", "admin")

	// A second domain with a project admin and its own admin, mallory.
	e.adminTok = adminTok
	other := e.create(t, "domain", map[string]any{"name": "other"})
	otherAdmin := e.create(t, "project", map[string]any{"name": "admin", "domain_id": other})
	mallory := e.create(t, "user", map[string]any{"name": "mallory", "domain_id": other, "password": "mallorypw"})
	e.ks(t, "PUT", "/projects/"+otherAdmin+"/users/"+mallory+"/roles/"+e.roleID(t, "admin"), nil, 204)
	e.adminTok = ""
	_, h := e.ks(t, "POST", "/auth/tokens", heatPasswordAuth("mallory", other, "mallorypw", map[string]any{
		"project": map[string]any{"name": "admin", "domain": map[string]any{"id": other}}}), 201)
	malloryTok := h.Get("X-Subject-Token")

	root := t.TempDir()
	for i, c := range []struct {
		allowed          string
		admin, malloryOK int
	}{
		{"admin", 200, 403},
		{"Default/admin", 200, 403},
		{"other/admin", 403, 200},
		{otherAdmin, 403, 200},
	} {
		dir := filepath.Join(root, string(rune('a'+i)))
		srv := startActionServer(t, dir, fleetDirs(dir, 1),
			"--auth", "keystone", "--keystone-url", e.ksURL, "--allowed-project", c.allowed)
		if code, v := srv.call(t, "fleet.servers", adminTok, map[string]any{}); code != c.admin {
			t.Errorf("--allowed-project %s, Default's admin: HTTP %d %v, want %d", c.allowed, code, v, c.admin)
		}
		if code, v := srv.call(t, "fleet.servers", malloryTok, map[string]any{}); code != c.malloryOK {
			t.Errorf("--allowed-project %s, other's admin: HTTP %d %v, want %d", c.allowed, code, v, c.malloryOK)
		}
		srv.stop(t)
	}

	// No cache: a revoked token is refused on the next call.
	dir := filepath.Join(root, "nocache")
	srv := startActionServer(t, dir, fleetDirs(dir, 1),
		"--auth", "keystone", "--keystone-url", e.ksURL, "--allowed-project", "admin", "--token-cache-ttl", "0")
	tok := ks.token(t, "admin", "adminpw", "admin")
	if code, v := srv.call(t, "fleet.servers", tok, map[string]any{}); code != 200 {
		t.Fatalf("before revocation: HTTP %d %v\n%s", code, v, srv.out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "DELETE", e.ksURL+"/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", adminTok)
	req.Header.Set("X-Subject-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("revoke the token: HTTP %d", resp.StatusCode)
	}
	if code, v := srv.call(t, "fleet.servers", tok, map[string]any{}); code != 401 {
		t.Errorf("after revocation with --token-cache-ttl 0: HTTP %d %v, want 401", code, v)
	}
}
