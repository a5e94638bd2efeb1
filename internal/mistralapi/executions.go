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

// runningExecution is an execution this process runs; done is closed
// once the engine has returned it, ended and recorded.
type runningExecution struct {
	cancel context.CancelFunc
	done   chan struct{}
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
	if err := s.failInterrupted(colExecutions, "execution interrupted by a restart", false); err != nil {
		return err
	}
	// The sub-workflow executions of the API's executions; the links of
	// those whose execution is gone are dropped.
	return s.failInterrupted(colSubExecutions, "sub-workflow execution interrupted by a restart", true)
}

// failInterrupted ends, in state ERROR with interruptedInfo, the
// executions of collection col that the store still shows unfinished
// (with their unfinished tasks); with dropGone, the records of those the
// store no longer has are deleted.
func (s *Server) failInterrupted(col store.Collection, logMsg string, dropGone bool) error {
	recs, err := s.opts.Store.Records(col)
	if err != nil {
		return err
	}
	for _, r := range recs {
		ex, err := s.opts.Store.Get(r.ID)
		if errors.Is(err, store.ErrNotFound) {
			if dropGone {
				_ = s.opts.Store.DeleteRecord(col, r.ID)
			}
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
		s.log.Warn(logMsg, "execution", ex.ID, "workflow", ex.WorkflowName)
	}
	return nil
}

// deleteSubExecutions deletes the sub-workflow executions under root (the
// store's and their links).
func (s *Server) deleteSubExecutions(root string) error {
	links, err := s.opts.Store.Records(colSubExecutions)
	if err != nil {
		return err
	}
	for _, l := range links {
		var link subLink
		if err := json.Unmarshal(l.Data, &link); err != nil || link.RootExecutionID != root {
			continue
		}
		if err := s.opts.Store.Delete(l.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := s.opts.Store.DeleteRecord(colSubExecutions, l.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
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
func (s *Server) start(c *caller, req startRequest) (_ *executionRecord, _ *workflow.Execution, err error) {
	release, err := s.hold()
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			release() // not started
		}
	}()
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
	e := &workflow.Engine{Registry: s.ownActions(c), File: file, Recorder: &recorder{s: s}, Control: s.ctl}
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
	e.Recorder.(*recorder).root = ex.ID
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
	if err := putJSON(s.opts.Store, colExecutions, rec.ID, rec); err != nil {
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
		// Noted before started is closed: POST answers then, and a client
		// listing the tasks at once must see this one.
		s.noteTask(id, te)
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
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &runningExecution{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.running[ex.ID] = run
	s.mu.Unlock()
	go func() {
		defer release()
		defer close(run.done)
		defer cancel()
		// With a Controller, Continue returns only when the execution
		// has ended: a paused one waits in it for Resume or Stop.
		end := e.Continue(ctx, wf, ex)
		s.liveMu.Lock()
		delete(s.live, id)
		s.liveMu.Unlock()
		s.mu.Lock()
		delete(s.running, end.ID)
		s.mu.Unlock()
		s.log.Info("execution ended", "execution", end.ID, "workflow", end.WorkflowName, "project", rec.ProjectID, "state", end.State)
		if s.opts.OnEnd != nil {
			s.opts.OnEnd(end)
		}
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
	if err := s.envByName(c, params); err != nil {
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

// firstTaskWait bounds how long start waits for the first task. It is
// milliseconds on an idle host; the bound matters only on a loaded one
// (one second was seen to lose the race under CI's load, where clients
// that list the tasks right after POST, as tempest does, then saw none).
const firstTaskWait = 5 * time.Second

// stopWait bounds how long PUT and DELETE wait for a stopped execution
// to end.
const stopWait = 30 * time.Second

// control applies op (a Controller method) to execution id. Right after
// POST the engine may not have registered the run with the Controller
// yet: while this server runs id, ErrNotRunning is retried for up to
// firstTaskWait.
func (s *Server) control(id string, op func(id string) error) error {
	deadline := time.Now().Add(firstTaskWait)
	for {
		err := op(id)
		if !errors.Is(err, workflow.ErrNotRunning) {
			return err
		}
		s.mu.Lock()
		run, ok := s.running[id]
		s.mu.Unlock()
		if !ok || time.Now().After(deadline) {
			return err
		}
		select {
		case <-run.done:
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop ends execution id in state with msg as its state_info
// (Controller.Stop) and waits until the store shows it ended. An
// execution that no engine of this server runs (a restart interrupted it)
// gets the state recorded as asked, unless it has ended.
func (s *Server) stop(ctx context.Context, id string, state workflow.State, msg string) error {
	err := s.control(id, func(id string) error { return s.ctl.Stop(id, state, msg) })
	if errors.Is(err, workflow.ErrNotRunning) {
		ex, gerr := s.opts.Store.Get(id)
		if errors.Is(gerr, store.ErrNotFound) {
			return nil
		}
		if gerr != nil || ex.State.Done() {
			return gerr
		}
		ex.State, ex.UpdatedAt = state, s.now()
		if msg != "" {
			ex.StateInfo = msg
		}
		return s.opts.Store.Record(ctx, ex)
	}
	if err != nil {
		return err
	}
	return s.waitEnded(id, state)
}

// waitEnded waits until the store shows execution id ended (or, when
// state is not CANCELLED, paused: Controller.Stop leaves a paused
// execution paused for those) and, when this server runs it, until its
// goroutine has returned.
func (s *Server) waitEnded(id string, state workflow.State) error {
	deadline := time.Now().Add(stopWait)
	for {
		ex, err := s.opts.Store.Get(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ex.State.Done() || (ex.State == workflow.Paused && state != workflow.Cancelled) {
			break
		}
		if time.Now().After(deadline) {
			return errorf(http.StatusInternalServerError, "Execution %s did not stop within %s", id, stopWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	run, ok := s.running[id]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-run.done:
	case <-time.After(stopWait):
		return errorf(http.StatusInternalServerError, "Execution %s did not stop within %s", id, stopWait)
	}
	return nil
}

// badTransition is Mistral's WorkflowException for a state change its
// state machine refuses (workflows.Workflow.set_state).
func badTransition(rec *executionRecord, ex *workflow.Execution, to workflow.State) error {
	return badRequest("Can't change workflow execution state from %s to %s. [workflow=%s, execution_id=%s]", ex.State, to, rec.WorkflowName, ex.ID)
}

// notHere is the answer for pausing or resuming an execution that the
// store shows unfinished but no engine of this server runs.
func notHere(id string, to workflow.State, err error) error {
	if errors.Is(err, workflow.ErrNotRunning) {
		return badRequest("Cannot change state of execution %s to %s: it does not run in this server", id, to)
	}
	return err
}

// updateExecution is PUT /v2/executions/{id}: a description, or a state,
// through the server's Controller with Mistral's rules (default_engine,
// workflow_handler, workflows.Workflow):
//   - PAUSED pauses a running execution (its sub-workflows first); on a
//     paused one it does nothing; on an ended one it is 400.
//   - RUNNING resumes a paused execution; on any other it does nothing.
//   - SUCCESS ends a running execution in SUCCESS; on a paused or ended
//     one it is 400.
//   - ERROR fails a running execution; a paused or ended one stays as it is.
//   - CANCELLED cancels a running or paused execution; an ended one stays.
//
// state_info is the message of SUCCESS, ERROR and CANCELLED. The answer
// shows the execution once the change has applied.
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
	case len(env) > 0 && body.State == "" && ex.State == workflow.Paused:
		// Mistral's update_workflow_execution_env: merged, still paused.
		if err := s.control(id, func(id string) error { return s.ctl.UpdateEnv(id, env) }); err != nil {
			return notHere(id, workflow.Paused, err)
		}
	case len(env) > 0 && body.State == "":
		return badRequest("Updating the env of an execution is not supported by fernetflow yet.")
	}
	if body.Description != "" {
		rec.Description = body.Description
		if err := putJSON(s.opts.Store, colExecutions, rec.ID, rec); err != nil {
			return err
		}
	}
	switch st := workflow.State(body.State); st {
	case "":
	case workflow.Paused:
		switch {
		case ex.State == workflow.Paused:
		case ex.State.Done():
			return badTransition(rec, ex, st)
		default:
			if err := s.control(id, s.ctl.Pause); err != nil {
				return notHere(id, st, err)
			}
		}
	case workflow.Running:
		if ex.State == workflow.Paused {
			if err := s.control(id, func(id string) error { return s.ctl.ResumeEnv(id, env) }); err != nil {
				return notHere(id, st, err)
			}
		}
	case workflow.Success:
		if ex.State != workflow.Running {
			return badTransition(rec, ex, st)
		}
		if err := s.stop(r.Context(), id, st, body.StateInfo); err != nil {
			return err
		}
	case workflow.Failed:
		if ex.State == workflow.Paused || ex.State.Done() {
			break // Mistral's _fail_workflow returns early
		}
		if err := s.stop(r.Context(), id, st, body.StateInfo); err != nil {
			return err
		}
	case workflow.Cancelled:
		if ex.State.Done() {
			break
		}
		if err := s.stop(r.Context(), id, st, body.StateInfo); err != nil {
			return err
		}
	default:
		return badRequest("Cannot change state to %s. Allowed states are: 'RUNNING, PAUSED, SUCCESS, ERROR, CANCELLED", body.State)
	}
	rec, ex, err = s.findExecution(c, id)
	if err != nil {
		return err
	}
	if newEnv, ok := ex.Params["env"]; ok && len(env) > 0 && rec.Params != nil {
		rec.Params["env"] = newEnv // what ResumeEnv or UpdateEnv merged
		if err := putJSON(s.opts.Store, colExecutions, rec.ID, rec); err != nil {
			return err
		}
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
	if err := s.stop(r.Context(), id, workflow.Cancelled, "Execution deleted"); err != nil {
		return err
	}
	if err := s.opts.Store.Delete(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.opts.Store.DeleteRecord(colExecutions, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.deleteSubExecutions(id); err != nil {
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

// colSubExecutions links each sub-workflow execution of the API's
// executions to its root (subLink by the sub-execution's id), written when
// the sub-execution is first recorded: its parent's snapshot may not show
// the task that started it yet (the engine records a task when it ends),
// and a restart or a DELETE of the root must still find it.
const colSubExecutions store.Collection = "mistral_sub_executions"

type subLink struct {
	RootExecutionID string `json:"root_execution_id"`
}

// recorder is the engine's Recorder for one execution of the API (root)
// and its sub-workflows: the store, the link of each sub-execution to the
// root, and the signal start waits for when a sub-workflow records its
// first task.
type recorder struct {
	s      *Server
	root   string
	mu     sync.Mutex
	linked map[string]bool
}

func (r *recorder) Record(ctx context.Context, ex *workflow.Execution) error {
	if ex.ParentTaskID != "" && r.root != "" {
		r.mu.Lock()
		done := r.linked[ex.ID]
		r.mu.Unlock()
		if !done {
			if err := putJSON(r.s.opts.Store, colSubExecutions, ex.ID, subLink{r.root}); err != nil {
				return err
			}
			r.mu.Lock()
			if r.linked == nil {
				r.linked = map[string]bool{}
			}
			r.linked[ex.ID] = true
			r.mu.Unlock()
		}
	}
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
	s.taskOwners.note(te.ID, id)
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
	return p.write(w, r, items, executionKind)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
