package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/mistral/register"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestAdhocActionYAML(t *testing.T) {
	reg, err := mistralActions()
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(reg.Names(), " "); strings.Contains(names, "std.") || !strings.Contains(names, "keys.rotate") || !strings.Contains(names, "fleet.deploy") {
		t.Fatalf("registered actions: %s", names)
	}
	a, _ := reg.Lookup("keys.rotate")
	b, err := register.AdhocAction(a, register.ActionOptions{Server: "https://uc.example:8990", Token: "<% $.openstack.auth_token %>", Verify: "/etc/pki/ca.pem", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nkeys.rotate:\n", "  tags: [fernetflow]\n", "  base: std.http\n",
		`    url: "https://uc.example:8990/v1/actions/keys.rotate"`,
		`      X-Auth-Token: "<% $.openstack.auth_token %>"`,
		"    timeout: 60\n", `    verify: "/etc/pki/ca.pem"`,
		"    - max_active_keys: 3\n", "    - key_repository: null\n",
		".where($[1] != null)", `  output: "<% $.content.result %>"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ad-hoc keys.rotate lacks %q:\n%s", want, b)
		}
	}
	c, _ := reg.Lookup("fleet.check")
	b, _ = register.AdhocAction(c, register.ActionOptions{Server: "http://127.0.0.1:8990", Token: "x", Timeout: time.Minute})
	if !strings.Contains(string(b), "  input:\n    - servers\n    - adopt_from: \"\"\n") {
		t.Errorf("fleet.check: required input first, then defaults:\n%s", b)
	}
}

// TestAdhocActionsGolden: the ad-hoc actions of every action register
// puts are those the string-building generator made before the YAML AST
// (testdata/mistral/*.golden; go test -update rewrites them).
func TestAdhocActionsGolden(t *testing.T) {
	reg, err := mistralActions()
	if err != nil {
		t.Fatal(err)
	}
	for file, o := range map[string]register.ActionOptions{
		"adhoc_keystone.golden": {Server: "https://uc.example:8990", Token: register.KeystoneToken, Verify: "/etc/pki/ca.pem", Timeout: time.Minute},
		"adhoc_secret.golden":   {Server: "http://127.0.0.1:8990/", Token: "admin-secret-0123456789", Timeout: 15 * time.Minute},
	} {
		var all []byte
		for _, n := range reg.Names() {
			a, _ := reg.Lookup(n)
			b, err := register.AdhocAction(a, o)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		path := filepath.Join("testdata", "mistral", file)
		if *updateGolden {
			if err := os.WriteFile(path, all, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(all, want) {
			t.Errorf("%s differs:\n%s", path, all)
		}
	}
}

func TestMistralRegisterUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2"}, "--action-server"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "ftp://x"}, "--action-server"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "http://127.0.0.1:8990", "--auth", "shared-secret-for-tests"}, "--shared-secret-file"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "http://127.0.0.1:8990", "--cron-name", "mine"}, "--cron-name"},
	} {
		_, errs, code := runCLI(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %q, want 2 naming %s", c.args, code, errs, c.want)
		}
	}
}

// fakeMistral is a FAKE of the few Mistral v2 calls register and
// unregister make (actions, workflows, cron triggers: get, create, update,
// list in pages of one, delete), enough to check idempotency and what
// unregister touches without Python. The integration suite runs the same
// commands against real Mistral 15.
type fakeMistral struct {
	mu    sync.Mutex
	items map[string]map[string]map[string]any // kind -> name -> item
	calls []string
}

func (f *fakeMistral) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
	kind := parts[0]
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if f.items[kind] == nil {
		f.items[kind] = map[string]map[string]any{}
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == "GET" && len(parts) == 2:
		if it, ok := f.items[kind][parts[1]]; ok {
			reply(200, it)
			return
		}
		reply(404, map[string]any{"faultstring": "not found"})
	case r.Method == "GET":
		names := slices.Sorted(maps.Keys(f.items[kind]))
		start := 0
		if m := r.URL.Query().Get("marker"); m != "" {
			start = slices.Index(names, m) + 1
		}
		page := map[string]any{kind: []any{}}
		if start < len(names) {
			page[kind] = []any{f.items[kind][names[start]]}
			if start+1 < len(names) {
				page["next"] = "http://" + r.Host + "/v2/" + kind + "?limit=1&marker=" + names[start]
			}
		}
		reply(200, page)
	case (r.Method == "POST" || r.Method == "PUT") && r.Header.Get("Content-Type") == "text/plain":
		name := ""
		for _, line := range strings.Split(string(body), "\n") {
			if k, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") && k != "version" && !strings.HasPrefix(k, "#") && k != "---" {
				name = k
				break
			}
		}
		_, exists := f.items[kind][name]
		if r.Method == "POST" && exists {
			reply(409, map[string]any{"faultstring": "duplicate"})
			return
		}
		tags := []string{}
		if strings.Contains(string(body), "tags: [fernetflow]") {
			tags = []string{"fernetflow"}
		}
		f.items[kind][name] = map[string]any{"name": name, "definition": string(body), "tags": tags}
		reply(map[string]int{"POST": 201, "PUT": 200}[r.Method], map[string]any{kind: []any{f.items[kind][name]}})
	case r.Method == "POST" && kind == "cron_triggers":
		var ct map[string]any
		_ = json.Unmarshal(body, &ct)
		in, _ := json.Marshal(ct["workflow_input"])
		ct["workflow_input"] = string(in)
		f.items[kind][ct["name"].(string)] = ct
		reply(201, ct)
	case r.Method == "DELETE":
		delete(f.items[kind], parts[1])
		w.WriteHeader(204)
	default:
		reply(400, map[string]any{"faultstring": "unexpected " + r.Method + " " + r.URL.Path})
	}
}

func TestMistralRegisterIdempotentAndUnregister(t *testing.T) {
	fake := &fakeMistral{items: map[string]map[string]map[string]any{
		"workflows": {"theirs": {"name": "theirs", "tags": []string{}}},
		"actions":   {"std.echo": {"name": "std.echo", "tags": []string{}, "is_system": true}, "their.action": {"name": "their.action", "tags": []string{"other"}}},
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte("admin admin-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	register := []string{"mistral", "register", "--mistral-url", srv.URL + "/v2", "--action-server", "http://127.0.0.1:8990",
		"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "-f", "json"}
	var first, second, gone []registered
	for _, run := range []struct {
		args []string
		into *[]registered
	}{{register, &first}, {register, &second}, {[]string{"mistral", "unregister", "--mistral-url", srv.URL + "/v2", "-f", "json"}, &gone}} {
		out, errs, code := runCLI(t, "", run.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", run.args, code, errs)
		}
		if err := json.Unmarshal([]byte(out), run.into); err != nil {
			t.Fatal(err)
		}
	}
	if len(first) != 13 || len(second) != 13 {
		t.Fatalf("register: %v then %v", first, second)
	}
	for i := range first {
		if first[i].Result != "created" || second[i].Result != "unchanged" {
			t.Errorf("%s %s: %s then %s", first[i].Kind, first[i].Name, first[i].Result, second[i].Result)
		}
	}
	if ct := fake.items["cron_triggers"]; len(gone) != 13 || len(ct) != 0 {
		t.Errorf("unregister: %v; cron triggers left %v", gone, ct)
	}
	left := slices.Sorted(maps.Keys(fake.items["actions"]))
	if !slices.Equal(left, []string{"std.echo", "their.action"}) || fake.items["workflows"]["theirs"] == nil || len(fake.items["workflows"]) != 1 {
		t.Errorf("unregister touched what register did not make: actions %v, workflows %v", left, slices.Sorted(maps.Keys(fake.items["workflows"])))
	}
}

// TestWorkflowActions checks the actions --actions-only registers against
// the definitions' text: every action a task names, but Mistral's std.*.
func TestWorkflowActions(t *testing.T) {
	reg, err := mistralActions()
	if err != nil {
		t.Fatal(err)
	}
	defs, err := embeddedDefinitions()
	if err != nil {
		t.Fatal(err)
	}
	got, err := register.WorkflowActions(reg, defs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	re := regexp.MustCompile(`(?m)^\s+action:\s+([A-Za-z0-9_.]+)`)
	for _, f := range definitions.Names() {
		src, _ := definitions.Source(f)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasPrefix(m[1], "std.") {
				want[m[1]] = true
			}
		}
	}
	if !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("workflowActions = %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	if !slices.Contains(got, "fleet.servers") || !slices.Contains(got, "keys.rotate") {
		t.Fatalf("workflowActions = %v", got)
	}
}

// TestMistralRegisterActionsOnly: --actions-only puts the workflows'
// actions into Mistral and nothing else (the Heat stack owns the workflow
// and the trigger), idempotently, and refuses the cron trigger's flags.
func TestMistralRegisterActionsOnly(t *testing.T) {
	fake := &fakeMistral{items: map[string]map[string]map[string]any{
		// The Heat stack's workflow and trigger, which register must leave alone.
		"workflows":     {"rotate_fernet_keys": {"name": "rotate_fernet_keys", "tags": []string{}, "definition": "heat's"}},
		"cron_triggers": {"fernet-rotation-rotation_schedule-x": {"name": "fernet-rotation-rotation_schedule-x"}},
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte("admin admin-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"mistral", "register", "--actions-only", "--mistral-url", srv.URL + "/v2", "--action-server", "http://127.0.0.1:8990",
		"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "-f", "json"}
	reg, _ := mistralActions()
	defs, _ := embeddedDefinitions()
	want, _ := register.WorkflowActions(reg, defs)
	for i, result := range []string{"created", "unchanged"} {
		out, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("run %d: exit %d %s", i, code, errs)
		}
		var rows []registered
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			if r.Kind != "action" || r.Result != result {
				t.Errorf("run %d: %+v, want action %s", i, r, result)
			}
			names = append(names, r.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("run %d registered %v, want %v", i, names, want)
		}
	}
	if wf := fake.items["workflows"]; len(wf) != 1 || wf["rotate_fernet_keys"]["definition"] != "heat's" {
		t.Errorf("--actions-only touched the workflows: %v", wf)
	}
	if ct := fake.items["cron_triggers"]; len(ct) != 1 {
		t.Errorf("--actions-only touched the cron triggers: %v", ct)
	}
	if got := slices.Sorted(maps.Keys(fake.items["actions"])); !slices.Equal(got, want) {
		t.Errorf("Mistral's actions %v, want %v", got, want)
	}
	for _, flag := range [][]string{{"--schedule", "* * * * *"}, {"--max-active-keys", "5"}, {"--cron-remaining-executions", "1"}} {
		_, errs, code := runCLI(t, "", append(append([]string{}, args...), flag...)...)
		if code != exitUsage || !strings.Contains(errs, flag[0]) || !strings.Contains(errs, "--actions-only") {
			t.Errorf("--actions-only %v: exit %d %q, want 2 naming both", flag, code, errs)
		}
	}
}

// Issue 13: the cron trigger must not carry durations keys.rotate refuses.
func TestMistralRegisterBoundsDurations(t *testing.T) {
	_, errs, code := runCLI(t, "", "mistral", "register", "--action-server", "http://127.0.0.1:1", "--token-expiration", "2000000h")
	if code != exitUsage || !strings.Contains(errs, "token_expiration is 2000000h0m0s, beyond") {
		t.Fatalf("exit %d %s", code, errs)
	}
}
