package mistralapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A resource is one item of a list as its JSON shows it: JSON-valued
// fields are already strings, timestamps Mistral's text. Filters, sorting
// and fields work on this form, so that they see what the client sees.
type resource = map[string]any

// filter is one query parameter that selects items: KEY=OP:VALUE with
// Mistral's operators (eq when none is given).
type filter struct {
	key, op string
	value   string
	values  []string // in, nin
}

var filterOps = []string{"eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "has"}

func parseFilter(key, raw string) filter {
	op, v, ok := strings.Cut(raw, ":")
	if !ok || !slices.Contains(filterOps, op) {
		return filter{key: key, op: "eq", value: raw}
	}
	f := filter{key: key, op: op, value: v}
	if op == "in" || op == "nin" {
		f.values = strings.Split(v, ",")
	}
	return f
}

// String is the filter as Mistral writes it in a next link.
func (f filter) String() string { return f.key + "=" + f.op + ":" + f.value }

func (f filter) match(v any) bool {
	if list, ok := v.([]string); ok { // tags
		switch f.op {
		case "has", "eq":
			return slices.Contains(list, f.value)
		case "neq":
			return !slices.Contains(list, f.value)
		}
		return false
	}
	s, isNil := text(v)
	switch f.op {
	case "eq":
		return !isNil && s == f.value || isNil && (f.value == "None" || f.value == "null")
	case "neq":
		return isNil || s != f.value
	case "in":
		return !isNil && slices.Contains(f.values, s)
	case "nin":
		return isNil || !slices.Contains(f.values, s)
	case "has":
		return !isNil && strings.Contains(s, f.value)
	}
	if isNil {
		return false
	}
	c := compare(v, f.value)
	switch f.op {
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	}
	return false
}

// text is v as a filter compares it; isNil for a JSON null.
func text(v any) (s string, isNil bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, false
	case bool:
		if v {
			return "True", false // as Mistral's query parameters say it
		}
		return "False", false
	}
	return fmt.Sprint(v), false
}

// compare orders two values of one field: null first (as SQL sorts NULL
// ascending), numbers by value, everything else as text (Mistral's
// timestamps sort as text).
func compare(a, b any) int {
	as, an := text(a)
	bs, bn := text(b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	af, aerr := strconv.ParseFloat(as, 64)
	bf, berr := strconv.ParseFloat(bs, 64)
	if aerr == nil && berr == nil {
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		return 0
	}
	return strings.Compare(as, bs)
}

// listParams are a list request's query: Mistral's limit, marker,
// sort_keys, sort_dirs, fields, filters, all_projects and project_id.
type listParams struct {
	limit              int // 0: none
	marker             string
	sortKeys, sortDirs []string
	fields             []string
	filters            []filter
	allProjects        bool
	projectID          string
	values             url.Values
}

// listKind describes a resource for list requests.
type listKind struct {
	name       string   // collection name, as in the URL and the body ("workflows")
	fields     []string // every field, for fields= and sort_keys=
	filterable []string // query parameters that are filters
}

// paramsNotFilters are the list parameters that select no field.
var paramsNotFilters = []string{"limit", "marker", "sort_keys", "sort_dirs", "fields", "all_projects", "project_id", "include_output", "nulls", "namespace_filter"}

func parseList(q url.Values, k listKind) (*listParams, error) {
	p := &listParams{values: q}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest("Invalid input for field/attribute limit. Value: '%s'. unable to convert to int", s)
		}
		if n <= 0 {
			return nil, badRequest("Limit must be positive.")
		}
		p.limit = n
	}
	p.marker = q.Get("marker")
	// sort_keys and fields are Mistral's uniquelist: duplicates dropped.
	p.sortKeys = uniqueList(q.Get("sort_keys"))
	if len(p.sortKeys) == 0 {
		p.sortKeys = []string{"created_at"}
	}
	p.sortDirs = splitList(q.Get("sort_dirs"))
	if len(p.sortKeys) < len(p.sortDirs) {
		return nil, badRequest("Length of sort_keys must be equal or greater than sort_dirs.")
	}
	for len(p.sortDirs) < len(p.sortKeys) {
		p.sortDirs = append(p.sortDirs, "asc")
	}
	for _, d := range p.sortDirs {
		if d != "asc" && d != "desc" {
			return nil, badRequest("Unknown sort direction, must be 'desc' or 'asc'.")
		}
	}
	for _, sk := range p.sortKeys {
		if !slices.Contains(k.fields, sk) {
			return nil, badRequest("Invalid sort key: %s", sk)
		}
	}
	// A stable order for markers: Mistral's database layer adds id.
	if !slices.Contains(p.sortKeys, "id") {
		p.sortKeys = append(p.sortKeys, "id")
		p.sortDirs = append(p.sortDirs, "asc")
	}
	p.fields = uniqueList(q.Get("fields"))
	if len(p.fields) > 0 {
		if !slices.Contains(p.fields, "id") {
			p.fields = append([]string{"id"}, p.fields...)
		}
		var bad []string
		for _, f := range p.fields {
			if !slices.Contains(k.fields, f) {
				bad = append(bad, f)
			}
		}
		if len(bad) > 0 {
			return nil, badRequest("Some fields do not exist  [%s], please choose from [%s]", strings.Join(bad, ", "), strings.Join(k.fields, ", "))
		}
	}
	if s := q.Get("all_projects"); s != "" {
		b, err := parseBool(s)
		if err != nil {
			return nil, badRequest("Invalid input for field/attribute all_projects. Value: '%s'. %v", s, err)
		}
		p.allProjects = b
	}
	p.projectID = q.Get("project_id")
	keys := make([]string, 0, len(q))
	for key := range q {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if slices.Contains(paramsNotFilters, key) || !slices.Contains(k.filterable, key) {
			continue
		}
		p.filters = append(p.filters, parseFilter(key, q.Get(key)))
	}
	return p, nil
}

// uniqueList is splitList without repeated items (the first kept).
func uniqueList(s string) []string {
	var out []string
	for _, f := range splitList(s) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseBool reads a boolean query parameter as wsme does.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on", "y", "t":
		return true, nil
	case "false", "0", "no", "off", "n", "f", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// page applies p to items (every item the caller may see): filters, the
// order, the marker, the limit and fields. It returns the page and, when
// a limit was given and the page is full, the absolute link to the next
// page (base is the server's URL, such as http://127.0.0.1:8989).
// write answers a list request: 200 with the page of items under k's
// name, and the absolute link to the next page when there is one.
func (p *listParams) write(w http.ResponseWriter, r *http.Request, items []resource, k listKind) error {
	page, next, err := p.page(items, k, baseURL(r))
	if err != nil {
		return err
	}
	body := map[string]any{k.name: page}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (p *listParams) page(items []resource, k listKind, base string) ([]resource, string, error) {
	var out []resource
	for _, it := range items {
		ok := true
		for _, f := range p.filters {
			if !f.match(it[f.key]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, it)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		for n, key := range p.sortKeys {
			c := compare(sortValue(out[i], key), sortValue(out[j], key))
			if p.sortDirs[n] == "desc" {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	if p.marker != "" {
		at := slices.IndexFunc(out, func(r resource) bool { return r["id"] == p.marker })
		if at < 0 {
			if !slices.ContainsFunc(items, func(r resource) bool { return r["id"] == p.marker }) {
				return nil, "", notFound("%s not found [id=%s]", singular(k.name), p.marker)
			}
			// The marker is filtered out: nothing can follow it.
			out = nil
		} else {
			out = out[at+1:]
		}
	}
	if p.limit > 0 && len(out) > p.limit {
		out = out[:p.limit]
	}
	next := ""
	if p.limit > 0 && len(out) == p.limit {
		next = p.nextLink(base, k.name, out[len(out)-1]["id"])
	}
	for i, it := range out {
		r := resource{}
		for k, v := range it {
			if !strings.HasPrefix(k, sortPrefix) && (len(p.fields) == 0 || slices.Contains(p.fields, k)) {
				r[k] = v
			}
		}
		out[i] = r
	}
	if out == nil {
		out = []resource{}
	}
	return out, next, nil
}

// sortPrefix marks a resource's hidden sort values: a timestamp shows
// seconds, but items sort by the full time, as Mistral's database does.
const sortPrefix = "sort:"

func sortValue(r resource, key string) any {
	if v, ok := r[sortPrefix+key]; ok {
		return v
	}
	return r[key]
}

// withSortTimes adds the hidden sort values of r's timestamps.
func withSortTimes(r resource, times map[string]time.Time) resource {
	for k, t := range times {
		if !t.IsZero() {
			r[sortPrefix+k] = t.UTC().Format("2006-01-02 15:04:05.000000000")
		}
	}
	return r
}

// nextLink is Mistral's link to the page after marker: sort keys and
// directions (with id added), filters, limit, marker, then fields.
func (p *listParams) nextLink(base, collection string, marker any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/v2/%s?sort_keys=%s&sort_dirs=%s&", strings.TrimSuffix(base, "/"), collection,
		strings.Join(p.sortKeys, ","), strings.Join(p.sortDirs, ","))
	for _, f := range p.filters {
		b.WriteString(url.PathEscape(f.key) + "=" + url.QueryEscape(f.op+":"+f.value) + "&")
	}
	if p.projectID != "" {
		b.WriteString("project_id=" + url.QueryEscape(p.projectID) + "&")
	}
	if p.allProjects {
		b.WriteString("all_projects=true&")
	}
	fmt.Fprintf(&b, "limit=%d&marker=%v", p.limit, marker)
	if len(p.fields) > 0 {
		b.WriteString("&fields=" + strings.Join(p.fields, ","))
	}
	return b.String()
}

func singular(collection string) string {
	switch collection {
	case "workflows":
		return "Workflow"
	case "executions":
		return "Execution"
	case "tasks":
		return "Task"
	case "cron_triggers":
		return "Cron trigger"
	}
	return collection
}

// executionFilter is the execution id of a workflow_execution_id=ID (or
// eq:ID) filter, when the list has one.
func (p *listParams) executionFilter() (string, bool) {
	for _, f := range p.filters {
		if f.key == "workflow_execution_id" && f.op == "eq" && f.value != "" {
			return f.value, true
		}
	}
	return "", false
}
