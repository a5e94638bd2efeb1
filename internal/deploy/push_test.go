package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
)

func inputValue(cfg map[string]any, name string) any {
	for _, in := range cfg["inputs"].([]any) {
		m := in.(map[string]any)
		if m["name"] == name {
			return m["value"]
		}
	}
	return nil
}

// node plays a node: it reads its metadata from the fake Heat and PUTs
// outputs to each fernetflow deployment's signal URL.
func node(t *testing.T, h *deploytest.Heat, serverID string, code int) {
	t.Helper()
	for _, cfg := range h.Metadata(serverID) {
		if cfg["group"] != Group {
			continue
		}
		url, _ := inputValue(cfg, "deploy_signal_id").(string)
		verb, _ := inputValue(cfg, "deploy_signal_verb").(string)
		body, _ := json.Marshal(map[string]any{
			"deploy_stdout": "applied " + fmt.Sprint(inputValue(cfg, "generation")), "deploy_stderr": "",
			"deploy_status_code": code, "server_id": inputValue(cfg, "deploy_server_id"),
		})
		req, _ := http.NewRequest(verb, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("signal %s: %v", serverID, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("signal %s: HTTP %d", serverID, resp.StatusCode)
		}
	}
}

func setup(t *testing.T, n int) (*deploytest.Heat, *Receiver, []Target) {
	fs := th.SetupHTTP()
	t.Cleanup(fs.Teardown)
	h := deploytest.New(fs)
	c := client.ServiceClient(fs)
	rcv, err := NewReceiver(c, ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Close() })
	var targets []Target
	for i := range n {
		s := Server{Name: fmt.Sprintf("ctrl-%d", i), ID: fmt.Sprintf("srv-%d", i)}
		h.AddServer(s.Name, s.ID)
		targets = append(targets, Target{Server: s, InputValues: map[string]any{"generation": 7}})
	}
	return h, rcv, targets
}

var installConfig = softwareconfigs.CreateOpts{
	Name: "fernetflow-install", Config: "install",
	Inputs: []softwareconfigs.Input{{Name: "generation", Type: "Number"}},
}

func TestPushSignalWait(t *testing.T) {
	h, rcv, targets := setup(t, 3)
	c := rcv.client
	ctx := context.Background()
	deps, err := Push(ctx, c, targets, PushOptions{Config: installConfig, Receiver: rcv, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 3 {
		t.Fatalf("%d deployments", len(deps))
	}
	md := h.Metadata("srv-1")
	if len(md) != 1 || md[0]["group"] != "fernetflow" || inputValue(md[0], "deploy_server_id") != "srv-1" ||
		inputValue(md[0], "deploy_signal_transport") != "TEMP_URL_SIGNAL" || inputValue(md[0], "deploy_signal_verb") != "PUT" {
		t.Fatalf("metadata of srv-1: %v", md)
	}
	if !strings.HasPrefix(inputValue(md[0], "deploy_signal_id").(string), "http://127.0.0.1:") {
		t.Fatalf("signal URL %v", inputValue(md[0], "deploy_signal_id"))
	}
	node(t, h, "srv-0", 0)
	node(t, h, "srv-2", 0)
	node(t, h, "srv-1", 3)
	res, err := Wait(ctx, c, deps, WaitOptions{Timeout: 5 * time.Second, Receiver: rcv, MinInterval: 10 * time.Millisecond})
	var we *WaitError
	if !errors.As(err, &we) || len(we.Failed) != 1 || we.Failed[0].Server != "ctrl-1" || len(we.TimedOut) != 0 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "ctrl-1") || !strings.Contains(err.Error(), "non-zero status code: 3") {
		t.Fatalf("error does not name the failed server: %v", err)
	}
	for i, r := range res {
		want := "COMPLETE"
		if i == 1 {
			want = "FAILED"
		}
		if r.Status != want || r.Outputs["deploy_stdout"] != "applied 7" || r.Outputs["server_id"] != targets[i].Server.ID {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if out, st, ok := rcv.Outputs(deps[0].SignalID); !ok || st != "COMPLETE" || out["deploy_stdout"] != "applied 7" {
		t.Errorf("receiver outputs: %v %v %v", out, st, ok)
	}
}

func TestWaitTimeoutNamesServer(t *testing.T) {
	h, rcv, targets := setup(t, 3)
	ctx := context.Background()
	deps, err := Push(ctx, rcv.client, targets, PushOptions{Config: installConfig, Receiver: rcv})
	if err != nil {
		t.Fatal(err)
	}
	node(t, h, "srv-0", 0)
	node(t, h, "srv-1", 0)
	start := time.Now()
	_, err = Wait(ctx, rcv.client, deps, WaitOptions{Timeout: 300 * time.Millisecond, MinInterval: 10 * time.Millisecond, MaxInterval: 40 * time.Millisecond})
	var we *WaitError
	if !errors.As(err, &we) || len(we.TimedOut) != 1 || we.TimedOut[0].Server != "ctrl-2" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "timed out after 300ms waiting for 1 server(s): ctrl-2") {
		t.Fatalf("message: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("wait took %v with a 300ms timeout", d)
	}
}

func TestWaitCancel(t *testing.T) {
	_, rcv, targets := setup(t, 2)
	deps, err := Push(context.Background(), rcv.client, targets, PushOptions{Config: installConfig, Receiver: rcv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = Wait(ctx, rcv.client, deps, WaitOptions{Timeout: time.Minute, MinInterval: 10 * time.Millisecond})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "ctrl-0") {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitBoundedConcurrencyAndBackoff(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	h := deploytest.New(fs)
	var inflight, peak atomic.Int32
	h.Fail = func(r *http.Request) int {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		return 0
	}
	c := client.ServiceClient(fs)
	var targets []Target
	for i := range 10 {
		targets = append(targets, Target{Server: Server{Name: fmt.Sprint("s", i), ID: fmt.Sprint("id", i)}})
	}
	deps, err := Push(context.Background(), c, targets, PushOptions{Config: installConfig, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("push: %d requests in flight, want at most 3", p)
	}
	peak.Store(0)
	before := h.Count("GET software_deployments")
	_, err = Wait(context.Background(), c, deps, WaitOptions{Timeout: 400 * time.Millisecond, Concurrency: 2, MinInterval: 20 * time.Millisecond, MaxInterval: time.Second})
	if err == nil {
		t.Fatal("NO_SIGNAL deployments completed by themselves")
	}
	if p := peak.Load(); p > 2 {
		t.Fatalf("wait: %d requests in flight, want at most 2", p)
	}
	// Backoff 20, 40, 80, 160ms: about 5 polls per deployment in 400ms, not 20.
	if n := h.Count("GET software_deployments") - before; n > 10*6 {
		t.Fatalf("%d polls for 10 deployments in 400ms: no backoff", n)
	}
}

func TestPushErrorsNameServer(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	h := deploytest.New(fs)
	h.Fail = func(r *http.Request) int {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "software_deployments") {
			return 403
		}
		return 0
	}
	c := client.ServiceClient(fs)
	rcv, err := NewReceiver(c, ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	deps, err := Push(context.Background(), c, []Target{{Server: Server{Name: "ctrl-0", ID: "srv-0"}}}, PushOptions{Config: installConfig, Receiver: rcv})
	if len(deps) != 0 || err == nil || !strings.Contains(err.Error(), "server ctrl-0 (srv-0): create deployment") {
		t.Fatalf("deps %v err %v", deps, err)
	}
	if cfgs, _ := h.Counts(); cfgs != 0 {
		t.Fatalf("%d derived configs left behind", cfgs)
	}
}

func TestReceiverRefusals(t *testing.T) {
	h, rcv, targets := setup(t, 1)
	var logs syncBuffer
	rcv.log = slog.New(slog.NewTextHandler(&logs, nil))
	deps, err := Push(context.Background(), rcv.client, targets, PushOptions{Config: installConfig, Receiver: rcv})
	if err != nil {
		t.Fatal(err)
	}
	url := inputValue(h.Metadata("srv-0")[0], "deploy_signal_id").(string)
	do := func(method, u, body string) int {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	bad := url[:len(url)-4] + "0000"
	for _, tc := range []struct {
		name, method, url, body string
		want                    int
	}{
		{"wrong secret", "PUT", bad, `{}`, 404},
		{"unknown id", "PUT", "http://" + rcv.Addr() + "/signal/nope/x", `{}`, 404},
		{"GET: waiting", "GET", url, ``, 200},
		{"GET: wrong secret", "GET", bad, ``, 404},
		{"DELETE", "DELETE", url, ``, 405},
		{"not JSON", "PUT", url, `deploy_status_code=0`, 400},
		{"JSON array", "PUT", url, `[1]`, 400},
		{"too big", "PUT", url, `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, 400},
	} {
		if got := do(tc.method, tc.url, tc.body); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
	if d := h.Deployment(deps[0].DeploymentID); d["status"] != "IN_PROGRESS" {
		t.Fatalf("a refused signal changed the deployment: %v", d["status"])
	}
	// An unknown id is a leftover of an earlier run: INFO, saying so; a
	// wrong secret for a known id is WARN. Neither logs a secret.
	got := logs.String()
	if !strings.Contains(got, `level=INFO msg="signal for a deployment of an earlier run: nothing waits for it and nothing needs doing`) || !strings.Contains(got, "signal=nope") {
		t.Errorf("unknown signal log:\n%s", got)
	}
	if !strings.Contains(got, `level=WARN msg="signal refused: wrong secret for a deployment this run waits for`) || !strings.Contains(got, "server=ctrl-0") {
		t.Errorf("wrong secret log:\n%s", got)
	}
	if secret := url[strings.LastIndex(url, "/")+1:]; strings.Contains(got, secret) || strings.Contains(got, "0000 ") {
		t.Errorf("a secret was logged:\n%s", got)
	}
	if !rcv.Knows(url) || rcv.Knows(bad) || rcv.Knows("http://elsewhere/signal/x/y") {
		t.Error("Knows")
	}
	// Heat refusing the update: 502 so that the node signals again.
	h.Fail = func(r *http.Request) int {
		if r.Method == "PUT" {
			return 503
		}
		return 0
	}
	if got := do("PUT", url, `{"deploy_status_code":0}`); got != 502 {
		t.Fatalf("signal while Heat fails: HTTP %d, want 502", got)
	}
	h.Fail = nil
	// POST is accepted too (heat-config-notify's default verb).
	if got := do("POST", url, `{"deploy_status_code":0,"deploy_stdout":"ok"}`); got != 200 {
		t.Fatalf("POST signal: HTTP %d", got)
	}
	if d := h.Deployment(deps[0].DeploymentID); d["status"] != "COMPLETE" || d["status_reason"] != "Outputs received" {
		t.Fatalf("deployment after signal: %v", d)
	}
	// One signal per deployment action: a second one is refused (409),
	// logged, and the first one's outputs stand.
	if got := do("PUT", url, `{"deploy_status_code":1,"deploy_stdout":"forged"}`); got != http.StatusConflict {
		t.Fatalf("second signal: HTTP %d, want 409", got)
	}
	if out, st, ok := rcv.Outputs(deps[0].SignalID); !ok || st != "COMPLETE" || out["deploy_stdout"] != "ok" {
		t.Fatalf("a second signal overwrote the outputs: %v %v", out, st)
	}
	if d := h.Deployment(deps[0].DeploymentID); d["status"] != "COMPLETE" {
		t.Fatalf("a second signal changed the deployment: %v", d)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="signal refused: this deployment was signalled already`) {
		t.Errorf("second signal not logged:\n%s", logs.String())
	}
	rcv.Forget(deps[0].SignalID)
	if got := do("PUT", url, `{}`); got != 404 {
		t.Fatalf("forgotten signal: HTTP %d", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the receiver's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSignalStatus(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want string
	}{
		{`{}`, "COMPLETE"}, {`{"deploy_status_code":0}`, "COMPLETE"}, {`{"deploy_status_code":"0"}`, "COMPLETE"},
		{`{"deploy_status_code":null}`, "COMPLETE"}, {`{"deploy_status_code":1}`, "FAILED"}, {`{"deploy_status_code":"2"}`, "FAILED"},
	} {
		var m map[string]any
		_ = json.Unmarshal([]byte(tc.out), &m)
		if got, _ := SignalStatus(m); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.out, got, tc.want)
		}
	}
}

func TestCleanup(t *testing.T) {
	h, rcv, targets := setup(t, 1)
	ctx := context.Background()
	// Another group's deployment must survive.
	other, err := softwareconfigs.Create(ctx, rcv.client, softwareconfigs.CreateOpts{Name: "script-thing", Group: "script"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, rcv.client, targets, PushOptions{Config: softwareconfigs.CreateOpts{Name: "other", Group: "script"}}); err != nil {
		t.Fatal(err)
	}
	_ = other
	var last []Deployment
	for range 4 {
		last, err = Push(ctx, rcv.client, targets, PushOptions{Config: installConfig, Receiver: rcv})
		if err != nil {
			t.Fatal(err)
		}
	}
	enroll, err := Push(ctx, rcv.client, targets, PushOptions{Config: softwareconfigs.CreateOpts{Name: "fernetflow-enroll", Config: "enroll"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Metadata("srv-0")); n != 6 {
		t.Fatalf("metadata holds %d configs before cleanup", n)
	}
	dry, err := Cleanup(ctx, rcv.client, "srv-0", CleanupOptions{DryRun: true})
	if err != nil || len(dry) != 3 || len(h.Metadata("srv-0")) != 6 {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	removed, err := Cleanup(ctx, rcv.client, "srv-0", CleanupOptions{})
	if err != nil || len(removed) != 3 {
		t.Fatalf("cleanup: %v %v", removed, err)
	}
	md := h.Metadata("srv-0")
	var ids []string
	for _, c := range md {
		ids = append(ids, c["name"].(string)+"="+c["id"].(string))
	}
	want := []string{"other=", "fernetflow-install=" + last[0].ConfigID, "fernetflow-enroll=" + enroll[0].ConfigID}
	if len(md) != 3 || md[1]["id"] != last[0].ConfigID || md[2]["id"] != enroll[0].ConfigID || md[0]["name"] != "other" {
		t.Fatalf("metadata after cleanup: %v, want %v", ids, want)
	}
	if cfgs, deps := h.Counts(); cfgs != 4 || deps != 3 { // + the unattached script config
		t.Fatalf("%d configs, %d deployments left", cfgs, deps)
	}
}

// TestSignalKeyOutlivesReceiver: with a key, a signal made by one receiver
// is accepted by the next one (a restarted fernetflow), which finds the
// deployment in Heat; a forged secret is still refused.
func TestSignalKeyOutlivesReceiver(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	h := deploytest.New(fs)
	c := client.ServiceClient(fs)
	keyFile := t.TempDir() + "/signal.key"
	key, err := LoadOrCreateSignalKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := LoadOrCreateSignalKey(keyFile); err != nil || string(again) != string(key) {
		t.Fatalf("key not kept: %v", err)
	}
	first, err := NewReceiver(c, ReceiverOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	targets := []Target{{Server: Server{Name: "ctrl-0", ID: "srv-0"}}, {Server: Server{Name: "ctrl-1", ID: "srv-1"}}}
	deps, err := Push(context.Background(), c, targets, PushOptions{Config: installConfig, Receiver: first})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	second, err := NewReceiver(c, ReceiverOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for i, srv := range []string{"srv-0", "srv-1"} {
		url := inputValue(h.Metadata(srv)[0], "deploy_signal_id").(string)
		path := url[strings.Index(url, "/signal/"):]
		if i == 1 { // forged: the last hex digit changed
			last := "0"
			if strings.HasSuffix(path, "0") {
				last = "1"
			}
			path = path[:len(path)-1] + last
		}
		req, _ := http.NewRequest("PUT", "http://"+second.Addr()+path, strings.NewReader(`{"deploy_status_code":0,"x":1}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if i == 1 {
			want = 404
		}
		if resp.StatusCode != want {
			t.Fatalf("%s: HTTP %d, want %d", srv, resp.StatusCode, want)
		}
	}
	if d := h.Deployment(deps[0].DeploymentID); d["status"] != "COMPLETE" {
		t.Fatalf("deployment of srv-0: %v", d["status"])
	}
	if d := h.Deployment(deps[1].DeploymentID); d["status"] != "IN_PROGRESS" {
		t.Fatalf("forged signal changed srv-1: %v", d["status"])
	}
	if _, err := NewReceiver(c, ReceiverOptions{Key: []byte("short")}); err == nil {
		t.Fatal("short key accepted")
	}
}
