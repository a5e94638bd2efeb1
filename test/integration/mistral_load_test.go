//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/executions"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/workflows"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/fernetflow/fernetflow/workflow/store"
)

// loadWorkflow is four tasks in a row, with a little data; one sleeps a
// second, so that a restart finds executions running.
const loadWorkflow = `version: '2.0'
load_wf:
  input:
    - n
  output:
    n: <% $.n %>
  tasks:
    one:
      action: std.echo output=<% $.n %>
      on-success: [nap]
    nap:
      action: std.sleep seconds=1
      on-success: [two]
    two:
      action: std.echo output=<% $.n %>
      on-success: [three]
    three:
      action: std.noop
`

// serveProc is one fernetflow serve --listen process on a state directory.
type serveProc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startServeNoAuth(t *testing.T, state string, port int) *serveProc {
	t.Helper()
	p := &serveProc{out: &bytes.Buffer{}}
	p.cmd = exec.Command(fernetflowBin, "serve", "--state-dir", state, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--auth", "noauth")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			_ = p.cmd.Wait()
		}
	})
	if err := heatWaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s", err, p.out)
	}
	return p
}

// TestMistralAPILoad creates 1,000 executions from 50 concurrent
// gophercloud workflow/v2 clients against fernetflow serve and restarts
// serve half-way on the same state directory, and checks that none is
// lost: every execution a client was given an id for is there and ends.
// A restart (SIGTERM, as systemctl restart) lets the running executions
// end before serve exits: every one ends SUCCESS. A crash (SIGKILL) cuts
// them off: each ends SUCCESS, or ERROR with the restart's reason. Clients
// retry a request the restart refused, as an operator's script would.
func TestMistralAPILoad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
	}{
		{"restart", syscall.SIGTERM},
		{"crash", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) { testMistralAPILoad(t, tc.signal) })
	}
}

func testMistralAPILoad(t *testing.T, sig syscall.Signal) {
	const clients, perClient = 50, 20
	state := filepath.Join(t.TempDir(), "state")
	port := freePort(t)
	srv := startServeNoAuth(t, state, port)
	ctx := context.Background()
	c := &gophercloud.ServiceClient{
		ProviderClient: &gophercloud.ProviderClient{TokenID: "noauth", HTTPClient: http.Client{Timeout: 60 * time.Second}},
		Endpoint:       fmt.Sprintf("http://127.0.0.1:%d/v2/", port), Type: "workflowv2",
	}
	if _, err := workflows.Create(ctx, c, workflows.CreateOpts{Definition: strings.NewReader(loadWorkflow)}).Extract(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	ids := map[string]int{} // id -> n
	var created, retries atomic.Int64
	restarted := make(chan struct{})
	var restartAt time.Time
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				n := w*perClient + i
				for attempt := 0; ; attempt++ {
					ex, err := executions.Create(ctx, c, executions.CreateOpts{WorkflowName: "load_wf", Input: map[string]any{"n": n}}).Extract()
					if err == nil {
						mu.Lock()
						ids[ex.ID] = n
						mu.Unlock()
						if created.Add(1) == clients*perClient/2 {
							close(restarted) // half-way: the restart begins
						}
						break
					}
					var code gophercloud.ErrUnexpectedResponseCode
					if (errors.As(err, &code) && code.Actual != http.StatusServiceUnavailable) || attempt > 600 {
						t.Errorf("client %d, execution %d: %v", w, i, err)
						return
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond) // serve is restarting
				}
			}
		}()
	}
	<-restarted
	restartAt = time.Now()
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-srv.cmd.Process.Pid, sig)
	} else {
		_ = srv.cmd.Process.Signal(sig)
	}
	_ = srv.cmd.Wait()
	first := srv
	srv = startServeNoAuth(t, state, port)
	restartTook := time.Since(restartAt)
	wg.Wait()
	createdIn := time.Since(t0)
	if t.Failed() {
		t.FailNow()
	}

	// Every id a client got is there and ends.
	states := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	for id, n := range ids {
		for {
			ex, err := executions.Get(ctx, c, id).Extract()
			if err != nil {
				st, serr := store.Open(filepath.Join(state, store.FileName))
				var inStore, rec error = serr, serr
				if serr == nil {
					_, inStore = st.Get(id)
					_, rec = st.GetRecord("mistral_executions", id)
				}
				t.Fatalf("execution %s (n=%d) a client was given: %v (the store: %v, the API's record: %v)\nfirst serve:\n%s\nsecond serve:\n%s", id, n, err, inStore, rec, first.out, srv.out)
			}
			if ex.State == "RUNNING" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			info := ""
			if ex.StateInfo != nil {
				info = *ex.StateInfo
			}
			switch {
			case ex.State == "SUCCESS" && fmt.Sprint(ex.Output["n"]) == fmt.Sprint(n):
			case ex.State == "ERROR" && sig == syscall.SIGKILL && strings.Contains(info, "fernetflow serve stopped while this execution was running"):
			default:
				t.Errorf("execution %s (n=%d): %s %q output %v", id, n, ex.State, info, ex.Output)
			}
			states[ex.State]++
			break
		}
	}
	// The paged list holds them all.
	listed := 0
	err := executions.List(c, executions.ListOpts{Limit: 100}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		l, err := executions.ExtractExecutions(p)
		listed += len(l)
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != clients*perClient || listed < len(ids) {
		t.Errorf("%d ids given, %d listed; want %d of each (none lost)", len(ids), listed, clients*perClient)
	}
	t.Logf("%d executions from %d clients in %s (restart by %s half-way, serve back in %s, %d requests retried meanwhile); final states %v; %d listed",
		len(ids), clients, createdIn.Round(time.Millisecond), sig, restartTook.Round(time.Millisecond), retries.Load(), states, listed)
}
