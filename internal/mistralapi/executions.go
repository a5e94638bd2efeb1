package mistralapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// colExecutions holds what the API knows of an execution beyond the
// engine's record (executionRecord by execution id); the engine's
// snapshots are the store's executions.
const colExecutions store.Collection = "mistral_executions"

type executionRecord struct {
	ID                string         `json:"id"`
	ProjectID         string         `json:"project_id"`
	WorkflowID        string         `json:"workflow_id"`
	WorkflowName      string         `json:"workflow_name"`
	WorkflowNamespace string         `json:"workflow_namespace"`
	Description       string         `json:"description"`
	Params            map[string]any `json:"params"`
	SourceExecutionID string         `json:"source_execution_id,omitempty"`
	CronTriggerID     string         `json:"cron_trigger_id,omitempty"`
	// RootExecutionID is set on the records derived for sub-workflow
	// executions (never stored): the API execution they run under.
	RootExecutionID string `json:"-"`
}

// runningExecution is an execution this process runs.
type runningExecution struct {
	cancel context.CancelFunc
	done   chan struct{}
	// forced is the state a PUT asked for (ERROR, SUCCESS, CANCELLED),
	// applied when the engine has stopped; guarded by Server.mu.
	forced    workflow.State
	forcedMsg string
}

var executionKind = listKind{
	name: "executions",
	fields: []string{"id", "workflow_id", "workflow_name", "workflow_namespace", "description", "tags", "params",
		"task_execution_id", "root_execution_id", "source_execution_id", "state", "state_info", "input", "output",
		"created_at", "updated_at", "project_id", "published_global"},
	filterable: []string{"id", "workflow_id", "workflow_name", "workflow_namespace", "description", "tags", "params",
		"task_execution_id", "root_execution_id", "source_execution_id", "state", "state_info", "input", "output",
		"created_at", "updated_at"},
}

// interruptedInfo is the state_info of an execution a restart interrupted.
const interruptedInfo = "fernetflow serve stopped while this execution was running; it was not resumed (start it again)"

// recoverInterrupted ends in ERROR the API's executions that the store
// shows running: at start no process runs them.
func (s *Server) recoverInterrupted() error {
	recs, err := s.opts.Store.Records(colExecutions)
	if err != nil {
		return err
	}
	for _, r := range recs {
		ex, err := s.opts.Store.Get(r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if ex.State.Done() {
			continue
		}
		now := s.now()
		ex.State, ex.StateInfo, ex.UpdatedAt = workflow.Failed, interruptedInfo, now
		for _, te := range ex.Tasks {
			if !te.State.Done() {
				te.State, te.StateInfo, te.FinishedAt = workflow.Failed, interruptedInfo, now
			}
		}
		if err := s.opts.Store.Record(context.Background(), ex); err != nil {
			return err
		}
		s.log.Warn("execution interrupted by a restart", "execution", ex.ID, "workflow", ex.WorkflowName)
	}
	return nil
}

func (s *Server) getExecutionRecord(id string) (*executionRecord, error) {
	b, err := s.opts.Store.GetRecord(colExecutions, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("WorkflowExecution not found [id=%s]", id)
	}
	if err != nil {
		return nil, err
	}
	var rec executionRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("mistralapi: execution %s: %w", id, err)
	}
	return &rec, nil
}

// findExecution is the execution id as c may see it (its own, or any for
// an admin), with the engine's record.
func (s *Server) findExecution(c *caller, id string) (*executionRecord, *workflow.Execution, error) {
	rec, err := s.getExecutionRecord(id)
	if err != nil {
		if sub, serr := s.findSubExecution(c, id); serr == nil {
			return sub.rec, sub.ex, nil
		}
		return nil, nil, err
	}
	if !c.admin && rec.ProjectID != c.ProjectID {
		return nil, nil, notFound("WorkflowExecution not found [id=%s]", id)
	}
	ex, err := s.opts.Store.Get(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound("WorkflowExecution not found [id=%s]", id)
	}
	return rec, ex, err
}

func (s *Server) renderExecution(rec *executionRecord, ex *workflow.Execution, withOutput bool) resource {
	params := rec.Params
	if params == nil {
		params = map[string]any{}
	}
	desc := rec.Description
	r := resource{
		"id": ex.ID, "workflow_id": rec.WorkflowID, "workflow_name": rec.WorkflowName,
		"workflow_namespace": rec.WorkflowNamespace, "description": desc, "tags": []string{},
		"params": jsonString(params), "task_execution_id": nilIfEmpty(ex.ParentTaskID),
		"root_execution_id": nilIfEmpty(rec.RootExecutionID), "source_execution_id": nilIfEmpty(rec.SourceExecutionID),
		"state": string(ex.State), "state_info": nilIfEmpty(ex.StateInfo), "input": jsonString(orEmpty(ex.Input)),
		"created_at": timestamp(ex.CreatedAt), "updated_at": timestamp(ex.UpdatedAt),
		"project_id": rec.ProjectID, "published_global": "{}",
	}
	if withOutput {
		r["output"] = jsonString(orEmpty(ex.Output))
	}
	return withSortTimes(r, map[string]time.Time{"created_at": ex.CreatedAt, "updated_at": ex.UpdatedAt})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// startRequest is what starts an execution: POST /v2/executions or a cron
// trigger's slot.
type startRequest struct {
	ID                string
	WorkflowID        string // an id or a name
	WorkflowNamespace string
	Input             map[string]any
	Params            map[string]any
	Description       string
	SourceExecutionID string
	CronTriggerID     string
}

// start checks and records a new execution and runs it in the
// background: it returns at once, with the execution RUNNING.
func (s *Server) start(c *caller, req startRequest) (*executionRecord, *workflow.Execution, error) {
	wfRec, err := s.findWorkflow(c, req.WorkflowID, req.WorkflowNamespace)
	if err != nil {
		return nil, nil, err
	}
	_, file, err := s.loadDefinition(c, wfRec.Definition, wfRec.Namespace)
	if err != nil {
		return nil, nil, err
	}
	wf := file.Workflow(wfRec.Name)
	if wf == nil {
		return nil, nil, fmt.Errorf("mistralapi: workflow %s is not in its own definition", wfRec.Name)
	}
	e := &workflow.Engine{Registry: s.opts.Registry, File: file, Recorder: recorder{s}}
	ep, err := engineParams(wf, req.Params)
	if err != nil {
		return nil, nil, err
	}
	ex, err := e.StartWith(wf, req.Input, ep)
	if err != nil {
		return nil, nil, badRequest("Invalid input [name=%s, class=mistral.workflow, %v]", wfRec.Name, err)
	}
	if req.ID != "" {
		ex.ID = req.ID
	}
	ex.Description = req.Description
	params := req.Params
	if params == nil {
		params = map[string]any{}
	}
	if _, ok := params["namespace"]; !ok {
		params["namespace"] = wfRec.Namespace
	}
	if _, ok := params["env"]; !ok {
		params["env"] = map[string]any{}
	}
	if ep.TaskName != "" {
		params["task_name"] = ep.TaskName
	}
	for k, v := range params {
		if k != "env" { // the engine's is normalized
			ex.Params[k] = v
		}
	}
	rec := &executionRecord{ID: ex.ID, ProjectID: c.ProjectID, WorkflowID: wfRec.ID, WorkflowName: wfRec.Name,
		WorkflowNamespace: wfRec.Namespace, Description: req.Description, Params: params,
		SourceExecutionID: req.SourceExecutionID, CronTriggerID: req.CronTriggerID}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, err
	}
	if err := s.opts.Store.PutRecord(colExecutions, rec.ID, b); err != nil {
		return nil, nil, err
	}
	if err := s.opts.Store.Record(context.Background(), ex); err != nil {
		_ = s.opts.Store.DeleteRecord(colExecutions, rec.ID)
		return nil, nil, err
	}
	snapshot := *ex
	id := ex.ID
	started := make(chan struct{})
	var once sync.Once
	var sub chan struct{} // the first task's sub-workflow started a task
	e.OnTask = func(_ *workflow.Execution, te *workflow.TaskExecution) {
		once.Do(func() {
			if strings.HasPrefix(te.Action, "workflow:") {
				// Registered before the engine starts the sub-workflow.
				sub = make(chan struct{})
				s.liveMu.Lock()
				s.subStarted[te.ID] = sub
				s.liveMu.Unlock()
			}
			close(started)
		})
		s.noteTask(id, te)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &runningExecution{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.running[ex.ID] = run
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(run.done)
		defer cancel()
		end := e.Continue(ctx, wf, ex)
		s.liveMu.Lock()
		delete(s.live, id)
		s.liveMu.Unlock()
		s.mu.Lock()
		delete(s.running, end.ID)
		forced, msg := run.forced, run.forcedMsg
		s.mu.Unlock()
		if forced != "" && end.State != forced {
			end.State, end.UpdatedAt = forced, s.now()
			if msg != "" {
				end.StateInfo = msg
			}
			if err := s.opts.Store.Record(context.WithoutCancel(ctx), end); err != nil {
				s.log.Error("record execution", "execution", end.ID, "err", err)
			}
		}
		s.log.Info("execution ended", "execution", end.ID, "workflow", end.WorkflowName, "project", rec.ProjectID, "state", end.State)
	}()
	// Mistral creates the first tasks before it answers: wait (briefly)
	// until the engine has started one, so that a client listing the
	// tasks right after POST sees them.
	// When that task is a sub-workflow, wait for the sub-workflow's
	// first task too (tempest's test_task_type lists both at once).
	deadline := time.NewTimer(firstTaskWait)
	defer deadline.Stop()
	select {
	case <-started:
		if sub != nil {
			select {
			case <-sub:
			case <-run.done:
			case <-deadline.C:
			}
			s.liveMu.Lock()
			for k, ch := range s.subStarted {
				if ch == sub {
					delete(s.subStarted, k)
				}
			}
			s.liveMu.Unlock()
		}
	case <-run.done:
	case <-deadline.C:
	}
	return rec, &snapshot, nil
}

// engineParams are the engine's parameters from an execution's params:
// env (an object) and, for a reverse workflow, task_name, checked as
// Mistral checks them (400 for a missing or unknown target task).
func engineParams(wf *workflow.Workflow, params map[string]any) (workflow.Params, error) {
	var p workflow.Params
	if v, ok := params["env"]; ok && v != nil {
		env, ok := v.(map[string]any)
		if !ok {
			return p, badRequest("Invalid input for field/attribute params: env must be a JSON object")
		}
		p.Env = env
	}
	if v, ok := params["task_name"]; ok && v != nil {
		name, ok := v.(string)
		if !ok {
			return p, badRequest("Invalid input for field/attribute params: task_name must be a string")
		}
		p.TaskName = name
	}
	if !wf.Reverse {
		p.TaskName = ""
		return p, nil
	}
	if p.TaskName == "" {
		return p, badRequest("Invalid input [name=%s, class=mistral.workflow.reverse_workflow, task_name is required for a reverse workflow]", wf.Name)
	}
	if wf.Task(p.TaskName) == nil {
		return p, badRequest("Invalid task name [wf_spec=%s, task_name=%s]", wf.Name, p.TaskName)
	}
	return p, nil
}

// createExecution is POST /v2/executions: 201 with state RUNNING; the
// workflow runs in the background.
func (s *Server) createExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body struct {
		ID                string    `json:"id"`
		WorkflowID        string    `json:"workflow_id"`
		WorkflowName      string    `json:"workflow_name"`
		WorkflowNamespace string    `json:"workflow_namespace"`
		Description       string    `json:"description"`
		SourceExecutionID string    `json:"source_execution_id"`
		Input             jsonField `json:"input"`
		Params            jsonField `json:"params"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.ID != "" {
		if rec, ex, err := s.findExecution(c, body.ID); err == nil {
			writeJSON(w, http.StatusCreated, s.renderExecution(rec, ex, true))
			return nil
		}
	}
	input, err := body.Input.object("input")
	if err != nil {
		return err
	}
	params, err := body.Params.object("params")
	if err != nil {
		return err
	}
	req := startRequest{ID: body.ID, WorkflowID: body.WorkflowID, WorkflowNamespace: body.WorkflowNamespace,
		Input: input, Params: params, Description: body.Description, SourceExecutionID: body.SourceExecutionID}
	if body.SourceExecutionID != "" {
		srec, sex, err := s.findExecution(c, body.SourceExecutionID)
		if err != nil {
			return err
		}
		if req.WorkflowID == "" && body.WorkflowName == "" {
			req.WorkflowID, req.WorkflowNamespace = srec.WorkflowID, srec.WorkflowNamespace
		}
		if req.Input == nil {
			req.Input = sex.Input
		}
		if req.Params == nil {
			req.Params = srec.Params
		}
		req.Description = fmt.Sprintf("%s Based on the execution '%s'", req.Description, body.SourceExecutionID)
	}
	if req.WorkflowID == "" {
		req.WorkflowID = body.WorkflowName
	}
	if req.WorkflowID == "" {
		return badRequest("Workflow ID or workflow name must be provided. Workflow ID is recommended.")
	}
	if ns, ok := params["namespace"].(string); ok && req.WorkflowNamespace == "" {
		req.WorkflowNamespace = ns
	}
	rec, ex, err := s.start(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.renderExecution(rec, ex, true))
	return nil
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, ex, err := s.findExecution(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderExecution(rec, ex, true))
	return nil
}

// firstTaskWait bounds how long start waits for the first task.
const firstTaskWait = time.Second

// stopWait bounds how long PUT and DELETE wait for a cancelled execution
// to end.
const stopWait = 30 * time.Second

// stop cancels a running execution and waits until it has ended and
// been recorded, in state (CANCELLED when ""). It reports false when the
// execution does not run in this process.
func (s *Server) stop(id string, state workflow.State, msg string) (bool, error) {
	s.mu.Lock()
	run, ok := s.running[id]
	if ok && state != "" {
		run.forced, run.forcedMsg = state, msg
	}
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	run.cancel()
	select {
	case <-run.done:
		return true, nil
	case <-time.After(stopWait):
		return true, errorf(http.StatusInternalServerError, "Execution %s did not stop within %s", id, stopWait)
	}
}

// updateExecution is PUT /v2/executions/{id}: a description, or a state.
// States: ERROR, SUCCESS and CANCELLED stop a running execution (its
// running tasks are cancelled) and give it that state; RUNNING is
// accepted for a running execution. PAUSED is refused (400) until the
// engine can pause.
func (s *Server) updateExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	var body struct {
		State       string    `json:"state"`
		StateInfo   string    `json:"state_info"`
		Description string    `json:"description"`
		Params      jsonField `json:"params"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	rec, ex, err := s.findExecution(c, id)
	if err != nil {
		return err
	}
	params, err := body.Params.object("params")
	if err != nil {
		return err
	}
	env, _ := params["env"].(map[string]any)
	switch {
	case body.State == "" && body.Description == "" && len(env) == 0:
		return badRequest("The property state, description, or env is not provided for update.")
	case body.State != "" && body.Description != "":
		return badRequest("The property description must be updated separately from state.")
	case len(env) > 0 && body.State != "" && body.State != string(workflow.Running):
		return badRequest("The property env can only be updated when workflow execution is not running or on resume from pause.")
	case len(env) > 0:
		return badRequest("Updating the env of an execution is not supported by fernetflow yet.")
	}
	if body.Description != "" {
		rec.Description = body.Description
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := s.opts.Store.PutRecord(colExecutions, rec.ID, b); err != nil {
			return err
		}
	}
	switch st := workflow.State(body.State); st {
	case "":
	case workflow.Running:
		if ex.State.Done() {
			return badRequest("Cannot resume execution %s: it is in state %s", id, ex.State)
		}
	case workflow.Failed, workflow.Success, workflow.Cancelled:
		if ex.State.Done() {
			break
		}
		ran, err := s.stop(id, st, body.StateInfo)
		if err != nil {
			return err
		}
		if !ran {
			// Not run by this process (it ended meanwhile, or a restart
			// interrupted it): record the state asked for.
			ex.State, ex.UpdatedAt = st, s.now()
			if body.StateInfo != "" {
				ex.StateInfo = body.StateInfo
			}
			if err := s.opts.Store.Record(r.Context(), ex); err != nil {
				return err
			}
		}
	case "PAUSED":
		return badRequest("Cannot change state to PAUSED: fernetflow's engine cannot pause executions yet")
	default:
		return badRequest("Cannot change state to %s. Allowed states are: 'RUNNING, PAUSED, SUCCESS, ERROR, CANCELLED", body.State)
	}
	rec, ex, err = s.findExecution(c, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderExecution(rec, ex, true))
	return nil
}

// deleteExecution is DELETE /v2/executions/{id}: 204. A running execution
// is cancelled first, with or without force: Mistral 15 answers 403
// without force, and Heat, which never sends force, would fail to delete
// its stack.
func (s *Server) deleteExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if _, err := parseBool(r.URL.Query().Get("force")); err != nil {
		return badRequest("Invalid input for field/attribute force. Value: '%s'. %v", r.URL.Query().Get("force"), err)
	}
	if _, _, err := s.findExecution(c, id); err != nil {
		return err
	}
	if _, err := s.stop(id, "", ""); err != nil {
		return err
	}
	if err := s.opts.Store.Delete(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.opts.Store.DeleteRecord(colExecutions, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiExecution is an execution of the API with its engine record.
type apiExecution struct {
	rec *executionRecord
	ex  *workflow.Execution
}

// executions returns the API's executions that c may list: its own, or
// with all (an admin's all_projects or project_id) every project's.
func (s *Server) executions(c *caller, all bool) ([]apiExecution, error) {
	recs, err := s.opts.Store.Records(colExecutions)
	if err != nil {
		return nil, err
	}
	list, err := s.opts.Store.List()
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*workflow.Execution, len(list))
	for _, ex := range list {
		byID[ex.ID] = ex
	}
	var out []apiExecution
	for _, r := range recs {
		var rec executionRecord
		if err := json.Unmarshal(r.Data, &rec); err != nil {
			return nil, fmt.Errorf("mistralapi: execution %s: %w", r.ID, err)
		}
		ex := byID[rec.ID]
		if ex == nil || (!all && rec.ProjectID != c.ProjectID) {
			continue
		}
		s.withLiveTasks(ex)
		out = append(out, apiExecution{&rec, ex})
	}
	return s.withSubExecutions(out, list)
}

// recorder is the engine's Recorder for the API's executions: the store,
// and the signal start waits for when a sub-workflow records its first
// task.
type recorder struct{ s *Server }

func (r recorder) Record(ctx context.Context, ex *workflow.Execution) error {
	err := r.s.opts.Store.Record(ctx, ex)
	if ex.ParentTaskID != "" && len(ex.Tasks) > 0 {
		r.s.liveMu.Lock()
		if ch, ok := r.s.subStarted[ex.ParentTaskID]; ok {
			close(ch)
			delete(r.s.subStarted, ex.ParentTaskID)
		}
		r.s.liveMu.Unlock()
	}
	return err
}

// noteTask keeps te, a task of the running execution id that just
// started or ended (called by the engine; it must not block).
func (s *Server) noteTask(id string, te *workflow.TaskExecution) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	m := s.live[id]
	if m == nil {
		m = map[string]*workflow.TaskExecution{}
		s.live[id] = m
	}
	// Only what a task is and its state: its result and what it
	// published come from the store's snapshots, where secrets are
	// redacted.
	te.Result, te.Published = nil, nil
	m[te.ID] = te
}

// withLiveTasks adds to ex, an execution read from the store, the tasks
// of it that have started since its last snapshot.
func (s *Server) withLiveTasks(ex *workflow.Execution) {
	if ex.State.Done() {
		return
	}
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	live := s.live[ex.ID]
	if len(live) == 0 {
		return
	}
	have := make(map[string]bool, len(ex.Tasks))
	for _, te := range ex.Tasks {
		have[te.ID] = true
	}
	for _, te := range live {
		if !have[te.ID] {
			cp := *te
			ex.Tasks = append(ex.Tasks, &cp)
		}
	}
	slices.SortStableFunc(ex.Tasks, func(a, b *workflow.TaskExecution) int { return a.StartedAt.Compare(b.StartedAt) })
}

// withSubExecutions adds to exs the sub-workflow executions the engine
// recorded under their tasks (ParentTaskID), at any depth, as Mistral
// lists them: in the root's project, with root_execution_id and
// task_execution_id.
func (s *Server) withSubExecutions(exs []apiExecution, list []*workflow.Execution) ([]apiExecution, error) {
	children := map[string][]*workflow.Execution{}
	for _, ex := range list {
		if ex.ParentTaskID != "" {
			children[ex.ParentTaskID] = append(children[ex.ParentTaskID], ex)
		}
	}
	if len(children) == 0 {
		return exs, nil
	}
	seen := make(map[string]bool, len(exs))
	for _, e := range exs {
		seen[e.ex.ID] = true
	}
	var wfs []*workflowRecord
	for i := 0; i < len(exs); i++ { // exs grows as sub-executions are found
		parent := exs[i]
		for _, te := range parent.ex.Tasks {
			for _, child := range children[te.ID] {
				if seen[child.ID] {
					continue
				}
				seen[child.ID] = true
				if wfs == nil {
					var err error
					if wfs, err = s.workflows(); err != nil {
						return nil, err
					}
				}
				exs = append(exs, apiExecution{subRecord(parent.rec, child, wfs), child})
			}
		}
	}
	return exs, nil
}

// subRecord is the API's view of child, a sub-workflow execution under
// parent: it runs in the parent's namespace (params.namespace), and its
// workflow is the one of its name there, else in the default namespace
// (WORKBOOK.NAME when the parent is a workbook's), as withExternal
// resolved it.
func subRecord(parent *executionRecord, child *workflow.Execution, wfs []*workflowRecord) *executionRecord {
	root := parent.RootExecutionID
	if root == "" {
		root = parent.ID
	}
	ns, _ := parent.Params["namespace"].(string)
	params := map[string]any{}
	for k, v := range child.Params {
		params[k] = v
	}
	params["namespace"] = ns
	rec := &executionRecord{ID: child.ID, ProjectID: parent.ProjectID, WorkflowName: child.WorkflowName,
		WorkflowNamespace: ns, Params: params, RootExecutionID: root}
	parentWB := ""
	for _, w := range wfs {
		if w.ID == parent.WorkflowID {
			parentWB = w.Workbook
		}
	}
	for _, try := range []string{ns, ""} {
		for _, w := range wfs {
			if w.ProjectID != parent.ProjectID || w.Namespace != try {
				continue
			}
			if (parentWB == "" && w.Name == child.WorkflowName) || (parentWB != "" && w.Name == parentWB+"."+child.WorkflowName) {
				rec.WorkflowID, rec.WorkflowName, rec.WorkflowNamespace = w.ID, w.Name, w.Namespace
				return rec
			}
		}
	}
	return rec
}

// findSubExecution is the sub-workflow execution id under one of the
// executions c may see.
func (s *Server) findSubExecution(c *caller, id string) (*apiExecution, error) {
	exs, err := s.executions(c, c.admin)
	if err != nil {
		return nil, err
	}
	for i := range exs {
		if exs[i].ex.ID == id && exs[i].rec.RootExecutionID != "" {
			return &exs[i], nil
		}
	}
	return nil, notFound("WorkflowExecution not found [id=%s]", id)
}

// listScope applies Mistral's policy for all_projects and project_id
// (admin only, 403 otherwise).
func listScope(c *caller, p *listParams, policy string) (bool, error) {
	if !p.allProjects && p.projectID == "" {
		return false, nil
	}
	if !c.admin {
		return false, errorf(http.StatusForbidden, "Policy doesn't allow %s to be performed.", policy)
	}
	return true, nil
}

// listExecutions is GET /v2/executions (output only with include_output).
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), executionKind)
	if err != nil {
		return err
	}
	all, err := listScope(c, p, "executions:list:all_projects")
	if err != nil {
		return err
	}
	withOutput, _ := parseBool(r.URL.Query().Get("include_output"))
	exs, err := s.executions(c, all)
	if err != nil {
		return err
	}
	var items []resource
	for _, e := range exs {
		if p.projectID != "" && e.rec.ProjectID != p.projectID {
			continue
		}
		items = append(items, s.renderExecution(e.rec, e.ex, withOutput || contains(p.fields, "output")))
	}
	page, next, err := p.page(items, executionKind, baseURL(r))
	if err != nil {
		return err
	}
	body := map[string]any{"executions": page}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
