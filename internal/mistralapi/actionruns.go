package mistralapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// Actions run directly (POST /v2/action_executions), outside any
// workflow. As Mistral, a run is synchronous (201 with its output, kept
// nowhere) unless params.save_result is true: then it is recorded, 201
// answers RUNNING at once, and GET shows it until it ends; an
// asynchronous action (std.async_noop) waits RUNNING for PUT. The
// output of an action marked secret is never recorded.

// colActionRuns holds the recorded runs (actionRunRecord by id).
const colActionRuns store.Collection = "mistral_action_runs"

type actionRunRecord struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Namespace   string         `json:"namespace"`
	ProjectID   string         `json:"project_id"`
	State       workflow.State `json:"state"`
	StateInfo   string         `json:"state_info,omitempty"`
	Description string         `json:"description"`
	Input       map[string]any `json:"input"`
	Params      map[string]any `json:"params"`
	// Output is {"result": ...} once the run ended.
	Output map[string]any `json:"output,omitempty"`
	// Pending marks an asynchronous action's run: it waits for PUT, in
	// no goroutine, and survives a restart RUNNING.
	Pending   bool      `json:"pending,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func renderActionRun(rec *actionRunRecord, withOutput bool) resource {
	params := rec.Params
	if params == nil {
		params = map[string]any{}
	}
	r := resource{
		"id": rec.ID, "name": rec.Name, "workflow_name": nil, "workflow_namespace": rec.Namespace, "task_name": nil,
		"task_execution_id": nil, "state": string(rec.State), "state_info": nilIfEmpty(rec.StateInfo), "tags": []string{},
		"description": rec.Description, "project_id": rec.ProjectID, "accepted": rec.State.Done(),
		"input": jsonString(rec.Input), "params": jsonString(params),
		"created_at": timestamp(rec.CreatedAt), "updated_at": timestamp(rec.UpdatedAt),
	}
	if withOutput {
		out := rec.Output
		if out == nil {
			out = map[string]any{}
		}
		r["output"] = jsonString(out)
	}
	return withSortTimes(r, map[string]time.Time{"created_at": rec.CreatedAt, "updated_at": rec.UpdatedAt})
}

func (s *Server) actionRuns() ([]*actionRunRecord, error) {
	return loadAll[actionRunRecord](s.opts.Store, colActionRuns, "action execution")
}

// findActionRun is the recorded run id that c may see, or nil.
func (s *Server) findActionRun(c *caller, id string) (*actionRunRecord, error) {
	b, err := s.opts.Store.GetRecord(colActionRuns, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec actionRunRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("mistralapi: action execution %s: %w", id, err)
	}
	if !c.admin && rec.ProjectID != c.ProjectID {
		return nil, nil
	}
	return &rec, nil
}

func (s *Server) putActionRun(rec *actionRunRecord) error {
	return putJSON(s.opts.Store, colActionRuns, rec.ID, rec)
}

// runParams are the params of POST /v2/action_executions fernetflow
// reads: save_result, run_sync, timeout (seconds) and namespace.
type runParams struct {
	save, sync bool
	timeout    time.Duration
	namespace  string
}

func readRunParams(p map[string]any) (runParams, error) {
	var rp runParams
	for k, v := range p {
		switch k {
		case "save_result", "run_sync":
			b, ok := v.(bool)
			if !ok {
				return rp, badRequest("Invalid input for field/attribute params: %s must be true or false", k)
			}
			if k == "save_result" {
				rp.save = b
			} else {
				rp.sync = b
			}
		case "timeout":
			n, ok := v.(float64)
			if !ok || n <= 0 {
				return rp, badRequest("Invalid input for field/attribute params: timeout must be a positive number of seconds")
			}
			rp.timeout = time.Duration(n * float64(time.Second))
		case "namespace":
			s, ok := v.(string)
			if !ok {
				return rp, badRequest("Invalid input for field/attribute params: namespace must be a string")
			}
			rp.namespace = s
		}
	}
	if rp.save && rp.sync {
		return rp, badRequest("Action with save_result=true cannot be run synchronously in fernetflow: drop run_sync or save_result")
	}
	return rp, nil
}

// createActionExecution is POST /v2/action_executions: runs the action
// name (a system one or an ad-hoc one c may see) with input.
func (s *Server) createActionExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body struct {
		Name        string    `json:"name"`
		Input       jsonField `json:"input"`
		Params      jsonField `json:"params"`
		Description string    `json:"description"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return badRequest("Please provide at least action name to run action.")
	}
	input, err := body.Input.object("input")
	if err != nil {
		return err
	}
	if input == nil {
		input = map[string]any{}
	}
	params, err := body.Params.object("params")
	if err != nil {
		return err
	}
	rp, err := readRunParams(params)
	if err != nil {
		return err
	}
	reg, err := s.registry(c, rp.namespace)
	if err != nil {
		return err
	}
	a, ok := reg.Lookup(body.Name)
	if !ok {
		return notFound("Action not found [name=%s, namespace=%s]", body.Name, rp.namespace)
	}
	if n, err := expr.Normalize(input); err == nil {
		input, _ = n.(map[string]any)
	}
	if err := workflow.CheckInput(a, input); err != nil {
		return badRequest("Invalid input [name=%s, class=%s, %v]", body.Name, body.Name, err)
	}
	now := s.now()
	rec := &actionRunRecord{ID: workflow.NewID(), Name: body.Name, Namespace: rp.namespace, ProjectID: c.ProjectID,
		State: workflow.Running, Description: body.Description, Input: input, Params: params, CreatedAt: now}
	if !rp.save {
		ctx := r.Context()
		if rp.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, rp.timeout)
			defer cancel()
		}
		out, err := a.Run(ctx, input)
		if errors.Is(err, workflow.ErrPending) {
			return badRequest("Action %s completes later (asynchronous): run it with params {\"save_result\": true} and complete it with PUT", body.Name)
		}
		finishRun(rec, out, err, s.now(), false)
		writeJSON(w, http.StatusCreated, renderActionRun(rec, true))
		return nil
	}
	release, err := s.hold()
	if err != nil {
		return err
	}
	if err := s.putActionRun(rec); err != nil {
		release()
		return err
	}
	go func() {
		defer release()
		ctx := s.ctx
		if rp.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, rp.timeout)
			defer cancel()
		}
		out, err := a.Run(ctx, input)
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, gerr := s.findActionRun(&caller{admin: true}, rec.ID)
		if gerr != nil || cur == nil || cur.State.Done() {
			return // deleted or completed by PUT meanwhile
		}
		if errors.Is(err, workflow.ErrPending) {
			cur.Pending = true // PUT completes it
		} else {
			finishRun(cur, out, err, s.now(), a.Secret())
		}
		if perr := s.putActionRun(cur); perr != nil {
			s.log.Error("record action execution", "id", cur.ID, "err", perr)
		}
	}()
	writeJSON(w, http.StatusCreated, renderActionRun(rec, true))
	return nil
}

// finishRun ends rec with the action's result or error.
func finishRun(rec *actionRunRecord, out any, err error, now time.Time, secret bool) {
	rec.UpdatedAt = now
	if err != nil {
		rec.State, rec.StateInfo = workflow.Failed, err.Error()
		rec.Output = map[string]any{"result": err.Error()}
		return
	}
	if n, nerr := expr.Normalize(out); nerr == nil {
		out = n
	}
	rec.State = workflow.Success
	if secret {
		out = "(secret: not recorded)"
	}
	rec.Output = map[string]any{"result": out}
}

// updateActionRun is PUT on a recorded run: SUCCESS or ERROR with output
// complete a RUNNING one (400 once it ended, as Mistral's "already
// completed"); CANCELLED ends it; PAUSED and RUNNING set the state as
// Mistral records them (nothing runs it differently).
func (s *Server) updateActionRun(w http.ResponseWriter, rec *actionRunRecord, st workflow.State, output map[string]any) error {
	if rec.State.Done() {
		return badRequest("Action %s is already completed", rec.ID)
	}
	rec.UpdatedAt = s.now()
	rec.State = st
	switch st {
	case workflow.Success:
		rec.Output = map[string]any{"result": output}
	case workflow.Failed:
		msg := "Unknown error"
		if len(output) > 0 {
			msg = jsonString(output)
		}
		rec.Output, rec.StateInfo = map[string]any{"result": msg}, msg
	case workflow.Cancelled:
		rec.Output = map[string]any{"result": nil}
	}
	if err := s.putActionRun(rec); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderActionRun(rec, true))
	return nil
}

// deleteActionExecution is DELETE /v2/action_executions/{id}. Mistral
// gates it (allow_action_execution_deletion, default off: 403); fernetflow
// allows it, for recorded runs of POST /v2/action_executions that have
// ended, and answers 404 for an unknown id. A workflow's action executions
// go with their execution (400 here), a running one is 400.
func (s *Server) deleteActionExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.findActionRun(c, id)
	if err != nil {
		return err
	}
	if rec == nil {
		_, tes, err := s.actionTasks(c, c.admin)
		if err != nil {
			return err
		}
		for _, te := range tes {
			if te.ID == id || actionExecutionID(te) == id {
				return badRequest("Action execution %s belongs to a workflow execution: delete the execution", id)
			}
		}
		return notFound("ActionExecution not found [id=%s]", id)
	}
	if !rec.State.Done() {
		return badRequest("Only completed action execution can be deleted [id=%s, state=%s]", id, rec.State)
	}
	if err := s.opts.Store.DeleteRecord(colActionRuns, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// recoverActionRuns ends in ERROR the recorded runs a restart interrupted:
// RUNNING, and not waiting for PUT (Pending).
func (s *Server) recoverActionRuns() error {
	runs, err := s.actionRuns()
	if err != nil {
		return err
	}
	for _, rec := range runs {
		if rec.State != workflow.Running || rec.Pending {
			continue
		}
		finishRun(rec, nil, errors.New("the action was running when fernetflow serve stopped: it did not finish"), s.now(), false)
		if err := s.putActionRun(rec); err != nil {
			return err
		}
	}
	return nil
}
