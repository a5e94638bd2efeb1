package mistralapi

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// colWorkflows holds workflow definitions (workflowRecord by id).
const colWorkflows store.Collection = "mistral_workflows"

// workflowRecord is one workflow definition as the API keeps it. A file of
// several workflows gives one record per workflow, each with the whole
// file as its Definition (its sub-workflows resolve there).
type workflowRecord struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Namespace  string   `json:"namespace"`
	ProjectID  string   `json:"project_id"`
	Scope      string   `json:"scope"`
	Definition string   `json:"definition"`
	Tags       []string `json:"tags"`
	// Workbook is the workbook the workflow belongs to ("" for none).
	Workbook string `json:"workbook,omitempty"`
	// Own is the workflow's own text when Definition holds several
	// workflows (Mistral's _cut_wf_definition_from_all): what the API
	// shows; the engine runs Definition.
	Own string `json:"own,omitempty"`
	// System marks the server's own workflows (Options.SystemDefinitions),
	// never stored: public, in no project, neither updated nor deleted.
	System bool `json:"-"`
	// Input and Interface are the workflow's signature (see signature).
	Input     string         `json:"input"`
	Interface map[string]any `json:"interface"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
}

var workflowKind = listKind{
	name:       "workflows",
	fields:     []string{"id", "name", "namespace", "input", "interface", "definition", "tags", "project_id", "scope", "created_at", "updated_at"},
	filterable: []string{"id", "name", "namespace", "input", "definition", "tags", "scope", "created_at", "updated_at"},
}

// definition is the workflow's text as the API shows it: a workbook's
// workflow's own text, cut out of the workbook (which the record keeps,
// for the engine to run it with the workbook's actions).
func (w *workflowRecord) definition() string {
	if w.Own != "" {
		return w.Own
	}
	if w.Workbook == "" {
		return w.Definition
	}
	return cutWorkbookItem(w.Definition, "workflows:", strings.TrimPrefix(w.Name, w.Workbook+"."))
}

// visible reports whether c may see a resource of project in scope:
// its own, a public one, or any as an admin (Mistral's insecure reads).
func (c *caller) visible(project, scope string) bool {
	return c.admin || project == c.ProjectID || scope == "public"
}

// loadDefinition parses and checks a definition with the served registry.
// Sub-workflows the definition does not hold resolve, as in Mistral, to
// the workflows c may see of that name in namespace, then in the default
// namespace (see withExternal). The File holds the definition's own
// workflows; full holds the sub-workflows besides, for the engine.
func (s *Server) loadDefinition(c *caller, src, namespace string) (f, full *workflow.File, err error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil, badRequest("Invalid DSL: the definition is empty")
	}
	f, err = workflow.Parse("definition", []byte(src))
	if err != nil {
		return nil, nil, badRequest("Invalid DSL: %v", err)
	}
	if len(f.Workflows) == 0 {
		return nil, nil, badRequest("Invalid DSL: no workflows in the definition")
	}
	full, err = s.withExternal(c, f, namespace)
	if err != nil {
		return nil, nil, err
	}
	if err := s.withStoredActions(c, full, namespace); err != nil {
		return nil, nil, err
	}
	if err := full.Validate(s.opts.Registry); err != nil {
		return nil, nil, badRequest("Invalid DSL: %v", err)
	}
	return f, full, nil
}

// withExternal is f with the workflows its tasks call that f does not
// define (at any depth), taken from the stored workflows c may see: the
// one in namespace, else the one in the default namespace. Names found
// nowhere are left for Validate to report.
func (s *Server) withExternal(c *caller, f *workflow.File, namespace string) (*workflow.File, error) {
	full := *f
	full.Workflows = slices.Clone(f.Workflows)
	var stored []*workflowRecord
	for i := 0; i < len(full.Workflows); i++ { // grows as sub-workflows are added
		for _, t := range full.Workflows[i].Tasks {
			if t.Workflow == "" || strings.Contains(t.Workflow, "<%") || strings.Contains(t.Workflow, "{{") || full.Workflow(t.Workflow) != nil {
				continue
			}
			if stored == nil {
				var err error
				if stored, err = s.workflows(); err != nil {
					return nil, err
				}
			}
			rec := resolveWorkflow(c, stored, t.Workflow, namespace)
			if rec == nil {
				continue
			}
			other, err := workflow.Parse("definition", []byte(rec.Definition))
			if err != nil {
				continue
			}
			if w := other.Workflow(rec.Name); w != nil {
				full.Workflows = append(full.Workflows, w)
			}
		}
	}
	return &full, nil
}

// resolveWorkflow is the workflow name that c may see in namespace, else
// in the default namespace (c's own before public ones), or nil.
func resolveWorkflow(c *caller, all []*workflowRecord, name, namespace string) *workflowRecord {
	for _, ns := range []string{namespace, ""} {
		var found *workflowRecord
		for _, w := range all {
			if w.Name == name && w.Namespace == ns && c.visible(w.ProjectID, w.Scope) && (found == nil || w.ProjectID == c.ProjectID) {
				found = w
			}
		}
		if found != nil {
			return found
		}
	}
	return nil
}

// qualifiedName is a workflow's name as Mistral lists it (wb.wf in a workbook).
func qualifiedName(f *workflow.File, w *workflow.Workflow) string {
	if f.Workbook != "" {
		return f.Workbook + "." + w.Name
	}
	return w.Name
}

func (s *Server) workflows() ([]*workflowRecord, error) {
	recs, err := loadAll[workflowRecord](s.opts.Store, colWorkflows, "workflow")
	if err != nil {
		return nil, err
	}
	for _, sys := range s.system {
		c := *sys
		recs = append(recs, &c)
	}
	return recs, nil
}

func (s *Server) putWorkflow(w *workflowRecord) error {
	return putJSON(s.opts.Store, colWorkflows, w.ID, w)
}

// findWorkflow finds the workflow identifier (an id, or a name in
// namespace) that c may see.
func (s *Server) findWorkflow(c *caller, identifier, namespace string) (*workflowRecord, error) {
	all, err := s.workflows()
	if err != nil {
		return nil, err
	}
	var byName *workflowRecord
	for _, w := range all {
		if !c.visible(w.ProjectID, w.Scope) {
			continue
		}
		if w.ID == identifier {
			return w, nil
		}
		// Own workflows first, then public ones of other projects.
		if w.Name == identifier && w.Namespace == namespace && (byName == nil || w.ProjectID == c.ProjectID) {
			byName = w
		}
	}
	if byName == nil {
		return nil, notFound("Workflow not found [workflow_identifier=%s, namespace=%s]", identifier, namespace)
	}
	return byName, nil
}

// render is the workflow as the API shows it; interfaceAsObject for
// create and update answers (an object there, a JSON string elsewhere).
func (s *Server) renderWorkflow(w *workflowRecord, interfaceAsObject bool) resource {
	input, iface := w.Input, w.Interface
	if iface == nil {
		iface = map[string]any{"input": []any{}, "output": []any{}}
	}
	tags := w.Tags
	if tags == nil {
		tags = []string{}
	}
	r := resource{
		"id": w.ID, "name": w.Name, "namespace": w.Namespace, "input": input,
		"definition": w.definition(), "tags": tags, "project_id": w.ProjectID, "scope": w.Scope,
		"created_at": timestamp(w.CreatedAt), "updated_at": timestamp(w.UpdatedAt),
	}
	withSortTimes(r, map[string]time.Time{"created_at": w.CreatedAt, "updated_at": w.UpdatedAt})
	if interfaceAsObject {
		r["interface"] = iface
	} else {
		r["interface"] = jsonString(iface)
	}
	return r
}

// signature is Mistral's input string (`a, b="x"`) and interface object.
func signature(w *workflow.Workflow) (string, map[string]any) {
	var parts []string
	in := []any{}
	for _, p := range w.Input {
		if p.HasDefault {
			parts = append(parts, p.Name+"="+jsonString(p.Default))
			in = append(in, map[string]any{p.Name: p.Default})
		} else {
			parts = append(parts, p.Name)
			in = append(in, p.Name)
		}
	}
	out := []any{}
	for _, k := range slices.Sorted(maps.Keys(w.Output)) {
		out = append(out, k)
	}
	return strings.Join(parts, ", "), map[string]any{"input": in, "output": out}
}

// checkScope is Mistral's 400 for a scope other than private or public;
// empty (not given) passes.
func checkScope(scope string) error {
	switch scope {
	case "", "private", "public":
		return nil
	}
	return badRequest("Scope must be one of the following: ['private', 'public']; actual: %s", scope)
}

// definitionRequest reads what POST and PUT of workflows, workbooks and
// actions share: the scope parameter (private unless given), the
// namespace and the text/plain definition.
func definitionRequest(r *http.Request) (scope, namespace, body string, err error) {
	scope = r.URL.Query().Get("scope")
	if err := checkScope(scope); err != nil {
		return "", "", "", err
	}
	if scope == "" {
		scope = "private"
	}
	b, err := readBody(r)
	if err != nil {
		return "", "", "", err
	}
	return scope, r.URL.Query().Get("namespace"), string(b), nil
}

// createWorkflows is POST /v2/workflows: text/plain DSL, one record per
// workflow; 409 when one exists with its name in the namespace and
// project. Policy: any project may create public workflows (Mistral's
// default keeps publicize to admins; its devstack gate allows owners).
func (s *Server) createWorkflows(w http.ResponseWriter, r *http.Request, c *caller) error {
	scope, namespace, body, err := definitionRequest(r)
	if err != nil {
		return err
	}
	f, _, err := s.loadDefinition(c, body, namespace)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.workflows()
	if err != nil {
		return err
	}
	now := s.now()
	var created []resource
	var recs []*workflowRecord
	for i, wf := range f.Workflows {
		name := qualifiedName(f, wf)
		for _, o := range all {
			if o.Name == name && o.Namespace == namespace && o.ProjectID == c.ProjectID {
				return conflict("Duplicate entry for WorkflowDefinition ['name', 'namespace', 'project_id']: %s, %s, %s", name, namespace, c.ProjectID)
			}
		}
		rec := &workflowRecord{ID: workflow.NewID(), Name: name, Namespace: namespace, ProjectID: c.ProjectID,
			Scope: scope, Definition: body, CreatedAt: now.Add(time.Duration(i) * time.Microsecond)}
		rec.Input, rec.Interface = signature(wf)
		rec.Own = ownDefinition(f, body, wf.Name)
		recs = append(recs, rec)
	}
	for _, rec := range recs {
		if err := s.putWorkflow(rec); err != nil {
			return err
		}
		created = append(created, s.renderWorkflow(rec, true))
	}
	writeJSON(w, http.StatusCreated, map[string]any{"workflows": created})
	return nil
}

// updateWorkflows is PUT /v2/workflows[/{id}]: each workflow of the text
// replaces the caller's workflow of that name in the namespace (404 when
// there is none); with an id, the text holds one workflow.
func (s *Server) updateWorkflows(w http.ResponseWriter, r *http.Request, c *caller) error {
	scope, namespace, body, err := definitionRequest(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	f, _, err := s.loadDefinition(c, body, namespace)
	if err != nil {
		return err
	}
	if id != "" && len(f.Workflows) != 1 {
		return badRequest("Input of the workflow update must contain exactly one workflow when an identifier is given.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []*workflowRecord
	for _, wf := range f.Workflows {
		ident := qualifiedName(f, wf)
		if id != "" {
			ident = id
		}
		rec, err := s.findWorkflow(c, ident, namespace)
		if err != nil {
			return err
		}
		if rec.System {
			return badRequest("Attempt to modify a system workflow: %s", rec.Name)
		}
		if rec.ProjectID != c.ProjectID && !c.admin {
			return errorf(http.StatusForbidden, "Can not access WorkflowDefinition resource of other projects, ID: %s", rec.ID)
		}
		rec.Name, rec.Definition, rec.Scope, rec.UpdatedAt = qualifiedName(f, wf), body, scope, s.now()
		rec.Input, rec.Interface = signature(wf)
		rec.Own = ownDefinition(f, body, wf.Name)
		recs = append(recs, rec)
	}
	var out []resource
	for _, rec := range recs {
		if err := s.putWorkflow(rec); err != nil {
			return err
		}
		out = append(out, s.renderWorkflow(rec, true))
	}
	if id != "" {
		writeJSON(w, http.StatusOK, out[0])
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": out})
	return nil
}

// validateWorkflow is POST /v2/workflows/validate: 200 {"valid": bool,
// "error": text}.
func (s *Server) validateWorkflow(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if _, _, err := s.loadDefinition(c, string(body), r.URL.Query().Get("namespace")); err != nil {
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

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request, c *caller) error {
	rec, err := s.findWorkflow(c, r.PathValue("id"), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderWorkflow(rec, false))
	return nil
}

// deleteWorkflow is DELETE /v2/workflows/{id}: 204; 400 while a cron
// trigger of any project uses it.
func (s *Server) deleteWorkflow(w http.ResponseWriter, r *http.Request, c *caller) error {
	ident, namespace := r.PathValue("id"), r.URL.Query().Get("namespace")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.findWorkflow(c, ident, namespace)
	if err != nil {
		return err
	}
	if rec.System {
		return badRequest("Attempt to delete a system workflow: %s", ident)
	}
	if !c.admin && rec.ProjectID != c.ProjectID {
		return errorf(http.StatusForbidden, "Can not access WorkflowDefinition resource of other projects, ID: %s", rec.ID)
	}
	triggers, err := s.cronTriggers()
	if err != nil {
		return err
	}
	var ids []string
	for _, t := range triggers {
		if t.WorkflowID == rec.ID {
			ids = append(ids, t.ID)
		}
	}
	if len(ids) > 0 {
		return badRequest("Can't delete workflow that has cron triggers associated. [workflow_identifier=%s, namespace=%s], [cron_trigger_id(s)=%s]",
			ident, namespace, strings.Join(ids, ", "))
	}
	if ids, err = s.eventTriggerIDs(rec.ID); err != nil {
		return err
	} else if len(ids) > 0 {
		return badRequest("Can't delete workflow that has event triggers associated. [workflow_identifier=%s], [event_trigger_id(s)=%s]",
			ident, strings.Join(ids, ", "))
	}
	if err := s.opts.Store.DeleteRecord(colWorkflows, rec.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listWorkflows is GET /v2/workflows: the caller's and public workflows
// (an admin's all_projects=true or project_id=: every project's).
func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), workflowKind)
	if err != nil {
		return err
	}
	all, err := s.workflows()
	if err != nil {
		return err
	}
	insecure := c.admin && (p.allProjects || p.projectID != "")
	var items []resource
	for _, wf := range all {
		if !insecure && wf.ProjectID != c.ProjectID && wf.Scope != "public" {
			continue
		}
		if p.projectID != "" && wf.ProjectID != p.projectID {
			continue
		}
		items = append(items, s.renderWorkflow(wf, false))
	}
	return p.write(w, r, items, workflowKind)
}

// ownDefinition is the text Mistral shows as the definition of workflow
// name of src when src defines several (not a workbook): version and that
// workflow alone, dumped again as YAML (_cut_wf_definition_from_all); ""
// when src is the workflow's own text already.
func ownDefinition(f *workflow.File, src, name string) string {
	if f.Workbook != "" || len(f.Workflows) < 2 {
		return ""
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return ""
	}
	m := doc.Content[0]
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && (k.Value == "version" || k.Value == name) {
			out.Content = append(out.Content, k, m.Content[i+1])
		}
	}
	// A key given twice counts once, with its last value, as in the
	// PyYAML that reads Mistral's definitions.
	lastKeyWins(out, 0)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil || enc.Close() != nil {
		return ""
	}
	return b.String()
}

// lastKeyWins removes the earlier of two equal scalar keys of every
// mapping under n, keeping the first key's place and the last value, as
// PyYAML (and the workflow parser) read them: the definition served
// then has no duplicate key, which stricter YAML readers refuse.
func lastKeyWins(n *yaml.Node, depth int) {
	if n == nil || depth > 1000 {
		return
	}
	if n.Kind == yaml.MappingNode {
		at := map[string]int{}
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if j, ok := at[k.Value]; ok {
					kept[j+1] = n.Content[i+1]
					continue
				}
				at[k.Value] = len(kept)
			}
			kept = append(kept, k, n.Content[i+1])
		}
		n.Content = kept
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode || n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			lastKeyWins(c, depth+1)
		}
	}
}
