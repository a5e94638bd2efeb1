package mistralapi

import (
	"net/http"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// /v2/environments: named sets of variables, given to an execution by
// name (POST /v2/executions with params {"env": "NAME"}), where the
// workflow reads them as env().

// colEnvironments holds environments (environmentRecord by id).
const colEnvironments store.Collection = "mistral_environments"

type environmentRecord struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Variables   map[string]any `json:"variables"`
	Scope       string         `json:"scope"`
	ProjectID   string         `json:"project_id"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at,omitzero"`
}

var environmentKind = listKind{
	name:       "environments",
	fields:     []string{"id", "name", "description", "variables", "scope", "project_id", "created_at", "updated_at"},
	filterable: []string{"name", "description", "variables", "scope", "created_at", "updated_at"},
}

func renderEnvironment(e *environmentRecord) resource {
	vars := e.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	r := resource{
		"id": e.ID, "name": e.Name, "description": nilIfEmpty(e.Description), "variables": jsonString(vars),
		"scope": e.Scope, "project_id": e.ProjectID, "created_at": timestamp(e.CreatedAt), "updated_at": timestamp(e.UpdatedAt),
	}
	return withSortTimes(r, map[string]time.Time{"created_at": e.CreatedAt, "updated_at": e.UpdatedAt})
}

func (s *Server) environments() ([]*environmentRecord, error) {
	return loadAll[environmentRecord](s.opts.Store, colEnvironments, "environment")
}

// findEnvironment is the environment name (or id) c may see: its own
// first, then a public one.
func (s *Server) findEnvironment(c *caller, name string) (*environmentRecord, error) {
	all, err := s.environments()
	if err != nil {
		return nil, err
	}
	var found *environmentRecord
	for _, e := range all {
		if (e.Name == name || e.ID == name) && c.visible(e.ProjectID, e.Scope) && (found == nil || e.ProjectID == c.ProjectID) {
			found = e
		}
	}
	if found == nil {
		return nil, notFound("Environment not found [name=%s]", name)
	}
	return found, nil
}

// envByName replaces params.env given as a name by that environment's
// variables, as Mistral does (400 "Environment is not found" for an
// unknown one).
func (s *Server) envByName(c *caller, params map[string]any) error {
	name, ok := params["env"].(string)
	if !ok {
		return nil
	}
	if name == "" {
		params["env"] = map[string]any{}
		return nil
	}
	e, err := s.findEnvironment(c, name)
	if err != nil {
		return badRequest("Environment is not found: %s", name)
	}
	vars := e.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	params["env"] = vars
	return nil
}

type environmentBody struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Variables   jsonField `json:"variables"`
	Scope       string    `json:"scope"`
}

// readEnvironment decodes the JSON body of POST and PUT
// /v2/environments: 400 without a name, for a scope other than private or
// public, and for variables that are not an object.
func readEnvironment(r *http.Request) (b environmentBody, vars map[string]any, err error) {
	if err := decodeJSON(r, &b); err != nil {
		return b, nil, err
	}
	if b.Name == "" {
		return b, nil, badRequest("Invalid input for field/attribute name: the environment needs a name")
	}
	if err := checkScope(b.Scope); err != nil {
		return b, nil, err
	}
	vars, err = b.Variables.object("variables")
	return b, vars, err
}

// createEnvironment is POST /v2/environments (JSON): 201; 409 when the
// project has one of the name.
func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, vars, err := readEnvironment(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.environments()
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == body.Name && o.ProjectID == c.ProjectID {
			return conflict("Duplicate entry for Environment ['name', 'project_id']: %s, %s", body.Name, c.ProjectID)
		}
	}
	scope := body.Scope
	if scope == "" {
		scope = "private"
	}
	e := &environmentRecord{ID: workflow.NewID(), Name: body.Name, Description: body.Description, Variables: vars,
		Scope: scope, ProjectID: c.ProjectID, CreatedAt: s.now()}
	if err := putJSON(s.opts.Store, colEnvironments, e.ID, e); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderEnvironment(e))
	return nil
}

// updateEnvironment is PUT /v2/environments (JSON with name): the fields
// given replace the caller's environment's.
func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, vars, err := readEnvironment(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.findEnvironment(c, body.Name)
	if err != nil {
		return err
	}
	if e.ProjectID != c.ProjectID && !c.admin {
		return notFound("Environment not found [name=%s]", body.Name)
	}
	if body.Description != "" {
		e.Description = body.Description
	}
	if body.Variables.set {
		e.Variables = vars
	}
	if body.Scope != "" {
		e.Scope = body.Scope
	}
	e.UpdatedAt = s.now()
	if err := putJSON(s.opts.Store, colEnvironments, e.ID, e); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEnvironment(e))
	return nil
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, c *caller) error {
	e, err := s.findEnvironment(c, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEnvironment(e))
	return nil
}

// deleteEnvironment is DELETE /v2/environments/{name}: 204; 404 for an
// unknown one or another project's.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.findEnvironment(c, name)
	if err != nil {
		return err
	}
	if e.ProjectID != c.ProjectID && !c.admin {
		return notFound("Environment not found [name=%s]", name)
	}
	if err := s.opts.Store.DeleteRecord(colEnvironments, e.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listEnvironments is GET /v2/environments: the caller's and public ones.
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), environmentKind)
	if err != nil {
		return err
	}
	all, err := s.environments()
	if err != nil {
		return err
	}
	var items []resource
	for _, e := range all {
		if e.ProjectID == c.ProjectID || e.Scope == "public" {
			items = append(items, renderEnvironment(e))
		}
	}
	return p.write(w, r, items, environmentKind)
}

// listServices is GET /v2/services: this process, as the one service
// that is Mistral's api, engine, executor and event engine at once.
func (s *Server) listServices(w http.ResponseWriter, r *http.Request, c *caller) error {
	var items []resource
	for _, typ := range []string{"api_group", "engine_group", "executor_group"} {
		items = append(items, resource{"name": s.serviceName, "type": typ})
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": items})
	return nil
}
