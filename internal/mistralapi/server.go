package mistralapi

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// Identifier finds out who sent a request: a Caller with a project, or an
// error wrapping actions.ErrUnauthenticated (401). Any other error means it
// could not decide (Keystone unreachable): 503. actions.KeystoneAuth's
// Identify is one; NoAuth is another.
type Identifier func(ctx context.Context, r *http.Request) (*actions.Caller, error)

// NoAuthProject is the project every caller of NoAuth belongs to, as
// Mistral names it when its authentication is off.
const NoAuthProject = "<default-project>"

// NoAuth identifies every request as an admin of NoAuthProject, whoever
// sent it: no authentication at all. Anyone who can connect may run any
// workflow, with every action the registry has. For a single-user host
// with the server on a loopback address only.
func NoAuth(context.Context, *http.Request) (*actions.Caller, error) {
	return &actions.Caller{UserName: "noauth", ProjectID: NoAuthProject, ProjectName: NoAuthProject, Roles: []string{"admin"}}, nil
}

// Options configure a Server.
type Options struct {
	// Store keeps definitions, executions and cron triggers (required).
	Store *store.Store
	// Registry is the actions workflows may call (required): the served
	// engine's, actions.Engine(...), so that fernetflow's own actions are
	// native.
	Registry workflow.Registry
	// Identify authenticates callers (required): see Identifier.
	Identify Identifier
	// AuthorizeActions says whether a caller's executions and action runs
	// may run Registry's actions other than the engine's std.* (fernetflow's
	// own, which act on the fleet with this server's credentials and keys):
	// nil lets every caller (--auth noauth); serve gives the action server's
	// rule (AuthorizeKeystone). A cron trigger fires as its creator (its
	// trust), or, without a trust, as its project with no roles.
	AuthorizeActions func(*actions.Caller) error
	// Trusts make cron triggers fire as their creator (see Trusts); nil
	// means none: triggers fire in their project with no delegation
	// (NoAuth).
	Trusts Trusts
	// AdminRoles are the roles that make a caller an admin (Mistral's
	// policy rule admin_only); empty means "admin".
	AdminRoles []string
	// Log receives one line per request and the engine's errors; nil
	// discards them.
	Log *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// SystemDefinitions are workflow definitions (fernetflow's own,
	// workflow/definitions) served as Mistral's system workflows: public,
	// listed to every project, run by any, neither updated nor deleted.
	SystemDefinitions []string
	// OnEnd, when set, is called once with each execution the server
	// ran (POST /v2/executions, a cron trigger's) when it has ended and
	// the store holds its final state; not for sub-workflow executions.
	// It runs on the execution's goroutine: Drain and Close wait for it.
	OnEnd func(*workflow.Execution)
	// ServiceName names this process in GET /v2/services; "" means
	// "fernetflow@HOSTNAME".
	ServiceName string
}

// Server serves Mistral's v2 REST API. Create it with New; it is an
// http.Handler. Close cancels the executions it runs.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// serviceName is the process in GET /v2/services.
	serviceName string
	// system are the workflows of Options.SystemDefinitions.
	system []*workflowRecord

	ctx    context.Context // the executions' parent
	cancel context.CancelFunc
	wg     sync.WaitGroup

	drainMu  sync.Mutex // draining, and wg.Add while not
	draining bool       // Drain was called: start nothing more

	mu      sync.Mutex // serialises writes that check uniqueness
	running map[string]*runningExecution

	// ctl is the Control of every engine the server starts: PUT
	// /v2/executions/{id} and /v2/action_executions/{id} act through it.
	ctl *workflow.Controller

	// taskOwners are hints (tasks.go): task id -> execution id.
	taskOwners taskIndex

	liveMu sync.Mutex
	// live are the tasks of running executions as the engine started
	// them (Engine.OnTask), by execution and task id: the engine records
	// a snapshot only when a task ends, and Mistral lists a task from
	// the moment it is scheduled (during its wait-before, say).
	live map[string]map[string]*workflow.TaskExecution
	// subStarted are signalled (closed) when the sub-workflow execution
	// of a task, by the task's id, records its first task (see start).
	subStarted map[string]chan struct{}
}

// New returns a Server over opts.Store. It first ends, in state ERROR, every
// execution the API started that the store still shows RUNNING: no process
// runs it any more (a restart interrupted it).
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Registry == nil || opts.Identify == nil {
		return nil, errors.New("mistralapi: Options need Store, Registry and Identify")
	}
	if len(opts.AdminRoles) == 0 {
		opts.AdminRoles = []string{"admin"}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{opts: opts, log: log, ctx: ctx, cancel: cancel, running: map[string]*runningExecution{}, ctl: &workflow.Controller{}, live: map[string]map[string]*workflow.TaskExecution{}, subStarted: map[string]chan struct{}{}}
	s.serviceName = opts.ServiceName
	if s.serviceName == "" {
		host, _ := os.Hostname()
		s.serviceName = "fernetflow@" + host
	}
	if err := s.loadSystem(); err != nil {
		cancel()
		return nil, err
	}
	if err := s.recoverInterrupted(); err != nil {
		cancel()
		return nil, err
	}
	if err := s.recoverActionRuns(); err != nil {
		cancel()
		return nil, err
	}
	s.routes()
	return s, nil
}

// Controller is the execution control of the executions the server runs
// (Engine.Control of each). Give it to store.ServeControl, so that
// `fernetflow execution pause|resume|cancel` reach them.
func (s *Server) Controller() *workflow.Controller { return s.ctl }

// Close cancels the executions the server runs and waits until they have
// ended and are recorded (state CANCELLED), or until ctx ends.
// Drain lets the executions and recorded action runs of this server end
// on their own, until ctx ends, and starts none meanwhile: POST
// /v2/executions, POST /v2/action_executions with save_result and cron
// triggers are refused (503, "stopping"). serve drains on SIGINT or
// SIGTERM before Close, so that a restart does not cut a rotation off.
// It returns ctx's error when some are still running then (paused ones,
// or ones waiting for an asynchronous action, wait for Close).
func (s *Server) Drain(ctx context.Context) error {
	s.drainMu.Lock()
	s.draining = true
	s.drainMu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errStopping is what a request that would start something gets while
// the server drains.
var errStopping = errorf(http.StatusServiceUnavailable, "fernetflow serve is stopping: it starts no execution and lets the running ones end; retry when it is back")

// hold counts one more running execution or action run, or refuses it
// while the server drains. The caller calls release when it has ended
// (or was not started after all).
func (s *Server) hold() (release func(), err error) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	if s.draining {
		return nil, errStopping
	}
	s.wg.Add(1)
	return sync.OnceFunc(s.wg.Done), nil
}

func (s *Server) Close(ctx context.Context) error {
	// What still runs ends in ERROR with the reason, as one a crash
	// interrupted does at the next start; the cancel ends the rest
	// (paused ones: CANCELLED).
	for _, id := range s.ctl.Running() {
		_ = s.ctl.Fail(id, interruptedInfo)
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mistralapi: executions still running at shutdown: %w", ctx.Err())
	}
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now().UTC()
	}
	return time.Now().UTC()
}

// caller is who sent a request, as the handlers need it.
type caller struct {
	*actions.Caller
	admin bool
}

type handler func(w http.ResponseWriter, r *http.Request, c *caller) error

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.versions)
	m.HandleFunc("GET /v2", s.version)
	m.HandleFunc("GET /v2/{$}", s.version)
	h := func(pattern string, fn handler) { m.Handle(pattern, s.auth(fn)) }
	h("GET /v2/workflows", s.listWorkflows)
	h("POST /v2/workflows", s.createWorkflows)
	h("PUT /v2/workflows", s.updateWorkflows)
	h("POST /v2/workflows/validate", s.validateWorkflow)
	h("GET /v2/workflows/{id}", s.getWorkflow)
	h("PUT /v2/workflows/{id}", s.updateWorkflows)
	h("DELETE /v2/workflows/{id}", s.deleteWorkflow)
	h("GET /v2/workbooks", s.listWorkbooks)
	h("POST /v2/workbooks", s.createWorkbook)
	h("PUT /v2/workbooks", s.updateWorkbook)
	h("POST /v2/workbooks/validate", s.validateWorkbook)
	h("GET /v2/workbooks/{name}", s.getWorkbook)
	h("DELETE /v2/workbooks/{name}", s.deleteWorkbook)
	h("GET /v2/actions", s.listActions)
	h("POST /v2/actions", s.createActions)
	h("PUT /v2/actions", s.updateActions)
	h("GET /v2/actions/{id}", s.getAction)
	h("PUT /v2/actions/{id}", s.updateActions)
	h("DELETE /v2/actions/{id}", s.deleteAction)
	h("GET /v2/executions", s.listExecutions)
	h("POST /v2/executions", s.createExecution)
	h("GET /v2/executions/{id}", s.getExecution)
	h("PUT /v2/executions/{id}", s.updateExecution)
	h("DELETE /v2/executions/{id}", s.deleteExecution)
	h("GET /v2/executions/{id}/tasks", s.listTasks)
	h("GET /v2/tasks", s.listTasks)
	h("GET /v2/tasks/{id}", s.getTask)
	h("GET /v2/tasks/{id}/action_executions", s.listActionExecutions)
	h("GET /v2/action_executions", s.listActionExecutions)
	h("GET /v2/action_executions/{id}", s.getActionExecution)
	h("POST /v2/action_executions", s.createActionExecution)
	h("PUT /v2/action_executions/{id}", s.updateActionExecution)
	h("DELETE /v2/action_executions/{id}", s.deleteActionExecution)
	h("GET /v2/cron_triggers", s.listCronTriggers)
	h("POST /v2/cron_triggers", s.createCronTrigger)
	h("GET /v2/cron_triggers/{id}", s.getCronTrigger)
	h("DELETE /v2/cron_triggers/{id}", s.deleteCronTrigger)
	h("GET /v2/environments", s.listEnvironments)
	h("POST /v2/environments", s.createEnvironment)
	h("PUT /v2/environments", s.updateEnvironment)
	h("GET /v2/environments/{name}", s.getEnvironment)
	h("DELETE /v2/environments/{name}", s.deleteEnvironment)
	h("GET /v2/services", s.listServices)
	h("GET /v2/event_triggers", s.listEventTriggers)
	h("POST /v2/event_triggers", s.createEventTrigger)
	h("GET /v2/event_triggers/{id}", s.getEventTrigger)
	h("PUT /v2/event_triggers/{id}", s.updateEventTrigger)
	h("DELETE /v2/event_triggers/{id}", s.deleteEventTrigger)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("The resource could not be found."))
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	// pecan answers /v2/actions/NAME/ as /v2/actions/NAME
	// (python-mistralclient's action definition show sends the slash).
	if p := r.URL.Path; len(p) > len("/v2/") && strings.HasPrefix(p, "/v2/") && strings.HasSuffix(p, "/") {
		r.URL.Path = strings.TrimRight(p, "/")
		r.URL.RawPath = ""
	}
	s.mux.ServeHTTP(sw, r)
	s.log.Info("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "status", sw.status, "ms", time.Since(start).Milliseconds())
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) auth(fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.opts.Identify(r.Context(), r)
		switch {
		case errors.Is(err, actions.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", "Keystone uri='keystone'")
			writeError(w, errorf(http.StatusUnauthorized, "The request you have made requires authentication."))
			return
		case err != nil:
			s.log.Error("authenticate", "err", err)
			writeError(w, errorf(http.StatusServiceUnavailable, "Authentication service unavailable: %v", err))
			return
		case c.ProjectID == "":
			writeError(w, errorf(http.StatusUnauthorized, "The request you have made requires a project-scoped token."))
			return
		}
		cl := &caller{Caller: c}
		for _, role := range c.Roles {
			if slices.Contains(s.opts.AdminRoles, role) {
				cl.admin = true
			}
		}
		if err := fn(w, r, cl); err != nil {
			writeError(w, err)
		}
	})
}

// baseURL is the server's own URL as the client reached it, for next links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// versions is the version document at /, without a token (as Mistral).
func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	u := baseURL(r) + "/v2"
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"href": u, "rel": "self", "target": "v2"}},
	}}})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"uri": baseURL(r) + "/v2"})
}

// maxBody bounds request bodies (workflow definitions, execution input).
const maxBody = 4 << 20

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("read the request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "Request body larger than %d bytes", maxBody)
	}
	return b, nil
}

// decodeJSON reads a JSON object body into v.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("Failed to parse the request body as JSON: %v", err)
	}
	return nil
}

// jsonField is one of Mistral's JSON-valued fields (types.jsontype) in a
// request: a JSON string holding JSON text (OSC, Heat, tempest), or the
// value itself (gophercloud sends objects).
type jsonField struct {
	set bool
	v   any
}

func (f *jsonField) UnmarshalJSON(b []byte) error {
	f.set = true
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			f.v = nil
			return nil
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return fmt.Errorf("%q is not JSON: %w", s, err)
		}
	}
	f.v = v
	return nil
}

// object is the field as a JSON object (nil when unset or null).
func (f jsonField) object(name string) (map[string]any, error) {
	if f.v == nil {
		return nil, nil
	}
	m, ok := f.v.(map[string]any)
	if !ok {
		return nil, badRequest("Invalid input for field/attribute %s: want a JSON object", name)
	}
	return m, nil
}

// jsonString is v as Mistral returns a JSON-valued field: JSON text in a
// string ("{}" for nil maps).
func jsonString(v any) string {
	if m, ok := v.(map[string]any); ok && m == nil {
		return "{}"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// timeFormat is Mistral's timestamp: UTC, without a zone.
const timeFormat = "2006-01-02 15:04:05"

// timestamp is t in Mistral's format, or null for the zero time.
func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

// intField is an integer in a request as wsme takes it: a JSON number or
// a string of digits ("42", python-mistralclient and tempest send those).
// bad holds the text of a value that is neither (a 400 for the handler).
type intField struct {
	n   int
	bad string
}

func (f *intField) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			f.bad = string(b)
			return nil
		}
		f.n = int(x)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			f.bad = x
			return nil
		}
		f.n = n
	default:
		f.bad = string(b)
	}
	return nil
}

// SystemProject is the project of system workflows, as Mistral's.
const SystemProject = "<default-project>"

// loadSystem reads Options.SystemDefinitions into s.system. Their ids are
// derived from their names, so that they stay the same across restarts
// (a cron trigger keeps its workflow's id).
func (s *Server) loadSystem() error {
	now := s.now()
	for i, src := range s.opts.SystemDefinitions {
		f, err := workflow.Load(fmt.Sprintf("system definition %d", i), []byte(src), s.opts.Registry)
		if err != nil {
			return fmt.Errorf("mistralapi: system workflows: %w", err)
		}
		for _, wf := range f.Workflows {
			rec := &workflowRecord{ID: systemID(wf.Name), Name: wf.Name, ProjectID: SystemProject, Scope: "public",
				Definition: src, System: true, CreatedAt: now}
			rec.Input, rec.Interface = signature(wf)
			rec.Own = ownDefinition(f, src, wf.Name)
			s.system = append(s.system, rec)
		}
	}
	return nil
}

// systemID is a name-based (version 5 form) UUID for a system workflow.
func systemID(name string) string {
	h := sha1.Sum([]byte("fernetflow system workflow\x00" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
