package mistralapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// Action executions are derived from the engine's task executions: one per
// ACTION task run, with the task's id (the engine keeps no separate
// record of an action's runs: a with-items task or a retried one shows as
// one action execution, its last). Read-only for now: POST (ad-hoc runs),
// PUT (results of asynchronous actions) and DELETE are not served.

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
		"id": te.ID, "name": te.Action, "workflow_name": rec.WorkflowName, "workflow_namespace": rec.WorkflowNamespace,
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
	page, next, err := p.page(items, actionExecutionKind, baseURL(r))
	if err != nil {
		return err
	}
	body := map[string]any{"action_executions": page}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// getActionExecution is GET /v2/action_executions/{id}, with its output.
func (s *Server) getActionExecution(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	recs, tes, err := s.actionTasks(c, c.admin)
	if err != nil {
		return err
	}
	for i, te := range tes {
		if te.ID == id {
			writeJSON(w, http.StatusOK, renderActionExecution(recs[i], te, true))
			return nil
		}
	}
	return notFound("ActionExecution not found [id=%s]", id)
}
