package mistralapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/expr"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// /v2/actions: the served registry's actions (std.* and fernetflow's own)
// listed as system actions, and ad-hoc actions (Mistral's POST
// /v2/actions text, and a workbook's actions: as WORKBOOK.ACTION), kept as
// actionRecords. The engine runs ad-hoc actions through
// workflow.BindAdhoc (Server.registry).

// colActions holds ad-hoc actions (actionRecord by id).
const colActions store.Collection = "mistral_actions"

type actionRecord struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Namespace   string   `json:"namespace"`
	ProjectID   string   `json:"project_id"`
	Scope       string   `json:"scope"`
	Definition  string   `json:"definition"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	// Input is Mistral's input signature ("name, greeting=\"hi\"").
	Input string `json:"input"`
	// Workbook is the workbook the action belongs to ("" for none).
	Workbook  string           `json:"workbook,omitempty"`
	Base      string           `json:"base"`
	BaseInput map[string]any   `json:"base_input,omitempty"`
	Params    []workflow.Param `json:"params,omitempty"`
	Output    any              `json:"output,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at,omitzero"`
}

var actionKind = listKind{
	name:       "actions",
	fields:     []string{"id", "name", "is_system", "input", "description", "tags", "definition", "scope", "project_id", "namespace", "created_at", "updated_at"},
	filterable: []string{"created_at", "name", "scope", "tags", "updated_at", "description", "definition", "is_system", "input", "namespace"},
}

// actionListArgs are the query parameters GET /v2/actions takes (its
// wsme signature): any other is 400 "Unknown argument", as Mistral.
var actionListArgs = []string{"marker", "limit", "sort_keys", "sort_dirs", "fields", "created_at", "name", "scope", "tags",
	"updated_at", "description", "definition", "is_system", "input", "namespace"}

func (s *Server) adhocActions() ([]*actionRecord, error) {
	return loadAll[actionRecord](s.opts.Store, colActions, "action")
}

// adhocSpec is one ad-hoc action of a definition, in its order.
type adhocSpec struct {
	name string
	a    *workflow.AdhocAction
	tags []string
}

var adhocKeys = []string{"base", "base-input", "input", "output", "description", "tags"}

// parseActionList reads Mistral's action list text (version: '2.0' and
// NAME: {base, base-input, input, output, description, tags} entries);
// every action's base must be an action of reg.
func parseActionList(src string, reg workflow.Registry) ([]adhocSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, badRequest("Invalid DSL: %v", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, badRequest("Invalid DSL: an action definition is a mapping of version: '2.0' and actions")
	}
	m := doc.Content[0]
	var out []adhocSpec
	hasVersion := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		if key == "version" {
			if val.Value != "2.0" && val.Value != "2" {
				return nil, badRequest("Invalid DSL: version %q is not supported: use version: '2.0'", val.Value)
			}
			hasVersion = true
			continue
		}
		var v any
		if err := val.Decode(&v); err != nil {
			return nil, badRequest("Invalid DSL: action %s: %v", key, err)
		}
		spec, ok := v.(map[string]any)
		if !ok {
			return nil, badRequest("Invalid DSL: %s is not an action definition (a mapping with base:), line %d", key, val.Line)
		}
		a, tags, err := adhocAction(key, spec, reg)
		if err != nil {
			return nil, err
		}
		out = append(out, adhocSpec{name: key, a: a, tags: tags})
	}
	if !hasVersion {
		return nil, badRequest("Invalid DSL: version: '2.0' is missing")
	}
	if len(out) == 0 {
		return nil, badRequest("Invalid DSL: the definition has no action")
	}
	return out, nil
}

// adhocAction checks and reads one action definition.
func adhocAction(name string, spec map[string]any, reg workflow.Registry) (*workflow.AdhocAction, []string, error) {
	for k := range spec {
		if !slices.Contains(adhocKeys, k) {
			return nil, nil, badRequest("Invalid DSL: action %s: unknown key %q (allowed: %s)", name, k, strings.Join(adhocKeys, ", "))
		}
	}
	base, _ := spec["base"].(string)
	if base == "" {
		return nil, nil, badRequest("Invalid DSL: action %s: base: (the action it runs) is required", name)
	}
	if reg != nil {
		if _, ok := reg.Lookup(base); !ok {
			return nil, nil, badRequest("Invalid DSL: action %s: unknown base action %q", name, base)
		}
	}
	a := &workflow.AdhocAction{ActionName: name, Base: base, Output: spec["output"]}
	a.Desc, _ = spec["description"].(string)
	if bi, ok := spec["base-input"]; ok && bi != nil {
		m, ok := bi.(map[string]any)
		if !ok {
			return nil, nil, badRequest("Invalid DSL: action %s: base-input must be a mapping", name)
		}
		a.BaseInput = m
	}
	params, err := adhocParams(name, spec["input"])
	if err != nil {
		return nil, nil, err
	}
	a.Params = params
	var bad error
	walk(a.BaseInput, func(s string) {
		if bad == nil && expr.IsExpression(s) {
			if _, err := expr.ParseTemplate(s); err != nil {
				bad = badRequest("Invalid DSL: action %s: expression %s does not parse: %v", name, s, err)
			}
		}
	})
	walk(a.Output, func(s string) {
		if bad == nil && expr.IsExpression(s) {
			if _, err := expr.ParseTemplate(s); err != nil {
				bad = badRequest("Invalid DSL: action %s: expression %s does not parse: %v", name, s, err)
			}
		}
	})
	if bad != nil {
		return nil, nil, bad
	}
	var tags []string
	if t, ok := spec["tags"].([]any); ok {
		for _, x := range t {
			tags = append(tags, fmt.Sprint(x))
		}
	}
	return a, tags, nil
}

func adhocParams(name string, v any) ([]workflow.Param, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest("Invalid DSL: action %s: input must be a list of names or name: default", name)
	}
	var out []workflow.Param
	for _, e := range list {
		switch x := e.(type) {
		case string:
			out = append(out, workflow.Param{Name: x})
		case map[string]any:
			if len(x) != 1 {
				return nil, badRequest("Invalid DSL: action %s: an input with a default is one name: default", name)
			}
			for k, d := range x {
				out = append(out, workflow.Param{Name: k, Default: d, HasDefault: true})
			}
		default:
			return nil, badRequest("Invalid DSL: action %s: input must be a list of names or name: default", name)
		}
	}
	return out, nil
}

func walk(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// paramsSignature is Mistral's input text of an ad-hoc action.
func paramsSignature(ps []workflow.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name
		if p.HasDefault {
			parts[i] += "=" + jsonString(p.Default)
		}
	}
	return strings.Join(parts, ", ")
}

// schemaSignature is a system action's input text from its JSON schema:
// required parameters first (in the schema's order), then the others,
// sorted, with their default (null when the schema gives none).
func schemaSignature(schema json.RawMessage) string {
	var s struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil {
		return ""
	}
	parts := slices.Clone(s.Required)
	var opt []string
	for name := range s.Properties {
		if !slices.Contains(s.Required, name) {
			opt = append(opt, name)
		}
	}
	sort.Strings(opt)
	for _, name := range opt {
		d := string(s.Properties[name].Default)
		if d == "" {
			d = "null"
		}
		parts = append(parts, name+"="+d)
	}
	return strings.Join(parts, ", ")
}

func (rec *actionRecord) adhoc() *workflow.AdhocAction {
	return &workflow.AdhocAction{ActionName: rec.Name, Desc: rec.Description, Base: rec.Base, BaseInput: rec.BaseInput, Params: rec.Params, Output: rec.Output}
}

func renderAction(rec *actionRecord) resource {
	tags := rec.Tags
	if tags == nil {
		tags = []string{}
	}
	r := resource{
		"id": rec.ID, "name": rec.Name, "is_system": false, "input": rec.Input, "description": nilIfEmpty(rec.Description),
		"tags": tags, "definition": rec.Definition, "scope": rec.Scope, "project_id": rec.ProjectID, "namespace": rec.Namespace,
		"created_at": timestamp(rec.CreatedAt), "updated_at": timestamp(rec.UpdatedAt),
	}
	return withSortTimes(r, map[string]time.Time{"created_at": rec.CreatedAt, "updated_at": rec.UpdatedAt})
}

// renderSystemAction is an action of the served registry as Mistral lists
// its system actions: id = name, public, no project, no definition text.
func renderSystemAction(a workflow.Action) resource {
	return resource{
		"id": a.Name(), "name": a.Name(), "is_system": true, "input": schemaSignature(a.InputSchema()),
		"description": nilIfEmpty(a.Description()), "tags": []string{}, "definition": "", "scope": "public",
		"project_id": nil, "namespace": "", "created_at": nil, "updated_at": nil,
	}
}

// visibleActions are the ad-hoc actions c may see in namespace.
func (s *Server) visibleActions(c *caller, namespace string) ([]*actionRecord, error) {
	all, err := s.adhocActions()
	if err != nil {
		return nil, err
	}
	var out []*actionRecord
	for _, a := range all {
		if a.Namespace == namespace && c.visible(a.ProjectID, a.Scope) {
			out = append(out, a)
		}
	}
	return out, nil
}

// findAction is the ad-hoc action called identifier (name or id) that c
// may see in namespace, its own first.
func (s *Server) findAction(c *caller, identifier, namespace string) (*actionRecord, error) {
	all, err := s.visibleActions(c, namespace)
	if err != nil {
		return nil, err
	}
	var found *actionRecord
	for _, a := range all {
		if (a.Name == identifier || a.ID == identifier) && (found == nil || a.ProjectID == c.ProjectID) {
			found = a
		}
	}
	return found, nil
}

// registry is the served registry with the ad-hoc actions c may see in
// namespace (and the default one): what workflows and POST
// /v2/action_executions of c run.
func (s *Server) registry(c *caller, namespace string) (workflow.Registry, error) {
	reg := &adhocRegistry{base: s.ownActions(c), acts: map[string]*workflow.AdhocAction{}}
	for _, ns := range []string{"", namespace} { // the namespace's win
		recs, err := s.visibleActions(c, ns)
		if err != nil {
			return nil, err
		}
		// c's own win over public ones of the name.
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].ProjectID != c.ProjectID && recs[j].ProjectID == c.ProjectID })
		for _, rec := range recs {
			reg.acts[rec.Name] = rec.adhoc()
		}
	}
	return reg, nil
}

// withStoredActions adds to full.Actions (a copy) the stored ad-hoc
// actions c may see in namespace (and the default one) that the
// definition does not define itself: tasks call them by name.
func (s *Server) withStoredActions(c *caller, full *workflow.File, namespace string) error {
	reg, err := s.registry(c, namespace)
	if err != nil {
		return err
	}
	acts := reg.(*adhocRegistry).acts
	if len(acts) == 0 {
		return nil
	}
	m := make(map[string]*workflow.AdhocAction, len(full.Actions)+len(acts))
	for name, a := range acts {
		m[name] = a
	}
	for name, a := range full.Actions {
		m[name] = a
	}
	full.Actions = m
	return nil
}

// adhocRegistry is a registry and ad-hoc actions over it.
type adhocRegistry struct {
	base workflow.Registry
	acts map[string]*workflow.AdhocAction
}

func (r *adhocRegistry) Lookup(name string) (workflow.Action, bool) {
	if a, ok := r.base.Lookup(name); ok {
		return a, true
	}
	if a, ok := r.acts[name]; ok {
		return workflow.BindAdhoc(a, r.base), true
	}
	return nil, false
}

func (r *adhocRegistry) Names() []string {
	names := r.base.Names()
	for n := range r.acts {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// actionListQuery checks GET /v2/actions' parameters and gives the list
// query with Mistral's default order (by name). A parameter given twice
// (name=in:a,b&name=a) filters by each.
func actionListQuery(q url.Values) (url.Values, error) {
	for key := range q {
		if !slices.Contains(actionListArgs, key) {
			return nil, badRequest("Unknown argument: \"%s\"", key)
		}
	}
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = slices.Clone(v)
	}
	if q2.Get("sort_keys") == "" {
		q2.Set("sort_keys", "name")
	}
	return q2, nil
}

// listActions is GET /v2/actions: system actions, then the ad-hoc ones c
// may see, filtered and sorted as any list.
func (s *Server) listActions(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := actionListQuery(r.URL.Query())
	if err != nil {
		return err
	}
	p, err := parseList(q, actionKind)
	if err != nil {
		return err
	}
	// As Mistral, fields= always gives the name (and id, for next links).
	if len(p.fields) > 0 && !slices.Contains(p.fields, "name") {
		p.fields = append([]string{"name"}, p.fields...)
	}
	// Repeated filter parameters all apply.
	for key, vals := range q {
		if slices.Contains(actionKind.filterable, key) {
			for _, v := range vals[1:] {
				p.filters = append(p.filters, parseFilter(key, v))
			}
		}
	}
	namespace := q.Get("namespace")
	var items []resource
	for _, n := range s.opts.Registry.Names() {
		if a, ok := s.opts.Registry.Lookup(n); ok {
			items = append(items, renderSystemAction(a))
		}
	}
	recs, err := s.visibleActions(c, namespace)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		items = append(items, renderAction(rec))
	}
	return p.write(w, r, items, actionKind)
}

// getAction is GET /v2/actions/{id}: an ad-hoc action by name or id, or a
// system action by name.
func (s *Server) getAction(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, namespace := r.PathValue("id"), r.URL.Query().Get("namespace")
	rec, err := s.findAction(c, id, namespace)
	if err != nil {
		return err
	}
	if rec != nil {
		writeJSON(w, http.StatusOK, renderAction(rec))
		return nil
	}
	if a, ok := s.opts.Registry.Lookup(id); ok {
		writeJSON(w, http.StatusOK, renderSystemAction(a))
		return nil
	}
	return notFound("Action not found [name=%s, namespace=%s]", id, namespace)
}

// createActions is POST /v2/actions: text/plain, 201 with every action of
// the definition (each with the whole text as its definition, as
// Mistral); 409 when the project has one of them in the namespace, 400
// for a system action's name.
func (s *Server) createActions(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.writeActions(w, r, c, false)
}

// updateActions is PUT /v2/actions: the caller's actions of the
// definition's names are replaced (404 for one that does not exist).
func (s *Server) updateActions(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.writeActions(w, r, c, true)
}

func (s *Server) writeActions(w http.ResponseWriter, r *http.Request, c *caller, update bool) error {
	scope, namespace, body, err := definitionRequest(r)
	if err != nil {
		return err
	}
	specs, err := parseActionList(body, s.opts.Registry)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.adhocActions()
	if err != nil {
		return err
	}
	now := s.now()
	var out []resource
	var recs []*actionRecord
	for i, sp := range specs {
		if _, ok := s.opts.Registry.Lookup(sp.name); ok {
			return badRequest("Attempt to modify a system action: %s", sp.name)
		}
		var rec *actionRecord
		for _, o := range all {
			if o.Name == sp.name && o.Namespace == namespace && o.ProjectID == c.ProjectID {
				rec = o
			}
		}
		switch {
		case rec != nil && !update:
			return conflict("Duplicate entry for Action ['name', 'namespace', 'project_id']: %s, %s, %s", sp.name, namespace, c.ProjectID)
		case rec == nil && update:
			return notFound("Action not found [name=%s, namespace=%s]", sp.name, namespace)
		case rec == nil:
			rec = &actionRecord{ID: workflow.NewID(), Name: sp.name, Namespace: namespace, ProjectID: c.ProjectID,
				CreatedAt: now.Add(time.Duration(i) * time.Microsecond)}
		default:
			rec.UpdatedAt = now
		}
		rec.Scope, rec.Definition = scope, body
		fillAction(rec, sp)
		recs = append(recs, rec)
	}
	for _, rec := range recs {
		if err := putJSON(s.opts.Store, colActions, rec.ID, rec); err != nil {
			return err
		}
		out = append(out, renderAction(rec))
	}
	status := http.StatusCreated
	if update {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"actions": out})
	return nil
}

func fillAction(rec *actionRecord, sp adhocSpec) {
	rec.Description, rec.Tags = sp.a.Desc, sp.tags
	rec.Base, rec.BaseInput, rec.Params, rec.Output = sp.a.Base, sp.a.BaseInput, sp.a.Params, sp.a.Output
	rec.Input = paramsSignature(sp.a.Params)
}

// deleteAction is DELETE /v2/actions/{id}: 204; 404 for an unknown one
// (or another project's), 400 for a system action.
func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, namespace := r.PathValue("id"), r.URL.Query().Get("namespace")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.findAction(c, id, namespace)
	if err != nil {
		return err
	}
	if rec == nil || (rec.ProjectID != c.ProjectID && !c.admin) {
		if _, ok := s.opts.Registry.Lookup(id); ok {
			return badRequest("Attempt to delete a system action: %s", id)
		}
		return notFound("Action not found [name=%s, namespace=%s]", id, namespace)
	}
	if err := s.opts.Store.DeleteRecord(colActions, rec.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cutWorkbookItem is the text of item (a workflow or action) under
// section ("workflows:" or "actions:") of a workbook definition, as
// Mistral's spec parser cuts it (_parse_def_from_wb): from the item's
// line, unindented, to the first line indented as much or less.
func cutWorkbookItem(def, section, item string) string {
	at := strings.Index(def, section)
	if at < 0 {
		return def
	}
	lines := strings.SplitAfter(def[at:], "\n")[1:]
	key := item + ":"
	var out []string
	indent := -1
	i := 0
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == key {
			indent = strings.Index(lines[i], key)
			out = append(out, strings.TrimLeft(lines[i], " \t"))
			i++
			break
		}
	}
	if indent < 0 {
		return def
	}
	for ; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			out = append(out, line)
		case strings.HasPrefix(trimmed, "#"):
			if h := strings.Index(line, "#"); indent > h {
				out = append(out, line)
			} else {
				out = append(out, line[indent:])
			}
		default:
			lead := len(line) - len(strings.TrimLeft(line, " \t"))
			if indent >= lead {
				return strings.TrimRight(strings.Join(out, ""), " \t\r\n") + "\n"
			}
			out = append(out, line[indent:])
		}
	}
	return strings.TrimRight(strings.Join(out, ""), " \t\r\n") + "\n"
}

// syncWorkbookActions makes the ad-hoc action records of wb (named
// WORKBOOK.ACTION) those of f's actions:, as syncWorkbookWorkflows does
// for its workflows.
func (s *Server) syncWorkbookActions(wb *workbookRecord, f *workflow.File, now time.Time) error {
	all, err := s.adhocActions()
	if err != nil {
		return err
	}
	byName := map[string]*actionRecord{}
	for _, a := range all {
		if a.Workbook == wb.Name && a.Namespace == wb.Namespace && a.ProjectID == wb.ProjectID {
			byName[a.Name] = a
		}
	}
	names := make([]string, 0, len(f.Actions))
	for n := range f.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, short := range names {
		a := f.Actions[short]
		name := wb.Name + "." + short
		rec := byName[name]
		if rec == nil {
			rec = &actionRecord{ID: workflow.NewID(), Name: name, CreatedAt: now.Add(time.Duration(i) * time.Microsecond)}
		} else {
			rec.UpdatedAt = now
			delete(byName, name)
		}
		rec.Namespace, rec.ProjectID, rec.Scope, rec.Workbook = wb.Namespace, wb.ProjectID, wb.Scope, wb.Name
		rec.Definition = cutWorkbookItem(wb.Definition, "actions:", short)
		fillAction(rec, adhocSpec{name: name, a: a})
		if err := putJSON(s.opts.Store, colActions, rec.ID, rec); err != nil {
			return err
		}
	}
	for _, gone := range byName {
		if err := s.opts.Store.DeleteRecord(colActions, gone.ID); err != nil {
			return err
		}
	}
	return nil
}
