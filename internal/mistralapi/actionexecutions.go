package mistralapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// Action executions are derived from the engine's task executions: one per
// ACTION task run (the engine keeps no separate record of an action's
// runs: a with-items task or a retried one shows as one action execution,
// its last). Its id is the task's, or, for an asynchronous action
// (std.async_noop), the id the engine gave the action execution
// (TaskExecution.ActionExecutionIDs), which PUT completes through the
// Controller. Runs of POST /v2/action_executions are recorded apart
// (actionruns.go) and listed with them.

var actionExecutionKind = listKind{
	name: "action_executions",
	fields: []string{"id", "name", "workflow_name", "workflow_namespace", "task_name", "task_execution_id", "state",
		"state_info", "tags", "description", "project_id", "accepted", "input", "output", "params", "created_at", "updated_at"},
	filterable: []string{"id", "name", "workflow_name", "workflow_namespace", "task_name", "task_execution_id", "state",
		"state_info", "tags", "description", "accepted", "input", "output", "params", "created_at", "updated_at"},
}

func renderActionExecution(rec *executionRecord, te *workflow.TaskExecution, withOutput bool) resource {
	updated := te.FinishedAt
	if updated.IsZero() {
		updated = te.StartedAt
	}
	r := resource{
		"id": actionExecutionID(te), "name": te.Action, "workflow_name": rec.WorkflowName, "workflow_namespace": rec.WorkflowNamespace,
		"task_name": te.Name, "task_execution_id": te.ID, "state": string(te.State), "state_info": nilIfEmpty(te.StateInfo),
		"tags": []string{}, "description": "", "project_id": rec.ProjectID, "accepted": te.State.Done(),
		"input": "{}", "params": "{}", "created_at": timestamp(te.StartedAt), "updated_at": timestamp(updated),
	}
	if withOutput {
		out := map[string]any{"result": te.Result}
		if te.State == workflow.Failed {
			out = map[string]any{"result": te.StateInfo}
		}
		r["output"] = jsonString(out)
	}
	return withSortTimes(r, map[string]time.Time{"created_at": te.StartedAt, "updated_at": updated})
}

// actionTasks are the ACTION task executions c may see, with their
// executions' records.
func (s *Server) actionTasks(c *caller, all bool) ([]*executionRecord, []*workflow.TaskExecution, error) {
	exs, err := s.executions(c, all)
	if err != nil {
		return nil, nil, err
	}
	var recs []*executionRecord
	var tes []*workflow.TaskExecution
	for _, e := range exs {
		for _, te := range e.ex.Tasks {
			if te.Action == "" || strings.HasPrefix(te.Action, "workflow:") {
				continue
			}
			recs, tes = append(recs, e.rec), append(tes, te)
		}
	}
	return recs, tes, nil
}

// listActionExecutions is GET /v2/action_executions and
// /v2/tasks/{id}/action_executions (output only with include_output).
func (s *Server) listActionExecutions(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), actionExecutionKind)
	if err != nil {
		return err
	}
	all, err := listScope(c, p, "action_executions:list:all_projects")
	if err != nil {
		return err
	}
	withOutput, _ := parseBool(r.URL.Query().Get("include_output"))
	recs, tes, err := s.actionTasks(c, all)
	if err != nil {
		return err
	}
	task := r.PathValue("id")
	var items []resource
	for i, te := range tes {
		if (task != "" && te.ID != task) || (p.projectID != "" && recs[i].ProjectID != p.projectID) {
			continue
		}
		items = append(items, renderActionExecution(recs[i], te, withOutput || contains(p.fields, "output")))
	}
	if task == "" {
		runs, err := s.actionRuns()
		if err != nil {
			return err
		}
		for _, rec := range runs {
			if (all || rec.ProjectID == c.ProjectID) && (p.projectID == "" || rec.ProjectID == p.projectID) {
				items = append(items, renderActionRun(rec, withOutput || contains(p.fields, "output")))
			}
		}
	}
	return p.write(w, r, items, actionExecutionKind)
}

// getActionExecution is GET /v2/action_executions/{id}, with its output.
func (s *Server) getActionExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if run, err := s.findActionRun(c, id); err != nil || run != nil {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderActionRun(run, true))
		return nil
	}
	recs, tes, err := s.actionTasks(c, c.admin)
	if err != nil {
		return err
	}
	for i, te := range tes {
		if te.ID == id || slices.Contains(te.ActionExecutionIDs, id) {
			writeJSON(w, http.StatusOK, renderActionExecution(recs[i], te, true))
			return nil
		}
	}
	return notFound("ActionExecution not found [id=%s]", id)
}

// actionExecutionID is the id of te's action execution: its last
// asynchronous one's, else the task's own.
func actionExecutionID(te *workflow.TaskExecution) string {
	if n := len(te.ActionExecutionIDs); n > 0 {
		return te.ActionExecutionIDs[n-1]
	}
	return te.ID
}

// actionStates are the states PUT /v2/action_executions/{id} takes
// (Mistral's SUPPORTED_TRANSITION_STATES, in its order).
var actionStates = []workflow.State{workflow.Success, workflow.Failed, workflow.Cancelled, workflow.Paused, workflow.Running}

// updateActionExecution is PUT /v2/action_executions/{id}: the result of
// an asynchronous action (std.async_noop) whose task waits RUNNING, as
// Mistral's on_action_complete. State SUCCESS gives output (a JSON
// object) as the action's result; ERROR fails the task with output as
// its error ("Unknown error" when empty). PAUSED, RUNNING and CANCELLED
// act on the action's workflow execution (controlActionExecution); a run
// of POST /v2/action_executions takes them as its state (updateActionRun).
func (s *Server) updateActionExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	var body struct {
		State  string    `json:"state"`
		Output jsonField `json:"output"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	st := workflow.State(body.State)
	if !slices.Contains(actionStates, st) {
		quoted := make([]string, len(actionStates))
		for i, a := range actionStates {
			quoted[i] = "'" + string(a) + "'"
		}
		return badRequest("Error. Expected one of [%s], actual: %s", strings.Join(quoted, ", "), body.State)
	}
	output := map[string]any{}
	if body.Output.v != nil {
		m, ok := body.Output.v.(map[string]any)
		if !ok {
			return badRequest("JsonType field value must be a dictionary [actual=%s]", jsonString(body.Output.v))
		}
		output = m
	}
	s.mu.Lock()
	run, err := s.findActionRun(c, id)
	if err != nil || run != nil {
		defer s.mu.Unlock()
		if err != nil {
			return err
		}
		return s.updateActionRun(w, run, st, output)
	}
	s.mu.Unlock()
	recs, tes, err := s.actionTasks(c, c.admin)
	if err != nil {
		return err
	}
	var rec *executionRecord
	var te *workflow.TaskExecution
	for i, t := range tes {
		if t.ID == id || slices.Contains(t.ActionExecutionIDs, id) {
			rec, te = recs[i], t
		}
	}
	if te == nil {
		return notFound("ActionExecution not found [id=%s]", id)
	}
	aid := id
	if id == te.ID {
		aid = actionExecutionID(te)
	}
	if st != workflow.Success && st != workflow.Failed {
		return s.controlActionExecution(w, rec, te, aid, st)
	}
	var aerr error
	if st == workflow.Failed {
		msg := "Unknown error"
		if len(output) > 0 {
			msg = jsonString(output)
		}
		aerr = errors.New(msg)
	}
	var value any = output
	if err := s.ctl.CompleteAction(aid, value, aerr); err != nil {
		if errors.Is(err, workflow.ErrNotRunning) {
			if te.State.Done() {
				return badRequest("Action %s is already completed", aid)
			}
			return badRequest("Action execution %s does not wait for a result in this server", aid)
		}
		return badRequest("%v", err)
	}
	s.waitTaskDone(te.ID)
	out := renderActionExecution(rec, te, false)
	out["state"], out["accepted"], out["updated_at"] = string(st), true, timestamp(s.now())
	if st == workflow.Success {
		out["output"] = jsonString(map[string]any{"result": value})
	} else {
		out["output"] = jsonString(map[string]any{"result": aerr.Error()})
		out["state_info"] = aerr.Error()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// waitTaskDone waits (up to firstTaskWait) until the store shows task id
// ended, so that a GET after PUT sees the action's result.
func (s *Server) waitTaskDone(id string) {
	deadline := time.Now().Add(firstTaskWait)
	for time.Now().Before(deadline) {
		list, err := s.opts.Store.List()
		if err != nil {
			return
		}
		for _, ex := range list {
			for _, te := range ex.Tasks {
				if te.ID == id && te.State.Done() {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// controlActionExecution is PUT /v2/action_executions/{id} with state
// PAUSED, RUNNING or CANCELLED on a workflow's action that has not ended.
// Mistral pauses or resumes the action's task and with it the workflow,
// and a cancelled action cancels its task and so the workflow; fernetflow's
// engine controls whole executions: PAUSED pauses the action's execution,
// RUNNING resumes it, CANCELLED cancels it (state_info names the action
// execution).
func (s *Server) controlActionExecution(w http.ResponseWriter, rec *executionRecord, te *workflow.TaskExecution, aid string, st workflow.State) error {
	if te.State.Done() {
		return badRequest("Action %s is already completed", aid)
	}
	var err error
	switch st {
	case workflow.Paused:
		err = s.ctl.Pause(rec.ID)
	case workflow.Running:
		err = s.ctl.Resume(rec.ID)
	case workflow.Cancelled:
		err = s.ctl.Cancel(rec.ID, "Action execution "+aid+" cancelled")
	}
	if err != nil {
		if errors.Is(err, workflow.ErrNotRunning) {
			return badRequest("Cannot set action execution %s to %s: its workflow execution %s does not run in this server", aid, st, rec.ID)
		}
		return badRequest("Cannot set action execution %s to %s: %v", aid, st, err)
	}
	out := renderActionExecution(rec, te, false)
	out["state"], out["updated_at"] = string(st), timestamp(s.now())
	out["accepted"] = st == workflow.Cancelled
	writeJSON(w, http.StatusOK, out)
	return nil
}
