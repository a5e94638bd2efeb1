//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// heatFernetflow runs a fernetflow command against the Heat env while the
// os-collect-config of the polled nodes runs, as their timers would (the
// others are "down"). It returns stdout, stderr, the exit code and the
// wall time.
func heatFernetflow(t *testing.T, e *heatEnv, polled []*heatNode, args ...string) (string, string, int, time.Duration) {
	t.Helper()
	cmd := exec.Command(fernetflowBin, args...)
	cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+e.clouds)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(8 * time.Minute)
	for {
		select {
		case err := <-done:
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return out.String(), errb.String(), code, time.Since(t0)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("fernetflow %v did not finish in 8 minutes:\n%s\n%s", args, errb.String(), e.tail())
		case <-time.After(300 * time.Millisecond):
		}
		if len(polled) > 0 {
			pollAll(t, polled, 3)
		}
	}
}

// keystoneToken issues a token on a real Keystone (admin, project admin).
func keystoneToken(t *testing.T, ks *heatEnv) string {
	t.Helper()
	_, h := ks.ks(t, "POST", "/auth/tokens", heatPasswordAuth("admin", "default", "adminpw", map[string]any{
		"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}), 201)
	tok := h.Get("X-Subject-Token")
	if tok == "" {
		t.Fatal("keystone issued no token")
	}
	return tok
}

// keystoneValidate asks a real Keystone about a token: 200 when it holds a
// key that validates it.
func keystoneValidate(t *testing.T, ks *heatEnv, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", ks.ksURL+"/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("X-Subject-Token", tok)
	resp, err := heatHTTP.Do(req)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, ks.tail())
	}
	resp.Body.Close()
	return resp.StatusCode
}

func repoFingerprint(t *testing.T, dir string) string {
	t.Helper()
	r, err := keys.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Keys.Fingerprint().String()
}

// TestHeatAdoptDriftProbeNodeDown starts from the cloud operators have:
// three controllers (OS::Heat::DeployedServer, each running real
// os-collect-config with fernetflow node collect) that share keys made by
// the real keystone-manage fernet_setup, and real Keystones serving from
// each of them on one database. Then:
//   - the first fernetflow rotate --target heat adopts those keys: a token
//     issued before it stays valid on every controller's Keystone, and it takes two
//     os-collect-config rounds (report, install);
//   - a stray keystone-manage fernet_rotate on one controller makes the
//     next run refuse (exit 3), naming it, with every repository and the
//     master untouched;
//   - fernetflow check finds a controller whose primary key was replaced
//     (its probe fails, naming it), and changes nothing;
//   - --overwrite-drifted repairs both; then a controller whose
//     os-collect-config is down is a refusal within --check-timeout.
func TestHeatAdoptDriftProbeNodeDown(t *testing.T) {
	o := startHeatOvercloud(t)
	e, c, root, state, u, nodes := o.e, o.c, o.root, o.state, o.u, o.nodes

	// keystone-manage fernet_setup on Controller-0 (its Keystone), copied
	// to the others as deployment tools do.
	ks0 := startKeystoneOn(t, nodes[0].repo, true, nil)
	for _, n := range nodes[1:] {
		if out, err := exec.Command("cp", "-a", nodes[0].repo, n.repo).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	ks1 := startKeystoneOn(t, nodes[1].repo, false, ks0)
	ks2 := startKeystoneOn(t, nodes[2].repo, false, ks0)
	keystones := []*heatEnv{ks0, ks1, ks2} // one per controller, on one database
	before := keystoneToken(t, ks0)
	for _, ks := range keystones {
		if code := keystoneValidate(t, ks, before); code != 200 {
			t.Fatalf("before the first run, %s rejects the token: %d", ks.ksURL, code)
		}
	}

	common := []string{"--target", "heat", "--os-cloud", heatItCloud, "--stack", "overcloud", "--role", "Controller",
		"--state-dir", state, "--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0",
		"--timeout", "3m", "-f", "json"}
	rotate := func(polled []*heatNode, extra ...string) (string, string, int, time.Duration) {
		return heatFernetflow(t, e, polled, append(append([]string{"rotate"}, common...), extra...)...)
	}

	out, errs, code, took := rotate(nodes, "--dry-run")
	if code != 0 || !strings.Contains(out, `"action": "adopt"`) || !strings.Contains(out, "Controller-0, Controller-1, Controller-2 share one key set") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(state, "master", "fernet-keys", "0")); err == nil {
		t.Fatal("the dry run wrote the master")
	}
	t.Logf("dry run (one report round) in %s", took.Round(time.Millisecond))

	out, errs, code, took = rotate(nodes)
	if code != 0 || !strings.Contains(out, `"outcome": "rotated"`) || !strings.Contains(out, `"action": "adopt"`) || !strings.Contains(out, `"generation": 2`) {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Count(errs, "  check\n")+strings.Count(errs, "  deploy\n") != 2 || strings.Contains(errs, "  enroll\n") || strings.Contains(errs, "  repair") {
		t.Fatalf("the first run took other rounds than report and install:\n%s", errs)
	}
	t.Logf("first run (adopt + rotate) in %s", took.Round(time.Millisecond))
	master := repoFingerprint(t, filepath.Join(state, "master", "fernet-keys"))
	for _, n := range nodes {
		if fp := repoFingerprint(t, n.repo); fp != master {
			t.Fatalf("%s holds another set than the master", n.name)
		}
	}
	after := keystoneToken(t, ks2)
	for _, ks := range keystones {
		for i, tok := range []string{before, after} {
			if code := keystoneValidate(t, ks, tok); code != 200 {
				t.Fatalf("after adopting, %s rejects token %d: HTTP %d\n%s", ks.ksURL, i, code, ks.tail())
			}
		}
	}

	// A stray keystone-manage fernet_rotate on Controller-1.
	conf := filepath.Join(root, "ctl1-keystone.conf")
	heatWriteFile(t, conf, fmt.Sprintf("[fernet_tokens]\nkey_repository = %s\nmax_active_keys = 5\n", nodes[1].repo))
	heatRunEnv(t, 2*time.Minute, nil, "keystone-manage", "--config-file", conf, "fernet_rotate", "--keystone-user", "root", "--keystone-group", "root")
	fps := map[string]string{}
	for _, n := range nodes {
		fps[n.name] = repoFingerprint(t, n.repo)
	}
	out, errs, code, _ = rotate(nodes)
	if code != 3 || !strings.Contains(errs, "Controller-1: its keys changed outside fernetflow") || !strings.Contains(errs, "keystone-manage fernet_rotate?") || !strings.Contains(errs, "--overwrite-drifted Controller-1") {
		t.Fatalf("after a stray fernet_rotate: exit %d, want 3\n%s\n%s", code, out, errs)
	}
	for _, n := range nodes {
		if fp := repoFingerprint(t, n.repo); fp != fps[n.name] {
			t.Fatalf("the refusal changed %s's repository", n.name)
		}
	}
	if fp := repoFingerprint(t, filepath.Join(state, "master", "fernet-keys")); fp != master {
		t.Fatal("the refusal rotated the master")
	}

	// Controller-2's primary key file is replaced: the probe names it.
	r2, _ := keys.Open(nodes[2].repo)
	p, _ := r2.Keys.Primary()
	other, _ := keys.GenerateKey(nil)
	if err := os.WriteFile(filepath.Join(nodes[2].repo, fmt.Sprint(p)), other.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	fps["Controller-2"] = repoFingerprint(t, nodes[2].repo)
	out, errs, code, _ = heatFernetflow(t, e, nodes, "check", "--target", "heat", "--os-cloud", heatItCloud, "--stack", "overcloud",
		"--role", "Controller", "--state-dir", state, "-f", "json")
	if code != 3 || !strings.Contains(out, `"outcome": "needs-attention"`) || !strings.Contains(errs, "a token issued by Controller-2") {
		t.Fatalf("check of a tampered controller: exit %d, want 3\n%s\n%s", code, out, errs)
	}
	if code := keystoneValidate(t, ks2, after); code != 401 && code != 404 {
		t.Fatalf("Controller-2's Keystone still validates a token signed with the replaced key: %d", code)
	}
	for _, n := range nodes {
		if fp := repoFingerprint(t, n.repo); fp != fps[n.name] {
			t.Fatalf("check changed %s's repository", n.name)
		}
	}

	out, errs, code, _ = rotate(nodes, "--overwrite-drifted", "Controller-1,Controller-2")
	if code != 0 {
		t.Fatalf("overwrite: exit %d\n%s\n%s", code, out, errs)
	}
	master = repoFingerprint(t, filepath.Join(state, "master", "fernet-keys"))
	for _, n := range nodes {
		if fp := repoFingerprint(t, n.repo); fp != master {
			t.Fatalf("after --overwrite-drifted, %s holds another set", n.name)
		}
	}
	for _, ks := range keystones {
		if code := keystoneValidate(t, ks, before); code != 200 {
			t.Fatalf("after --overwrite-drifted, %s rejects the token issued before the first run: %d", ks.ksURL, code)
		}
	}

	// Controller-0's os-collect-config is down: a refusal within the check
	// timeout, nothing changed.
	fps = map[string]string{}
	for _, n := range nodes {
		fps[n.name] = repoFingerprint(t, n.repo)
	}
	out, errs, code, took = rotate(nodes[1:], "--check-timeout", "20s")
	if code != 3 || !strings.Contains(errs, "Controller-0: did not report within 20s") {
		t.Fatalf("a controller down: exit %d, want 3\n%s\n%s", code, out, errs)
	}
	if took > 90*time.Second {
		t.Fatalf("the refusal took %s with a 20s check timeout", took)
	}
	t.Logf("refusal with a controller down in %s", took.Round(time.Millisecond))
	for _, n := range nodes {
		if fp := repoFingerprint(t, n.repo); fp != fps[n.name] {
			t.Fatalf("the refusal changed %s's repository", n.name)
		}
	}
	if fp := repoFingerprint(t, filepath.Join(state, "master", "fernet-keys")); fp != master {
		t.Fatal("the refusal rotated the master")
	}
	// Back up: its stale report was withdrawn, so it only answers the new run.
	out, errs, code, _ = rotate(nodes)
	if code != 0 {
		t.Fatalf("with Controller-0 back: exit %d\n%s\n%s", code, out, errs)
	}

	// The same adoption on the layouts --role Controller must find: TripleO's
	// nesting, and a plain ResourceGroup of DeployedServers.
	for _, layout := range []struct {
		stack  string
		nested bool
	}{{"tripleo", true}, {"plain", false}} {
		occ := createGroupStack(t, c, layout.stack, 2, layout.nested)
		nodes := groupNodes(t, c, root, layout.stack, occ, u)
		conf := filepath.Join(root, layout.stack+"-keystone.conf")
		heatWriteFile(t, conf, fmt.Sprintf("[fernet_tokens]\nkey_repository = %s\nmax_active_keys = 5\n", nodes[0].repo))
		heatRunEnv(t, 2*time.Minute, nil, "keystone-manage", "--config-file", conf, "fernet_setup", "--keystone-user", "root", "--keystone-group", "root")
		if out, err := exec.Command("cp", "-a", nodes[0].repo, nodes[1].repo).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		km, err := keys.Open(nodes[0].repo)
		if err != nil {
			t.Fatal(err)
		}
		lstate := filepath.Join(root, layout.stack+"-undercloud")
		run(t, fernetflowBin, "signer", "init", "--state-dir", lstate)
		os.WriteFile(u.pubFile, []byte(strings.TrimSpace(run(t, fernetflowBin, "signer", "public", "--state-dir", lstate))+"\n"), 0o644)
		out, errs, code, _ := heatFernetflow(t, e, nodes, "rotate", "--target", "heat", "--os-cloud", heatItCloud, "--stack", layout.stack,
			"--role", "Controller", "--state-dir", lstate, "--max-active-keys", "5", "--timeout", "3m", "-f", "json")
		if code != 0 || !strings.Contains(out, `"action": "adopt"`) || !strings.Contains(out, `"outcome": "rotated"`) {
			t.Fatalf("%s layout: exit %d\n%s\n%s", layout.stack, code, out, errs)
		}
		master, err := keys.Open(filepath.Join(lstate, "master", "fernet-keys"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			r, err := keys.Open(n.repo)
			if err != nil || r.Keys.Fingerprint() != master.Keys.Fingerprint() {
				t.Fatalf("%s layout: %s holds another set than the master (%v)", layout.stack, n.name, err)
			}
		}
		// Every key keystone-manage made is still there: no token is lost.
		for i, k := range km.Keys {
			if !master.Keys.Contains(k) {
				t.Fatalf("%s layout: keystone-manage's key %d is gone", layout.stack, i)
			}
		}
		t.Logf("%s layout: %s adopted and rotated", layout.stack, strings.Join([]string{nodes[0].name, nodes[1].name}, ", "))
	}
}

// createGroupStack creates the overcloud the way TripleO lays it out
// (nested: an OS::Heat::ResourceGroup "Controller" whose members are
// nested stacks holding an OS::Heat::DeployedServer "Controller"), or a
// plain ResourceGroup "Controller" of DeployedServers, and returns each
// server's os_collect_config by its stack id and resource name.
func createGroupStack(t *testing.T, c *gophercloud.ServiceClient, name string, count int, nested bool) map[string]map[string]any {
	t.Helper()
	member := map[string]any{"type": "OS::Heat::DeployedServer", "properties": map[string]any{"software_config_transport": "POLL_SERVER_HEAT"}}
	files := map[string]string{}
	if nested {
		files["controller-role.yaml"] = `heat_template_version: wallaby
parameters:
  Index: {type: string}
resources:
  Controller:
    type: OS::Heat::DeployedServer
    properties:
      name: {list_join: ['-', ['overcloud-controller', {get_param: Index}]]}
      software_config_transport: POLL_SERVER_HEAT
outputs:
  os_collect_config: {value: {get_attr: [Controller, os_collect_config]}}
`
		member = map[string]any{"type": "controller-role.yaml", "properties": map[string]any{"Index": "%index%"}}
	}
	tmpl := map[string]any{"heat_template_version": "wallaby",
		"resources": map[string]any{"Controller": map[string]any{"type": "OS::Heat::ResourceGroup",
			"properties": map[string]any{"count": count, "resource_def": member}}},
		"outputs": map[string]any{"occ": map[string]any{"value": map[string]any{"get_attr": []any{"Controller", "os_collect_config"}}}}}
	st := createStackAndWait(t, c, map[string]any{"stack_name": name, "template": tmpl, "files": files, "timeout_mins": 15})
	out := map[string]map[string]any{}
	for _, o := range st.Outputs {
		if o["output_key"] != "occ" {
			continue
		}
		for _, v := range o["output_value"].([]any) {
			occ := v.(map[string]any)
			h := occ["heat"].(map[string]any)
			out[fmt.Sprint(h["stack_id"], "/", h["resource_name"])] = occ
		}
	}
	if len(out) != count {
		t.Fatalf("stack %s: os_collect_config for %d of %d servers: %v", name, len(out), count, st.Outputs)
	}
	return out
}

// groupNodes discovers the servers of role Controller in stack, as
// fernetflow does, and makes a node for each.
func groupNodes(t *testing.T, c *gophercloud.ServiceClient, root, stack string, occ map[string]map[string]any, u *heatUndercloud) []*heatNode {
	t.Helper()
	servers, err := deploy.DiscoverServers(context.Background(), c, stack, deploy.ServerFilter{Name: "Controller/*"})
	if err != nil || len(servers) != len(occ) {
		t.Fatalf("servers of %s: %v %v", stack, servers, err)
	}
	var nodes []*heatNode
	for _, s := range servers {
		// os-collect-config's stack_id may be "name/id": match by id.
		var o map[string]any
		for k, v := range occ {
			if strings.Contains(k, s.StackID) && strings.HasSuffix(k, "/"+s.Resource) {
				o = v
			}
		}
		if o == nil {
			t.Fatalf("%s: no os_collect_config for resource %s of stack %s among %v", stack, s.Resource, s.StackID, slices.Collect(maps.Keys(occ)))
		}
		nodes = append(nodes, newHeatNode(t, filepath.Join(root, stack), s, o, u))
	}
	return nodes
}
