package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
)

// ServerOptions configure the action server.
type ServerOptions struct {
	// Auth decides who may call; required.
	Auth Authenticator
	// Timeout bounds one action's run; 0 means 15 minutes.
	Timeout time.Duration
	// MaxBody bounds a request body; 0 means 8 MiB.
	MaxBody int64
	// Log receives one record per request (never a body or an output);
	// nil discards them.
	Log *slog.Logger
}

// Server exposes a registry's actions over HTTP for OpenStack Mistral,
// whose ad-hoc actions (base: std.http) call it:
//
//	GET  /v1/actions          every action: name, description, secret, input and output schemas
//	POST /v1/actions/{name}   run one; the body is the input object
//	GET  /healthz             "ok", unauthenticated (readiness)
//
// Every /v1 request is authenticated first (401 without a valid
// credential, 403 for a caller not allowed, 503 when the authenticator
// cannot decide); nothing runs before that. The input is checked against
// the action's InputSchema (400 with the schema's error) and the action
// runs with the request's context and the server's timeout. Answers:
//
//	200 {"result": OUTPUT}
//	4xx/5xx {"error": MESSAGE, "status": CODE[, "result": VALUE]}
//
// A failed action answers 500 (504 when it ran out of time, 501 when it
// refused because the server's Host lacks what it needs: ErrUnbound), so
// that Mistral's std.http fails the task; "result" is the value an action
// attached to its error (workflow.ResultError). A secret output
// (Action.Secret) is returned to the authenticated caller, who asked for it,
// but never logged.
type Server struct {
	reg     workflow.Registry
	opts    ServerOptions
	log     *slog.Logger
	mux     *http.ServeMux
	schemas map[string]*compiled
}

type compiled struct {
	in, out *jsonschema.Schema
}

// NewServer builds the action server of reg; it compiles every action's
// schemas up front, so that a broken schema fails here, not at a call.
func NewServer(reg workflow.Registry, opts ServerOptions) (*Server, error) {
	if opts.Auth == nil {
		return nil, errors.New("actions: the action server needs an Authenticator")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Minute
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 8 << 20
	}
	s := &Server{reg: reg, opts: opts, log: opts.Log, schemas: map[string]*compiled{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, n := range reg.Names() {
		a, _ := reg.Lookup(n)
		var c compiled
		var err error
		if c.in, err = compileSchema(n+".input", a.InputSchema()); err != nil {
			return nil, err
		}
		if c.out, err = compileSchema(n+".output", a.OutputSchema()); err != nil {
			return nil, err
		}
		s.schemas[n] = &c
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /v1/actions", s.list)
	s.mux.HandleFunc("POST /v1/actions/{name}", s.run)
	return s, nil
}

func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("actions: schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	url := "mem:///" + name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("actions: schema %s: %w", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("actions: schema %s: %w", name, err)
	}
	return sch, nil
}

// requestInfo is filled in by the handlers for the request log.
type requestInfo struct {
	action string
	caller *Caller
	err    string
}

type infoKey struct{}

// ServeHTTP implements http.Handler, logging every request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	info := &requestInfo{}
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	attrs := []any{
		"method", r.Method, "path", r.URL.Path, "status", rw.status,
		"duration_ms", float64(time.Since(t0).Microseconds()) / 1000, "remote", r.RemoteAddr,
	}
	if info.action != "" {
		attrs = append(attrs, "action", info.action)
	}
	if c := info.caller; c != nil {
		attrs = append(attrs, "user", firstNonEmpty(c.UserName, c.UserID), "project", firstNonEmpty(c.ProjectName, c.ProjectID))
		if d := firstNonEmpty(c.ProjectDomainName, c.ProjectDomainID); d != "" {
			attrs = append(attrs, "project_domain", d)
		}
	}
	if info.err != "" {
		attrs = append(attrs, "error", info.err)
	}
	level := slog.LevelInfo
	if rw.status >= 400 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "action server request", attrs...)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func info(r *http.Request) *requestInfo {
	if i, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// authenticate answers 401/403/503 and returns false when r may not go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	c, err := s.opts.Auth.Authenticate(r.Context(), r)
	info(r).caller = c
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Keystone uri="", X-Auth-Token`)
		s.fail(w, r, http.StatusUnauthorized, err.Error(), nil)
	case errors.Is(err, ErrForbidden):
		s.fail(w, r, http.StatusForbidden, err.Error(), nil)
	default:
		s.fail(w, r, http.StatusServiceUnavailable, "cannot authenticate the request now: "+err.Error(), nil)
	}
	return false
}

type actionInfo struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Secret       bool            `json:"secret"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	out := []actionInfo{}
	for _, n := range s.reg.Names() {
		a, _ := s.reg.Lookup(n)
		out = append(out, actionInfo{n, a.Description(), a.Secret(), nonEmpty(a.InputSchema()), nonEmpty(a.OutputSchema())})
	}
	b, err := json.Marshal(map[string]any{"actions": out})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "encode the list: "+err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// bodyError is the status and message for a request body that could not be
// read: too large (413), too slow (408), or cut short because the client
// closed the connection (400; nobody reads the answer, the log does).
func bodyError(err error, limit int64) (int, string) {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("read the input: the body is over %d bytes", limit)
	case errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusRequestTimeout, "read the input: the client did not send the whole body in time: " + err.Error()
	default:
		return http.StatusBadRequest, "read the input: the client closed the connection before sending the whole body: " + err.Error()
	}
}

func nonEmpty(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return b
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	info(r).action = name
	if !s.authenticate(w, r) {
		return
	}
	a, ok := s.reg.Lookup(name)
	if !ok {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no action %q (GET /v1/actions lists them)", name), nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		s.fail(w, r, http.StatusUnsupportedMediaType, "the input must be a JSON object (Content-Type application/json), not "+ct, nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		status, msg := bodyError(err, s.opts.MaxBody)
		s.fail(w, r, status, msg, nil)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	v, err := expr.UnmarshalJSON(body)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "the input is not JSON: "+err.Error(), nil)
		return
	}
	input, ok := v.(map[string]any)
	if !ok {
		s.fail(w, r, http.StatusBadRequest, "the input must be a JSON object", nil)
		return
	}
	if sch := s.schemas[name]; sch != nil && sch.in != nil {
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body)) // decoded above
		if err := sch.in.Validate(inst); err != nil {
			s.fail(w, r, http.StatusBadRequest, "input rejected by action "+name+": "+schemaError(err), nil)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	out, err := runAction(ctx, a, input)
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrUnbound):
			status = http.StatusNotImplemented
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			status = http.StatusGatewayTimeout
		}
		var re *workflow.ResultError
		var res any
		if errors.As(err, &re) && !a.Secret() {
			res = re.Value
		}
		s.fail(w, r, status, err.Error(), res)
		return
	}
	b, err := expr.MarshalJSON(map[string]any{"result": out}, "")
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "encode the output of "+name+": "+err.Error(), nil)
		return
	}
	if sch := s.schemas[name]; sch != nil && sch.out != nil {
		ob, _ := expr.MarshalJSON(out, "")
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(ob))
		if err == nil {
			err = sch.out.Validate(inst)
		}
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, "output of action "+name+" does not match its schema: "+schemaError(err), nil)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if a.Secret() {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// runAction runs a, turning a panic into an error: one broken call must
// not take the server, or its request log, down.
func runAction(ctx context.Context, a workflow.Action, input map[string]any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("action %s failed: internal error: %v", a.Name(), p)
		}
	}()
	return a.Run(ctx, input)
}

var printer = message.NewPrinter(language.English)

// schemaError names every failing location of a validation error.
func schemaError(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			m := e.ErrorKind.LocalizedString(printer)
			if loc := strings.Join(e.InstanceLocation, "."); loc != "" {
				m = loc + ": " + m
			}
			msgs = append(msgs, m)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(msgs, "; ")
}

// fail answers an error and notes it for the request log; msg must hold no
// secret (action errors never do, by workflow.Action's contract).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string, result any) {
	info(r).err = firstLine(msg)
	body := map[string]any{"error": msg, "status": int64(status)}
	if result != nil {
		body["result"] = result
	}
	writeJSON(w, status, body)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := expr.MarshalJSON(v, "")
	if err != nil {
		b, _ = json.Marshal(map[string]any{"error": "encode the answer: " + err.Error(), "status": 500})
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
