//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mistralServer is real OpenStack Mistral 15 (Debian's packages) on
// 127.0.0.1: SQLite, no authentication, [scheduler] fixed_delay 0.1 s;
// all-in-one with the fake in-process transport (no broker), or, given a
// broker, one process per server as in production.
type mistralServer struct {
	API    string // http://127.0.0.1:PORT/v2
	dir    string
	cmd    *exec.Cmd   // the all-in-one process, or the API's
	procs  []*exec.Cmd // every Mistral process, cmd first; each leads its process group
	client *http.Client
}

// mistralOptions says how startMistralWith runs Mistral.
type mistralOptions struct {
	// cron enables [cron_trigger], checking for due triggers every second.
	cron bool
	// transportURL is an oslo.messaging broker URL (rabbit://...): Mistral
	// then runs as three processes, mistral-server --server api, engine
	// and executor, on a SQLite database in WAL mode. Empty: fake:/, one
	// process.
	transportURL string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMistral brings Mistral up (about 10-15 s) and stops it, by its
// process group, when the test ends.
func startMistral(t *testing.T) *mistralServer {
	t.Helper()
	return startMistralWith(t, mistralOptions{})
}

// startMistralCron is startMistral with [cron_trigger] enabled, checking
// for due triggers every second (restartMistralWithCron, without the
// restart).
func startMistralCron(t *testing.T) *mistralServer {
	t.Helper()
	return startMistralWith(t, mistralOptions{cron: true})
}

func startMistralWith(t *testing.T, o mistralOptions) *mistralServer {
	t.Helper()
	requirePythonModule(t, "mistral.cmd.launch", "python3-mistral")
	requireTool(t, "mistral-db-manage", "mistral-common")
	if _, err := os.Stat("/etc/mistral/policy.json"); err != nil {
		requireTool(t, "/nonexistent/mistral-api", "mistral-api (for /etc/mistral/policy.json)")
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "mistral.conf")
	transport := "fake:/"
	if o.transportURL != "" {
		transport = o.transportURL
	}
	cfg := fmt.Sprintf(`[DEFAULT]
transport_url = %[3]s
debug = False
use_stderr = False
log_file = %[1]s/mistral.log

[api]
host = 127.0.0.1
port = %[2]d
api_workers = 1

[database]
connection = sqlite:///%[1]s/mistral.sqlite

[pecan]
auth_enable = False

[engine]
host = 127.0.0.1

[executor]
host = 127.0.0.1

[event_engine]
host = 127.0.0.1

[notifier]
host = 127.0.0.1

[cron_trigger]
enabled = False

[scheduler]
fixed_delay = 0.1
random_delay = 0

[oslo_policy]
policy_file = /etc/mistral/policy.json
`, dir, port, transport)
	if o.cron {
		cfg = strings.Replace(cfg, "[cron_trigger]\nenabled = False", "[cron_trigger]\nenabled = True\nexecution_interval = 1", 1)
	}
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	run(t, debianPython, "testdata/mistral/mistral_sqlite_init.py", conf)
	run(t, "mistral-db-manage", "--config-file", conf, "stamp", "head")
	run(t, "mistral-db-manage", "--config-file", conf, "populate")
	t.Logf("Mistral database ready in %s", time.Since(t0).Round(100*time.Millisecond))

	m := &mistralServer{API: fmt.Sprintf("http://127.0.0.1:%d/v2", port), dir: dir, client: &http.Client{Timeout: 20 * time.Second}}
	if o.transportURL == "" {
		m.cmd = startMistralProcess(t, dir, "server.out", "testdata/mistral/mistral_all_in_one.py", "--server", "all", "--config-file", conf)
		m.procs = []*exec.Cmd{m.cmd}
	} else {
		// Three processes write the database: WAL lets the API read
		// while the engine writes.
		run(t, debianPython, "-c", "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')", filepath.Join(dir, "mistral.sqlite"))
		for _, server := range []string{"api", "engine", "executor"} {
			m.procs = append(m.procs, startMistralProcess(t, dir, "server-"+server+".out", "/usr/bin/mistral-server", "--server", server, "--config-file", conf))
		}
		m.cmd = m.procs[0]
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := m.client.Get(m.API + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mistral did not answer on %s/ within 90 s: %v\n%s", m.API, err, m.outputs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	// With a broker, the API answers before the engine and executor
	// listen: an RPC sent then would be lost. Each says so on stdout.
	for _, p := range m.procs[1:] {
		for out := p.Stdout.(*os.File).Name(); ; {
			b, _ := os.ReadFile(out)
			if bytes.Contains(b, []byte(" server started.")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not start within 90 s\n%s", filepath.Base(out), m.outputs())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("Mistral 15 up on %s in %s", m.API, time.Since(t0).Round(100*time.Millisecond))
	return m
}

// startMistralProcess starts a Mistral server (script with args, under
// Debian's python, unbuffered, its output in dir/outName) in its own
// process group and stops it when the test ends: mistral-server ignores
// SIGTERM; SIGINT stops it, SIGKILL if not within 5 s.
func startMistralProcess(t *testing.T, dir, outName, script string, args ...string) *exec.Cmd {
	t.Helper()
	out, err := os.OpenFile(filepath.Join(dir, outName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopGroup(cmd, syscall.SIGINT, 5*time.Second)
		out.Close()
	})
	return cmd
}

// stopGroup sends sig to cmd's process group, then SIGKILL if cmd has not
// ended within grace. Safe to call again once cmd has ended.
func stopGroup(cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) {
	if cmd.ProcessState != nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// outputs is the end of every Mistral process's output, for failure
// messages.
func (m *mistralServer) outputs() string {
	var b strings.Builder
	for _, p := range m.procs {
		name := p.Stdout.(*os.File).Name()
		out, _ := os.ReadFile(name)
		if len(out) > 3000 {
			out = out[len(out)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(name), out)
	}
	return b.String()
}

func (m *mistralServer) do(t *testing.T, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.API+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// putWorkflows uploads a workflow file (creating or replacing its
// workflows), or a workbook when workbook is set.
func (m *mistralServer) putWorkflows(t *testing.T, def []byte, workbook ...bool) {
	t.Helper()
	path := "/workflows"
	if len(workbook) > 0 && workbook[0] {
		path = "/workbooks"
	}
	code, b := m.do(t, "POST", path, "text/plain", def)
	if code == 409 {
		code, b = m.do(t, "PUT", path, "text/plain", def)
	}
	if code != 201 && code != 200 {
		t.Fatalf("upload workflows: HTTP %d %s", code, b)
	}
}

// mistralExecution is an execution as Mistral shows it, with its
// JSON-in-string fields decoded.
type mistralExecution struct {
	ID        string
	State     string
	StateInfo string
	Output    map[string]any
	Tasks     map[string]string
	Wall      time.Duration
}

// execute runs workflow name with input, waits for its end (polling every
// 100 ms) and reads its tasks.
func (m *mistralServer) execute(t *testing.T, name string, input map[string]any, timeout time.Duration) mistralExecution {
	t.Helper()
	return m.executeWith(t, name, input, nil, timeout)
}

// executeWith runs an execution with params (env, task_name) and waits
// for a final state, or PAUSED (nothing resumes it).
func (m *mistralServer) executeWith(t *testing.T, name string, input, params map[string]any, timeout time.Duration) mistralExecution {
	t.Helper()
	in, _ := json.Marshal(input)
	req := map[string]any{"workflow_name": name, "input": string(in)}
	if len(params) > 0 {
		p, _ := json.Marshal(params)
		req["params"] = string(p)
	}
	body, _ := json.Marshal(req)
	t0 := time.Now()
	code, b := m.do(t, "POST", "/executions", "application/json", body)
	if code != 201 {
		t.Fatalf("create execution of %s: HTTP %d %s", name, code, b)
	}
	var ex struct {
		ID        string  `json:"id"`
		State     string  `json:"state"`
		StateInfo *string `json:"state_info"`
		Output    string  `json:"output"`
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for ex.State != "SUCCESS" && ex.State != "ERROR" && ex.State != "CANCELLED" && ex.State != "PAUSED" {
		if time.Now().After(deadline) {
			t.Fatalf("execution %s of %s still %s after %s", ex.ID, name, ex.State, timeout)
		}
		time.Sleep(100 * time.Millisecond)
		code, b = m.do(t, "GET", "/executions/"+ex.ID, "", nil)
		if code != 200 {
			t.Fatalf("get execution %s: HTTP %d %s", ex.ID, code, b)
		}
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Fatal(err)
		}
	}
	res := mistralExecution{ID: ex.ID, State: ex.State, Wall: time.Since(t0), Tasks: map[string]string{}}
	if ex.StateInfo != nil {
		res.StateInfo = *ex.StateInfo
	}
	if ex.Output != "" {
		// json.Number keeps 1500.0 a float when the recorder writes it
		// back (the engine's conformance test tells 1500.0 from 1500).
		dec := json.NewDecoder(strings.NewReader(ex.Output))
		dec.UseNumber()
		if err := dec.Decode(&res.Output); err != nil {
			t.Fatalf("execution %s output %q: %v", ex.ID, ex.Output, err)
		}
	}
	// Mistral records a task's last state after its execution's (a task
	// retried after a timeout, under load, was seen RUNNING in an
	// execution already in ERROR): read the tasks again, for up to 10 s,
	// until none of a finished execution is RUNNING.
	settle := time.Now().Add(10 * time.Second)
	for {
		code, b = m.do(t, "GET", "/executions/"+ex.ID+"/tasks", "", nil)
		if code != 200 {
			t.Fatalf("tasks of %s: HTTP %d %s", ex.ID, code, b)
		}
		var tasks struct {
			Tasks []struct{ Name, State string }
		}
		if err := json.Unmarshal(b, &tasks); err != nil {
			t.Fatal(err)
		}
		running := false
		for _, tk := range tasks.Tasks {
			res.Tasks[tk.Name] = tk.State
			running = running || tk.State == "RUNNING"
		}
		if !running || ex.State == "PAUSED" || time.Now().After(settle) {
			return res
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// logTail returns the end of Mistral's log, for failure messages.
func (m *mistralServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "mistral.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimSpace(string(b))
}
