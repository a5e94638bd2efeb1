package mistralapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// colWorkbooks holds workbooks (workbookRecord by id). A workbook's
// workflows are workflow records named WORKBOOK.WORKFLOW with Workbook
// set; they are created, updated and deleted with it.
const colWorkbooks store.Collection = "mistral_workbooks"

type workbookRecord struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Namespace  string    `json:"namespace"`
	ProjectID  string    `json:"project_id"`
	Scope      string    `json:"scope"`
	Definition string    `json:"definition"`
	Tags       []string  `json:"tags"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

var workbookKind = listKind{
	name:       "workbooks",
	fields:     []string{"id", "name", "namespace", "definition", "tags", "scope", "project_id", "created_at", "updated_at"},
	filterable: []string{"id", "name", "namespace", "definition", "tags", "scope", "created_at", "updated_at"},
}

func (s *Server) workbooks() ([]*workbookRecord, error) {
	return loadAll[workbookRecord](s.opts.Store, colWorkbooks, "workbook")
}

func (s *Server) putWorkbook(wb *workbookRecord) error {
	return putJSON(s.opts.Store, colWorkbooks, wb.ID, wb)
}

// findWorkbook is the workbook name in namespace that c may see: its own
// first, then a public one.
func (s *Server) findWorkbook(c *caller, name, namespace string) (*workbookRecord, error) {
	all, err := s.workbooks()
	if err != nil {
		return nil, err
	}
	var found *workbookRecord
	for _, wb := range all {
		if wb.Name == name && wb.Namespace == namespace && c.visible(wb.ProjectID, wb.Scope) &&
			(found == nil || wb.ProjectID == c.ProjectID) {
			found = wb
		}
	}
	if found == nil {
		return nil, notFound("Workbook not found [name=%s, namespace=%s]", name, namespace)
	}
	return found, nil
}

func renderWorkbook(wb *workbookRecord) resource {
	tags := wb.Tags
	if tags == nil {
		tags = []string{}
	}
	r := resource{
		"id": wb.ID, "name": wb.Name, "namespace": wb.Namespace, "definition": wb.Definition, "tags": tags,
		"scope": wb.Scope, "project_id": wb.ProjectID, "created_at": timestamp(wb.CreatedAt), "updated_at": timestamp(wb.UpdatedAt),
	}
	return withSortTimes(r, map[string]time.Time{"created_at": wb.CreatedAt, "updated_at": wb.UpdatedAt})
}

// loadWorkbook parses a workbook definition (name:, workflows:); 400 for
// anything else.
func (s *Server) loadWorkbook(c *caller, src, namespace string) (*workflow.File, error) {
	f, _, err := s.loadDefinition(c, src, namespace)
	if err != nil {
		return nil, err
	}
	if f.Workbook == "" {
		return nil, badRequest("Invalid DSL: a workbook needs a name and workflows (name:, workflows:)")
	}
	return f, nil
}

// workbookRequest reads what POST and PUT /v2/workbooks share: the scope
// and namespace parameters and the text/plain definition (body), loaded.
func (s *Server) workbookRequest(r *http.Request, c *caller) (scope, namespace, body string, f *workflow.File, err error) {
	if scope, namespace, body, err = definitionRequest(r); err != nil {
		return "", "", "", nil, err
	}
	if f, err = s.loadWorkbook(c, body, namespace); err != nil {
		return "", "", "", nil, err
	}
	return scope, namespace, body, f, nil
}

// createWorkbook is POST /v2/workbooks: text/plain, 201 with the
// workbook; its workflows are created (or updated) as WORKBOOK.WORKFLOW,
// its actions as WORKBOOK.ACTION. 409 when the project has the workbook
// in the namespace.
func (s *Server) createWorkbook(w http.ResponseWriter, r *http.Request, c *caller) error {
	scope, namespace, body, f, err := s.workbookRequest(r, c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	books, err := s.workbooks()
	if err != nil {
		return err
	}
	for _, o := range books {
		if o.Name == f.Workbook && o.Namespace == namespace && o.ProjectID == c.ProjectID {
			return conflict("Duplicate entry for WorkbookDefinition ['name', 'namespace', 'project_id']: %s, %s, %s", f.Workbook, namespace, c.ProjectID)
		}
	}
	// As Mistral (create_or_update_workflow_definition), workflows of
	// the workbook's names that exist (a deleted workbook's) are updated.
	wfs, err := s.workflows()
	if err != nil {
		return err
	}
	var existing []*workflowRecord
	for _, wf := range f.Workflows {
		name := qualifiedName(f, wf)
		for _, o := range wfs {
			if o.Name == name && o.Namespace == namespace && o.ProjectID == c.ProjectID {
				existing = append(existing, o)
			}
		}
	}
	now := s.now()
	wb := &workbookRecord{ID: workflow.NewID(), Name: f.Workbook, Namespace: namespace, ProjectID: c.ProjectID,
		Scope: scope, Definition: body, CreatedAt: now}
	if err := s.syncWorkbookWorkflows(wb, f, existing, now); err != nil {
		return err
	}
	if err := s.syncWorkbookActions(wb, f, now); err != nil {
		return err
	}
	if err := s.putWorkbook(wb); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderWorkbook(wb))
	return nil
}

// syncWorkbookWorkflows makes the workflow records of wb those of f:
// existing ones (in old) are updated in place, new ones created, and
// those the definition no longer has deleted.
func (s *Server) syncWorkbookWorkflows(wb *workbookRecord, f *workflow.File, old []*workflowRecord, now time.Time) error {
	byName := map[string]*workflowRecord{}
	for _, o := range old {
		byName[o.Name] = o
	}
	for i, wf := range f.Workflows {
		name := qualifiedName(f, wf)
		rec := byName[name]
		if rec == nil {
			rec = &workflowRecord{ID: workflow.NewID(), Name: name, CreatedAt: now.Add(time.Duration(i) * time.Microsecond)}
		} else {
			rec.UpdatedAt = now
			delete(byName, name)
		}
		rec.Namespace, rec.ProjectID, rec.Scope, rec.Definition, rec.Workbook = wb.Namespace, wb.ProjectID, wb.Scope, wb.Definition, wb.Name
		rec.Input, rec.Interface = signature(wf)
		if err := s.putWorkflow(rec); err != nil {
			return err
		}
	}
	for _, gone := range byName {
		if err := s.opts.Store.DeleteRecord(colWorkflows, gone.ID); err != nil {
			return err
		}
	}
	return nil
}

// workbookWorkflows are the workflow records of wb.
func (s *Server) workbookWorkflows(wb *workbookRecord) ([]*workflowRecord, error) {
	all, err := s.workflows()
	if err != nil {
		return nil, err
	}
	var out []*workflowRecord
	for _, w := range all {
		if w.Workbook == wb.Name && w.Namespace == wb.Namespace && w.ProjectID == wb.ProjectID {
			out = append(out, w)
		}
	}
	return out, nil
}

// updateWorkbook is PUT /v2/workbooks: the caller's workbook of the
// definition's name in the namespace (404 when there is none) and its
// workflows are replaced.
func (s *Server) updateWorkbook(w http.ResponseWriter, r *http.Request, c *caller) error {
	scope, namespace, body, f, err := s.workbookRequest(r, c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wb, err := s.findWorkbook(c, f.Workbook, namespace)
	if err != nil {
		return err
	}
	if wb.ProjectID != c.ProjectID && !c.admin {
		return errorf(http.StatusForbidden, "Can not access Workbook resource of other projects, ID: %s", wb.ID)
	}
	old, err := s.workbookWorkflows(wb)
	if err != nil {
		return err
	}
	now := s.now()
	wb.Definition, wb.Scope, wb.UpdatedAt = body, scope, now
	if err := s.syncWorkbookWorkflows(wb, f, old, now); err != nil {
		return err
	}
	if err := s.syncWorkbookActions(wb, f, now); err != nil {
		return err
	}
	if err := s.putWorkbook(wb); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderWorkbook(wb))
	return nil
}

func (s *Server) getWorkbook(w http.ResponseWriter, r *http.Request, c *caller) error {
	wb, err := s.findWorkbook(c, r.PathValue("name"), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderWorkbook(wb))
	return nil
}

// deleteWorkbook is DELETE /v2/workbooks/{name}: 204. As Mistral 15
// (db_api.delete_workbook), only the workbook goes: its workflows and
// actions stay, each deleted on its own (tempest's tearDown deletes
// them after the workbook), and a workbook created again updates them.
func (s *Server) deleteWorkbook(w http.ResponseWriter, r *http.Request, c *caller) error {
	name, namespace := r.PathValue("name"), r.URL.Query().Get("namespace")
	s.mu.Lock()
	defer s.mu.Unlock()
	wb, err := s.findWorkbook(c, name, namespace)
	if err != nil || (wb.ProjectID != c.ProjectID && !c.admin) {
		return notFound("Workbook not found [workbook_name=%s, namespace=%s]", name, namespace)
	}
	if err := s.opts.Store.DeleteRecord(colWorkbooks, wb.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listWorkbooks is GET /v2/workbooks: the caller's and public workbooks.
func (s *Server) listWorkbooks(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), workbookKind)
	if err != nil {
		return err
	}
	all, err := s.workbooks()
	if err != nil {
		return err
	}
	var items []resource
	for _, wb := range all {
		if wb.ProjectID != c.ProjectID && wb.Scope != "public" {
			continue
		}
		items = append(items, renderWorkbook(wb))
	}
	return p.write(w, r, items, workbookKind)
}

// validateWorkbook is POST /v2/workbooks/validate: 200 {"valid": bool,
// "error": text}, as POST /v2/workflows/validate.
func (s *Server) validateWorkbook(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if _, err := s.loadWorkbook(c, string(body), r.URL.Query().Get("namespace")); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			writeJSON(w, http.StatusOK, map[string]any{"valid": false, "error": ae.msg})
			return nil
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true})
	return nil
}
