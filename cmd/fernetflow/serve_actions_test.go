package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/fleet"
)

// lockedBuffer is a bytes.Buffer several goroutines write (serve's loop
// and the action server's request log).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeActionServer(t *testing.T) {
	dir, secrets, addr := actionServerFixture(t, "# project secret\nadmin admin-secret-0123456789\ndemo demo-secret-0123456789\n")

	var out, errb lockedBuffer
	a := newApp(strings.NewReader(""), &out, &errb)
	root := a.root()
	root.SetArgs([]string{"serve", "--state-dir", filepath.Join(dir, "state"), "--listen", addr,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "--allowed-project", "admin",
		"--target", "local", "--nodes", filepath.Join(dir, "ctl0") + "," + filepath.Join(dir, "ctl1")})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	client := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the action server did not come up: %v\n%s", <-done, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(name, token, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/actions/"+name, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name, action, token, body string
		want                      int
		in                        string
	}{
		{"no token", "keys.rotate", "", `{}`, 401, ""},
		{"wrong project", "keys.rotate", "demo-secret-0123456789", `{}`, 403, ""},
		{"std actions are not served", "std.echo", "admin-secret-0123456789", `{"output":1}`, 404, ""},
		{"schema", "keys.rotate", "admin-secret-0123456789", `{"max_active_keys":0}`, 400, "max_active_keys"},
		{"durations that overflow", "keys.rotate", "admin-secret-0123456789", `{"token_expiration":7200000000,"allow_expired_window":7200000000}`, 400, "token_expiration"},
		{"runs", "fleet.servers", "admin-secret-0123456789", `{}`, 200, `"server_id": "ctl0"`},
		{"another repository", "keys.rotate", "admin-secret-0123456789", `{"key_repository": "` + filepath.Join(dir, "elsewhere") + `"}`, 500, "master repository"},
		{"another repository's status", "keys.status", "admin-secret-0123456789", `{"key_repository": "/etc"}`, 500, "master repository"},
	} {
		code, body := post(c.action, c.token, c.body)
		if code != c.want || !strings.Contains(body, c.in) {
			t.Errorf("%s: HTTP %d %s, want %d with %q", c.name, code, body, c.want, c.in)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); err == nil {
		t.Error("keys.rotate made a repository outside the master")
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "master")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(dir, "state", "master")); len(ents) > 0 {
			t.Errorf("refused calls left keys in the master repository: %v", ents)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s of its context's end")
	}
	logs := errb.String()
	for _, want := range []string{`"status":401`, `"status":403`, `"project":"admin"`, fmt.Sprintf("http://%s/v1/actions", addr)} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "admin-secret") {
		t.Errorf("stderr holds a secret:\n%s", logs)
	}
}

func TestServeActionServerUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no project", []string{"--auth", "keystone", "--keystone-url", "http://127.0.0.1:5000"}, "--allowed-project"},
		{"no keystone", []string{"--allowed-project", "admin", "--keystone-url", ""}, "--keystone-url"},
		{"no secrets", []string{"--allowed-project", "admin", "--auth", "shared-secret-for-tests"}, "--shared-secret-file"},
		{"unknown auth", []string{"--allowed-project", "admin", "--auth", "none"}, "--auth"},
		{"half TLS", []string{"--allowed-project", "admin", "--keystone-url", "http://127.0.0.1:5000", "--tls-cert", "x"}, "--tls-key"},
		{"no --listen", []string{"--listen", "", "--allowed-project", "admin"}, "give --listen"},
		{"negative cache", []string{"--allowed-project", "admin", "--keystone-url", "http://127.0.0.1:5000", "--token-cache-ttl", "-1s"}, "--token-cache-ttl"},
		{"half a domain/name", []string{"--allowed-project", "Default/", "--keystone-url", "http://127.0.0.1:5000"}, "DOMAIN/NAME"},
	} {
		args := append([]string{"serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--nodes", dir}, c.args...)
		_, errs, code := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %s", c.name, code, errs, c.want)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, PEM.
// actionServerFixture makes a test directory holding a shared-secret file
// with content, and picks a free 127.0.0.1 address for serve --listen.
func actionServerFixture(t *testing.T, content string) (dir, secrets, addr string) {
	t.Helper()
	dir = t.TempDir()
	secrets = filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return dir, secrets, l.Addr().String()
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fernetflow test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeActionServerTLS(t *testing.T) {
	dir, secrets, addr := actionServerFixture(t, "admin admin-secret-0123456789\n")
	certFile, keyFile, pool := selfSigned(t, dir)
	var out, errb lockedBuffer
	root := newApp(strings.NewReader(""), &out, &errb).root()
	root.SetArgs([]string{"serve", "--state-dir", filepath.Join(dir, "state"), "--listen", addr,
		"--tls-cert", certFile, "--tls-key", keyFile,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "--allowed-project", "admin",
		"--nodes", filepath.Join(dir, "ctl0")})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, errb.String())
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS answer: %v\n%s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", "https://"+addr+"/v1/actions/fleet.servers", strings.NewReader("{}"))
	req.Header.Set("X-Auth-Token", "admin-secret-0123456789")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "ctl0") {
		t.Errorf("over HTTPS: HTTP %d %s", resp.StatusCode, b)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS listener")
		}
		resp.Body.Close()
	}
}

// slowTarget answers Servers after a delay, honouring ctx.
type slowTarget struct {
	fleet.Target
	delay   time.Duration
	started chan struct{}
}

func (s slowTarget) Servers(ctx context.Context, sel fleet.Selection) ([]fleet.Server, error) {
	close(s.started)
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Target.Servers(ctx, sel)
}

// TestServeActionServerGracefulStop: SIGINT (serve's context ending) lets
// a running action end and answer before serve exits.
func TestServeActionServerGracefulStop(t *testing.T) {
	dir, secrets, addr := actionServerFixture(t, "admin admin-secret-0123456789\n")
	var out, errb lockedBuffer
	a := newApp(strings.NewReader(""), &out, &errb)
	started := make(chan struct{})
	a.wrapTarget = func(t fleet.Target) fleet.Target { return slowTarget{t, 700 * time.Millisecond, started} }
	root := a.root()
	root.SetArgs([]string{"serve", "--state-dir", filepath.Join(dir, "state"), "--listen", addr,
		"--auth", "shared-secret-for-tests", "--shared-secret-file", secrets, "--allowed-project", "admin",
		"--nodes", filepath.Join(dir, "ctl0")})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no answer: %v\n%s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/actions/fleet.servers", strings.NewReader("{}"))
		req.Header.Set("X-Auth-Token", "admin-secret-0123456789")
		resp, err := client.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{code: resp.StatusCode, body: string(b)}
	}()
	<-started
	cancel() // what SIGINT does
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	ans := <-got
	if ans.err != nil || ans.code != 200 || !strings.Contains(ans.body, "ctl0") {
		t.Errorf("the running action was cut off: %+v", ans)
	}
}

// TestServeListenClash: the action server and the signal receiver on one
// address is refused before either listens.
func TestServeListenClash(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ listen, signal string }{
		{"192.0.2.1:8990", "192.0.2.1:8990"},
		{"0.0.0.0:8990", "192.0.2.1:8990"},
		{"192.0.2.1:8990", ":8990"},
	} {
		_, errs, code := runCLI(t, "", "serve", "--state-dir", dir, "--listen", c.listen, "--allowed-project", "admin",
			"--keystone-url", "http://127.0.0.1:5000", "--target", "heat", "--signal-listen", c.signal)
		if code != exitUsage || !strings.Contains(errs, "--listen and --signal-listen are both") {
			t.Errorf("%s vs %s: exit %d, stderr %q", c.listen, c.signal, code, errs)
		}
	}
	for _, c := range []struct{ a, b string }{{"127.0.0.1:0", "127.0.0.1:0"}, {"192.0.2.1:8990", "192.0.2.1:8991"}, {"192.0.2.1:8990", "192.0.2.2:8990"}, {"x", "x"}} {
		if sameListenAddress(c.a, c.b) {
			t.Errorf("%s and %s are not the same fixed address", c.a, c.b)
		}
	}
}
