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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// v2Endpoint is any Mistral v2 API without authentication (real Mistral
// with auth_enable False, fernetflow serve --auth noauth).
type v2Endpoint struct {
	name string
	base string // http://127.0.0.1:PORT/v2
	c    *http.Client
}

func (v *v2Endpoint) do(t *testing.T, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, v.base+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := v.c.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", v.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// run starts an execution and waits for its end; it returns the time from
// POST to the GET that saw the final state (polled every 10 ms).
func (v *v2Endpoint) run(t *testing.T, wf string, input map[string]any, timeout time.Duration) (time.Duration, string) {
	t.Helper()
	in, _ := json.Marshal(input)
	body, _ := json.Marshal(map[string]any{"workflow_name": wf, "input": string(in)})
	t0 := time.Now()
	code, b := v.do(t, "POST", "/executions", "application/json", body)
	if code != 201 {
		t.Fatalf("%s: POST execution of %s: HTTP %d %s", v.name, wf, code, b)
	}
	var ex struct{ ID, State string }
	_ = json.Unmarshal(b, &ex)
	for deadline := time.Now().Add(timeout); ; {
		_, b = v.do(t, "GET", "/executions/"+ex.ID, "", nil)
		var got struct {
			State     string `json:"state"`
			StateInfo string `json:"state_info"`
		}
		_ = json.Unmarshal(b, &got)
		if got.State == "SUCCESS" || got.State == "ERROR" || got.State == "CANCELLED" {
			return time.Since(t0), got.State + " " + got.StateInfo
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still %s after %s", v.name, wf, got.State, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// tenTasks is a workflow of ten std.noop tasks in a row.
func tenTasks() []byte {
	var b strings.Builder
	b.WriteString("version: '2.0'\nten_tasks:\n  tasks:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "    t%d:\n      action: std.noop\n", i)
		if i < 9 {
			fmt.Fprintf(&b, "      on-success: [t%d]\n", i+1)
		}
	}
	return []byte(b.String())
}

// groupMemory is the memory of some processes and all their descendants,
// from /proc: the sums of their resident sets now and at their peaks, and
// of their proportional sets (Pss, which shares a page among the processes
// that map it; 0 where smaps_rollup is missing), in MiB.
type groupMemory struct {
	rss, peak, pss float64
	names          []string // the processes' names, mistral-server's by --server
}

func memoryOf(leaders ...int) groupMemory {
	type proc struct{ ppid, pgrp int }
	procs := map[int]proc{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+1:])) // state ppid pgrp ...
		if len(f) < 3 {
			continue
		}
		var p proc
		p.ppid, _ = strconv.Atoi(f[1])
		p.pgrp, _ = strconv.Atoi(f[2])
		procs[pid] = p
	}
	ours := func(pid int) bool {
		if slices.Contains(leaders, procs[pid].pgrp) {
			return true
		}
		for ; pid > 1; pid = procs[pid].ppid {
			if slices.Contains(leaders, pid) {
				return true
			}
		}
		return false
	}
	var g groupMemory
	for pid := range procs {
		if !ours(pid) {
			continue
		}
		g.names = append(g.names, procName(pid))
		g.rss += kib(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:") / 1024
		g.peak += kib(fmt.Sprintf("/proc/%d/status", pid), "VmHWM:") / 1024
		g.pss += kib(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:") / 1024
	}
	slices.Sort(g.names)
	return g
}

// procName is a process's name, or "mistral-server SERVER".
func procName(pid int) string {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(cmdline), "\x00")
	if i := slices.Index(args, "--server"); i >= 0 && i+1 < len(args) {
		return "mistral-server " + args[i+1]
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(comm))
}

// kib is the value of a "Key: N kB" line of a /proc file, 0 if none.
func kib(path, key string) float64 {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			n, _ := strconv.ParseFloat(f[1], 64)
			return n
		}
	}
	return 0
}

// String is "RSS now / sum of peaks, Pss now (processes)".
func (g groupMemory) String() string {
	pss := "Pss n/a"
	if g.pss > 0 {
		pss = fmt.Sprintf("Pss %.0f", g.pss)
	}
	return fmt.Sprintf("%.0f / %.0f, %s MiB (%s)", g.rss, g.peak, pss, strings.Join(g.names, ", "))
}

// TestMistralAPISideBySide measures the same calls on real Mistral 15
// (SQLite, no auth) and on fernetflow serve --auth noauth, for
// BENCHMARKS.md: POST workflow, a 10-task workflow from POST to SUCCESS,
// rotate_fernet_keys on 3 local nodes (Mistral through fernetflow's action
// server and ad-hoc actions, fernetflow natively), GET of a 1,000-execution
// list, and memory. It asserts nothing about time (a measurement, opt-in:
// FERNETFLOW_MISTRAL_SIDE_BY_SIDE=1).
//
// Mistral runs all-in-one with the fake in-process transport, or, with
// FERNETFLOW_MISTRAL_BROKER=rabbitmq, as production runs it: a private
// RabbitMQ and separate API, engine and executor processes (it skips when
// rabbitmq-server is not installed).
func TestMistralAPISideBySide(t *testing.T) {
	if os.Getenv("FERNETFLOW_MISTRAL_SIDE_BY_SIDE") == "" {
		t.Skip("a measurement for BENCHMARKS.md: set FERNETFLOW_MISTRAL_SIDE_BY_SIDE=1 to run it")
	}
	var (
		opts       mistralOptions
		broker     *rabbitMQ
		mistralCol = "Mistral 15 (all-in-one, fake:/)"
	)
	switch b := os.Getenv("FERNETFLOW_MISTRAL_BROKER"); b {
	case "":
	case "rabbitmq":
		broker = startRabbitMQ(t)
		opts.transportURL = broker.URL
		mistralCol = "Mistral 15 (api, engine, executor + RabbitMQ)"
	default:
		t.Fatalf("FERNETFLOW_MISTRAL_BROKER=%q: want rabbitmq, or unset for the in-process fake:/ transport", b)
	}
	root := t.TempDir()
	m := startMistralWith(t, opts)
	// Mistral's rotation: the action server over fleet m, the ad-hoc actions.
	mNodes := fleetDirs(filepath.Join(root, "m"), 3)
	as := startActionServer(t, filepath.Join(root, "m"), mNodes)
	fernetflowOK(t, "mistral", "register", "--mistral-url", m.API, "--action-server", as.URL,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", filepath.Join(root, "m", "secrets"), "--schedule", "0 3 * * 0", "-f", "json")
	// fernetflow's: serve over fleet f, its own actions.
	fNodes := fleetDirs(filepath.Join(root, "f"), 3)
	ff := startActionServerOn(t, filepath.Join(root, "f"), nil, []string{"--target", "local", "--nodes", strings.Join(fNodes, ",")}, fNodes,
		"--auth", "noauth")
	client := &http.Client{Timeout: 60 * time.Second}
	eps := []*v2Endpoint{{"Mistral 15", m.API, client}, {"fernetflow serve", ff.URL + "/v2", client}}
	// fernetflow serve has its shipped workflows as system workflows.
	if code, b := eps[1].do(t, "GET", "/workflows/rotate_fernet_keys", "", nil); code != 200 {
		t.Fatalf("fernetflow: GET rotate_fernet_keys: HTTP %d %s", code, b)
	}

	type row struct{ what, mistral, ff string }
	var rows []row
	measure := func(what string, f func(v *v2Endpoint) string) {
		r := row{what: what}
		r.mistral, r.ff = f(eps[0]), f(eps[1])
		rows = append(rows, r)
		t.Logf("%-50s Mistral %-28s fernetflow %s", what, r.mistral, r.ff)
	}

	measure("POST /v2/workflows (1 task), median of 20", func(v *v2Endpoint) string {
		var ds []time.Duration
		for i := range 20 {
			def := fmt.Sprintf("version: '2.0'\nwf_%d:\n  tasks:\n    t:\n      action: std.noop\n", i)
			t0 := time.Now()
			if code, b := v.do(t, "POST", "/workflows", "text/plain", []byte(def)); code != 201 {
				t.Fatalf("%s: POST workflow: HTTP %d %s", v.name, code, b)
			}
			ds = append(ds, time.Since(t0))
		}
		return median(ds).Round(100 * time.Microsecond).String()
	})
	measure("10-task workflow, POST to SUCCESS, median of 5", func(v *v2Endpoint) string {
		if code, b := v.do(t, "POST", "/workflows", "text/plain", tenTasks()); code != 201 {
			t.Fatalf("%s: POST ten_tasks: HTTP %d %s", v.name, code, b)
		}
		var ds []time.Duration
		for range 5 {
			d, st := v.run(t, "ten_tasks", map[string]any{}, 2*time.Minute)
			if !strings.HasPrefix(st, "SUCCESS") {
				t.Fatalf("%s: ten_tasks: %s", v.name, st)
			}
			ds = append(ds, d)
		}
		return median(ds).Round(time.Millisecond).String()
	})
	measure("rotate_fernet_keys, 3 local nodes: set-up, then rotation", func(v *v2Endpoint) string {
		var out []string
		for i := range 2 {
			d, st := v.run(t, "rotate_fernet_keys", map[string]any{"max_active_keys": 4, "concurrency": 10}, 5*time.Minute)
			if !strings.HasPrefix(st, "SUCCESS") {
				t.Fatalf("%s: rotation %d: %s", v.name, i+1, st)
			}
			out = append(out, d.Round(time.Millisecond).String())
		}
		return strings.Join(out, ", ")
	})
	measure("GET /v2/executions?limit=1000 of 1,000, median of 5", func(v *v2Endpoint) string {
		// 1,000 executions (those above included) of a one-task workflow.
		_, b := v.do(t, "GET", "/executions?limit=1000", "", nil)
		var l struct{ Executions []json.RawMessage }
		_ = json.Unmarshal(b, &l)
		t0 := time.Now()
		for i := len(l.Executions); i < 1000; i++ {
			body, _ := json.Marshal(map[string]any{"workflow_name": fmt.Sprintf("wf_%d", i%20)})
			if code, b := v.do(t, "POST", "/executions", "application/json", body); code != 201 {
				t.Fatalf("%s: POST execution %d: HTTP %d %s", v.name, i, code, b)
			}
		}
		created := time.Since(t0)
		for deadline := time.Now().Add(10 * time.Minute); ; {
			_, b := v.do(t, "GET", "/executions?limit=1000&state=RUNNING&fields=id,state", "", nil)
			var running struct{ Executions []json.RawMessage }
			_ = json.Unmarshal(b, &running)
			if len(running.Executions) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d executions still running after 10 minutes", v.name, len(running.Executions))
			}
			time.Sleep(time.Second)
		}
		var ds []time.Duration
		for range 5 {
			t0 := time.Now()
			code, b := v.do(t, "GET", "/executions?limit=1000", "", nil)
			ds = append(ds, time.Since(t0))
			_ = json.Unmarshal(b, &l)
			if code != 200 || len(l.Executions) != 1000 {
				t.Fatalf("%s: GET executions: HTTP %d, %d listed", v.name, code, len(l.Executions))
			}
		}
		return fmt.Sprintf("%s (1,000 POSTed in %s)", median(ds).Round(time.Millisecond), created.Round(time.Second))
	})
	var mistralPgids []int
	for _, p := range m.procs {
		mistralPgids = append(mistralPgids, p.Process.Pid)
	}
	memRows := len(rows)
	rows = append(rows,
		row{"memory of the server's processes: RSS now / sum of peaks, Pss now", memoryOf(mistralPgids...).String(), memoryOf(ff.cmd.Process.Pid).String()},
		row{"memory of fernetflow's action server (Mistral's rotation)", memoryOf(as.cmd.Process.Pid).String(), "-"})
	if broker != nil {
		rows = append(rows, row{"memory of RabbitMQ", memoryOf(broker.cmd.Process.Pid, broker.epmd.Process.Pid).String(), "-"})
	}
	for _, r := range rows[memRows:] {
		t.Logf("%-50s Mistral %-28s fernetflow %s", r.what, r.mistral, r.ff)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "| call | %s | fernetflow serve |\n|---|---|---|\n", mistralCol)
	for _, r := range rows {
		fmt.Fprintf(&md, "| %s | %s | %s |\n", r.what, r.mistral, r.ff)
	}
	t.Logf("\n%s", md.String())
}
