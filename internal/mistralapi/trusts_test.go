package mistralapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// fakeTrusts is a FAKE Keystone OS-TRUST, for fault injection only (the
// real one is exercised by test/integration's TestMistralAPITrusts): it
// records what the server asks and fails as told.
type fakeTrusts struct {
	mu                 sync.Mutex
	createErr, useErr  error
	made, used, killed []string
	tokens             []string // caller tokens Create was given
}

func (f *fakeTrusts) Create(_ context.Context, token string, c *actions.Caller) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return "", f.createErr
	}
	id := fmt.Sprintf("trust-%d-of-%s", len(f.made), c.ProjectID)
	f.made, f.tokens = append(f.made, id), append(f.tokens, token)
	return id, nil
}

func (f *fakeTrusts) Consume(_ context.Context, id string) (*actions.Caller, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used = append(f.used, id)
	if f.useErr != nil {
		return nil, f.useErr
	}
	project := id[strings.LastIndex(id, "-of-")+4:]
	return &actions.Caller{UserID: "creator", UserName: "creator", ProjectID: project, Roles: []string{"member"}}, nil
}

func (f *fakeTrusts) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed = append(f.killed, id)
	return nil
}

func (f *fakeTrusts) snapshot() (made, used, killed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.made...), append([]string(nil), f.used...), append([]string(nil), f.killed...)
}

// TestCronTriggerTrusts checks the server's side of the creator's trust:
// made at POST with the caller's token and kept (its id only) in the
// trigger, consumed at each firing, deleted with the trigger (and when a
// one-shot trigger is used up); Keystone refusing it is a 403 and a
// Keystone that fails a 503, with no trigger left; a trust Keystone no
// longer honours fires nothing.
func TestCronTriggerTrusts(t *testing.T) {
	for _, tc := range []struct {
		name              string
		createErr, useErr error
		wantCode          int
		wantFire          bool
	}{
		{"fires as its creator", nil, nil, 201, true},
		{"Keystone refuses the trust", fmt.Errorf("%w: HTTP 403: redelegation", ErrTrustForbidden), nil, 403, false},
		{"Keystone fails", fmt.Errorf("keystone POST /OS-TRUST/trusts: HTTP 500"), nil, 503, false},
		{"the trust is revoked", nil, fmt.Errorf("%w: HTTP 401", ErrTrustForbidden), 201, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := store.Open(filepath.Join(dir, store.FileName))
			if err != nil {
				t.Fatal(err)
			}
			ft := &fakeTrusts{createErr: tc.createErr, useErr: tc.useErr}
			srv, err := New(Options{Store: st, Registry: workflow.StdRegistry(), Identify: tokenIdentify, Trusts: ft})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close(context.Background()) })
			ts := &testServer{Server: srv, st: st, url: serveTest(t, srv)}
			if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", twoWorkflows); code != 201 {
				t.Fatalf("%d %v", code, body)
			}
			first := time.Now().UTC().Add(time.Second).Format(timeFormat)
			code, body := ts.call(t, "p1", "POST", "/v2/cron_triggers", "application/json",
				`{"name": "soon", "workflow_name": "greet", "workflow_input": {"who": "cron"}, "first_execution_time": "`+first+`"}`)
			if code != tc.wantCode {
				t.Fatalf("POST: %d %v, want %d", code, body, tc.wantCode)
			}
			made, _, _ := ft.snapshot()
			if code != 201 {
				if !strings.Contains(fmt.Sprint(body["faultstring"]), "trust") {
					t.Errorf("the error does not name the trust: %v", body)
				}
				if code, _ := ts.call(t, "p1", "GET", "/v2/cron_triggers/soon", "", ""); code != 404 {
					t.Errorf("a trigger whose trust failed exists: %d", code)
				}
				return
			}
			if len(made) != 1 || ft.tokens[0] != "p1" {
				t.Fatalf("trusts made %v with tokens %v, want one with the caller's token", made, ft.tokens)
			}
			b, err := os.ReadFile(st.Path())
			if err != nil || !strings.Contains(string(b), made[0]) {
				t.Errorf("the store does not hold the trust id %s (%v)", made[0], err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- ts.FireTriggers(ctx, nil, 50*time.Millisecond) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, used, killed := ft.snapshot()
				_, body := ts.call(t, "p1", "GET", "/v2/executions", "", "")
				n := len(body["executions"].([]any))
				if len(used) == 1 && len(killed) == 1 {
					// fired (or refused) and used up: its trust deleted
					if killed[0] != made[0] || (n == 1) != tc.wantFire {
						t.Fatalf("trust used %v, deleted %v, %d executions; want %s deleted and fired %v", used, killed, n, made[0], tc.wantFire)
					}
					if !tc.wantFire || body["executions"].([]any)[0].(map[string]any)["project_id"] == "p1" {
						return
					}
					t.Fatalf("execution %v", body["executions"])
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 10 s: trust used %v, deleted %v, %d executions", used, killed, n)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestCronTriggerDeleteDeletesTrust checks that DELETE deletes the
// trigger's trust.
func TestCronTriggerDeleteDeletesTrust(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTrusts{}
	srv, err := New(Options{Store: st, Registry: workflow.StdRegistry(), Identify: tokenIdentify, Trusts: ft})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, st: st, url: serveTest(t, srv)}
	ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", twoWorkflows)
	if code, body := ts.call(t, "p1", "POST", "/v2/cron_triggers", "application/json",
		`{"name": "weekly", "workflow_name": "noop_wf", "pattern": "0 3 * * 0"}`); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	if code, _ := ts.call(t, "p1", "DELETE", "/v2/cron_triggers/weekly", "", ""); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	made, _, killed := ft.snapshot()
	if len(made) != 1 || len(killed) != 1 || killed[0] != made[0] {
		t.Fatalf("trusts made %v, deleted %v; want the one made deleted", made, killed)
	}
}

// serveTest serves srv over HTTP until the test ends and returns its URL.
func serveTest(t *testing.T, srv *Server) string {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}
