package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/internal/fleet/local"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow"
)

func TestCatalog(t *testing.T) {
	c := All()
	names := c.Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("names are not sorted and unique: %v", names)
	}
	var _ workflow.Registry = c
	for _, want := range []string{"std.echo", "keys.rotate", "keys.status", "fleet.check", "node.enroll", "heat.servers"} {
		if _, ok := c.Lookup(want); !ok {
			t.Errorf("the catalog lacks %s", want)
		}
	}
	for _, d := range c {
		if d.Description() == "" {
			t.Errorf("%s has no description", d.Name())
		}
		_, err := d.Run(context.Background(), map[string]any{})
		var ue *UnboundError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnbound) || ue.Action != d.Name() || ue.Needs != d.Needs() {
			t.Errorf("descriptor %s ran: %v", d.Name(), err)
		}
	}
	if _, ok := c.Describe("keys.nope"); ok {
		t.Error("found an unknown action")
	}
	// mistral register: what it registered before the catalog existed.
	if got := strings.Join(c.Mistral().Names(), " "); got != "fleet.check fleet.deploy fleet.servers keys.package keys.probe keys.rotate keys.status node.enroll" {
		t.Errorf("Mistral() = %s", got)
	}
	// The binders list what the catalog lists: the engine all of it, the
	// action server all but std.*.
	var served []string
	for _, n := range names {
		if !strings.HasPrefix(n, "std.") {
			served = append(served, n)
		}
	}
	if got := Engine(Host{}).Names(); !slices.Equal(got, names) {
		t.Errorf("Engine lists %v, the catalog %v", got, names)
	}
	if got := Served(Host{}).Names(); !slices.Equal(got, served) {
		t.Errorf("Served lists %v, want %v", got, served)
	}
}

// testHost is a host with the master repository set up and two local
// nodes (fleet), and a fake Heat cloud (cloud), each when asked for.
func testHost(t *testing.T, withFleet, withCloud bool) Host {
	t.Helper()
	var h Host
	if withFleet {
		dir := t.TempDir()
		u := &fleet.Undercloud{Dir: filepath.Join(dir, "undercloud")}
		signer, err := u.Signer()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Setup(context.Background(), u.MasterRepository(), keys.RotateOptions{MaxActiveKeys: 3}); err != nil {
			t.Fatal(err)
		}
		target := &local.Target{Nodes: []string{filepath.Join(dir, "ctl0"), filepath.Join(dir, "ctl1")}, Signer: signer.Public()}
		h.Fleet = &FleetHost{Undercloud: u, Target: target}
	}
	if withCloud {
		deploytest.NewCloud(t)
		h.Heat = &deploy.Host{Cloud: deploy.CloudOptions{Cloud: deploytest.CloudName}}
		t.Cleanup(func() { _ = h.Heat.Close() })
	}
	return h
}

// minimalInput is, for every action of the catalog, an input its schema
// accepts; master is the host's master repository.
func minimalInput(name, master string) (map[string]any, bool) {
	servers := []any{map[string]any{"name": "ctl0", "server_id": "ctl0"}}
	in, ok := map[string]map[string]any{
		"std.echo":      {"output": "hello"},
		"std.fail":      {},
		"std.http":      {"url": "http://127.0.0.1:1/"},
		"std.noop":      {},
		"std.sleep":     {"seconds": 0},
		"std.test_dict": {"size": 2},
		// No SMTP server listens there: the action fails, naming it.
		"std.email":      {"from_addr": "fernetflow@example.org", "to_addrs": []any{"ops@example.org"}, "smtp_server": "127.0.0.1:1"},
		"std.async_noop": {},
		"keys.status":    {"key_repository": master},
		"keys.rotate":    {},
		"fleet.servers":  {},
		"node.enroll":    {"servers": servers},
		"fleet.check":    {"servers": servers, "dry_run": true},
		"keys.package":   {"servers": servers},
		"fleet.deploy":   {"server": servers[0], "envelope": "not an envelope"},
		"keys.probe":     {"servers": servers},
		"heat.servers":   {"stack": "overcloud"},
		"heat.deploy":    {"kind": "enroll", "targets": []any{}, "no_signal": true},
		"heat.wait":      {"deployments": []any{}},
		"heat.cleanup":   {"server_ids": []any{}},
	}[name]
	return in, ok
}

// outcome is how one call of an action ended: it ran (and succeeded), it
// ran and failed, or it refused, saying why.
type outcome string

const (
	ran     outcome = "ran"
	failed  outcome = "failed"
	refused outcome = "refused"
)

// inEngine runs a workflow of one task calling name on Engine(h).
func inEngine(t *testing.T, f *workflow.File, h Host) (outcome, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := (&workflow.Engine{Registry: Engine(h), File: f}).Run(ctx, f.Workflows[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if ex.State == workflow.Success {
		return ran, ""
	}
	te := ex.Tasks[len(ex.Tasks)-1]
	if errors.Is(te.Err, ErrUnbound) {
		return refused, te.StateInfo
	}
	return failed, te.StateInfo
}

// overHTTP calls name with in on the action server of Served(h).
func overHTTP(t *testing.T, name string, in map[string]any, h Host) (outcome, int, string) {
	t.Helper()
	s, err := NewServer(Served(h), ServerOptions{Auth: &SharedSecretAuth{Secrets: map[string]string{"secret-0123456789": "admin"}, Projects: []string{"admin"}}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(in)
	req := httptest.NewRequest("POST", "/v1/actions/"+name, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TokenHeader, "secret-0123456789")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var ans struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	switch rec.Code {
	case http.StatusOK:
		return ran, rec.Code, ""
	case http.StatusNotImplemented, http.StatusNotFound:
		return refused, rec.Code, ans.Error
	}
	return failed, rec.Code, ans.Error
}

// TestEveryListedActionRunsAlike: for every action fernetflow action list
// shows (All), a workflow calling it passes workflow validate (it loads on
// Engine(Host{}), the registry of workflow validate|run), and it runs, or
// is refused for a reason that names it, alike in the embedded engine and
// on the action server, whatever the host has. Mistral's std.* run in the
// engine, and on Mistral as Mistral's own: the action server refuses them.
func TestEveryListedActionRunsAlike(t *testing.T) {
	for _, host := range []struct {
		name             string
		fleet, withCloud bool
	}{
		{"no host", false, false},
		{"local fleet", true, false},
		{"local fleet and Heat", true, true},
	} {
		t.Run(host.name, func(t *testing.T) {
			for _, d := range All() {
				name := d.Name()
				t.Run(name, func(t *testing.T) {
					// Each side on its own host, so that one does not see
					// what the other changed.
					engineHost := testHost(t, host.fleet, host.withCloud)
					serverHost := testHost(t, host.fleet, host.withCloud)
					master := func(h Host) string {
						if h.Fleet == nil {
							return filepath.Join(t.TempDir(), "fernet-keys")
						}
						return h.Fleet.Undercloud.MasterRepository()
					}
					in, ok := minimalInput(name, master(engineHost))
					if !ok {
						t.Fatalf("no minimal input for %s: add one to minimalInput", name)
					}
					src := fmt.Sprintf("---\nversion: '2.0'\nuses_%s:\n  tasks:\n    call:\n      action: %s\n", strings.ReplaceAll(name, ".", "_"), name)
					if len(in) > 0 {
						b, _ := json.Marshal(in)
						src += fmt.Sprintf("      input: %s\n", b)
					}
					if name == "std.async_noop" {
						src += "      timeout: 1\n" // nothing completes it here: it ends by its timeout
					}
					f, err := workflow.Load(name+".yaml", []byte(src), Engine(Host{}))
					if err != nil {
						t.Fatalf("workflow validate rejects a workflow calling %s: %v\n%s", name, err, src)
					}
					got, why := inEngine(t, f, engineHost)
					if got == refused && (why == "" || !strings.Contains(why, name)) {
						t.Errorf("the engine refused %s without naming it: %q", name, why)
					}
					in, _ = minimalInput(name, master(serverHost))
					over, code, swhy := overHTTP(t, name, in, serverHost)
					if over == refused && (swhy == "" || !strings.Contains(swhy, name)) {
						t.Errorf("the action server refused %s (HTTP %d) without naming it: %q", name, code, swhy)
					}
					if strings.HasPrefix(name, "std.") {
						if code != http.StatusNotFound {
							t.Errorf("the action server answers %s with HTTP %d, want 404: Mistral has its own", name, code)
						}
						return
					}
					if got != over {
						t.Errorf("%s: the engine %s (%s), the action server %s (HTTP %d: %s)", name, got, why, over, code, swhy)
					}
					if !host.fleet && got != refused {
						t.Errorf("%s %s on a host with nothing", name, got)
					}
					t.Logf("%s: %s (engine: %.80q; HTTP %d: %.80q)", name, got, why, code, swhy)
				})
			}
		})
	}
}

// TestServedMasterOnly: over HTTP, keys.status and keys.rotate work on the
// master repository only, whatever the caller names; the engine's
// workflows may name another.
func TestServedMasterOnly(t *testing.T) {
	h := testHost(t, true, false)
	master := h.Fleet.Undercloud.MasterRepository()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	reg := Served(h)
	ctx := context.Background()
	for _, c := range []struct {
		action string
		in     map[string]any
		err    string
	}{
		{"keys.rotate", map[string]any{"key_repository": elsewhere}, "master repository " + master + " only, not " + elsewhere},
		{"keys.status", map[string]any{"key_repository": "/etc"}, "master repository " + master + " only, not /etc"},
		{"keys.status", map[string]any{"key_repository": master + "/"}, ""},
		{"keys.rotate", map[string]any{"dry_run": true}, ""},
	} {
		a, _ := reg.Lookup(c.action)
		_, err := a.Run(ctx, c.in)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s %v: %v, want %q", c.action, c.in, err, c.err)
		}
	}
	if _, err := os.Stat(elsewhere); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("keys.rotate made a repository outside the master: %v", err)
	}
	// The embedded engine runs the workflows of this host's operator,
	// who may name any repository.
	a, _ := Engine(h).Lookup("keys.rotate")
	if _, err := a.Run(ctx, map[string]any{"key_repository": elsewhere}); err != nil {
		t.Errorf("the engine's keys.rotate refused another repository: %v", err)
	}
}
