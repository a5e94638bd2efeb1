//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/gophercloud/gophercloud/v2"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// heatEnv is a real Keystone (uwsgi, sqlite) and a real heat-all (fake://
// transport, sqlite) on 127.0.0.1, started by the suite from Debian's
// packages, as /work/shared/reference/keystone-heat-occ.md describes.
type heatEnv struct {
	base      string
	ksURL     string // http://127.0.0.1:PORT/v3
	heatPort  int
	clouds    string // clouds.yaml with the cloud "fernetflow-it" (demo user)
	procs     []*exec.Cmd
	logs      []string
	demoProj  string
	demoUser  string
	adminTok  string
	startTook time.Duration
}

// subprocessEnv keeps Debian's python first: the python3 on PATH may be a
// pyenv build without Keystone or Heat.
func heatSubprocessEnv(extra ...string) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"}
	return append(env, extra...)
}

func heatFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runEnv runs a command with Debian's PATH, failing the test with its output.
func heatRunEnv(t testing.TB, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = heatSubprocessEnv(env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start launches a long-running service in its own process group, logging
// to logFile; stop kills it by PID.
func (e *heatEnv) start(t testing.TB, logFile string, env []string, name string, args ...string) {
	t.Helper()
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = heatSubprocessEnv(env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	e.procs = append(e.procs, cmd)
	e.logs = append(e.logs, logFile)
}

// stop ends every service this env started: SIGTERM to each process group
// it made, SIGKILL after 10s; then it removes the base directory.
func (e *heatEnv) stop() {
	defer os.RemoveAll(e.base)
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// tail returns the end of the services' logs, for failure messages.
func (e *heatEnv) tail() string {
	var b strings.Builder
	for _, l := range e.logs {
		data, _ := os.ReadFile(l)
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", l, data)
	}
	return b.String()
}

var heatHTTP = &http.Client{Timeout: 30 * time.Second}

// waitHTTP polls url until it answers (any status) or the timeout passes.
func heatWaitHTTP(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s: %v", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ks calls Keystone's API and decodes the answer.
func (e *heatEnv) ks(t testing.TB, method, path string, body any, want int) (map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.ksURL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if e.adminTok != "" {
		req.Header.Set("X-Auth-Token", e.adminTok)
	}
	resp, err := heatHTTP.Do(req)
	if err != nil {
		t.Fatalf("keystone %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("keystone %s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m, resp.Header
}

func (e *heatEnv) create(t testing.TB, kind string, obj map[string]any) string {
	t.Helper()
	m, _ := e.ks(t, "POST", "/"+kind+"s", map[string]any{kind: obj}, 201)
	return m[kind].(map[string]any)["id"].(string)
}

func (e *heatEnv) roleID(t testing.TB, name string) string {
	t.Helper()
	m, _ := e.ks(t, "GET", "/roles?name="+name, nil, 200)
	roles := m["roles"].([]any)
	if len(roles) == 0 {
		return e.create(t, "role", map[string]any{"name": name})
	}
	return roles[0].(map[string]any)["id"].(string)
}

const (
	heatPassword       = "heat-it-pw"
	domainAdminPasswd  = "domain-it-pw"
	demoPassword       = "demo-it-pw"
	adminPassword      = "admin-it-pw"
	heatItCloud        = "fernetflow-it"
	heatEnvStartBudget = 3 * time.Minute
)

// startHeatEnv brings Keystone and heat-all up under a fresh base
// directory. The caller must call stop.
func startHeatEnv(t *testing.T) *heatEnv {
	t.Helper()
	requireTool(t, "/usr/bin/keystone-manage", "python3-keystone")
	requireTool(t, "/usr/bin/uwsgi", "uwsgi-core")
	requireTool(t, "/usr/bin/heat-all", "heat-common")
	requireTool(t, "/usr/bin/heat-manage", "heat-common")
	requireTool(t, "/usr/bin/os-collect-config", "python3-os-collect-config")
	requirePythonModule(t, "heat", "python3-heat")
	if _, err := os.Stat("/usr/lib/uwsgi/plugins/python3_plugin.so"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("uwsgi's python3 plugin is missing: .ci/run must install uwsgi-plugin-python3")
		}
		t.Skip("uwsgi python3 plugin not found: apt-get install uwsgi-plugin-python3")
	}
	t0 := time.Now()
	base, err := os.MkdirTemp("", "fernetflow-heat-")
	if err != nil {
		t.Fatal(err)
	}
	e := &heatEnv{base: base}
	ks, hd := filepath.Join(base, "ks"), filepath.Join(base, "heat")
	for _, d := range []string{ks, hd} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ksPort, heatPort, cfnPort := heatFreePort(t), heatFreePort(t), heatFreePort(t)
	e.heatPort = heatPort
	e.ksURL = fmt.Sprintf("http://127.0.0.1:%d/v3", ksPort)

	ksConf := filepath.Join(ks, "keystone.conf")
	heatWriteFile(t, ksConf, fmt.Sprintf(`[DEFAULT]
log_file = %[1]s/keystone.log
[database]
connection = sqlite:///%[1]s/keystone.db
[fernet_tokens]
key_repository = %[1]s/fernet-keys
max_active_keys = 4
[fernet_receipts]
key_repository = %[1]s/fernet-keys
max_active_keys = 4
[credential]
key_repository = %[1]s/credential-keys
`, ks))
	heatConf := filepath.Join(hd, "heat.conf")
	heatWriteFile(t, heatConf, fmt.Sprintf(`[DEFAULT]
log_file = %[1]s/heat.log
transport_url = fake://
num_engine_workers = 1
heat_metadata_server_url = http://127.0.0.1:%[3]d
heat_waitcondition_server_url = http://127.0.0.1:%[3]d/v1/waitcondition
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = %[5]s
stack_user_domain_name = heat
region_name_for_services = RegionOne
[database]
connection = sqlite:///%[1]s/heat.db
[heat_all]
enabled_services = api,engine,api_cfn
[heat_api]
bind_host = 127.0.0.1
bind_port = %[2]d
workers = 1
[heat_api_cfn]
bind_host = 127.0.0.1
bind_port = %[3]d
workers = 1
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:%[4]d/v3
auth_url = http://127.0.0.1:%[4]d
auth_type = password
project_name = service
project_domain_id = default
username = heat
user_domain_id = default
password = %[6]s
region_name = RegionOne
[trustee]
auth_type = password
auth_url = http://127.0.0.1:%[4]d
username = heat
password = %[6]s
user_domain_id = default
[clients_keystone]
auth_uri = http://127.0.0.1:%[4]d
[oslo_messaging_notifications]
driver = noop
`, hd, heatPort, cfnPort, ksPort, domainAdminPasswd, heatPassword))

	wal := func(db string) {
		heatRunEnv(t, time.Minute, nil, debianPython, "-c", "import sqlite3,sys;sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')", db)
	}
	// Heat's schema is independent of Keystone: build it meanwhile.
	var heatDB sync.WaitGroup
	var heatDBErr error
	heatDB.Add(1)
	go func() {
		defer heatDB.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "heat-manage", "--config-file", heatConf, "db_sync")
		cmd.Env = heatSubprocessEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			heatDBErr = fmt.Errorf("heat-manage db_sync: %v\n%s", err, out)
		}
	}()
	km := func(args ...string) {
		heatRunEnv(t, 2*time.Minute, nil, "keystone-manage", append([]string{"--config-file", ksConf}, args...)...)
	}
	km("db_sync")
	wal(filepath.Join(ks, "keystone.db"))
	km("fernet_setup", "--keystone-user", "root", "--keystone-group", "root")
	km("credential_setup", "--keystone-user", "root", "--keystone-group", "root")
	km("bootstrap", "--bootstrap-password", adminPassword, "--bootstrap-region-id", "RegionOne",
		"--bootstrap-admin-url", e.ksURL+"/", "--bootstrap-public-url", e.ksURL+"/", "--bootstrap-internal-url", e.ksURL+"/")
	e.start(t, filepath.Join(ks, "uwsgi.log"), nil, "uwsgi", "--plugin", "python3",
		"--http-socket", fmt.Sprintf("127.0.0.1:%d", ksPort), "--wsgi-file", "/usr/bin/keystone-wsgi-public",
		"--processes", "1", "--threads", "1", "--master", "--lazy-apps", "--die-on-term",
		"--add-header", "Connection: close", "--env", "OS_KEYSTONE_CONFIG_FILES="+ksConf)
	if err := heatWaitHTTP(e.ksURL, time.Minute); err != nil {
		e.stop()
		t.Fatalf("keystone: %v\n%s", err, e.tail())
	}

	// Keystone entities, with raw calls (17 openstack CLI runs take ~40s).
	_, h := e.ks(t, "POST", "/auth/tokens", heatPasswordAuth("admin", "default", adminPassword, map[string]any{
		"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}), 201)
	e.adminTok = h.Get("X-Subject-Token")
	admin := e.roleID(t, "admin")
	member := e.roleID(t, "member")
	service := e.create(t, "project", map[string]any{"name": "service", "domain_id": "default"})
	heatUser := e.create(t, "user", map[string]any{"name": "heat", "password": heatPassword, "domain_id": "default"})
	e.ks(t, "PUT", "/projects/"+service+"/users/"+heatUser+"/roles/"+admin, nil, 204)
	svc := e.create(t, "service", map[string]any{"name": "heat", "type": "orchestration"})
	for _, iface := range []string{"public", "internal", "admin"} {
		e.create(t, "endpoint", map[string]any{"service_id": svc, "interface": iface, "region_id": "RegionOne",
			"url": fmt.Sprintf("http://127.0.0.1:%d/v1/%%(tenant_id)s", heatPort)})
	}
	heatDomain := e.create(t, "domain", map[string]any{"name": "heat"})
	hda := e.create(t, "user", map[string]any{"name": "heat_domain_admin", "password": domainAdminPasswd, "domain_id": heatDomain})
	e.ks(t, "PUT", "/domains/"+heatDomain+"/users/"+hda+"/roles/"+admin, nil, 204)
	owner := e.roleID(t, "heat_stack_owner")
	e.roleID(t, "heat_stack_user")
	e.demoProj = e.create(t, "project", map[string]any{"name": "demo", "domain_id": "default"})
	e.demoUser = e.create(t, "user", map[string]any{"name": "demo", "password": demoPassword, "domain_id": "default"})
	e.ks(t, "PUT", "/projects/"+e.demoProj+"/users/"+e.demoUser+"/roles/"+owner, nil, 204)
	e.ks(t, "PUT", "/projects/"+e.demoProj+"/users/"+e.demoUser+"/roles/"+member, nil, 204)

	heatDB.Wait()
	if heatDBErr != nil {
		e.stop()
		t.Fatal(heatDBErr)
	}
	wal(filepath.Join(hd, "heat.db"))
	e.start(t, filepath.Join(hd, "heat-all.out"), nil, "heat-all", "--config-file", heatConf)
	if err := heatWaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/", heatPort), time.Minute); err != nil {
		e.stop()
		t.Fatalf("heat-all: %v\n%s", err, e.tail())
	}
	e.clouds = filepath.Join(base, "clouds.yaml")
	heatWriteFile(t, e.clouds, fmt.Sprintf(`clouds:
  %s:
    auth:
      auth_url: %s
      username: demo
      password: %s
      project_name: demo
      user_domain_id: default
      project_domain_id: default
    region_name: RegionOne
    identity_api_version: 3
`, heatItCloud, e.ksURL, demoPassword))
	e.startTook = time.Since(t0)
	t.Logf("keystone + heat-all up in %s under %s", e.startTook.Round(time.Second), base)
	return e
}

func heatPasswordAuth(user, domain, password string, scope map[string]any) map[string]any {
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]any{"id": domain}, "password": password}}},
		"scope": scope,
	}}
}

func heatWriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startHeatClient starts a heatEnv for the test (stopped at its end), points
// the OpenStack client configuration at it, and returns an orchestration
// client for the demo user.
func startHeatClient(t *testing.T) (*heatEnv, *gophercloud.ServiceClient) {
	t.Helper()
	e := startHeatEnv(t)
	t.Cleanup(e.stop)
	t.Setenv("OS_CLIENT_CONFIG_FILE", e.clouds)
	t.Setenv("OS_CLOUD", "")
	c, err := deploy.NewOrchestrationClient(context.Background(), deploy.CloudOptions{Cloud: heatItCloud})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.tail())
	}
	return e, c
}
