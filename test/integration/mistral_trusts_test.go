//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// userToken is a password token of user in the Default domain, scoped
// as scope says, from a real Keystone.
func userToken(t *testing.T, e *heatEnv, user, password string, scope map[string]any) string {
	t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]any{"id": "default"}, "password": password}}},
		"scope": scope,
	}}
	b, _ := json.Marshal(body)
	resp, err := heatHTTP.Post(e.ksURL+"/auth/tokens", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("token of %s: HTTP %d %s", user, resp.StatusCode, data)
	}
	return resp.Header.Get("X-Subject-Token")
}

// TestMistralAPITrusts checks, against a real Keystone, that the cron
// triggers of fernetflow serve's Mistral API fire as their creator, as
// Mistral's do: POST /v2/cron_triggers makes a Keystone trust from the
// creator to the service user (the creator's roles on the project,
// impersonation) and the store keeps its id, no token; the trigger fires
// as the creator (a trust-scoped token), and not at all once the creator
// lost the role; DELETE deletes the trust. Heat's kind of token, a
// trust-scoped one, is accepted for executions; a trigger cannot be made
// with one (Keystone forbids redelegation), with a 403 that says so.
func TestMistralAPITrusts(t *testing.T) {
	keyRepo := filepath.Join(t.TempDir(), "fernet-keys")
	e := startKeystone(t, keyRepo, true)
	e.adminTok = userToken(t, e, "admin", "adminpw", map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}})
	admin, member := e.roleID(t, "admin"), e.roleID(t, "member")
	service := e.create(t, "project", map[string]any{"name": "service", "domain_id": "default"})
	ffUser := e.create(t, "user", map[string]any{"name": "fernetflow", "password": fernetflowServicePassword, "domain_id": "default"})
	e.ks(t, "PUT", "/projects/"+service+"/users/"+ffUser+"/roles/"+admin, nil, 204)
	p1 := e.create(t, "project", map[string]any{"name": "p1", "domain_id": "default"})
	p2 := e.create(t, "project", map[string]any{"name": "p2", "domain_id": "default"})
	alice := e.create(t, "user", map[string]any{"name": "alice", "password": "alice-pw", "domain_id": "default"})
	bob := e.create(t, "user", map[string]any{"name": "bob", "password": "bob-pw", "domain_id": "default"})
	e.ks(t, "PUT", "/projects/"+p1+"/users/"+alice+"/roles/"+member, nil, 204)
	e.ks(t, "PUT", "/projects/"+p2+"/users/"+bob+"/roles/"+member, nil, 204)

	env := []string{"OS_AUTH_URL=" + e.ksURL, "OS_USERNAME=fernetflow", "OS_PASSWORD=" + fernetflowServicePassword,
		"OS_PROJECT_NAME=service", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_CLOUD=", "OS_CLIENT_CONFIG_FILE="}
	srv := startActionServerOn(t, filepath.Join(t.TempDir(), "serve"), env, []string{}, nil,
		"--auth", "keystone", "--keystone-url", e.ksURL, "--allowed-project", "service", "--token-cache-ttl", "0")
	project := func(id string) map[string]any { return map[string]any{"project": map[string]any{"id": id}} }
	aliceTok := userToken(t, e, "alice", "alice-pw", project(p1))
	asAlice := &ffAPI{base: srv.URL + "/v2", token: aliceTok}
	asBob := &ffAPI{base: srv.URL + "/v2", token: userToken(t, e, "bob", "bob-pw", project(p2))}
	asAdmin := &ffAPI{base: srv.URL + "/v2", token: e.adminTok}

	// Each creates a workflow and a trigger every minute.
	const wf = "version: '2.0'\ntick:\n  tasks:\n    t:\n      action: std.echo output=\"tock\"\n"
	triggers := map[string]map[string]any{}
	for name, c := range map[string]*ffAPI{"alice": asAlice, "bob": asBob} {
		req, _ := http.NewRequest("POST", c.base+"/workflows", strings.NewReader(wf))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("X-Auth-Token", c.token)
		resp, err := heatHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("%s: POST /v2/workflows: HTTP %d %s", name, resp.StatusCode, data)
		}
		code, res := c.do(t, "POST", "/cron_triggers", map[string]any{"name": name + "-every-minute", "workflow_name": "tick", "pattern": "* * * * *"})
		if code != 201 {
			t.Fatalf("%s: POST /v2/cron_triggers: HTTP %d %v", name, code, res)
		}
		triggers[name] = res
	}

	// Keystone holds one trust per trigger: the creator to fernetflow,
	// the creator's roles on the project, impersonating.
	m, _ := e.ks(t, "GET", "/OS-TRUST/trusts?trustee_user_id="+ffUser, nil, 200)
	trusts := map[string]map[string]any{}
	for _, tr := range m["trusts"].([]any) {
		tm := tr.(map[string]any)
		trusts[tm["trustor_user_id"].(string)] = tm
	}
	at, ok := trusts[alice]
	if len(trusts) != 2 || !ok || at["project_id"] != p1 || at["impersonation"] != true || trusts[bob] == nil {
		t.Fatalf("Keystone's trusts to fernetflow: %v, want alice's on p1 and bob's, impersonating", m["trusts"])
	}
	rm, _ := e.ks(t, "GET", "/OS-TRUST/trusts/"+at["id"].(string)+"/roles", nil, 200)
	if roles := fmt.Sprint(rm["roles"]); !strings.Contains(roles, "member") {
		t.Errorf("alice's trust delegates %s, want member", roles)
	}
	// The store has the trust's id, and no token.
	db, err := os.ReadFile(filepath.Join(srv.state, "executions.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(db, []byte(at["id"].(string))) || bytes.Contains(db, []byte(aliceTok)) {
		t.Errorf("the store: holds the trust id %v, holds alice's token %v; want the id and no token",
			bytes.Contains(db, []byte(at["id"].(string))), bytes.Contains(db, []byte(aliceTok)))
	}

	// Bob loses his role: Keystone revokes his trust; his trigger will
	// not fire.
	e.ks(t, "DELETE", "/projects/"+p2+"/users/"+bob+"/roles/"+member, nil, 204)

	// A trust-scoped token (what Heat sends for signals) is accepted:
	// fernetflow's user consuming alice's trust acts in p1.
	trustTok := userToken(t, e, "fernetflow", fernetflowServicePassword, map[string]any{"OS-TRUST:trust": map[string]any{"id": at["id"]}})
	asTrust := &ffAPI{base: srv.URL + "/v2", token: trustTok}
	code, ex := asTrust.do(t, "POST", "/executions", map[string]any{"workflow_name": "tick"})
	if code != 201 || ex["project_id"] != p1 {
		t.Fatalf("POST /v2/executions with a trust-scoped token: HTTP %d %v, want 201 in alice's project", code, ex)
	}
	code, res := asTrust.do(t, "POST", "/cron_triggers", map[string]any{"name": "redelegated", "workflow_name": "tick", "pattern": "0 3 * * 0"})
	if code != 403 || !strings.Contains(fmt.Sprint(res["faultstring"]), "trust") {
		t.Errorf("POST /v2/cron_triggers with a trust-scoped token: HTTP %d %v, want 403 about the trust", code, res)
	}

	// Alice's trigger fires (within a minute) as alice; bob's does not.
	var fired map[string]any
	for deadline := time.Now().Add(75 * time.Second); fired == nil; {
		for _, x := range asAlice.list(t, "/executions?workflow_name=tick", "executions") {
			if strings.Contains(fmt.Sprint(x["description"]), "cron trigger") {
				fired = x
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's cron trigger did not fire within 75 s\nserve:\n%s", srv.out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // bob's slot is the same minute
	log := srv.out.String()
	if !strings.Contains(log, `"as_user":"alice"`) {
		t.Errorf("serve's log does not say the trigger fired as alice:\n%s", log)
	}
	if !strings.Contains(log, "bob-every-minute of project "+p2+" does not fire: its creator's trust") {
		t.Errorf("serve's log does not say why bob's trigger did not fire:\n%s", log)
	}
	for _, x := range asAdmin.list(t, "/executions?all_projects=true&project_id="+p2, "executions") {
		t.Errorf("bob's trigger fired after bob lost his role: %v", x)
	}

	// DELETE deletes the trigger's trust.
	// (bob's by an admin: bob has no role left in p2)
	for _, d := range []struct {
		c    *ffAPI
		trig map[string]any
	}{{asAlice, triggers["alice"]}, {asAdmin, triggers["bob"]}} {
		if code, res := d.c.do(t, "DELETE", "/cron_triggers/"+d.trig["id"].(string), nil); code != 204 {
			t.Fatalf("DELETE cron trigger %v: HTTP %d %v", d.trig["name"], code, res)
		}
	}
	m, _ = e.ks(t, "GET", "/OS-TRUST/trusts?trustee_user_id="+ffUser, nil, 200)
	if l := m["trusts"].([]any); len(l) != 0 {
		t.Errorf("after DELETE of the triggers, Keystone still has trusts to fernetflow: %v\nserve:\n%s", l, srv.out)
	}
	t.Logf("alice's trigger fired as alice (execution %v); the trusts were made and deleted with the triggers", fired["id"])
}
