package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// signals records what nodes PUT to their signal URLs.
type signals struct {
	mu     sync.Mutex
	got    map[string][]map[string]any // by path
	status int
}

func newSignals(t *testing.T) (*signals, *httptest.Server) {
	s := &signals{got: map[string][]map[string]any{}, status: 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("signal body %q: %v", b, err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		key := r.Method + " " + r.URL.Path
		if tok := r.Header.Get("X-Auth-Token"); tok != "" {
			key += " token=" + tok
		}
		if s.status == 200 {
			s.got[key] = append(s.got[key], m)
		}
		w.WriteHeader(s.status)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *signals) take() map[string][]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.got
	s.got = map[string][]map[string]any{}
	return g
}

func derived(id, config, server string, extra map[string]any) HeatConfig {
	c := HeatConfig{ID: id, Name: "fernetflow-" + config, Group: HeatGroup, Config: config}
	for k, v := range extra {
		c.Inputs = append(c.Inputs, HeatInput{Name: k, Type: "String", Value: v})
	}
	c.Inputs = append(c.Inputs, HeatInput{Name: "deploy_server_id", Value: server}, HeatInput{Name: "deploy_action", Value: "UPDATE"})
	return c
}

func withSignal(c HeatConfig, transport, url string) HeatConfig {
	c.Inputs = append(c.Inputs, HeatInput{Name: "deploy_signal_transport", Value: transport})
	if url != "" {
		c.Inputs = append(c.Inputs, HeatInput{Name: "deploy_signal_id", Value: url}, HeatInput{Name: "deploy_signal_verb", Value: "PUT"})
	}
	return c
}

func writeMetadata(t *testing.T, dir string, cs ...HeatConfig) string {
	t.Helper()
	var deps []any
	for _, c := range cs {
		deps = append(deps, c)
	}
	deps = append(deps, map[string]any{"id": "script-1", "group": "script", "config": "#!/bin/sh\nexit 1\n", "inputs": []any{}})
	b, _ := json.Marshal(map[string]any{"deployments": deps, "os-collect-config": map[string]any{"collectors": []string{"heat"}}})
	p := filepath.Join(dir, "heat.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCollectAppliesAndSignals(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	// A copy of the node before anything is applied, for the hook.
	twin := t.TempDir()
	copyTree(t, filepath.Dir(f.stateDir), twin)

	enroll := withSignal(derived("cfg-enroll", "enroll", f.server, nil), "TEMP_URL_SIGNAL", srv.URL+"/signal/e/secret")
	install := withSignal(derived("cfg-install", "install", f.server, map[string]any{"envelope": string(f.seal())}), "TEMP_URL_SIGNAL", srv.URL+"/signal/i/secret")
	quiet := withSignal(derived("cfg-quiet", "enroll", f.server, nil), "NO_SIGNAL", "")
	md := writeMetadata(t, t.TempDir(), enroll, install, quiet)
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{md}}
	opts.Install.ServerID = ""

	rep, err := Collect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 3 || rep.Skipped != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := sig.take()
	e, i := got["PUT /signal/e/secret"], got["PUT /signal/i/secret"]
	if len(got) != 2 || len(e) != 1 || len(i) != 1 {
		t.Fatalf("signals: %v", got)
	}
	if e[0]["deploy_status_code"] != 0.0 || e[0]["server_id"] != f.server || !strings.HasPrefix(e[0]["recipient"].(string), "age1") {
		t.Fatalf("enroll signal %v", e[0])
	}
	if i[0]["deploy_status_code"] != 0.0 || i[0]["generation"] != float64(f.gen) || i[0]["changed"] != true ||
		!strings.HasPrefix(i[0]["fingerprint"].(string), "sha256:") || i[0]["deploy_stderr"] != "" {
		t.Fatalf("install signal %v", i[0])
	}
	var stdout InstallResult
	if err := json.Unmarshal([]byte(i[0]["deploy_stdout"].(string)), &stdout); err != nil || stdout.Generation != f.gen {
		t.Fatalf("deploy_stdout %q: %v", i[0]["deploy_stdout"], err)
	}
	if f.nodeSet().Fingerprint() != f.masterSet().Fingerprint() {
		t.Fatal("keys not installed")
	}
	if rep.Applied[2].Signalled || rep.Applied[0].Transport != "TEMP_URL_SIGNAL" {
		t.Fatalf("report %+v", rep.Applied)
	}

	// Nothing new: nothing applied or signalled again.
	rep, err = Collect(context.Background(), opts)
	if err != nil || len(rep.Applied) != 0 || rep.Skipped != 4 || len(sig.take()) != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}

	// The hook gives the same outputs for the same deployment on the twin.
	hopts := f.options()
	hopts.ServerID = ""
	hopts.StateDir = filepath.Join(twin, filepath.Base(f.stateDir))
	hopts.KeyRepository = filepath.Join(twin, filepath.Base(f.repo))
	b, _ := json.Marshal(install)
	out, err := Hook(context.Background(), strings.NewReader(string(b)), TransportOptions{Install: hopts})
	if err != nil {
		t.Fatal(err)
	}
	// Probe tokens differ (a fresh IV and time each): compare the rest.
	tokens := regexp.MustCompile(`gAAAAA[A-Za-z0-9_-]+`)
	ob, _ := json.Marshal(out)
	ib, _ := json.Marshal(i[0])
	ob, ib = tokens.ReplaceAll(ob, []byte("TOKEN")), tokens.ReplaceAll(ib, []byte("TOKEN"))
	if string(ob) != string(ib) {
		t.Fatalf("hook and collect differ:\n hook    %s\n collect %s", ob, ib)
	}
}

func TestCollectSignalRetried(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	install := withSignal(derived("cfg-install", "install", f.server, map[string]any{"envelope": string(f.seal())}), "TEMP_URL_SIGNAL", srv.URL+"/s")
	md := writeMetadata(t, t.TempDir(), install)
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{md}}
	sig.status = 502
	_, err := Collect(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || strings.Contains(err.Error(), "/s") {
		t.Fatalf("err = %v", err)
	}
	sig.status = 200
	rep, err := Collect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := sig.take()["PUT /s"]
	// Sent again from the record: the install ran once, so changed stays true.
	if len(got) != 1 || got[0]["changed"] != true || !rep.Applied[0].Signalled {
		t.Fatalf("retried signal %v", got)
	}
}

func TestCollectRefusals(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	other := withSignal(derived("cfg-other", "install", "controller-9", map[string]any{"envelope": string(f.seal())}), "TEMP_URL_SIGNAL", srv.URL+"/a")
	unknown := withSignal(derived("cfg-unknown", "rm -rf /", f.server, nil), "TEMP_URL_SIGNAL", srv.URL+"/b")
	noenv := withSignal(derived("cfg-noenv", "install", f.server, nil), "TEMP_URL_SIGNAL", srv.URL+"/c")
	md := writeMetadata(t, t.TempDir(), other, unknown, noenv)
	_, err := Collect(context.Background(), CollectOptions{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{md}})
	if err != nil {
		t.Fatal(err)
	}
	got := sig.take()
	for path, want := range map[string]string{
		"PUT /a": "is for server controller-9, this node is controller-0",
		"PUT /b": `unknown fernetflow config "rm -rf /"`,
		"PUT /c": "has no envelope input",
	} {
		if len(got[path]) != 1 || got[path][0]["deploy_status_code"] != 1.0 || !strings.Contains(got[path][0]["deploy_stderr"].(string), want) {
			t.Errorf("%s: %v, want an error containing %q", path, got[path], want)
		}
	}
	for _, tc := range []CollectOptions{
		{TransportOptions: TransportOptions{Install: f.options()}},
		{ConfigFiles: []string{md}},
		{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{filepath.Join(t.TempDir(), "missing.json")}},
	} {
		if _, err := Collect(context.Background(), tc); err == nil {
			t.Errorf("%+v: no error", tc)
		}
	}
	if _, err := Hook(context.Background(), strings.NewReader("not json"), TransportOptions{}); err == nil {
		t.Error("hook on garbage: no error")
	}
}

func TestCollectHeatSignal(t *testing.T) {
	f := newFleet(t)
	sig, heat := newSignals(t)
	keystone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		user := body["auth"].(map[string]any)["identity"].(map[string]any)["password"].(map[string]any)["user"].(map[string]any)
		if r.URL.Path != "/v3/auth/tokens" || user["id"] != "deploy-user" || user["password"] != "pw" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("X-Subject-Token", "tok")
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"token":{"catalog":[{"type":"orchestration","endpoints":[{"interface":"public","region_id":"RegionOne","url":"%s/v1/proj"}]}]}}`, heat.URL)
	}))
	defer keystone.Close()
	c := derived("cfg-h", "enroll", f.server, map[string]any{
		"deploy_signal_transport": "HEAT_SIGNAL", "deploy_auth_url": keystone.URL + "/v3/", "deploy_user_id": "deploy-user",
		"deploy_password": "pw", "deploy_project_id": "proj", "deploy_stack_id": "fernet/sid", "deploy_resource_name": "deploy",
		"deploy_region_name": "RegionOne",
	})
	md := writeMetadata(t, t.TempDir(), c)
	if _, err := Collect(context.Background(), CollectOptions{TransportOptions: TransportOptions{Install: f.options()}, ConfigFiles: []string{md}}); err != nil {
		t.Fatal(err)
	}
	got := sig.take()["POST /v1/proj/stacks/fernet/sid/resources/deploy/signal token=tok"]
	if len(got) != 1 || got[0]["server_id"] != f.server {
		t.Fatalf("HEAT_SIGNAL: %v", got)
	}
}

// FuzzHook: no deployment JSON, however malformed, panics the hook or
// yields outputs without heat-config's three keys.
func FuzzHook(f *testing.F) {
	f.Add(`{"id":"c","group":"fernetflow","config":"enroll","inputs":[{"name":"deploy_server_id","value":"s"}]}`)
	f.Add(`{"id":"c","group":"fernetflow","config":"install","inputs":[{"name":"envelope","value":"-----BEGIN AGE ENCRYPTED FILE-----"}]}`)
	f.Add(`{"group":"script","inputs":[{"name":"deploy_server_id","value":{"x":[1,2]}}]}`)
	f.Add(`{"config":7,"inputs":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		dir := t.TempDir()
		o := TransportOptions{Install: InstallOptions{StateDir: filepath.Join(dir, "state"), KeyRepository: filepath.Join(dir, "keys")}}
		out, err := Hook(context.Background(), strings.NewReader(in), o)
		if err != nil {
			return
		}
		for _, k := range []string{"deploy_stdout", "deploy_stderr", "deploy_status_code"} {
			if _, ok := out[k]; !ok {
				t.Fatalf("outputs without %s: %v", k, out)
			}
		}
	})
}

// TestCollectSignalGone: a deployment of an undercloud run that has ended
// (fernetflow's receiver answers 404, or nothing listens any more) is
// applied, its signal given up and recorded, logged once at INFO, and
// Collect does not fail, so os-collect-config does not retry it. A
// refused connection gets one more run first (a restarting receiver).
func TestCollectSignalGone(t *testing.T) {
	f := newFleet(t)
	rcv, err := deploy.NewReceiver(nil, deploy.ReceiverOptions{}) // the real receiver; it knows no signal
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	closed, err := deploy.NewReceiver(nil, deploy.ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closedURL := closed.BaseURL()
	closed.Close()
	enroll := withSignal(derived("cfg-enroll", "enroll", f.server, nil), "TEMP_URL_SIGNAL", rcv.BaseURL()+"/signal/earlier/s3cr3t")
	install := withSignal(derived("cfg-install", "install", f.server, map[string]any{"envelope": string(f.seal())}), "TEMP_URL_SIGNAL", closedURL+"/signal/gone/s3cr3t")
	md := writeMetadata(t, t.TempDir(), enroll, install)
	var logs strings.Builder
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ConfigFiles: []string{md}}

	// Run 1: the 404 is given up at once; the refusal is retried.
	rep, err := Collect(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "deployment cfg-install") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("run 1: err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("secret in error: %v", err)
	}
	if len(rep.Applied) != 2 || !strings.Contains(rep.Applied[0].Undelivered, "HTTP 404") || rep.Applied[0].Signalled || rep.Applied[1].Undelivered != "" {
		t.Fatalf("run 1: %+v", rep.Applied)
	}
	if f.nodeSet().Fingerprint() != f.masterSet().Fingerprint() {
		t.Fatal("keys not installed")
	}
	// Run 2: refused again: given up, no error.
	rep, err = Collect(context.Background(), opts)
	if err != nil {
		t.Fatalf("run 2: %v", err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].ID != "cfg-install" || !strings.Contains(rep.Applied[0].Undelivered, "connection refused") {
		t.Fatalf("run 2: %+v", rep)
	}
	// Run 3: nothing left to do.
	rep, err = Collect(context.Background(), opts)
	if err != nil || len(rep.Applied) != 0 || rep.Skipped != 3 {
		t.Fatalf("run 3: %+v %v", rep, err)
	}
	got := logs.String()
	if n := strings.Count(got, `level=INFO msg="signal not delivered: the undercloud run that pushed this deployment has ended`); n != 2 {
		t.Fatalf("want one INFO line per deployment, got %d:\n%s", n, got)
	}
	if strings.Contains(got, "s3cr3t") {
		t.Fatalf("secret logged:\n%s", got)
	}
}

// An install deployment carries allow_fewer only for a node the operator
// chose to overwrite: without it, a set with fewer keys than the
// repository holds (a drifted node's extra keys) is refused; with it, it
// is installed. A report deployment observes the repository.
func TestApplyAllowFewerAndReport(t *testing.T) {
	f := newFleet(t)
	// The node holds 4 keys of its own (a stray keystone-manage run).
	if _, err := keys.Setup(context.Background(), f.repo, keys.RotateOptions{MaxActiveKeys: 4}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		keys.Rotate(context.Background(), f.repo, keys.RotateOptions{MaxActiveKeys: 4, Force: true})
	}
	env := string(f.seal()) // the master's 2 keys
	o := TransportOptions{Install: f.options()}
	o.Install.ServerID = ""
	out := ApplyHeatConfig(context.Background(), derived("d1", "install", f.server, map[string]any{"envelope": env}), o)
	if out["deploy_status_code"] != 1 || !strings.Contains(out["deploy_stderr"].(string), "fewer") {
		t.Fatalf("without allow_fewer: %v", out)
	}
	c := derived("d2", "install", f.server, map[string]any{"envelope": env})
	c.Inputs = append(c.Inputs, HeatInput{Name: "allow_fewer", Type: "Boolean", Value: true})
	out = ApplyHeatConfig(context.Background(), c, o)
	if out["deploy_status_code"] != 0 {
		t.Fatalf("with allow_fewer: %v", out)
	}
	out = ApplyHeatConfig(context.Background(), derived("d3", "report", f.server, nil), o)
	obs, ok := out["observation"].(map[string]any)
	if out["deploy_status_code"] != 0 || !ok || obs["repository"].(map[string]any)["fingerprint"] != f.masterSet().Fingerprint().String() {
		t.Fatalf("report: %v", out)
	}
}

// Keystone's token response to HEAT_SIGNAL's authentication is bounded: a
// response of many MiB (a hostile or broken endpoint) is refused, not read.
func TestHeatSignalTokenResponseBounded(t *testing.T) {
	keystone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "tok")
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"token":{"pad":"%s","catalog":[{"type":"orchestration","endpoints":[{"interface":"public","url":"http://127.0.0.1:1/v1/p"}]}]}}`, strings.Repeat("x", 5<<20))
	}))
	defer keystone.Close()
	c := HeatConfig{ID: "cfg-big", Group: HeatGroup, Inputs: []HeatInput{
		{Name: "deploy_signal_transport", Value: "HEAT_SIGNAL"}, {Name: "deploy_auth_url", Value: keystone.URL + "/v3"}}}
	_, err := SignalHeat(context.Background(), c, map[string]any{"deploy_status_code": 0}, TransportOptions{})
	if err == nil || !strings.Contains(err.Error(), "token response") || !strings.Contains(err.Error(), "over") {
		t.Fatalf("err = %v, want the token response refused as too large", err)
	}
}

// TestCollectOddMetadata: deployments of other groups whose inputs are not
// a list of objects are skipped, not fatal; a fernetflow deployment with
// an over-long id, a NUL in its id, a malformed input or no signal
// transport is refused alone (signalled as failed where it can be), once;
// the good ones around them are applied, and later collects succeed.
func TestCollectOddMetadata(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	signal := func(path string) []any {
		return []any{map[string]any{"name": "deploy_signal_transport", "value": "TEMP_URL_SIGNAL"},
			map[string]any{"name": "deploy_signal_id", "value": srv.URL + path}, map[string]any{"name": "deploy_signal_verb", "value": "PUT"},
			map[string]any{"name": "deploy_server_id", "value": f.server}}
	}
	enroll := func(id string, inputs any) map[string]any {
		return map[string]any{"id": id, "group": "fernetflow", "config": "enroll", "inputs": inputs}
	}
	deps := []any{
		map[string]any{"id": "script-1", "group": "script", "config": "x", "inputs": "not a list"},
		map[string]any{"id": "script-2", "group": "script", "config": "x", "inputs": []any{1, "two"}},
		map[string]any{"id": 3, "group": []any{"odd"}},
		"not an object",
		enroll("cfg-good", signal("/good")),
		enroll(strings.Repeat("x", 300), signal("/long")),
		enroll("cfg\x00nul", signal("/nul")),
		enroll("cfg-badinput", append(signal("/badinput"), "x", map[string]any{"value": 1})),
		enroll("cfg-nosignal", []any{map[string]any{"name": "deploy_server_id", "value": f.server}}),
	}
	write := func(deps []any) string {
		b, err := json.Marshal(map[string]any{"deployments": deps})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "heat.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var logs strings.Builder
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ConfigFiles: []string{write(deps)}}
	rep, err := Collect(context.Background(), opts)
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, logs.String())
	}
	got := sig.take()
	if g := got["PUT /good"]; len(g) != 1 || g[0]["deploy_status_code"] != 0.0 {
		t.Errorf("good deployment: %v", g)
	}
	for path, want := range map[string]string{"/long": "is not a deployment id", "/nul": `cfg\x00nul is not a deployment id`, "/badinput": "input 4 is not an object with a name"} {
		g := got["PUT "+path]
		if len(g) != 1 || g[0]["deploy_status_code"] != 1.0 || !strings.Contains(g[0]["deploy_stderr"].(string), want) {
			t.Errorf("%s: %v, want a failure containing %q", path, g, want)
		}
	}
	var nosignal *CollectedDeployment
	for i := range rep.Applied {
		if rep.Applied[i].ID == "cfg-nosignal" {
			nosignal = &rep.Applied[i]
		}
	}
	if nosignal == nil || nosignal.StatusCode != 1 || !strings.Contains(nosignal.Undelivered, "cannot be signalled") {
		t.Errorf("deployment without a signal transport: %+v", nosignal)
	}
	if _, err := os.Stat(filepath.Join(f.stateDir, "identity")); err != nil {
		t.Errorf("the good enroll did not run: %v", err)
	}
	// Nothing is applied or signalled twice, and nothing fails.
	if rep, err := Collect(context.Background(), opts); err != nil || len(rep.Applied) != 0 {
		t.Fatalf("second collect: %+v %v", rep, err)
	}
	if got := sig.take(); len(got) != 0 {
		t.Fatalf("signalled again: %v", got)
	}
	// A new deployment after them is applied.
	opts.ConfigFiles = []string{write(append(deps, enroll("cfg-later", signal("/later"))))}
	if _, err := Collect(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if g := sig.take()["PUT /later"]; len(g) != 1 || g[0]["deploy_status_code"] != 0.0 {
		t.Fatalf("later deployment: %v", g)
	}
	if strings.Contains(logs.String(), "\x00") {
		t.Error("a NUL reached the log")
	}
}

// A receiver that took another signal for the deployment first (409) is
// not asked again, and the collect does not fail; the node says so at WARN.
func TestCollectSignalTaken(t *testing.T) {
	f := newFleet(t)
	sig, srv := newSignals(t)
	sig.status = http.StatusConflict
	c := withSignal(derived("cfg-taken", "enroll", f.server, nil), "TEMP_URL_SIGNAL", srv.URL+"/taken")
	var logs strings.Builder
	opts := CollectOptions{TransportOptions: TransportOptions{Install: f.options(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ConfigFiles: []string{writeMetadata(t, t.TempDir(), c)}}
	rep, err := Collect(context.Background(), opts)
	if err != nil || len(rep.Applied) != 1 || !strings.Contains(rep.Applied[0].Undelivered, "accepted another signal") {
		t.Fatalf("%+v %v", rep, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning:\n%s", logs.String())
	}
	if rep, err := Collect(context.Background(), opts); err != nil || len(rep.Applied) != 0 {
		t.Fatalf("second collect: %+v %v", rep, err)
	}
}

// FuzzReadMetadata: no metadata document panics the reader, and every
// fernetflow deployment it returns has a record file name that stays in
// STATE_DIR/heat, whatever its id.
func FuzzReadMetadata(f *testing.F) {
	f.Add(`{"deployments":[{"id":"c","group":"fernetflow","config":"enroll","inputs":[{"name":"deploy_server_id","value":"s"}]}]}`)
	f.Add(`{"deployments":[{"id":"../x","group":"fernetflow","inputs":"no"},{"group":"script","inputs":[1]}]}`)
	f.Add(`{"deployments":[{"id":7,"group":"fernetflow","inputs":[null,{"name":""}]}]}`)
	f.Add(`{"deployments":{}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p := filepath.Join(t.TempDir(), "md.json")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		ds, _, err := readMetadata(p)
		if err != nil {
			return
		}
		for _, d := range ds {
			name := recordName(d.ID)
			if name != filepath.Base(name) || strings.ContainsRune(name, 0) || len(name) > 200 || name == ".json" {
				t.Fatalf("id %q: record file %q", d.ID, name)
			}
		}
	})
}
