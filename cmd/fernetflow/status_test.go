package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/ops"
	"github.com/fernetflow/fernetflow/internal/rotation"
)

// statusOf runs fernetflow status on the rig's fleet at the clock now
// (nil: the real one) and returns its JSON, its stdout and exit code.
func (r *fleetRig) statusOf(now func() time.Time, args ...string) (*ops.Status, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	a.now = now
	root := a.root()
	root.SetArgs(append([]string{"status", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", filepath.Join(r.base, "undercloud")}, args...))
	err := root.ExecuteContext(r.t.Context())
	code := exitCode(err)
	if !slices.Contains(args, "json") {
		return nil, out.String(), code
	}
	var s ops.Status
	if jerr := json.Unmarshal(out.Bytes(), &s); jerr != nil {
		r.t.Fatalf("status -f json: %v\n%s\n%s", jerr, out.String(), errb.String())
	}
	return &s, out.String(), code
}

func codes(s *ops.Status) []string {
	var out []string
	for _, w := range s.Warnings {
		out = append(out, w.Code)
	}
	slices.Sort(out)
	return out
}

func nodeStatus(s *ops.Status) map[string]string {
	out := map[string]string{}
	for _, n := range s.Nodes {
		out[n.Name] = string(n.Status)
	}
	return out
}

// secretsOf is every key (as Keystone writes it) in the rig's node
// repositories and the master, now.
func (r *fleetRig) secretsOf() []string {
	var out []string
	dirs := []string{filepath.Join(r.base, "undercloud", "master", "fernet-keys")}
	for _, n := range r.nodes {
		dirs = append(dirs, local.KeyRepository(n))
	}
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err == nil && len(b) > 0 {
				out = append(out, string(b))
			}
		}
	}
	return out
}

var (
	longHex = regexp.MustCompile(`[0-9a-f]{13,}`)
	// floats are numbers as Prometheus prints them (1.7961218053582447e+09).
	floats = regexp.MustCompile(`[0-9]+\.[0-9]+e[+-][0-9]+`)
)

// checkNoSecrets fails when text holds a key, a long fingerprint, an
// envelope or a Fernet token.
func checkStatusNoSecrets(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, k := range secrets {
		if strings.Contains(text, k) {
			t.Fatalf("%s holds key material", what)
		}
	}
	if m := longHex.FindString(floats.ReplaceAllString(text, "")); m != "" {
		t.Fatalf("%s holds a hex string longer than 12 digits: %s", what, m)
	}
	for _, bad := range []string{"AGE ENCRYPTED", "gAAAAA", "sha256:"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%s holds %q", what, bad)
		}
	}
}

// TestStatusLocalFleetStates runs status against a local fleet in every
// state, checking the exit code, the warnings, each node's status, and
// that no output in any format holds a key, a long fingerprint, a token
// or an envelope.
func TestStatusLocalFleetStates(t *testing.T) {
	r := newRig(t, 3)
	var secrets []string
	var outputs []string
	later := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }
	type check struct {
		name   string
		now    func() time.Time
		args   []string
		code   int
		warns  []string
		nodes  map[string]string
		verify func(t *testing.T, s *ops.Status)
	}
	run := func(t *testing.T, c check) {
		t.Helper()
		s, _, code := r.statusOf(c.now, append([]string{"-f", "json"}, c.args...)...)
		slices.Sort(c.warns)
		if code != c.code || !slices.Equal(codes(s), c.warns) {
			t.Fatalf("%s: exit %d with warnings %v, want %d with %v\n%+v", c.name, code, codes(s), c.code, c.warns, s.Warnings)
		}
		if c.nodes != nil && !sameMap(nodeStatus(s), c.nodes) {
			t.Fatalf("%s: nodes %v, want %v", c.name, nodeStatus(s), c.nodes)
		}
		if c.verify != nil {
			c.verify(t, s)
		}
		for _, f := range []string{"table", "json", "yaml"} {
			_, out, _ := r.statusOf(c.now, append([]string{"-f", f}, c.args...)...)
			outputs = append(outputs, out)
		}
		secrets = append(secrets, r.secretsOf()...)
	}
	daily := []string{"--schedule", "daily"}

	// Never rotated: the nodes hold no keys, the master none.
	run(t, check{name: "never rotated", code: exitRefused, warns: []string{ops.WarnNeverRotated},
		nodes: map[string]string{"ctl0": "no-master", "ctl1": "no-master", "ctl2": "no-master"}})

	// Agreeing: one rotation; the key rules come from its input (5 keys,
	// 1h tokens, no allow_expired_window), a daily schedule needs 3.
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %d\n%s", code, errs)
	}
	run(t, check{name: "agreeing", args: daily, code: exitOK, warns: nil,
		nodes: map[string]string{"ctl0": "ok", "ctl1": "ok", "ctl2": "ok"},
		verify: func(t *testing.T, s *ops.Status) {
			if s.Rules.MaxActiveKeys != 5 || s.Rules.Source != "the last rotation's input" || s.Master == nil || s.Master.Generation < 1 {
				t.Fatalf("rules %+v, master %+v", s.Rules, s.Master)
			}
			if s.LastRotation == nil || s.LastRotation.Outcome != "rotated" || s.LastRotation.DurationSeconds <= 0 || s.LastRotation.Source != "run record" {
				t.Fatalf("last rotation %+v", s.LastRotation)
			}
			if s.NextRotation == nil || !s.NextRotation.At.After(time.Now()) || s.NextRotation.Source != "--schedule" {
				t.Fatalf("next rotation %+v", s.NextRotation)
			}
			var roles []string
			for _, k := range s.Master.Keys {
				roles = append(roles, k.Role)
				if len(k.KeyID) != 12 {
					t.Fatalf("key id %q", k.KeyID)
				}
			}
			if !slices.Contains(roles, "primary") || !slices.Contains(roles, "staged") {
				t.Fatalf("roles %v", roles)
			}
		}})
	// The same fleet, judged two days later: overdue; with N=1, the primary
	// is older than one interval too.
	run(t, check{name: "overdue", now: later(50 * time.Hour), args: append(daily, "--primary-max-intervals", "1"), code: exitRefused,
		warns: []string{ops.WarnOverdue, ops.WarnPrimaryTooOld}})
	// A schedule every 10 minutes needs 1h/10m + 2 = 8 keys, not 5.
	run(t, check{name: "max_active_keys", args: []string{"--schedule", "*/10 * * * *"}, code: exitRefused, warns: []string{ops.WarnMaxActiveKeys}})

	// Straggler: a delivery to ctl1 fails; the rotation fails (incomplete).
	r.down.Store("ctl1")
	if _, errs, code := r.run("rotate"); code == 0 {
		t.Fatalf("rotate with ctl1 down succeeded\n%s", errs)
	}
	r.down.Store("")
	run(t, check{name: "straggler", args: daily, code: exitRefused, warns: []string{ops.WarnLastFailed, ops.WarnNodeLagging},
		nodes: map[string]string{"ctl0": "ok", "ctl1": "behind", "ctl2": "ok"}})
	// The next rotation repairs it (it resumes: exit 4).
	if _, errs, code := r.run("rotate"); code != exitResumed {
		t.Fatalf("rotate after repair: %d\n%s", code, errs)
	}
	run(t, check{name: "repaired", args: daily, code: exitOK, warns: nil,
		nodes: map[string]string{"ctl0": "ok", "ctl1": "ok", "ctl2": "ok"}})

	// Drifted: keystone-manage fernet_rotate, as it were, on ctl2.
	if _, err := keys.Rotate(t.Context(), local.KeyRepository(r.nodes[2]), keys.RotateOptions{MaxActiveKeys: 5, TokenExpiration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	run(t, check{name: "drifted", args: daily, code: exitRefused, warns: []string{ops.WarnNodeDisagrees},
		nodes: map[string]string{"ctl0": "ok", "ctl1": "ok", "ctl2": "drifted"},
		verify: func(t *testing.T, s *ops.Status) {
			for _, n := range s.Nodes {
				if n.Name == "ctl2" && !strings.Contains(n.Reason, "changed outside fernetflow") {
					t.Fatalf("ctl2's cause: %q", n.Reason)
				}
			}
		}})
	if _, errs, code := r.run("rotate", "--overwrite-drifted", "ctl2"); code != 0 {
		t.Fatalf("rotate --overwrite-drifted: %d\n%s", code, errs)
	}

	// Guard-blocked: with max_active_keys 2 the next rotation would prune
	// the primary just demoted, whose tokens live an hour.
	run(t, check{name: "guard-blocked", args: append(daily, "--max-active-keys", "2", "--token-expiration", "1h", "--allow-expired-window", "0"), code: exitRefused,
		warns: []string{ops.WarnPruneGuard, ops.WarnMaxActiveKeys}})
	// A rotation with those rules is refused, which status then reports.
	if _, errs, code := r.rotateWith("--max-active-keys", "2"); code != exitRefused {
		t.Fatalf("rotate --max-active-keys 2: %d\n%s", code, errs)
	}
	run(t, check{name: "refused", args: append(daily, "--max-active-keys", "5"), code: exitRefused, warns: []string{ops.WarnLastRefused},
		verify: func(t *testing.T, s *ops.Status) {
			if s.LastRotation.Outcome != "refused" || !slices.Equal(s.LastRotation.Reasons, []string{"prune_guard"}) {
				t.Fatalf("last rotation %+v", s.LastRotation)
			}
		}})

	// Without a schedule, the interval is the median gap of the master's
	// last rotations: seconds apart here, so 5 keys are far too few and the
	// last success is overdue an hour later.
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %d\n%s", code, errs)
	}
	run(t, check{name: "interval from history", now: later(2 * time.Hour), code: exitRefused,
		warns: []string{ops.WarnMaxActiveKeys, ops.WarnOverdue, ops.WarnPrimaryTooOld},
		verify: func(t *testing.T, s *ops.Status) {
			if s.Interval == nil || !strings.HasPrefix(s.Interval.Source, "master's rotation history") || s.NextRotation != nil {
				t.Fatalf("interval %+v, next %+v", s.Interval, s.NextRotation)
			}
		}})

	for i, out := range outputs {
		checkStatusNoSecrets(t, fmt.Sprintf("status output %d", i), out, secrets)
	}
}

// rotateWith runs rotate with the rig's key rules overridden by args
// (r.run appends its own after the caller's).
func (r *fleetRig) rotateWith(args ...string) (string, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	root.SetArgs(append([]string{"rotate", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", filepath.Join(r.base, "undercloud"),
		"--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0"}, args...))
	err := root.ExecuteContext(r.t.Context())
	if err != nil {
		errb.WriteString(errorText(err))
	}
	return out.String(), errb.String(), exitCode(err)
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// blockingTarget holds every delivery until release is closed (a fault
// injection: a slow fleet), so that a test can look at the fleet during a
// rotation.
type blockingTarget struct {
	*local.Target
	started chan struct{}
	release chan struct{}
	once    *sync.Once
}

func (b blockingTarget) Deliver(ctx context.Context, s fleet.Server, d fleet.Delivery) (fleet.Report, error) {
	b.once.Do(func() { close(b.started) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return fleet.Report{}, ctx.Err()
	}
	return b.Target.Deliver(ctx, s, d)
}

// scrape reads a Prometheus text page into series → value.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeMetricsDuringAndAfterRotation scrapes serve --metrics-listen
// while a rotation is held mid-delivery and after it: the values change
// as the fleet does. It also checks /healthz, /readyz, the latency of the
// Mistral API and the action server, and that no metric holds a secret.
func TestServeMetricsDuringAndAfterRotation(t *testing.T) {
	r := newRig(t, 3)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %d\n%s", code, errs)
	}
	metricsAddr, apiAddr := freeAddr(t), freeAddr(t)
	var out, errb lockedBuffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	root.SetArgs([]string{"serve", "--state-dir", filepath.Join(r.base, "undercloud"), "--metrics-listen", metricsAddr,
		"--listen", apiAddr, "--auth", "noauth", "--schedule", "daily",
		"--target", "local", "--nodes", strings.Join(r.nodes, ",")})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, errb.String())
		}
	}()
	base := "http://" + metricsAddr
	client := &http.Client{Timeout: 10 * time.Second}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics server did not come up: %v\n%s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := client.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	// The API keeps its own address; the metrics server has no API.
	if resp, err := client.Get(base + "/v2/workflows"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/v2 on the metrics address: %v %v", resp, err)
	}
	for _, p := range []string{"/v2/workflows", "/v1/actions"} {
		resp, err := client.Get("http://" + apiAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	before, _ := scrape(t, base+"/metrics")
	gen := before["fernetflow_master_generation"]
	for name, want := range map[string]float64{
		`fernetflow_status_up`:                                                   1,
		`fernetflow_node_agrees{node="ctl0"}`:                                    1,
		`fernetflow_node_generation{node="ctl1"}`:                                gen,
		`fernetflow_last_rotation_outcome{outcome="rotated"}`:                    1,
		`fernetflow_deliveries_total{result="installed"}`:                        3,
		`fernetflow_rotation_interval_seconds`:                                   86400,
		`fernetflow_running_executions`:                                          0,
		`fernetflow_runs_total{outcome="rotated",workflow="rotate_fernet_keys"}`: 1,
	} {
		if got, ok := before[name]; !ok || got != want {
			t.Fatalf("before: %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if gen < 1 {
		t.Fatalf("master generation %v", gen)
	}
	// A request is timed once its handler returns, which may be after
	// the client has the response: wait for the observations.
	for _, s := range []string{"mistral-api", "action-server"} {
		series := `fernetflow_http_request_duration_seconds_count{code="200",method="get",server="` + s + `"}`
		for deadline := time.Now().Add(10 * time.Second); before[series] < 1; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no latency recorded for %s", s)
			}
			before, _ = scrape(t, base+"/metrics")
		}
	}

	// A rotation held in its delivery step: the master moved, the nodes not yet.
	bt := blockingTarget{started: make(chan struct{}), release: make(chan struct{}), once: &sync.Once{}}
	rotDone := make(chan int, 1)
	go func() {
		var o, e bytes.Buffer
		ra := newApp(strings.NewReader(""), &o, &e)
		ra.wrapTarget = func(t fleet.Target) fleet.Target { bt.Target = t.(*local.Target); return bt }
		rr := ra.root()
		rr.SetArgs([]string{"rotate", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", filepath.Join(r.base, "undercloud"),
			"--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0"})
		rotDone <- exitCode(rr.ExecuteContext(t.Context()))
	}()
	select {
	case <-bt.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the rotation did not reach its deliveries")
	}
	during, _ := scrape(t, base+"/metrics")
	close(bt.release)
	if during["fernetflow_master_generation"] != gen+1 || during[`fernetflow_node_agrees{node="ctl0"}`] != 0 ||
		during[`fernetflow_node_generation{node="ctl0"}`] != gen || during["fernetflow_running_executions"] != 1 ||
		during[`fernetflow_status_warnings{code="node_lagging"}`] != 1 {
		t.Fatalf("during the rotation: master %v, ctl0 agrees %v at %v, running %v, lagging %v",
			during["fernetflow_master_generation"], during[`fernetflow_node_agrees{node="ctl0"}`], during[`fernetflow_node_generation{node="ctl0"}`],
			during["fernetflow_running_executions"], during[`fernetflow_status_warnings{code="node_lagging"}`])
	}
	if code := <-rotDone; code != 0 {
		t.Fatalf("rotation: exit %d", code)
	}

	after, text := scrape(t, base+"/metrics")
	for name, want := range map[string]float64{
		`fernetflow_master_generation`:                                           gen + 1,
		`fernetflow_node_agrees{node="ctl0"}`:                                    1,
		`fernetflow_node_generation{node="ctl2"}`:                                gen + 1,
		`fernetflow_deliveries_total{result="installed"}`:                        6,
		`fernetflow_runs_total{outcome="rotated",workflow="rotate_fernet_keys"}`: 2,
		`fernetflow_running_executions`:                                          0,
		`fernetflow_status_warnings{code="node_lagging"}`:                        0,
		`fernetflow_last_rotation_outcome{outcome="rotated"}`:                    1,
	} {
		if got := after[name]; got != want {
			t.Fatalf("after: %s = %v, want %v", name, got, want)
		}
	}
	if after["fernetflow_last_rotation_timestamp_seconds"] <= before["fernetflow_last_rotation_timestamp_seconds"] ||
		after["fernetflow_last_successful_rotation_timestamp_seconds"] != after["fernetflow_last_rotation_timestamp_seconds"] ||
		after["fernetflow_last_rotation_duration_seconds"] <= 0 || after["fernetflow_primary_key_age_seconds"] < 0 {
		t.Fatalf("after: times %v", after)
	}
	checkStatusNoSecrets(t, "/metrics", text, r.secretsOf())

	// A rotation through the Mistral API (as Heat's cron trigger runs it)
	// counts as rotate's does: its run, its deliveries.
	body := `{"workflow_name": "rotate_fernet_keys", "input": {"max_active_keys": 5, "token_expiration": 3600, "allow_expired_window": 0}}`
	resp, err := client.Post("http://"+apiAddr+"/v2/executions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct{ ID, State string }
	err = json.NewDecoder(resp.Body).Decode(&ex)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v2/executions: %s %v", resp.Status, err)
	}
	var api map[string]float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		api, _ = scrape(t, base+"/metrics")
		if api[`fernetflow_runs_total{outcome="rotated",workflow="rotate_fernet_keys"}`] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API's rotation %s was not counted: %v\n%s", ex.ID, api, errb.String())
		}
	}
	if api[`fernetflow_master_generation`] != gen+2 || api[`fernetflow_deliveries_total{result="installed"}`] != 9 ||
		api["fernetflow_last_rotation_timestamp_seconds"] < after["fernetflow_last_rotation_timestamp_seconds"] {
		t.Fatalf("after the API's rotation: generation %v (want %v), installed %v (want 9), last rotation %v",
			api[`fernetflow_master_generation`], gen+2, api[`fernetflow_deliveries_total{result="installed"}`], api["fernetflow_last_rotation_timestamp_seconds"])
	}
}

// TestRotateMetricsTextfile: rotate --metrics-textfile writes the metrics
// after each run, in place of the last file (never appended), refusals too.
func TestRotateMetricsTextfile(t *testing.T) {
	r := newRig(t, 2)
	path := filepath.Join(r.base, "textfile", "fernetflow.prom")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := r.run("rotate", "--metrics-textfile", path, "--schedule", "0 3 * * *"); code != 0 {
		t.Fatalf("rotate: %d\n%s", code, errs)
	}
	m, text := readTextfile(t, path)
	if m["fernetflow_master_generation"] < 1 || m[`fernetflow_node_agrees{node="ctl1"}`] != 1 || m[`fernetflow_last_rotation_outcome{outcome="rotated"}`] != 1 ||
		m["fernetflow_max_active_keys"] != 5 || m["fernetflow_rotation_interval_seconds"] != 86400 {
		t.Fatalf("textfile after a rotation:\n%s", text)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("the textfile's mode: %v %v (node-exporter, another user, reads it)", fi, err)
	}
	if strings.Contains(text, "go_goroutines") || strings.Contains(text, "process_") {
		t.Fatal("the textfile holds Go's runtime metrics, which collide with node-exporter's own")
	}
	// A refused rotation (the prune guard) rewrites it.
	if _, errs, code := r.rotateWith("--metrics-textfile", path, "--max-active-keys", "2"); code != exitRefused {
		t.Fatalf("rotate --max-active-keys 2: %d\n%s", code, errs)
	}
	m, text = readTextfile(t, path)
	if m[`fernetflow_last_rotation_outcome{outcome="refused"}`] != 1 || m[`fernetflow_rotations_refused_total{reason="prune_guard"}`] != 1 ||
		m[`fernetflow_status_warnings{code="last_rotation_refused"}`] != 1 {
		t.Fatalf("textfile after a refusal:\n%s", text)
	}
	// A textfile that cannot be written is reported, and changes not the
	// exit code (a timer would retry, and rotate again).
	_, errs, code := r.run("rotate", "--metrics-textfile", filepath.Join(r.base, "no-such-dir", "f.prom"))
	if code != 0 || !strings.Contains(errs, "--metrics-textfile") {
		t.Fatalf("rotate with an unwritable textfile: exit %d\n%s", code, errs)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("the textfile directory holds %d files (a temporary file left?)", len(ents))
	}
	checkStatusNoSecrets(t, "the textfile", text, r.secretsOf())
}

func readTextfile(t *testing.T, path string) (map[string]float64, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out[line[:i]] = v
	}
	return out, string(b)
}

// TestStatusFromLastReport: what status does on Heat without --refresh,
// on a local fleet's store: the nodes come from the newest report round
// the store keeps (the last rotation's verify), with its age, judged
// against the master now; a change on a node since is not seen until the
// next report, which the age says.
func TestStatusFromLastReport(t *testing.T) {
	r := newRig(t, 3)
	for range 2 {
		if _, errs, code := r.run("rotate"); code != 0 {
			t.Fatalf("rotate: %d\n%s", code, errs)
		}
	}
	st, err := (&app{}).openStore(filepath.Join(r.base, "undercloud"))
	if err != nil {
		t.Fatal(err)
	}
	obs, ok, err := ops.LastReport(st)
	if err != nil || !ok || obs.Source != ops.NodesLastReport || len(obs.Servers) != 3 || len(obs.Reports) != 3 {
		t.Fatalf("last report: %+v %v %v", obs, ok, err)
	}
	for _, rep := range obs.Reports {
		if rep.Observation != nil && rep.Observation.Sealed != "" {
			t.Fatalf("%s: sealed keys in the report", rep.Name)
		}
	}
	now := time.Now().Add(3 * time.Hour)
	s, err := ops.Build(t.Context(), ops.Options{Undercloud: &fleet.Undercloud{Dir: filepath.Join(r.base, "undercloud")}, Servers: obs.Servers, Observed: obs, Store: st,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Report == nil || s.Report.AgeSeconds < 3*3600 || s.Report.Execution == "" || s.NodesSource != ops.NodesLastReport {
		t.Fatalf("report %+v from %s", s.Report, s.NodesSource)
	}
	for _, n := range s.Nodes {
		if !n.Agrees || n.AgeSeconds < 3*3600 || n.Generation != s.Master.Generation {
			t.Fatalf("node %+v", n)
		}
	}
	// With no report recorded, status says so and needs attention.
	s, err = ops.Build(t.Context(), ops.Options{Undercloud: &fleet.Undercloud{Dir: filepath.Join(r.base, "undercloud")}, Servers: obs.Servers, Observed: ops.Observed{Source: ops.NodesLastReport}})
	if err != nil || !slices.Contains(codes(s), ops.WarnNoReport) || !slices.Contains(codes(s), ops.WarnNodeDisagrees) {
		t.Fatalf("no report: %v %v", codes(s), err)
	}
}

// BenchmarkStatusLocal50 is fernetflow status's work (ops.Build with every
// node's repository read) on a local fleet of 50 nodes rotated once, with
// a daily schedule, and a store holding that rotation alone or 300 copies
// of it (recorded runs): what one /metrics scrape costs.
func BenchmarkStatusLocal50(b *testing.B) {
	r := &fleetRig{base: b.TempDir()}
	for i := range 50 {
		r.nodes = append(r.nodes, filepath.Join(r.base, fmt.Sprintf("ctl%02d", i)))
	}
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	state := filepath.Join(r.base, "undercloud")
	root.SetArgs([]string{"rotate", "--target", "local", "--nodes", strings.Join(r.nodes, ","), "--state-dir", state,
		"--max-active-keys", "5", "--token-expiration", "1h", "--allow-expired-window", "0"})
	if err := root.ExecuteContext(b.Context()); err != nil {
		b.Fatalf("rotate: %v\n%s", err, errb.String())
	}
	f := &fleetFlags{target: "local", nodes: r.nodes, stateDir: state}
	sf := &statusFlags{schedule: "daily", primaryMax: 2, grace: time.Hour}
	st, err := a.openStore(state)
	if err != nil {
		b.Fatal(err)
	}
	list, err := st.List()
	if err != nil || len(list) != 1 {
		b.Fatalf("%d executions: %v", len(list), err)
	}
	bench := func(b *testing.B) {
		for b.Loop() {
			s, err := a.fleetStatus(b.Context(), f, sf, nil, false)
			if err != nil || len(s.Nodes) != 50 || s.NeedsAttention() {
				b.Fatalf("status: %v %+v", err, s)
			}
		}
	}
	b.Run("executions=1", bench)
	for i := range 299 {
		ex := *list[0]
		ex.ID = fmt.Sprintf("copy-%03d", i)
		ex.CreatedAt = ex.CreatedAt.Add(-time.Duration(i+1) * time.Hour)
		ex.UpdatedAt = ex.UpdatedAt.Add(-time.Duration(i+1) * time.Hour)
		if err := st.Record(b.Context(), &ex); err != nil {
			b.Fatal(err)
		}
		if err := ops.RecordRun(st, rotation.RunRecord{Execution: ex.ID, Workflow: rotation.Rotate, Outcome: rotation.Rotated, Started: ex.CreatedAt, Finished: ex.UpdatedAt, Source: rotation.SourceRun}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("executions=300", bench)
}

// TestServeMetricsWithoutFleet: serve --metrics-listen alone (cron
// triggers only, no --listen, no fleet) reports the master and the store:
// no node series, the master's generation, the cron trigger's next fire
// time; /readyz answers 503 once its store cannot be read.
func TestServeMetricsWithoutFleet(t *testing.T) {
	r := newRig(t, 2)
	if _, errs, code := r.run("rotate"); code != 0 {
		t.Fatalf("rotate: %d\n%s", code, errs)
	}
	state := filepath.Join(r.base, "undercloud")
	if _, errs, code := runCLI(t, "", "cron-trigger", "create", "nightly", "rotate_fernet_keys", "--pattern", "17 3 * * *", "--state-dir", state); code != 0 {
		t.Fatalf("cron-trigger create: %d\n%s", code, errs)
	}
	addr := freeAddr(t)
	var out, errb lockedBuffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	root.SetArgs([]string{"serve", "--state-dir", state, "--metrics-listen", addr})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, errb.String())
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/readyz: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics server: %v\n%s", err, errb.String())
		}
	}
	m, text := scrape(t, "http://"+addr+"/metrics")
	if m["fernetflow_status_up"] != 1 || m["fernetflow_master_generation"] < 1 || strings.Contains(text, "fernetflow_node_") ||
		m[`fernetflow_cron_trigger_next_fire_timestamp_seconds{trigger="nightly",workflow="rotate_fernet_keys"}`] < float64(time.Now().Unix()) ||
		m["fernetflow_next_rotation_timestamp_seconds"] != m[`fernetflow_cron_trigger_next_fire_timestamp_seconds{trigger="nightly",workflow="rotate_fernet_keys"}`] ||
		m["fernetflow_rotation_interval_seconds"] != 86400 || m["go_goroutines"] < 1 {
		t.Fatalf("/metrics:\n%s", text)
	}
	// The store made unreadable: not ready.
	db := filepath.Join(state, "executions.db")
	if err := os.Rename(db, db+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "not ready") {
		t.Fatalf("/readyz with no store: %s %s", resp.Status, b)
	}
	if m, _ := scrape(t, "http://"+addr+"/metrics"); m["fernetflow_status_up"] != 0 {
		t.Fatalf("status_up %v with no store", m["fernetflow_status_up"])
	}
	os.Remove(db)
	os.Rename(db+".moved", db)
}
