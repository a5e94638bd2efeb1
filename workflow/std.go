package workflow

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// MapRegistry is a Registry backed by a map. The zero value is empty;
// NewRegistry builds one. Safe for concurrent use.
type MapRegistry struct {
	mu sync.RWMutex
	m  map[string]Action
}

// NewRegistry returns a registry holding actions; a later action with the
// same name replaces an earlier one.
func NewRegistry(actions ...Action) *MapRegistry {
	r := &MapRegistry{m: map[string]Action{}}
	for _, a := range actions {
		r.Add(a)
	}
	return r
}

// Add registers a (replacing an action of the same name).
func (r *MapRegistry) Add(a Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]Action{}
	}
	r.m[a.Name()] = a
}

// Lookup implements Registry.
func (r *MapRegistry) Lookup(name string) (Action, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.m[name]
	return a, ok
}

// Names implements Registry.
func (r *MapRegistry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// StdRegistry returns a registry with Mistral's standard actions that
// make sense without OpenStack services: std.noop, std.async_noop,
// std.echo, std.fail, std.sleep, std.http, std.test_dict and std.email.
// Mistral's others (RefusedStdActions) are refused by name when a file is
// validated.
func StdRegistry() *MapRegistry { return NewRegistry(StdActions()...) }

// StdActions returns the standard actions, for adding to another registry.
func StdActions() []Action {
	return []Action{
		FuncAction{ActionName: "std.noop", Desc: "Does nothing; its result is null.",
			In: `{"type":"object","additionalProperties":false}`,
			Fn: func(context.Context, map[string]any) (any, error) { return nil, nil }},
		FuncAction{ActionName: "std.async_noop", Desc: "Does nothing and completes later: the task waits RUNNING until Controller.CompleteAction (Mistral's PUT /v2/action_executions/ID) gives its result, or its timeout.",
			In: `{"type":"object","additionalProperties":false}`,
			Fn: func(context.Context, map[string]any) (any, error) { return nil, ErrPending }},
		FuncAction{ActionName: "std.test_dict", Desc: "Returns a dict of size keys key_prefix0.. each holding val.",
			In: `{"type":"object","properties":{"size":{"type":"integer"},"key_prefix":{},"val":{}},"additionalProperties":false}`,
			Fn: stdTestDict},
		FuncAction{ActionName: "std.email", Desc: "Sends an email through the SMTP server smtp_server (host[:port]; STARTTLS and login when smtp_password is given); its result is null.",
			In: `{"type":"object","properties":{"from_addr":{"type":"string","minLength":1},"to_addrs":{"type":"array","items":{"type":"string"},"minItems":1},"smtp_server":{"type":"string","minLength":1},"reply_to":{"type":["array","null"],"items":{"type":"string"}},"cc_addrs":{"type":["array","null"],"items":{"type":"string"}},"bcc_addrs":{"type":["array","null"],"items":{"type":"string"}},"smtp_password":{"type":["string","null"]},"subject":{"type":["string","null"]},"body":{"type":["string","null"]},"html_body":{"type":["string","null"]}},"required":["from_addr","to_addrs","smtp_server"],"additionalProperties":false}`,
			Fn: stdEmail},
		FuncAction{ActionName: "std.echo", Desc: "Returns its output input unchanged.",
			In: `{"type":"object","properties":{"output":{},"delay":{"type":["integer","number","string"]}},"required":["output"],"additionalProperties":false}`,
			Fn: func(_ context.Context, in map[string]any) (any, error) { return in["output"], nil }},
		FuncAction{ActionName: "std.fail", Desc: "Always fails, with error_data as the error when given.",
			In: `{"type":"object","properties":{"error_data":{}},"additionalProperties":false}`,
			Fn: func(_ context.Context, in map[string]any) (any, error) {
				if d, ok := in["error_data"]; ok && d != nil {
					return nil, &ResultError{Value: d, Err: fmt.Errorf("%s", pyStr(d))}
				}
				// Mistral's own words, which its users grep for.
				return nil, errFailAction
			}},
		FuncAction{ActionName: "std.sleep", Desc: "Sleeps for seconds seconds (honouring cancellation); its result is null.",
			In: `{"type":"object","properties":{"seconds":{"type":["integer","number","string","boolean"]}},"additionalProperties":false}`,
			Fn: stdSleep},
		FuncAction{ActionName: "std.http", Desc: "Sends an HTTP request and returns {content, status, headers, url, history, encoding, reason, cookies, elapsed}; a status outside 200-306 fails the task with that result.",
			In: `{"type":"object","properties":{"url":{"type":"string","minLength":1},"method":{"type":"string"},"params":{"type":["object","null"]},"body":{},"json":{},"headers":{"type":["object","null"]},"cookies":{},"auth":{},"timeout":{"type":["integer","number","null"]},"allow_redirects":{"type":["boolean","null"]},"proxies":{},"verify":{}},"required":["url"],"additionalProperties":false}`,
			Fn: stdHTTP},
	}
}

// RefusedStdActions are Mistral 15's standard actions that fernetflow does
// not run, each with why: they need an OpenStack service or run code on
// hosts fernetflow does not manage. Validate refuses a task that calls one
// by name.
var RefusedStdActions = map[string]string{
	"std.javascript":   "it runs JavaScript inside Mistral's engine (py_mini_racer or v8eval); fernetflow embeds no JavaScript interpreter",
	"std.js":           "it runs JavaScript inside Mistral's engine (py_mini_racer or v8eval); fernetflow embeds no JavaScript interpreter",
	"std.ssh":          "it runs commands over SSH with Mistral's keys; use an action of your own registered with the engine",
	"std.ssh_proxied":  "it runs commands over SSH through a gateway with Mistral's keys; use an action of your own registered with the engine",
	"std.mistral_http": "it is std.http that a Mistral service calls back through PUT /v2/action_executions; use std.http, or std.async_noop completed through serve's API",
}

//lint:ignore ST1005 Mistral's message, kept verbatim
var errFailAction = errors.New("Fail action expected exception.")

// rawSchema is s as a JSON Schema, nil (none) when s is empty: an empty
// json.RawMessage is not JSON and fails to marshal.
func rawSchema(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// FuncAction adapts a function to Action.
type FuncAction struct {
	ActionName string
	Desc       string
	In, Out    string // JSON Schemas; "" means none
	IsSecret   bool
	Fn         func(ctx context.Context, input map[string]any) (any, error)
}

func (f FuncAction) Name() string                  { return f.ActionName }
func (f FuncAction) Description() string           { return f.Desc }
func (f FuncAction) InputSchema() json.RawMessage  { return rawSchema(f.In) }
func (f FuncAction) OutputSchema() json.RawMessage { return rawSchema(f.Out) }
func (f FuncAction) Secret() bool                  { return f.IsSecret }
func (f FuncAction) Run(ctx context.Context, in map[string]any) (any, error) {
	return f.Fn(ctx, in)
}

// ResultError is an action error that carries a result, as std.http's
// error carries the response: publish-on-error and on-error conditions see
// it as task().result.
type ResultError struct {
	Value any
	Err   error
}

func (e *ResultError) Error() string { return e.Err.Error() }
func (e *ResultError) Unwrap() error { return e.Err }

func toSeconds(v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, fmt.Errorf("%q is not a number of seconds", x)
		}
		return f, nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("%v is not a number of seconds", v)
}

func stdTestDict(_ context.Context, in map[string]any) (any, error) {
	n, _ := in["size"].(int64) // range(size): nothing when negative
	prefix := ""
	if p, ok := in["key_prefix"]; ok {
		prefix = pyStr(p)
	}
	val, ok := in["val"]
	if !ok {
		val = ""
	}
	out := make(map[string]any, max(n, 0))
	for i := int64(0); i < n; i++ {
		out[fmt.Sprintf("%s%d", prefix, i)] = val
	}
	return out, nil
}

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, pyStr(e))
	}
	return out
}

// stdEmail is Mistral's SendEmailAction: a text message (or
// multipart/alternative with html_body), sent with STARTTLS and login when
// smtp_password is given.
func stdEmail(ctx context.Context, in map[string]any) (any, error) {
	str := func(k, def string) string {
		if s, ok := in[k].(string); ok {
			return s
		}
		return def
	}
	from, server := str("from_addr", ""), str("smtp_server", "")
	to, cc, bcc, replyTo := strList(in["to_addrs"]), strList(in["cc_addrs"]), strList(in["bcc_addrs"]), strList(in["reply_to"])
	subject, body, html := str("subject", "<No subject>"), str("body", "<No body>"), str("html_body", "")
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "Subject: %s\r\nFrom: %s\r\nReply-To: %s\r\nTo: %s\r\n", mime.QEncoding.Encode("utf-8", subject), from, strings.Join(replyTo, ", "), strings.Join(to, ", "))
	if len(cc) > 0 {
		fmt.Fprintf(&msg, "Cc: %s\r\n", strings.Join(cc, ", "))
	}
	msg.WriteString("MIME-Version: 1.0\r\n")
	if html == "" {
		fmt.Fprintf(&msg, "Content-Type: text/plain; charset=\"utf-8\"\r\n\r\n%s\r\n", body)
	} else {
		const boundary = "fernetflow-alternative"
		fmt.Fprintf(&msg, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", boundary)
		fmt.Fprintf(&msg, "--%s\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\n%s\r\n", boundary, body)
		fmt.Fprintf(&msg, "--%s\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n%s\r\n--%s--\r\n", boundary, html, boundary)
	}
	addr := server
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "25") // smtplib.SMTP's default port
	}
	fail := func(err error) (any, error) {
		//lint:ignore ST1005 Mistral's words, kept verbatim
		return nil, fmt.Errorf("Failed to send an email message: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fail(err)
	}
	defer c.Close()
	if pw, ok := in["smtp_password"].(string); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fail(err)
		}
		if err := c.Auth(smtp.PlainAuth("", from, pw, host)); err != nil {
			return fail(err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fail(err)
	}
	for _, rcpt := range append(append(cc, bcc...), to...) {
		if err := c.Rcpt(rcpt); err != nil {
			return fail(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail(err)
	}
	if _, err := w.Write(msg.Bytes()); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	if err := c.Quit(); err != nil {
		return fail(err)
	}
	return nil, nil
}

// sleepSeconds is Mistral's SleepAction(seconds=1): int(seconds), 0 when
// that is negative or int() refuses the text ("a", "1.5": Mistral sleeps
// 0 s and succeeds, case p_sleep_bad).
func sleepSeconds(v any, given bool) (int64, error) {
	if !given {
		return 1, nil
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		n = int64(x) // int() truncates toward zero
	case bool:
		if x {
			n = 1
		}
	case string:
		i, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 10, 64)
		if t := strings.TrimSpace(x); err != nil || strings.HasPrefix(t, "_") || strings.HasSuffix(t, "_") || strings.Contains(t, "__") {
			return 0, nil
		}
		n = i
	default:
		return 0, fmt.Errorf("std.sleep: seconds is %s, want a number", pyStr(v))
	}
	return max(n, 0), nil
}

func stdSleep(ctx context.Context, in map[string]any) (any, error) {
	v, given := in["seconds"]
	s, err := sleepSeconds(v, given)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(time.Duration(s) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func stdHTTP(ctx context.Context, in map[string]any) (any, error) {
	rawURL, _ := in["url"].(string)
	method := "GET"
	if m, ok := in["method"].(string); ok && m != "" {
		method = strings.ToUpper(m)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("std.http: url %q is not an http(s) URL", rawURL)
	}
	if params, ok := in["params"].(map[string]any); ok {
		q := u.Query()
		for k, v := range params {
			q.Set(k, pyStr(v))
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	headers := http.Header{}
	if h, ok := in["headers"].(map[string]any); ok {
		for k, v := range h {
			headers.Set(k, pyStr(v))
		}
	}
	switch b := in["body"].(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := expr.MarshalJSON(b, "")
		if err != nil {
			return nil, fmt.Errorf("std.http: body: %w", err)
		}
		body = bytes.NewReader(j)
	}
	if j, ok := in["json"]; ok && j != nil {
		enc, err := expr.MarshalJSON(j, "")
		if err != nil {
			return nil, fmt.Errorf("std.http: json: %w", err)
		}
		body = bytes.NewReader(enc)
		if headers.Get("Content-Type") == "" {
			headers.Set("Content-Type", "application/json")
		}
	}
	timeout := 60 * time.Second
	if t, ok := in["timeout"]; ok && t != nil {
		s, err := toSeconds(t)
		if err != nil {
			return nil, fmt.Errorf("std.http: timeout: %w", err)
		}
		timeout = time.Duration(s * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("std.http: %w", err)
	}
	req.Header = headers
	if auth, ok := in["auth"].([]any); ok && len(auth) == 2 {
		req.SetBasicAuth(pyStr(auth[0]), pyStr(auth[1]))
	}
	client := &http.Client{}
	if ar, ok := in["allow_redirects"].(bool); ok && !ar {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("std.http: %s %s: %w", method, rawURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("std.http: %s %s: read the response: %w", method, rawURL, err)
	}
	var content any = string(raw)
	if v, err := expr.UnmarshalJSON(raw); err == nil {
		content = v
	}
	hdrs := map[string]any{}
	for k, v := range resp.Header {
		hdrs[k] = strings.Join(v, ", ")
	}
	enc := "utf-8"
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "charset") && !strings.HasPrefix(ct, "application/json") {
		enc = "ISO-8859-1"
	}
	reason := http.StatusText(resp.StatusCode)
	result := map[string]any{
		"content":  content,
		"status":   int64(resp.StatusCode),
		"headers":  hdrs,
		"url":      resp.Request.URL.String(),
		"history":  []any{},
		"encoding": enc,
		"reason":   reason,
		"cookies":  map[string]any{},
		"elapsed":  time.Since(start).Seconds(),
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 307 {
		return nil, &ResultError{Value: result, Err: fmt.Errorf("std.http: %s %s: HTTP %d %s", method, rawURL, resp.StatusCode, reason)}
	}
	return result, nil
}

// pyStr renders a value as Python's str() would, for state_info and
// query strings.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	r, err := expr.EvalString(context.Background(), "<% str($) %>", v, expr.Funcs{})
	if err != nil {
		return fmt.Sprint(v)
	}
	s, _ := r.(string)
	return s
}
