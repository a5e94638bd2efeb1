package mistralapi

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

var taskKind = listKind{
	name: "tasks",
	fields: []string{"id", "name", "type", "workflow_name", "workflow_namespace", "workflow_id", "workflow_execution_id",
		"tags", "state", "state_info", "project_id", "runtime_context", "result", "published", "published_global",
		"processed", "created_at", "updated_at", "started_at", "finished_at", "env"},
	filterable: []string{"id", "name", "type", "workflow_name", "workflow_namespace", "workflow_id", "workflow_execution_id",
		"tags", "state", "state_info", "runtime_context", "published", "processed", "created_at", "updated_at",
		"started_at", "finished_at", "env"},
}

func renderTask(rec *executionRecord, ex *workflow.Execution, te *workflow.TaskExecution, withResult bool) resource {
	typ := "ACTION"
	if strings.HasPrefix(te.Action, "workflow:") {
		typ = "WORKFLOW"
	}
	updated := te.FinishedAt
	if updated.IsZero() {
		updated = te.StartedAt
	}
	rc := map[string]any{}
	if te.RetryCount > 0 {
		rc["retry_task_policy"] = map[string]any{"retry_no": te.RetryCount}
	}
	r := resource{
		"id": te.ID, "name": te.Name, "type": typ, "workflow_name": rec.WorkflowName,
		"workflow_namespace": rec.WorkflowNamespace, "workflow_id": rec.WorkflowID, "workflow_execution_id": ex.ID,
		"tags": []string{}, "state": string(te.State), "state_info": nilIfEmpty(te.StateInfo), "project_id": rec.ProjectID,
		"runtime_context": jsonString(rc), "published": jsonString(orEmpty(te.Published)), "published_global": "{}",
		"processed": te.State.Done(), "created_at": timestamp(te.StartedAt), "updated_at": timestamp(updated),
		"started_at": timestamp(te.StartedAt), "finished_at": timestamp(te.FinishedAt), "env": "{}",
	}
	if withResult {
		r["result"] = jsonString(te.Result)
	}
	return withSortTimes(r, map[string]time.Time{"created_at": te.StartedAt, "updated_at": updated, "started_at": te.StartedAt, "finished_at": te.FinishedAt})
}

// listTasks is GET /v2/tasks and GET /v2/executions/{id}/tasks.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), taskKind)
	if err != nil {
		return err
	}
	all, err := listScope(c, p, "tasks:list:all_projects")
	if err != nil {
		return err
	}
	var exs []apiExecution
	if id := r.PathValue("id"); id != "" {
		rec, ex, err := s.findExecution(c, id)
		if err != nil {
			return err
		}
		exs = []apiExecution{{rec, ex}}
	} else if exID, ok := p.executionFilter(); ok {
		// One execution's tasks (OSC, tempest): read that one only.
		if rec, ex, err := s.findExecution(c, exID); err == nil && (all || rec.ProjectID == c.ProjectID) {
			s.withLiveTasks(ex)
			exs = []apiExecution{{rec, ex}}
		}
	} else if exs, err = s.executions(c, all); err != nil {
		return err
	}
	var items []resource
	for _, e := range exs {
		if p.projectID != "" && e.rec.ProjectID != p.projectID {
			continue
		}
		for _, te := range e.ex.Tasks {
			items = append(items, renderTask(e.rec, e.ex, te, contains(p.fields, "result")))
		}
	}
	return p.write(w, r, items, taskKind)
}

// taskIndex maps task ids to the id of their execution: hints, learnt
// as tasks start (noteTask) and from every scan, so that GET
// /v2/tasks/{id} reads one execution instead of all. A wrong or stale
// hint only costs the scan it saves.
type taskIndex struct {
	mu     sync.Mutex
	owners map[string]string
}

// maxTaskHints bounds the index; it is emptied when full.
const maxTaskHints = 100_000

func (ix *taskIndex) note(taskID, executionID string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.owners == nil || len(ix.owners) >= maxTaskHints {
		ix.owners = map[string]string{}
	}
	ix.owners[taskID] = executionID
}

func (ix *taskIndex) owner(taskID string) string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.owners[taskID]
}

// getTask is GET /v2/tasks/{id}, with its result.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if owner := s.taskOwners.owner(id); owner != "" {
		if rec, ex, err := s.findExecution(c, owner); err == nil {
			s.withLiveTasks(ex)
			for _, te := range ex.Tasks {
				if te.ID == id {
					writeJSON(w, http.StatusOK, renderTask(rec, ex, te, true))
					return nil
				}
			}
		}
	}
	exs, err := s.executions(c, c.admin)
	if err != nil {
		return err
	}
	var found *resource
	for _, e := range exs {
		for _, te := range e.ex.Tasks {
			s.taskOwners.note(te.ID, e.ex.ID)
			if te.ID == id && found == nil {
				r := renderTask(e.rec, e.ex, te, true)
				found = &r
			}
		}
	}
	if found != nil {
		writeJSON(w, http.StatusOK, *found)
		return nil
	}
	return notFound("Task execution not found [id=%s]", id)
}
