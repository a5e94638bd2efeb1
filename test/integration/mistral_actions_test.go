//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The rotation on real Mistral 15: fernetflow serve --listen runs the Go
// actions, fernetflow mistral register puts them into Mistral as ad-hoc
// std.http actions with the embedded workflows, and Mistral runs
// rotate_fernet_keys over a local fleet. The same rotations on the
// embedded engine over an identical fleet must end in the same state.
//
// FERNETFLOW_MISTRAL_NODES (default 3) and FERNETFLOW_MISTRAL_ROTATIONS
// (default 2: set up, then rotate) size the run; the timings logged are
// BENCHMARKS.md's "real Mistral vs the embedded engine".

const (
	mistralTestSecret = "admin-secret-for-tests-0123456789"
	otherTestSecret   = "other-project-secret-0123456789"
)

// actionServer is fernetflow serve --listen over one local fleet.
type actionServer struct {
	URL   string
	state string
	nodes []string
	cmd   *exec.Cmd
	out   *bytes.Buffer
}

// startActionServer runs fernetflow serve --listen over nodes with the
// state in dir/state; auth are the --auth flags (default: the shared test
// secrets of dir/secrets, project admin allowed).
func startActionServer(t *testing.T, dir string, nodes []string, auth ...string) *actionServer {
	t.Helper()
	return startActionServerOn(t, dir, nil, []string{"--target", "local", "--nodes", strings.Join(nodes, ",")}, nodes, auth...)
}

// startActionServerOn is startActionServer on any target: target are the
// target's flags, env the extra environment (OS_CLIENT_CONFIG_FILE, say).
func startActionServerOn(t *testing.T, dir string, env, target, nodes []string, auth ...string) *actionServer {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte("admin "+mistralTestSecret+"\nother "+otherTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := &actionServer{URL: fmt.Sprintf("http://127.0.0.1:%d", port), state: filepath.Join(dir, "state"), nodes: nodes, out: &bytes.Buffer{}}
	if len(auth) == 0 {
		auth = []string{"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "--allowed-project", "admin"}
	}
	args := append(append([]string{"serve", "--state-dir", s.state, "--tick", "1s", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, target...), auth...)
	s.cmd = exec.Command(fernetflowBin, args...)
	if env != nil {
		s.cmd.Env = append(os.Environ(), env...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("fernetflow serve --listen did not answer: %v\n%s", err, s.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop interrupts serve and checks that it shut down cleanly.
func (s *actionServer) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("fernetflow serve ended with %v\n%s", err, s.out)
		}
	case <-time.After(40 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Errorf("fernetflow serve did not stop within 40 s of SIGINT")
	}
}

// call runs one action on the server with token (none when empty).
func (s *actionServer) call(t *testing.T, action, token string, input any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/actions/"+action, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: HTTP %d, not JSON: %s", action, resp.StatusCode, body)
	}
	return resp.StatusCode, v
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func fleetDirs(root string, n int) []string {
	var nodes []string
	for i := range n {
		nodes = append(nodes, filepath.Join(root, fmt.Sprintf("ctl%d", i)))
	}
	return nodes
}

// snapshot is every file under dirs, by path, with its bytes and mode.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			if e.Type().IsRegular() {
				if strings.HasSuffix(p, ".lock") || strings.HasSuffix(p, "executions.db") {
					return nil // lock files and serve's own store change on their own
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out[p] = info.Mode().String() + " " + string(b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sortedKeys(v any) []string {
	m, _ := v.(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// vmHWM is a process's peak resident set, in KiB, from /proc.
func vmHWM(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func TestRotateOnRealMistral(t *testing.T) {
	nodes := envInt("FERNETFLOW_MISTRAL_NODES", 3)
	rotations := envInt("FERNETFLOW_MISTRAL_ROTATIONS", 2)
	m := startMistral(t)
	root := t.TempDir()
	input := map[string]any{"max_active_keys": rotations + 2, "concurrency": 10}

	// Mistral's side: the action server over fleet B, and the registration.
	srv := startActionServer(t, filepath.Join(root, "b"), fleetDirs(filepath.Join(root, "b"), nodes))
	register := func() string {
		return fernetflowOK(t, "mistral", "register", "--mistral-url", m.API, "--action-server", srv.URL,
			"--auth", "shared-secret-for-tests", "--shared-secret-file", filepath.Join(root, "b", "secrets"), "--schedule", "0 3 * * 0", "-f", "json")
	}
	var first []map[string]string
	if err := json.Unmarshal([]byte(register()), &first); err != nil {
		t.Fatal(err)
	}
	var second []map[string]string
	if err := json.Unmarshal([]byte(register()), &second); err != nil {
		t.Fatal(err)
	}
	// 8 actions, 4 workflows, 1 cron trigger (this Mistral's cron
	// triggers are off: it never fires here).
	if len(first) != 13 {
		t.Fatalf("register made %d items, want 13: %v", len(first), first)
	}
	for i, r := range first {
		if r["result"] != "created" {
			t.Errorf("first register: %v", r)
		}
		if second[i]["result"] != "unchanged" {
			t.Errorf("second register is not a no-op: %v", second[i])
		}
	}

	var mWall []time.Duration
	var last mistralExecution
	for i := range rotations {
		last = m.execute(t, "rotate_fernet_keys", input, 5*time.Minute)
		if last.State != "SUCCESS" {
			t.Fatalf("rotation %d on Mistral: %s %s %v\nserve:\n%s\nMistral:\n%s", i+1, last.State, last.StateInfo, last.Tasks, srv.out, m.logTail())
		}
		mWall = append(mWall, last.Wall)
	}
	mistralRSS, serveRSS := vmHWM(m.cmd.Process.Pid), vmHWM(srv.cmd.Process.Pid)

	// The embedded engine's side: fleet A, the same rotations.
	aNodes := fleetDirs(filepath.Join(root, "a"), nodes)
	var eWall []time.Duration
	var eRSS int64
	var emb struct {
		Generation uint64         `json:"generation"`
		State      string         `json:"state"`
		Report     map[string]any `json:"report"`
		Servers    []struct {
			Name, Fingerprint, State string
			Generation               uint64
		} `json:"servers"`
	}
	for i := range rotations {
		args := []string{"rotate", "--target", "local", "--nodes", strings.Join(aNodes, ","), "--state-dir", filepath.Join(root, "a", "state"),
			"--max-active-keys", strconv.Itoa(rotations + 2), "-f", "json"}
		var o, e bytes.Buffer
		cmd := exec.Command(fernetflowBin, args...)
		cmd.Stdout, cmd.Stderr = &o, &e
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("embedded rotation %d: %v\n%s\n%s", i+1, err, o.String(), e.String())
		}
		eWall = append(eWall, time.Since(t0))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > eRSS {
			eRSS = ru.Maxrss
		}
		if err := json.Unmarshal(o.Bytes(), &emb); err != nil {
			t.Fatal(err)
		}
	}

	// Same final state: generations, each node at its own master's
	// fingerprint, and the report's shape.
	mReport, _ := last.Output["report"].(map[string]any)
	mFleet, _ := mReport["fleet"].(map[string]any)
	eFleet, _ := emb.Report["fleet"].(map[string]any)
	if emb.State != "SUCCESS" || uint64(toFloat(mFleet["generation"])) != emb.Generation || toFloat(eFleet["generation"]) != float64(emb.Generation) || emb.Generation != uint64(rotations) {
		t.Errorf("generations: Mistral %v, embedded %d (fleet %v), want %d", mFleet["generation"], emb.Generation, eFleet["generation"], rotations)
	}
	if !slices.Equal(sortedKeys(mReport), sortedKeys(emb.Report)) {
		t.Errorf("report keys: Mistral %v, embedded %v", sortedKeys(mReport), sortedKeys(emb.Report))
	}
	for _, k := range []string{"fleet", "rotation", "probe"} {
		if !slices.Equal(sortedKeys(mReport[k]), sortedKeys(emb.Report[k])) {
			t.Errorf("report.%s keys: Mistral %v, embedded %v", k, sortedKeys(mReport[k]), sortedKeys(emb.Report[k]))
		}
	}
	mRot, _ := mReport["rotation"].(map[string]any)
	eRot, _ := emb.Report["rotation"].(map[string]any)
	if !jsonEqual(keyIDs(mRot["keys"]), keyIDs(eRot["keys"])) {
		t.Errorf("key files after the last rotation: Mistral %v, embedded %v", keyIDs(mRot["keys"]), keyIDs(eRot["keys"]))
	}
	for _, s := range emb.Servers {
		if s.State != "ok" || s.Generation != emb.Generation || s.Fingerprint != eFleet["fingerprint"] {
			t.Errorf("embedded: node %s at %d %s (%s), master at %d %v", s.Name, s.Generation, s.Fingerprint, s.State, emb.Generation, eFleet["fingerprint"])
		}
	}
	// Mistral's side, checked afresh through the action server.
	code, v := srv.call(t, "fleet.servers", mistralTestSecret, map[string]any{})
	if code != 200 {
		t.Fatalf("fleet.servers: %d %v", code, v)
	}
	servers := v["result"].(map[string]any)["servers"]
	code, v = srv.call(t, "fleet.check", mistralTestSecret, map[string]any{"servers": servers, "confirm": false})
	if code != 200 {
		t.Fatalf("fleet.check: %d %v", code, v)
	}
	check := v["result"].(map[string]any)
	agree, _ := check["agree"].([]any)
	if check["ok"] != true || len(agree) != nodes || toFloat(check["generation"]) != float64(rotations) {
		t.Errorf("Mistral's fleet after the run: %v", check)
	}
	for _, r := range agree {
		r := r.(map[string]any)
		if r["fingerprint"] != check["fingerprint"] || r["fingerprint"] == eFleet["fingerprint"] {
			t.Errorf("node %v: fingerprint %v, master %v (embedded master %v: must differ, the keys are random)", r["name"], r["fingerprint"], check["fingerprint"], eFleet["fingerprint"])
		}
	}

	// Refused calls leave no trace in any key repository.
	before := snapshot(t, srv.state, filepath.Join(root, "b"))
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"not-a-known-secret-0123456789", 401}, {otherTestSecret, 403}} {
		for _, act := range []struct {
			name  string
			input map[string]any
		}{{"keys.rotate", map[string]any{}}, {"fleet.deploy", map[string]any{"server": map[string]any{"server_id": "ctl0"}, "envelope": "x"}}, {"node.enroll", map[string]any{"servers": servers}}} {
			if code, v := srv.call(t, act.name, c.token, act.input); code != c.want {
				t.Errorf("%s with token %q: HTTP %d %v, want %d", act.name, c.token, code, v, c.want)
			}
		}
	}
	if after := snapshot(t, srv.state, filepath.Join(root, "b")); !jsonEqual(before, after) {
		t.Errorf("refused calls changed files under %s", root)
	}

	// mistral executions sees the runs; unregister removes exactly what
	// register made.
	out := fernetflowOK(t, "mistral", "executions", "--mistral-url", m.API, "-f", "json")
	var exs []map[string]any
	if err := json.Unmarshal([]byte(out), &exs); err != nil || len(exs) != rotations || exs[0]["id"] != last.ID || exs[0]["state"] != "SUCCESS" {
		t.Errorf("mistral executions: %v %s", err, out)
	}
	out = fernetflowOK(t, "mistral", "executions", "--mistral-url", m.API, last.ID, "-f", "json")
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown["tasks"].([]any)) < 6 {
		t.Errorf("mistral executions ID: %v %s", err, out)
	}
	m.putWorkflows(t, []byte("---\nversion: '2.0'\nnot_ours:\n  tasks:\n    t:\n      action: std.noop\n"))
	out = fernetflowOK(t, "mistral", "unregister", "--mistral-url", m.API, "-f", "json")
	var gone []map[string]string
	if err := json.Unmarshal([]byte(out), &gone); err != nil || len(gone) != 13 {
		t.Errorf("unregister: %v %s", err, out)
	}
	if code, b := m.do(t, "GET", "/workflows/not_ours", "", nil); code != 200 {
		t.Errorf("unregister removed a workflow it did not make: %d %s", code, b)
	}
	if code, _ := m.do(t, "GET", "/actions/fleet.check", "", nil); code != 404 {
		t.Errorf("fleet.check is still in Mistral after unregister: %d", code)
	}

	sum := func(d []time.Duration) (s time.Duration) {
		for _, x := range d {
			s += x
		}
		return s
	}
	t.Logf("BENCH %d nodes, %d rotations: real Mistral total %v (per run %v), peak RSS Mistral %d MiB + fernetflow serve %d MiB; embedded engine total %v (per run %v), peak RSS %d MiB",
		nodes, rotations, sum(mWall).Round(time.Millisecond), mWall, mistralRSS/1024, serveRSS/1024,
		sum(eWall).Round(time.Millisecond), eWall, eRSS/1024)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return -1
}

// keyIDs is the ids and roles of a plan's keys, without key material.
func keyIDs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, k := range list {
		b, _ := json.Marshal(k)
		var kk struct {
			ID   any    `json:"id"`
			Role string `json:"role"`
		}
		_ = json.Unmarshal(b, &kk)
		out = append(out, fmt.Sprint(kk.ID, ":", kk.Role))
	}
	return out
}

// restartMistralWithCron restarts m with [cron_trigger] enabled (startMistral
// leaves it off), on the same database and port, and stops the new process
// when the test ends.
func restartMistralWithCron(t *testing.T, m *mistralServer) {
	t.Helper()
	restartMistral(t, m, func(conf []byte) []byte {
		return bytes.Replace(conf, []byte("[cron_trigger]\nenabled = False"), []byte("[cron_trigger]\nenabled = True\nexecution_interval = 1"), 1)
	})
}

// restartMistral restarts m with its configuration changed by edit, on the
// same database and port, and stops the new process when the test ends.
func restartMistral(t *testing.T, m *mistralServer, edit func([]byte) []byte) {
	t.Helper()
	if len(m.procs) != 1 {
		t.Fatal("restartMistral restarts the all-in-one Mistral only")
	}
	stopGroup(m.cmd, syscall.SIGINT, 10*time.Second)
	conf := filepath.Join(m.dir, "mistral.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	b = edit(b)
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m.cmd = startMistralProcess(t, m.dir, "server.out", "testdata/mistral/mistral_all_in_one.py", "--server", "all", "--config-file", conf)
	m.procs = []*exec.Cmd{m.cmd}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := m.client.Get(m.API + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mistral did not come back after its restart\n%s", m.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestMistralCronTriggerRotates: the cron trigger fernetflow mistral
// register makes fires in Mistral and rotates the fleet through the action
// server.
func TestMistralCronTriggerRotates(t *testing.T) {
	m := startMistral(t)
	restartMistralWithCron(t, m)
	root := t.TempDir()
	srv := startActionServer(t, filepath.Join(root, "b"), fleetDirs(filepath.Join(root, "b"), 3))
	out := fernetflowOK(t, "mistral", "register", "--mistral-url", m.API, "--action-server", srv.URL,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", filepath.Join(root, "b", "secrets"),
		"--schedule", "* * * * *", "--cron-remaining-executions", "1", "--max-active-keys", "4", "-f", "json")
	if !strings.Contains(out, `"cron trigger"`) {
		t.Fatalf("register made no cron trigger: %s", out)
	}
	t0 := time.Now()
	var ex struct {
		ID          string `json:"id"`
		State       string `json:"state"`
		StateInfo   string `json:"state_info"`
		Description string `json:"description"`
		Output      string `json:"output"`
	}
	deadline := time.Now().Add(150 * time.Second)
	for {
		code, b := m.do(t, "GET", "/executions?workflow_name=rotate_fernet_keys", "", nil)
		if code != 200 {
			t.Fatalf("executions: HTTP %d %s", code, b)
		}
		var l struct {
			Executions []json.RawMessage `json:"executions"`
		}
		_ = json.Unmarshal(b, &l)
		if len(l.Executions) > 0 {
			_ = json.Unmarshal(l.Executions[0], &ex)
			if ex.State == "SUCCESS" || ex.State == "ERROR" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cron trigger did not fire and finish within 150 s (execution %+v)\n%s", ex, m.logTail())
		}
		time.Sleep(time.Second)
	}
	if ex.State != "SUCCESS" || !strings.Contains(ex.Description, "cron_trigger") {
		t.Fatalf("the cron trigger's execution: %+v\nserve:\n%s", ex, srv.out)
	}
	code, v := srv.call(t, "fleet.servers", mistralTestSecret, map[string]any{})
	if code != 200 {
		t.Fatal(v)
	}
	code, v = srv.call(t, "fleet.check", mistralTestSecret, map[string]any{"servers": v["result"].(map[string]any)["servers"], "confirm": false})
	if check := v["result"].(map[string]any); code != 200 || check["ok"] != true || toFloat(check["generation"]) != 1 {
		t.Errorf("after the cron trigger's rotation: %v", v)
	}
	t.Logf("the cron trigger fired and rotated %s after register (execution %s)", time.Since(t0).Round(time.Second), ex.ID)
	out = fernetflowOK(t, "mistral", "unregister", "--mistral-url", m.API, "-f", "json")
	// remaining_executions 1: Mistral deleted the trigger after it fired.
	if code, b := m.do(t, "GET", "/cron_triggers/fernetflow_rotate_fernet_keys", "", nil); code != 404 {
		t.Errorf("the cron trigger is still there: HTTP %d %s", code, b)
	}
	if !strings.Contains(out, `"rotate_fernet_keys"`) {
		t.Errorf("unregister: %s", out)
	}
}

// TestActionServerUnderRealKeystone: fernetflow serve --auth keystone
// validates callers' tokens with real Keystone: a token scoped to the
// allowed project with the admin role runs actions; no token or a bogus
// one is refused 401, a token of another project or without the role 403,
// and the refused calls leave every key repository byte-identical.
func TestActionServerUnderRealKeystone(t *testing.T) {
	ks := startActionsKeystone(t)
	adminTok, demoTok, readerTok := ks.token(t, "admin", "adminpw", "admin"), ks.token(t, "demo", "demopw", "demo"), ks.token(t, "reader", "readerpw", "admin")
	e := ks.env

	root := t.TempDir()
	srv := startActionServer(t, filepath.Join(root, "b"), fleetDirs(filepath.Join(root, "b"), 2),
		"--auth", "keystone", "--keystone-url", e.ksURL, "--allowed-project", "admin")
	code, v := srv.call(t, "fleet.servers", adminTok, map[string]any{})
	if code != 200 {
		t.Fatalf("admin's token: HTTP %d %v\n%s", code, v, srv.out)
	}
	servers := v["result"].(map[string]any)["servers"]
	if code, v := srv.call(t, "node.enroll", adminTok, map[string]any{"servers": servers}); code != 200 {
		t.Fatalf("node.enroll: %d %v", code, v)
	}
	before := snapshot(t, filepath.Join(root, "b"))
	for _, c := range []struct {
		who, token string
		want       int
	}{{"no token", "", 401}, {"a bogus token", "gAAAAABbogus", 401}, {"another project's admin", demoTok, 403}, {"a reader of the project", readerTok, 403}} {
		for _, act := range []struct {
			name  string
			input map[string]any
		}{{"keys.rotate", map[string]any{}}, {"node.enroll", map[string]any{"servers": servers}}} {
			if code, v := srv.call(t, act.name, c.token, act.input); code != c.want {
				t.Errorf("%s with %s: HTTP %d %v, want %d", act.name, c.who, code, v, c.want)
			}
		}
	}
	if after := snapshot(t, filepath.Join(root, "b")); !jsonEqual(before, after) {
		t.Errorf("refused calls changed files under %s", root)
	}
	if code, v := srv.call(t, "keys.rotate", adminTok, map[string]any{}); code != 200 || toFloat(v["result"].(map[string]any)["generation"]) != 1 {
		t.Errorf("keys.rotate with admin's token: HTTP %d %v", code, v)
	}
	if after := snapshot(t, filepath.Join(root, "b")); jsonEqual(before, after) {
		t.Error("an allowed keys.rotate changed nothing")
	}
	srv.stop(t)
	for _, want := range []string{`"status":401`, `"status":403`, `"user":"demo","project":"demo"`, `"user":"admin","project":"admin"`} {
		if !strings.Contains(srv.out.String(), want) {
			t.Errorf("request log lacks %s:\n%s", want, srv.out)
		}
	}
	if strings.Contains(srv.out.String(), adminTok) {
		t.Error("the request log holds a token")
	}
}

// actionsKeystone is real Keystone for the action server's suites: the
// admin user (password adminpw) in project admin, a user demo who is admin
// in project demo, and a user reader with the reader role in project admin.
type actionsKeystone struct {
	env *heatEnv
}

func (k *actionsKeystone) token(t *testing.T, user, password, project string) string {
	t.Helper()
	_, h := k.env.ks(t, "POST", "/auth/tokens", heatPasswordAuth(user, "default", password, map[string]any{
		"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}}), 201)
	return h.Get("X-Subject-Token")
}

func startActionsKeystone(t *testing.T) *actionsKeystone {
	t.Helper()
	e := startKeystone(t, filepath.Join(t.TempDir(), "keystone-fernet-keys"), true)
	k := &actionsKeystone{env: e}
	e.adminTok = k.token(t, "admin", "adminpw", "admin")
	demo := e.create(t, "project", map[string]any{"name": "demo", "domain_id": "default"})
	adminProj, _ := e.ks(t, "GET", "/projects?name=admin", nil, 200)
	adminID := adminProj["projects"].([]any)[0].(map[string]any)["id"].(string)
	for _, u := range []struct{ name, project, role string }{{"demo", demo, "admin"}, {"reader", adminID, "reader"}} {
		id := e.create(t, "user", map[string]any{"name": u.name, "domain_id": "default", "password": u.name + "pw"})
		e.ks(t, "PUT", "/projects/"+u.project+"/users/"+id+"/roles/"+e.roleID(t, u.role), nil, 204)
	}
	e.adminTok = ""
	return k
}

// TestRotateOnRealMistralWithKeystone is the production setup: Mistral
// with Keystone authentication, fernetflow mistral register --os-cloud
// (clouds.yaml) with --auth keystone, so that each ad-hoc action sends the
// execution's own token (<% $.openstack.auth_token %>), which fernetflow
// serve --auth keystone validates with Keystone.
func TestRotateOnRealMistralWithKeystone(t *testing.T) {
	ks := startActionsKeystone(t)
	m := startMistral(t)
	restartMistral(t, m, func(conf []byte) []byte {
		conf = bytes.Replace(conf, []byte("[pecan]\nauth_enable = False"), []byte("[pecan]\nauth_enable = True"), 1)
		return append(conf, []byte(fmt.Sprintf(`
[keystone_authtoken]
www_authenticate_uri = %[1]s
auth_url = %[1]s
auth_type = password
username = admin
password = adminpw
project_name = admin
user_domain_id = default
project_domain_id = default
`, strings.TrimSuffix(ks.env.ksURL, "/v3")))...)
	})
	root := t.TempDir()
	clouds := filepath.Join(root, "clouds.yaml")
	if err := os.WriteFile(clouds, []byte(fmt.Sprintf(`clouds:
  it-admin:
    auth:
      auth_url: %s
      username: admin
      password: adminpw
      project_name: admin
      user_domain_id: default
      project_domain_id: default
    region_name: RegionOne
`, ks.env.ksURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startActionServer(t, filepath.Join(root, "b"), fleetDirs(filepath.Join(root, "b"), 3),
		"--auth", "keystone", "--keystone-url", ks.env.ksURL, "--allowed-project", "admin")
	ff := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(fernetflowBin, args...)
		cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+clouds)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("fernetflow %s: %v\n%s\n%s", strings.Join(args, " "), err, o.String(), e.String())
		}
		return o.String()
	}
	out := ff("mistral", "register", "--os-cloud", "it-admin", "--mistral-url", m.API, "--action-server", srv.URL, "--schedule", "", "-f", "json")
	if !strings.Contains(out, `"created"`) {
		t.Fatalf("register: %s", out)
	}
	if code, _ := m.do(t, "GET", "/workflows", "", nil); code != 401 {
		t.Fatalf("Mistral answers an unauthenticated call with %d: authentication is not on", code)
	}

	tok := ks.token(t, "admin", "adminpw", "admin")
	call := func(method, path string, body []byte) (int, []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, m.API+path, bytes.NewReader(body))
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for rot := 1; rot <= 2; rot++ {
		code, b := call("POST", "/executions", []byte(`{"workflow_name": "rotate_fernet_keys", "input": "{}"}`))
		if code != 201 {
			t.Fatalf("create execution: HTTP %d %s", code, b)
		}
		var ex struct {
			ID, State string
			StateInfo *string `json:"state_info"`
		}
		_ = json.Unmarshal(b, &ex)
		deadline := time.Now().Add(3 * time.Minute)
		for ex.State != "SUCCESS" && ex.State != "ERROR" {
			if time.Now().After(deadline) {
				t.Fatalf("execution %s still %s", ex.ID, ex.State)
			}
			time.Sleep(200 * time.Millisecond)
			_, b = call("GET", "/executions/"+ex.ID, nil)
			_ = json.Unmarshal(b, &ex)
		}
		if ex.State != "SUCCESS" {
			info := ""
			if ex.StateInfo != nil {
				info = *ex.StateInfo
			}
			t.Fatalf("rotation %d on Mistral with Keystone: %s %s\nserve:\n%s\nMistral:\n%s", rot, ex.State, info, srv.out, m.logTail())
		}
	}
	code, v := srv.call(t, "fleet.servers", tok, map[string]any{})
	if code != 200 {
		t.Fatal(v)
	}
	code, v = srv.call(t, "fleet.check", tok, map[string]any{"servers": v["result"].(map[string]any)["servers"], "confirm": false})
	if check, _ := v["result"].(map[string]any); code != 200 || check["ok"] != true || toFloat(check["generation"]) != 2 {
		t.Errorf("after two rotations through Mistral with Keystone: %d %v", code, v)
	}
	out = ff("mistral", "executions", "--os-cloud", "it-admin", "--mistral-url", m.API, "-f", "json")
	if strings.Count(out, `"SUCCESS"`) != 2 {
		t.Errorf("mistral executions --os-cloud: %s", out)
	}
	ff("mistral", "unregister", "--os-cloud", "it-admin", "--mistral-url", m.API)
	srv.stop(t)
	if !strings.Contains(srv.out.String(), `"action":"keys.rotate","user":"admin","project":"admin"`) {
		t.Errorf("the action server's log shows no keys.rotate by admin through Keystone:\n%s", srv.out)
	}
}
