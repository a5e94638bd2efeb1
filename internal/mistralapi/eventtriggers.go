package mistralapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// colEventTriggers holds event triggers (eventTriggerRecord by id). They
// are kept, listed and deleted, and they keep their workflow from being
// deleted, as in Mistral; nothing fires them: fernetflow listens to no
// notification bus.
const colEventTriggers store.Collection = "mistral_event_triggers"

type eventTriggerRecord struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	ProjectID      string         `json:"project_id"`
	Scope          string         `json:"scope"`
	WorkflowID     string         `json:"workflow_id"`
	WorkflowInput  map[string]any `json:"workflow_input"`
	WorkflowParams map[string]any `json:"workflow_params"`
	Exchange       string         `json:"exchange"`
	Topic          string         `json:"topic"`
	Event          string         `json:"event"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at,omitzero"`
}

var eventTriggerKind = listKind{
	name: "event_triggers",
	fields: []string{"id", "name", "workflow_id", "workflow_input", "workflow_params", "exchange", "topic", "event",
		"scope", "project_id", "created_at", "updated_at"},
	filterable: []string{"id", "name", "workflow_id", "workflow_input", "workflow_params", "exchange", "topic", "event",
		"scope", "created_at", "updated_at"},
}

func (s *Server) eventTriggers() ([]*eventTriggerRecord, error) {
	return loadAll[eventTriggerRecord](s.opts.Store, colEventTriggers, "event trigger")
}

func renderEventTrigger(t *eventTriggerRecord) resource {
	r := resource{
		"id": t.ID, "name": t.Name, "workflow_id": t.WorkflowID, "workflow_input": jsonString(orEmpty(t.WorkflowInput)),
		"workflow_params": jsonString(orEmpty(t.WorkflowParams)), "exchange": t.Exchange, "topic": t.Topic, "event": t.Event,
		"scope": t.Scope, "project_id": t.ProjectID, "created_at": timestamp(t.CreatedAt), "updated_at": timestamp(t.UpdatedAt),
	}
	return withSortTimes(r, map[string]time.Time{"created_at": t.CreatedAt, "updated_at": t.UpdatedAt})
}

// createEventTrigger is POST /v2/event_triggers: 201; 400 without
// workflow_id, exchange, topic or event; 404 for a workflow the caller
// cannot see; 409 for the same (exchange, topic, event, workflow) in the
// project.
func (s *Server) createEventTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, input, params, err := readEventTrigger(r)
	if err != nil {
		return err
	}
	if body.WorkflowID == "" || body.Exchange == "" || body.Topic == "" || body.Event == "" {
		return badRequest("Params {'workflow_id', 'exchange', 'topic', 'event'} must be provided for creating event trigger.")
	}
	if !uuidLike(body.WorkflowID) {
		return badRequest("Invalid input for field/attribute workflow_id. Value: '%s'. Expected a uuid but received %s.", body.WorkflowID, body.WorkflowID)
	}
	scope := body.Scope
	if scope == "" {
		scope = "private"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wf, err := s.findWorkflow(c, body.WorkflowID, "")
	if err != nil || wf.ID != body.WorkflowID {
		return notFound("Workflow not found [workflow_id=%s]", body.WorkflowID)
	}
	_, file, err := s.loadDefinition(c, wf.Definition, wf.Namespace)
	if err != nil {
		return err
	}
	if spec := file.Workflow(wf.Name); spec != nil {
		e := &workflow.Engine{Registry: s.opts.Registry, File: file}
		if _, err := e.Start(spec, input); err != nil && !spec.Reverse {
			return badRequest("Invalid input [name=%s, class=mistral.workflow, %v]", wf.Name, err)
		}
	}
	all, err := s.eventTriggers()
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.ProjectID == c.ProjectID && o.Exchange == body.Exchange && o.Topic == body.Topic && o.Event == body.Event && o.WorkflowID == wf.ID {
			return conflict("Duplicate entry for EventTrigger ['exchange', 'topic', 'event', 'workflow_id', 'project_id']: %s, %s, %s, %s, %s",
				body.Exchange, body.Topic, body.Event, wf.ID, c.ProjectID)
		}
	}
	t := &eventTriggerRecord{ID: workflow.NewID(), Name: deref(body.Name), ProjectID: c.ProjectID, Scope: scope, WorkflowID: wf.ID,
		WorkflowInput: input, WorkflowParams: params, Exchange: body.Exchange, Topic: body.Topic, Event: body.Event, CreatedAt: s.now()}
	if err := putJSON(s.opts.Store, colEventTriggers, t.ID, t); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderEventTrigger(t))
	return nil
}

// findEventTrigger is the event trigger id that c may see (its own, a
// public one, or any for an admin).
func (s *Server) findEventTrigger(c *caller, id string) (*eventTriggerRecord, error) {
	b, err := s.opts.Store.GetRecord(colEventTriggers, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Event trigger not found [id=%s].", id)
	}
	if err != nil {
		return nil, err
	}
	var t eventTriggerRecord
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("mistralapi: event trigger %s: %w", id, err)
	}
	if !c.visible(t.ProjectID, t.Scope) {
		return nil, notFound("Event trigger not found [id=%s].", id)
	}
	return &t, nil
}

func (s *Server) getEventTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.findEventTrigger(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEventTrigger(t))
	return nil
}

// updateEventTrigger is PUT /v2/event_triggers/{id}: name, scope,
// workflow_input and workflow_params change (workflow_id is ignored, as
// Mistral); exchange, topic and event cannot (400, as Mistral: delete and create the trigger instead). The
// trigger is stored only: nothing fires it (see the package doc).
func (s *Server) updateEventTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, input, params, err := readEventTrigger(r)
	if err != nil {
		return err
	}
	if body.Exchange != "" || body.Topic != "" || body.Event != "" {
		return badRequest("Can not update fields ['exchange', 'topic', 'event'] of event trigger.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findEventTrigger(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if t.ProjectID != c.ProjectID && !c.admin {
		return notFound("Event trigger not found [id=%s].", t.ID)
	}
	if body.Name != nil {
		t.Name = *body.Name
	}
	if body.Scope != "" {
		t.Scope = body.Scope
	}
	if body.WorkflowInput.set {
		t.WorkflowInput = input
	}
	if body.WorkflowParams.set {
		t.WorkflowParams = params
	}
	t.UpdatedAt = s.now()
	if err := putJSON(s.opts.Store, colEventTriggers, t.ID, t); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEventTrigger(t))
	return nil
}

// eventTriggerBody is the JSON body of POST and PUT
// /v2/event_triggers.
type eventTriggerBody struct {
	Name           *string   `json:"name"`
	WorkflowID     string    `json:"workflow_id"`
	WorkflowInput  jsonField `json:"workflow_input"`
	WorkflowParams jsonField `json:"workflow_params"`
	Exchange       string    `json:"exchange"`
	Topic          string    `json:"topic"`
	Event          string    `json:"event"`
	Scope          string    `json:"scope"`
}

// readEventTrigger decodes an event trigger request: 400 for a scope
// other than private or public (empty is left to the caller) and for
// workflow_input or workflow_params that are not objects.
func readEventTrigger(r *http.Request) (body eventTriggerBody, input, params map[string]any, err error) {
	if err = decodeJSON(r, &body); err != nil {
		return body, nil, nil, err
	}
	if err = checkScope(body.Scope); err != nil {
		return body, nil, nil, err
	}
	if input, err = body.WorkflowInput.object("workflow_input"); err != nil {
		return body, nil, nil, err
	}
	if params, err = body.WorkflowParams.object("workflow_params"); err != nil {
		return body, nil, nil, err
	}
	return body, input, params, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// uuidLike is oslo's is_uuid_like: 32 hex digits, with or without
// hyphens, braces or a urn:uuid: prefix.
func uuidLike(s string) bool {
	s = strings.TrimPrefix(strings.ToLower(s), "urn:uuid:")
	s = strings.Trim(s, "{}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// deleteEventTrigger is DELETE /v2/event_triggers/{id}: 204.
func (s *Server) deleteEventTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findEventTrigger(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if t.ProjectID != c.ProjectID && !c.admin {
		return notFound("Event trigger not found [id=%s].", t.ID)
	}
	if err := s.opts.Store.DeleteRecord(colEventTriggers, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listEventTriggers is GET /v2/event_triggers: the caller's and public
// ones (an admin's all_projects=true: every project's).
func (s *Server) listEventTriggers(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), eventTriggerKind)
	if err != nil {
		return err
	}
	all, err := listScope(c, p, "event_triggers:list:all_projects")
	if err != nil {
		return err
	}
	ts, err := s.eventTriggers()
	if err != nil {
		return err
	}
	var items []resource
	for _, t := range ts {
		if !all && t.ProjectID != c.ProjectID && t.Scope != "public" {
			continue
		}
		if p.projectID != "" && t.ProjectID != p.projectID {
			continue
		}
		items = append(items, renderEventTrigger(t))
	}
	return p.write(w, r, items, eventTriggerKind)
}

// eventTriggerIDs are the ids of the event triggers (of any project) that
// start workflow id.
func (s *Server) eventTriggerIDs(workflowID string) ([]string, error) {
	all, err := s.eventTriggers()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range all {
		if t.WorkflowID == workflowID {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}
