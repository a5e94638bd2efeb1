package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

const secretValue = "s3cr3t-VALUE-never-logged"

func testRegistry(t *testing.T, ran *atomic.Int32) workflow.Registry {
	t.Helper()
	reg, err := newRegistry(
		workflow.FuncAction{ActionName: "t.add", Desc: "adds",
			In:  `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"],"additionalProperties":false}`,
			Out: `{"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"]}`,
			Fn: func(_ context.Context, in map[string]any) (any, error) {
				ran.Add(1)
				return map[string]any{"sum": in["a"].(int64) + in["b"].(int64)}, nil
			}},
		workflow.FuncAction{ActionName: "t.fail", Desc: "fails", In: `{"type":"object"}`,
			Fn: func(context.Context, map[string]any) (any, error) {
				ran.Add(1)
				return nil, &workflow.ResultError{Value: map[string]any{"node": "ctl1"}, Err: errors.New("t.fail: node ctl1 refused the envelope")}
			}},
		workflow.FuncAction{ActionName: "t.secret", Desc: "returns a secret", IsSecret: true, In: `{"type":"object"}`,
			Fn: func(context.Context, map[string]any) (any, error) {
				ran.Add(1)
				return map[string]any{"key": secretValue}, nil
			}},
		workflow.FuncAction{ActionName: "t.panic", Desc: "panics", In: `{"type":"object"}`,
			Fn: func(context.Context, map[string]any) (any, error) {
				ran.Add(1)
				panic("nil map")
			}},
		workflow.FuncAction{ActionName: "t.slow", Desc: "waits", In: `{"type":"object"}`,
			Fn: func(ctx context.Context, _ map[string]any) (any, error) {
				ran.Add(1)
				<-ctx.Done()
				return nil, ctx.Err()
			}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

type call struct {
	method, path, token, body string
}

func do(t *testing.T, h http.Handler, c call) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", c.method, c.path, rec.Body.String(), err)
	}
	return rec.Code, v
}

func TestServerSharedSecret(t *testing.T) {
	var ran atomic.Int32
	var logs bytes.Buffer
	s, err := NewServer(testRegistry(t, &ran), ServerOptions{
		Auth:    &SharedSecretAuth{Secrets: map[string]string{"good": "admin", "other": "demo"}, Projects: []string{"admin"}},
		Timeout: 200 * time.Millisecond,
		Log:     slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		call       call
		wantStatus int
		wantRun    bool
		check      func(t *testing.T, v map[string]any)
	}{
		{"no token", call{"POST", "/v1/actions/t.add", "", `{"a":1,"b":2}`}, 401, false, nil},
		{"wrong token", call{"POST", "/v1/actions/t.add", "bad", `{"a":1,"b":2}`}, 401, false, nil},
		{"wrong project", call{"POST", "/v1/actions/t.add", "other", `{"a":1,"b":2}`}, 403, false, nil},
		{"list needs auth", call{"GET", "/v1/actions", "", ``}, 401, false, nil},
		{"unknown action", call{"POST", "/v1/actions/t.nope", "good", `{}`}, 404, false, nil},
		{"schema rejects a missing field", call{"POST", "/v1/actions/t.add", "good", `{"a":1}`}, 400, false, func(t *testing.T, v map[string]any) {
			if e := v["error"].(string); !strings.Contains(e, "input rejected by action t.add") || !strings.Contains(e, "b") {
				t.Errorf("error = %q, want the schema's complaint about b", e)
			}
		}},
		{"schema rejects a wrong type", call{"POST", "/v1/actions/t.add", "good", `{"a":1,"b":"two"}`}, 400, false, func(t *testing.T, v map[string]any) {
			if e := v["error"].(string); !strings.Contains(e, "b: ") {
				t.Errorf("error = %q, want it located at b", e)
			}
		}},
		{"not an object", call{"POST", "/v1/actions/t.add", "good", `[1,2]`}, 400, false, nil},
		{"not JSON", call{"POST", "/v1/actions/t.add", "good", `{`}, 400, false, nil},
		{"runs", call{"POST", "/v1/actions/t.add", "good", `{"a":40,"b":2}`}, 200, true, func(t *testing.T, v map[string]any) {
			if got := v["result"].(map[string]any)["sum"]; got != float64(42) {
				t.Errorf("result.sum = %v, want 42", got)
			}
		}},
		{"failing action", call{"POST", "/v1/actions/t.fail", "good", `{}`}, 500, true, func(t *testing.T, v map[string]any) {
			if v["error"] != "t.fail: node ctl1 refused the envelope" || v["status"] != float64(500) {
				t.Errorf("answer = %v", v)
			}
			if r, _ := v["result"].(map[string]any); r["node"] != "ctl1" {
				t.Errorf("result = %v, want the error's result", v["result"])
			}
		}},
		{"timeout", call{"POST", "/v1/actions/t.slow", "good", `{}`}, 504, true, nil},
		{"panic", call{"POST", "/v1/actions/t.panic", "good", `{}`}, 500, true, func(t *testing.T, v map[string]any) {
			if !strings.Contains(v["error"].(string), "action t.panic failed: internal error") {
				t.Errorf("answer = %v", v)
			}
		}},
		{"secret returned to the caller", call{"POST", "/v1/actions/t.secret", "good", `{}`}, 200, true, func(t *testing.T, v map[string]any) {
			if v["result"].(map[string]any)["key"] != secretValue {
				t.Errorf("result = %v", v)
			}
		}},
		{"list", call{"GET", "/v1/actions", "good", ``}, 200, false, func(t *testing.T, v map[string]any) {
			acts := v["actions"].([]any)
			if len(acts) != 5 || acts[0].(map[string]any)["name"] != "t.add" || acts[0].(map[string]any)["input_schema"] == nil {
				t.Errorf("actions = %v", acts)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ran.Load()
			status, v := do(t, s, c.call)
			if status != c.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, c.wantStatus, v)
			}
			if status >= 400 && v["status"] != float64(status) {
				t.Errorf("error body %v lacks status %d", v, status)
			}
			if ranNow := ran.Load() != before; ranNow != c.wantRun {
				t.Errorf("action ran = %v, want %v", ranNow, c.wantRun)
			}
			if c.check != nil {
				c.check(t, v)
			}
		})
	}
	out := logs.String()
	if strings.Contains(out, secretValue) || strings.Contains(out, `"good"`) {
		t.Errorf("the request log holds a secret output or a credential:\n%s", out)
	}
	for _, want := range []string{`"action":"t.secret"`, `"status":403`, `"project":"demo"`, `"path":"/v1/actions/t.add"`, `"duration_ms"`} {
		if !strings.Contains(out, want) {
			t.Errorf("request log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"a":40`) || strings.Contains(out, `"b":"two"`) {
		t.Errorf("request log holds a body:\n%s", out)
	}
}

// fakeKeystone is a FAKE of Keystone's GET /v3/auth/tokens for unit tests:
// it knows a few tokens and the scope each carries. The integration suite
// checks KeystoneAuth against real Keystone.
func fakeKeystone(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv, _ := fakeKeystoneRevocable(t, calls)
	return srv
}

// fakeKeystoneRevocable is fakeKeystone with a function that revokes a
// token (Keystone forgets it).
func fakeKeystoneRevocable(t *testing.T, calls *atomic.Int32) (*httptest.Server, func(tok string)) {
	const dflt = `"domain":{"id":"default","name":"Default"}`
	var mu sync.Mutex
	tokens := map[string]string{
		"tok-admin":  `{"token":{"expires_at":"2999-01-01T00:00:00.000000Z","user":{"id":"u1","name":"admin"},"project":{"id":"p-admin","name":"admin",` + dflt + `},"roles":[{"id":"r1","name":"admin"}]}}`,
		"tok-demo":   `{"token":{"expires_at":"2999-01-01T00:00:00.000000Z","user":{"id":"u2","name":"demo"},"project":{"id":"p-demo","name":"demo",` + dflt + `},"roles":[{"id":"r1","name":"admin"}]}}`,
		"tok-reader": `{"token":{"expires_at":"2999-01-01T00:00:00.000000Z","user":{"id":"u3","name":"reader"},"project":{"id":"p-admin","name":"admin",` + dflt + `},"roles":[{"id":"r2","name":"reader"}]}}`,
		"tok-system": `{"token":{"expires_at":"2999-01-01T00:00:00.000000Z","user":{"id":"u1","name":"admin"},"roles":[{"id":"r1","name":"admin"}]}}`,
		// An admin of a project called admin in another domain.
		"tok-other-admin": `{"token":{"expires_at":"2999-01-01T00:00:00.000000Z","user":{"id":"u4","name":"mallory"},"project":{"id":"p-other-admin","name":"admin","domain":{"id":"d-other","name":"other"}},"roles":[{"id":"r1","name":"admin"}]}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/v3/auth/tokens" || r.Method != "GET" {
			http.NotFound(w, r)
			return
		}
		if _, ok := tokens[r.Header.Get("X-Auth-Token")]; !ok {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":{"code":401}}`)
			return
		}
		body, ok := tokens[r.Header.Get("X-Subject-Token")]
		if !ok {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":{"code":404}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func(tok string) {
		mu.Lock()
		defer mu.Unlock()
		delete(tokens, tok)
	}
}

func TestServerKeystoneAuth(t *testing.T) {
	var ran, calls atomic.Int32
	ks := fakeKeystone(t, &calls)
	cases := []struct {
		name       string
		auth       *KeystoneAuth
		token      string
		wantStatus int
	}{
		{"no token", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "", 401},
		{"unknown token", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "forged", 401},
		{"allowed project by name", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "tok-admin", 200},
		{"allowed project by id, /v3 URL", &KeystoneAuth{URL: ks.URL + "/v3", Projects: []string{"p-admin"}}, "tok-admin", 200},
		{"wrong project", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "tok-demo", 403},
		{"no allowed role", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "tok-reader", 403},
		{"allowed role", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}, Roles: []string{"reader"}}, "tok-reader", 200},
		{"not project-scoped", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "tok-system", 403},
		{"a project called admin in another domain", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}}, "tok-other-admin", 403},
		{"Default/admin is not other/admin", &KeystoneAuth{URL: ks.URL, Projects: []string{"Default/admin"}}, "tok-other-admin", 403},
		{"domain/name by domain name", &KeystoneAuth{URL: ks.URL, Projects: []string{"other/admin"}}, "tok-other-admin", 200},
		{"domain/name by domain id", &KeystoneAuth{URL: ks.URL, Projects: []string{"d-other/admin"}}, "tok-other-admin", 200},
		{"other/admin is not Default's admin", &KeystoneAuth{URL: ks.URL, Projects: []string{"other/admin"}}, "tok-admin", 403},
		{"Default/admin", &KeystoneAuth{URL: ks.URL, Projects: []string{"Default/admin"}}, "tok-admin", 200},
		{"by id in another domain", &KeystoneAuth{URL: ks.URL, Projects: []string{"p-other-admin"}}, "tok-other-admin", 200},
		{"service token validates the caller's", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"},
			ServiceToken: func(context.Context) (string, error) { return "tok-system", nil }}, "tok-admin", 200},
		{"unknown token with a service token", &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"},
			ServiceToken: func(context.Context) (string, error) { return "tok-system", nil }}, "forged", 401},
		{"Keystone unreachable", &KeystoneAuth{URL: "http://127.0.0.1:1", Projects: []string{"admin"}}, "tok-admin", 503},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewServer(testRegistry(t, &ran), ServerOptions{Auth: c.auth})
			if err != nil {
				t.Fatal(err)
			}
			before := ran.Load()
			status, v := do(t, s, call{"POST", "/v1/actions/t.add", c.token, `{"a":1,"b":2}`})
			if status != c.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, c.wantStatus, v)
			}
			if ranNow := ran.Load() != before; ranNow != (status == 200) {
				t.Errorf("action ran = %v with status %d", ranNow, status)
			}
		})
	}

	t.Run("validations are cached", func(t *testing.T) {
		s, err := NewServer(testRegistry(t, &ran), ServerOptions{Auth: &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}, CacheTTL: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		before := calls.Load()
		for range 3 {
			if status, v := do(t, s, call{"POST", "/v1/actions/t.add", "tok-admin", `{"a":1,"b":2}`}); status != 200 {
				t.Fatalf("status %d: %v", status, v)
			}
		}
		if n := calls.Load() - before; n != 1 {
			t.Errorf("Keystone asked %d times for one token, want 1", n)
		}
	})
}

func TestServerNeedsAuth(t *testing.T) {
	var ran atomic.Int32
	if _, err := NewServer(testRegistry(t, &ran), ServerOptions{}); err == nil {
		t.Fatal("NewServer without an Authenticator succeeded")
	}
}

// syncBuffer is a bytes.Buffer safe for a server goroutine to write.
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

// A client that goes away in the middle of its body is logged as such, not
// as a body too large (413); a body over MaxBody still is 413.
func TestServerBodyErrors(t *testing.T) {
	var ran atomic.Int32
	var logs syncBuffer
	s, err := NewServer(testRegistry(t, &ran), ServerOptions{
		Auth:    &SharedSecretAuth{Secrets: map[string]string{"good-secret-16chars": "admin"}, Projects: []string{"admin"}},
		MaxBody: 64,
		Log:     slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(conn, "POST /v1/actions/t.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-Auth-Token: good-secret-16chars\r\nContent-Length: 40\r\n\r\n{\"a\":1,")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "action server request") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if strings.Contains(out, `"status":413`) || strings.Contains(out, "too large") {
		t.Errorf("a client gone mid-body is logged as a body too large:\n%s", out)
	}
	if !strings.Contains(out, "the client closed the connection before sending the whole body") {
		t.Errorf("the log does not say the client went away:\n%s", out)
	}
	if ran.Load() != 0 {
		t.Error("the action ran on half a body")
	}

	big := `{"a":1,"b":2,"pad":"` + strings.Repeat("x", 100) + `"}`
	if status, v := do(t, s, call{"POST", "/v1/actions/t.add", "good-secret-16chars", big}); status != http.StatusRequestEntityTooLarge {
		t.Errorf("body over MaxBody: status %d, want 413: %v", status, v)
	}
}

// A revoked token is honoured while its validation is cached (CacheTTL),
// and refused at once without a cache (CacheTTL 0).
func TestKeystoneAuthRevocation(t *testing.T) {
	var ran, calls atomic.Int32
	for _, c := range []struct {
		name        string
		ttl         time.Duration
		wantRevoked int
	}{
		{"no cache", 0, 401},
		{"30 s cache", 30 * time.Second, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			ks, revoke := fakeKeystoneRevocable(t, &calls)
			s, err := NewServer(testRegistry(t, &ran), ServerOptions{Auth: &KeystoneAuth{URL: ks.URL, Projects: []string{"admin"}, CacheTTL: c.ttl}})
			if err != nil {
				t.Fatal(err)
			}
			if status, v := do(t, s, call{"POST", "/v1/actions/t.add", "tok-admin", `{"a":1,"b":2}`}); status != 200 {
				t.Fatalf("before revocation: %d %v", status, v)
			}
			revoke("tok-admin")
			if status, v := do(t, s, call{"POST", "/v1/actions/t.add", "tok-admin", `{"a":1,"b":2}`}); status != c.wantRevoked {
				t.Fatalf("after revocation: %d, want %d: %v", status, c.wantRevoked, v)
			}
		})
	}
}
