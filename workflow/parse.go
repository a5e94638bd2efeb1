package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/fernetflow/fernetflow/workflow/expr"
	"github.com/fernetflow/fernetflow/workflow/schema"
)

var (
	schemaOnce sync.Once
	dslSchema  *jsonschema.Schema
	wbSchema   *jsonschema.Schema
	schemaErr  error
)

func compiledWorkbookSchema() (*jsonschema.Schema, error) {
	_, err := compiledSchema()
	return wbSchema, err
}

func compiledSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.DSLv2))
		if err != nil {
			schemaErr = fmt.Errorf("workflow: embedded schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schema.URL, doc); err != nil {
			schemaErr = fmt.Errorf("workflow: embedded schema: %w", err)
			return
		}
		dslSchema, schemaErr = c.Compile(schema.URL)
		if schemaErr == nil {
			wbSchema, schemaErr = c.Compile(schema.URL + "#/$defs/workbook")
		}
	})
	return dslSchema, schemaErr
}

// Parse reads a Mistral DSL v2 file: YAML, then the JSON Schema in
// workflow/schema, then the structure of every workflow. It does not know
// the actions: call Validate (or Load) for the semantic checks. Errors are
// an ErrorList whose entries name file:line:column.
func Parse(name string, src []byte) (*File, error) {
	v, ix, err := decodeYAML(name, src)
	if err != nil {
		return nil, ErrorList{err.(*Error)}
	}
	p := &fileParser{file: name, ix: ix, errs: append(ErrorList(nil), ix.dups...)}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, ErrorList{p.errAt("", "", "", "", "a workflow file is a mapping that starts with version: '2.0'")}
	}
	p.workbook = isWorkbook(doc)
	p.checkUnsupported(doc)
	if fatal(p.errs) {
		return nil, p.sorted()
	}
	if err := p.schemaCheck(doc); err != nil {
		return nil, err // p.errs with the schema's
	}
	var f *File
	if p.workbook {
		f = p.buildWorkbook(doc)
	} else {
		f = p.build(doc)
	}
	if fatal(p.errs) {
		return nil, p.sorted()
	}
	if len(p.errs) > 0 {
		// Only what Mistral's parser accepts (Error.Stricter): the file
		// comes back with the list, for workflow validate's warnings.
		return f, p.sorted()
	}
	return f, nil
}

// Load parses src and runs the semantic checks against reg.
func Load(name string, src []byte, reg Registry) (*File, error) {
	f, err := Parse(name, src)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(reg); err != nil {
		return nil, err
	}
	return f, nil
}

// Check parses and validates src as workflow validate does: errs are the
// problems Mistral 15's parser rejects too, warns the ones only fernetflow
// reports (Error.Stricter), which Load refuses as well. f is nil when errs
// is not empty.
func Check(name string, src []byte, reg Registry) (f *File, errs, warns ErrorList) {
	f, err := Parse(name, src)
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		return nil, ErrorList{{File: name, Pos: Pos{1, 1}, Msg: err.Error()}}, nil
	}
	if f != nil {
		var vl ErrorList
		if err := f.Validate(reg); err != nil && !errors.As(err, &vl) {
			vl = ErrorList{{File: name, Pos: Pos{1, 1}, Msg: err.Error()}}
		}
		list = append(list, vl...)
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i].Pos, list[j].Pos
			return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
		})
	}
	errs, warns = list.Split()
	if len(errs) > 0 {
		f = nil
	}
	return f, errs, warns
}

type fileParser struct {
	file     string
	workbook bool // paths start with /workflows or /actions
	ix       *posIndex
	errs     ErrorList
}

// pathParts splits "/wf/tasks/t1/key/..." into workflow, task and key.
func pathParts(path string, workbook bool) (wf, task, key string) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range parts {
		parts[i] = unescapeKey(parts[i])
	}
	if workbook {
		if len(parts) >= 2 && parts[0] == "workflows" {
			parts = parts[1:]
		} else if len(parts) >= 2 && parts[0] == "actions" {
			key = "action " + parts[1]
			if len(parts) >= 3 {
				key += ": " + parts[2]
			}
			return "", "", key
		} else {
			return "", "", parts[0]
		}
	}
	if len(parts) > 0 && parts[0] != "version" {
		wf = parts[0]
	}
	if len(parts) >= 3 && parts[1] == "tasks" {
		task = parts[2]
		if len(parts) >= 4 {
			key = parts[3]
		}
	} else if len(parts) >= 2 {
		key = parts[1]
	}
	if wf == "" && len(parts) > 0 {
		key = parts[0]
	}
	return wf, task, key
}

func (p *fileParser) errAt(path string, wf, task, key, msg string) *Error {
	pos := p.ix.val(path)
	if path == "" {
		pos = Pos{1, 1}
	}
	return &Error{File: p.file, Pos: pos, Workflow: wf, Task: task, Key: key, Msg: msg}
}

func (p *fileParser) addf(path string, keyPos bool, format string, args ...any) {
	wf, task, key := pathParts(path, p.workbook)
	pos := p.ix.val(path)
	if keyPos {
		pos = p.ix.key(path)
	}
	if path == "" {
		pos = Pos{1, 1}
	}
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Workflow: wf, Task: task, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// stricterf adds a problem Mistral's parser accepts (Error.Stricter).
func (p *fileParser) stricterf(path string, keyPos bool, format string, args ...any) {
	p.addf(path, keyPos, format, args...)
	p.errs[len(p.errs)-1].Stricter = true
}

// fatal reports whether errs hold a problem Mistral's parser rejects too.
func fatal(errs ErrorList) bool {
	e, _ := errs.Split()
	return len(e) > 0
}

func (p *fileParser) sorted() ErrorList {
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i].Pos, p.errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return p.errs
}

// checkUnsupported refuses, with their line, what the engine does not run:
// a file of ad-hoc actions alone, and versions other than 2.0. Refusing is
// better than running them wrong.
func (p *fileParser) checkUnsupported(doc map[string]any) {
	if !p.workbook && isActionFile(doc) {
		p.addf("", false, "this is a file of ad-hoc action definitions (base:), not workflows: put the actions in a workbook (name:, actions:, workflows:) beside the workflows that use them")
		return
	}
	if v, ok := doc["version"]; ok {
		switch x := v.(type) {
		case string:
			if x != "2.0" && x != "2" {
				p.stricterf("/version", false, "version %q is not supported: use version: '2.0'", x)
			}
		case float64:
			if x != 2 {
				p.stricterf("/version", false, "version %v is not supported: use version: '2.0'", x)
			}
		case int64:
			if x != 2 {
				p.stricterf("/version", false, "version %d is not supported: use version: '2.0'", x)
			}
		}
	}
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case []any:
		for i, e := range x {
			walkStrings(e, path+"/"+strconv.Itoa(i), fn)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := path + "/" + escapeKey(k)
			fn(p, k)
			walkStrings(x[k], p, fn)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var printer = message.NewPrinter(language.English)

func (p *fileParser) schemaCheck(doc map[string]any) error {
	sch, err := compiledSchema()
	if p.workbook {
		sch, err = compiledWorkbookSchema()
	}
	if err != nil {
		return err
	}
	// jsonschema wants float64 or json.Number for numbers.
	inst, err := toSchemaInstance(doc)
	if err != nil {
		return err
	}
	// A date is a datetime for Mistral's parser: no JSON type admits it.
	stamps := map[string]string{}
	for _, path := range p.ix.stamps {
		if text, ok := markDate(inst, path); ok {
			stamps[path] = text
		}
	}
	defer func() {
		// Where the schema checks no type, Mistral's parser takes the
		// date, then its API fails to store the workflow (HTTP 500).
		paths := make([]string, 0, len(stamps))
		for path := range stamps {
			paths = append(paths, path)
		}
		sort.Strings(paths)
		for _, path := range paths {
			text := stamps[path]
			p.stricterf(path, false, "%s is a date for the YAML 1.1 parser Mistral uses (PyYAML): Mistral's parser lets it through here, but its API cannot store the workflow (HTTP 500); quote it ('%s')", text, text)
		}
	}()
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, leaf := range bestLeaves(ve) {
		path := ""
		for _, s := range leaf.InstanceLocation {
			path += "/" + escapeKey(s)
		}
		msg := leaf.ErrorKind.LocalizedString(printer)
		if text, ok := stamps[path]; ok && strings.Contains(msg, "invalid jsonType") {
			delete(stamps, path)
			p.addf(path, false, "%s is a date for the YAML 1.1 parser Mistral uses (PyYAML), and Mistral's DSL takes no dates here: quote it ('%s')", text, text)
			continue
		}
		keyPos := true
		if strings.HasPrefix(msg, "additional properties") || strings.HasPrefix(msg, "missing propert") {
			// Point at the offending key, not the enclosing mapping.
			if names := quoted.FindAllStringSubmatch(msg, -1); len(names) > 0 && strings.HasPrefix(msg, "additional") {
				path += "/" + escapeKey(names[0][1])
				keyPos = true
				msg = fmt.Sprintf("unknown key %q (a typo?)", names[0][1])
				if len(leaf.InstanceLocation) == 0 {
					msg = fmt.Sprintf("unknown key %q", names[0][1])
				}
			}
		}
		switch {
		case strings.Contains(msg, "'not' failed"):
			msg = "a task runs either an action or a workflow, not both"
		case len(leaf.InstanceLocation) == 0 && strings.HasPrefix(msg, "missing property 'version'"):
			path, msg = "", "missing key version: a workflow file starts with version: '2.0'"
		case strings.Contains(msg, "does not match pattern '^(<%"):
			msg = "does not match the DSL schema: " + strings.SplitN(msg, " does not match", 2)[0] + " is not a <% %> expression (numbers and booleans are written unquoted)"
		case strings.Contains(msg, `does not match pattern '^\\S+$'`):
			msg = "does not match the DSL schema: " + strings.SplitN(msg, " does not match", 2)[0] + " is not a task name or an engine command (a transition target cannot be an expression)"
		case strings.Contains(msg, "'oneOf' failed, subschemas 0, 2 matched"):
			// Mistral's NEXT_TASK: fail(msg="x") is both a name (^\S+$)
			// and a call (^\w+\(\w+=(.*)\)$), so oneOf rejects it.
			msg = "does not match the DSL schema: a call with no space, such as fail(msg=\"x\"), is both a task name and a command to Mistral (write fail msg=\"x\", or give it a condition)"
		case len(leaf.InstanceLocation) > 0:
			msg = "does not match the DSL schema: " + msg
		}
		p.addf(path, keyPos, "%s", msg)
	}
	return p.sorted()
}

var quoted = regexp.MustCompile(`'([^']*)'`)

// bestLeaves keeps, for each distinct deepest location, the first leaf
// error: oneOf failures otherwise list every branch.
func bestLeaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// Prefer the deepest location: it is the most precise.
	maxDepth := 0
	for _, l := range leaves {
		if len(l.InstanceLocation) > maxDepth {
			maxDepth = len(l.InstanceLocation)
		}
	}
	// At one location, an error about the value beats "wrong type"
	// (oneOf of an expression or a number fails both ways); when all are
	// type errors, they merge into one: got number, want string or object.
	byLoc := map[string][]*jsonschema.ValidationError{}
	var order []string
	for _, l := range leaves {
		if len(l.InstanceLocation) != maxDepth {
			continue
		}
		k := strings.Join(l.InstanceLocation, "/")
		if _, ok := byLoc[k]; !ok {
			order = append(order, k)
		}
		byLoc[k] = append(byLoc[k], l)
	}
	var out []*jsonschema.ValidationError
	for _, k := range order {
		ls := byLoc[k]
		var best *jsonschema.ValidationError
		var wants []string
		got := ""
		for _, l := range ls {
			if t, ok := l.ErrorKind.(*kind.Type); ok {
				got = t.Got
				for _, w := range t.Want {
					if !slices.Contains(wants, w) {
						wants = append(wants, w)
					}
				}
				continue
			}
			if best == nil {
				best = l
			}
		}
		switch {
		case best != nil:
			out = append(out, best)
		case len(wants) > 0:
			merged := *ls[0]
			merged.ErrorKind = &kind.Type{Got: got, Want: wants}
			out = append(out, &merged)
		default:
			out = append(out, ls[0])
		}
	}
	return out
}

// yamlDate stands for a date in the schema instance: the validator finds
// it of no JSON type, as Mistral's finds a datetime.
type yamlDate string

// markDate turns the string at path (keys escaped as escapeKey does) in
// the schema instance v into a yamlDate, and returns it.
func markDate(v any, path string) (string, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, part := range parts {
		last := i == len(parts)-1
		switch c := v.(type) {
		case map[string]any:
			k := unescapeKey(part)
			if last {
				old, ok := c[k].(string)
				if ok {
					c[k] = yamlDate(old)
				}
				return old, ok
			}
			v = c[k]
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(c) {
				return "", false
			}
			if last {
				old, ok := c[n].(string)
				if ok {
					c[n] = yamlDate(old)
				}
				return old, ok
			}
			v = c[n]
		default:
			return "", false
		}
	}
	return "", false
}

func toSchemaInstance(v any) (any, error) {
	b, err := expr.MarshalJSON(v, "")
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

var (
	cmdRe    = regexp.MustCompile(`^([\w\.]+[^=\(\s"]*|<%.*?%>|\{\{.*?\}\})`)
	paramsRe = regexp.MustCompile(`([-_\w]+)=("[^"]*"\s*|'[^']*'\s*|<%.*?%>|\{\{(?:.*?)\}\}|\[.*\]\s*|true|false|null|\d+)`)
	itemsRe  = regexp.MustCompile(`^\s*([\w\d_\-]+)\s*in\s*(\[.+\]|<%.*?%>|\{\{.*?\}\})`)
)

// parseCmd splits "std.echo output='hi' n=3" into the command and its
// inline parameters, with Mistral's rules (mistral/lang/base.py): a value
// is quoted, an expression, [...], true, false, null or digits; anything
// else is dropped by Mistral, and refused here.
// cmdProblem reports what parseCmd found: text that is not key=value
// Mistral drops silently (stricter), anything else as an error.
func (p *fileParser) cmdProblem(path string, keyPos bool, msg string) {
	if strings.HasPrefix(msg, droppedParams) {
		p.stricterf(path, keyPos, "%s", msg)
		return
	}
	p.addf(path, keyPos, "%s", msg)
}

const droppedParams = "inline parameter text "

func parseCmd(s string) (string, map[string]any, string) {
	if !strings.Contains(s, " ") {
		return s, nil, ""
	}
	cmd := cmdRe.FindString(s)
	if cmd == "" {
		return "", nil, fmt.Sprintf("cannot read %q: want NAME key=value ...", s)
	}
	params := map[string]any{}
	rest := s[len(cmd):]
	covered := rest
	for _, m := range paramsRe.FindAllStringSubmatch(rest, -1) {
		k, raw := m[1], strings.TrimSpace(m[2])
		covered = strings.Replace(covered, m[0], "", 1)
		var v any = raw
		if raw[0] == '"' || raw[0] == '\'' {
			v = raw[1 : len(raw)-1]
		} else if !strings.HasPrefix(raw, "<%") && !strings.HasPrefix(raw, "{{") {
			if j, err := expr.UnmarshalJSON([]byte(raw)); err == nil {
				v = j
			}
		}
		params[k] = v
	}
	if left := strings.TrimSpace(covered); left != "" {
		return cmd, params, fmt.Sprintf(droppedParams+"%q is not key=value with a quoted, numeric, true/false/null, [list] or <%% %%> value: Mistral would silently drop it (quote it: key=\"value\")", left)
	}
	return cmd, params, ""
}

func (p *fileParser) build(doc map[string]any) *File {
	f := &File{Name: p.file}
	names := sortedKeys(doc)
	// Keep the file order, which the YAML positions give.
	sort.SliceStable(names, func(i, j int) bool {
		a, b := p.ix.key("/"+escapeKey(names[i])), p.ix.key("/"+escapeKey(names[j]))
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	for _, name := range names {
		if name == "version" {
			continue
		}
		f.Workflows = append(f.Workflows, p.workflow("", name, doc[name].(map[string]any)))
	}
	if len(f.Workflows) == 0 {
		p.errs = append(p.errs, &Error{File: p.file, Pos: Pos{1, 1}, Msg: "the file defines no workflow: add one beside version: '2.0'"})
	}
	return f
}

func (p *fileParser) workflow(prefix, name string, m map[string]any) *Workflow {
	base := prefix + "/" + escapeKey(name)
	w := &Workflow{Name: name, Pos: p.ix.key(base), byName: map[string]*Task{}}
	w.Description, _ = m["description"].(string)
	w.Input = inputParams(m["input"])
	w.Output, _ = m["output"].(map[string]any)
	w.OutputOnError, _ = m["output-on-error"].(map[string]any)
	w.Vars, _ = m["vars"].(map[string]any)
	defaults, _ := m["task-defaults"].(map[string]any)
	tasks, _ := m["tasks"].(map[string]any)
	tnames := sortedKeys(tasks)
	sort.SliceStable(tnames, func(i, j int) bool {
		a, b := p.ix.key(base+"/tasks/"+escapeKey(tnames[i])), p.ix.key(base+"/tasks/"+escapeKey(tnames[j]))
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	w.Reverse = m["type"] == "reverse"
	// execution().spec: the workflow as written with the name and version
	// Mistral's parser adds, its tasks as task().spec shows them.
	w.Spec = cloneMap(m)
	w.Spec["name"] = name
	w.Spec["version"] = "2.0"
	specTasks := map[string]any{}
	for _, tn := range tnames {
		t := p.task(base+"/tasks/"+escapeKey(tn), tn, tasks[tn].(map[string]any), defaults, w.Reverse)
		w.Tasks = append(w.Tasks, t)
		w.byName[tn] = t
		specTasks[tn] = t.Spec
	}
	w.Spec["tasks"] = specTasks
	return w
}

func (p *fileParser) task(path, name string, m map[string]any, defaults map[string]any, reverse bool) *Task {
	t := &Task{Name: name, Pos: p.ix.key(path), keyPos: map[string]Pos{}, Input: map[string]any{}}
	// task().spec: the task as written, with the name, type and version
	// Mistral's parser adds (task-defaults stay out of it).
	t.Spec = cloneMap(m)
	t.Spec["name"] = name
	t.Spec["type"] = map[bool]string{false: "direct", true: "reverse"}[reverse]
	t.Spec["version"] = "2.0"
	for k := range m {
		t.keyPos[k] = p.ix.key(path + "/" + escapeKey(k))
	}
	// Mistral gives every task its workflow's type, whose task schema
	// has no additional properties: requires only in a reverse workflow,
	// transitions and join only in a direct one. (task-defaults may hold
	// either: the other kind is ignored.)
	for _, k := range sortedKeys(m) {
		switch {
		case !reverse && k == "requires":
			p.addf(path+"/"+k, true, "unknown key %q: requires is for reverse workflows (type: reverse); a direct workflow's tasks use on-success", k)
		case reverse && (k == "on-success" || k == "on-error" || k == "on-complete" || k == "join"):
			p.addf(path+"/"+k, true, "unknown key %q: a reverse workflow's tasks have no transitions or join; use requires", k)
		}
	}
	if reverse {
		defaults = withoutKeys(defaults, "on-success", "on-error", "on-complete")
	}
	// task-defaults: policies apply when the task sets none; transitions
	// when the task has none of that kind (Mistral's get_on_*_clause).
	get := func(k string) (any, string, bool) {
		if v, ok := m[k]; ok {
			return v, path + "/" + k, true
		}
		if v, ok := defaults[k]; ok {
			wfPath := path[:strings.Index(path, "/tasks/")]
			return v, wfPath + "/task-defaults/" + k, true
		}
		return nil, "", false
	}
	switch in := m["input"].(type) {
	case map[string]any:
		for k, v := range in {
			t.Input[k] = v
		}
	case string:
		t.InputExpr = in
	}
	for _, k := range []string{"action", "workflow"} {
		s, ok := m[k].(string)
		if !ok {
			continue
		}
		cmd, params, msg := parseCmd(s)
		if msg != "" {
			p.cmdProblem(path+"/"+k, false, msg)
		}
		for pk, pv := range params {
			if _, dup := t.Input[pk]; !dup {
				t.Input[pk] = pv
			}
		}
		if k == "action" {
			t.Action = cmd
		} else {
			t.Workflow = cmd
		}
	}
	if t.Action == "" && t.Workflow == "" {
		t.Action = "std.noop"
	}
	if raw, ok := m["with-items"]; ok {
		var list []any
		switch x := raw.(type) {
		case string:
			list = []any{x}
		case []any:
			list = x
		}
		for i, e := range list {
			s, _ := e.(string)
			mm := itemsRe.FindStringSubmatch(s)
			ipath := path + "/with-items"
			if _, isList := raw.([]any); isList {
				ipath += "/" + strconv.Itoa(i)
			}
			if mm == nil {
				p.addf(ipath, false, "want \"VAR in <%% $.list %%>\" or \"VAR in [a, b]\", got %q", s)
				continue
			}
			iv := ItemsVar{Var: mm[1], List: mm[2]}
			if strings.HasPrefix(mm[2], "[") {
				l, err := expr.UnmarshalJSON([]byte(mm[2]))
				if err != nil {
					p.addf(ipath, false, "the list %s is not valid JSON: %v", mm[2], err)
					continue
				}
				iv.List = l
			}
			t.WithItems = append(t.WithItems, iv)
		}
	}
	t.Publish, _ = m["publish"].(map[string]any)
	t.PublishOnError, _ = m["publish-on-error"].(map[string]any)
	if j, ok := m["join"]; ok {
		switch x := j.(type) {
		case string:
			if x == "all" {
				t.Join = -1
			} else {
				t.Join = 1
			}
		case int64:
			t.Join = int(x)
		}
	}
	var clausePub [3]*publishSpec // on-success, on-error, on-complete
	for i, k := range []string{"on-success", "on-error", "on-complete"} {
		v, vpath, ok := get(k)
		if !ok {
			continue
		}
		trs, pub := p.transitions(vpath, v)
		if strings.Contains(vpath, "/task-defaults/") {
			// Mistral removes the task itself from a defaults clause, and
			// ignores the clause's publish (TaskSpec.get_publish reads
			// the task's own clauses only).
			kept := trs[:0]
			for _, tr := range trs {
				if tr.Target != name {
					kept = append(kept, tr)
				}
			}
			trs = kept
			pub = nil
		}
		clausePub[i] = pub
		switch k {
		case "on-success":
			t.OnSuccess = trs
		case "on-error":
			t.OnError = trs
		case "on-complete":
			t.OnComplete = trs
		}
	}
	// Advanced publishing (on-success: {publish: {branch: ..., global:
	// ...}}) combines with publish / publish-on-error as Mistral's
	// DirectWorkflowTaskSpec.get_publish does.
	plain := [2]map[string]any{t.Publish, t.PublishOnError}
	for i, state := range []State{Success, Failed} {
		spec := effectivePublish(plain[i], clausePub[i], clausePub[2])
		if i == 0 {
			t.Publish = spec.branch
		} else {
			t.PublishOnError = spec.branch
		}
		if len(spec.global) > 0 {
			if t.PublishGlobal == nil {
				t.PublishGlobal = map[State]map[string]any{}
			}
			t.PublishGlobal[state] = spec.global
		}
	}
	if v, _, ok := get("retry"); ok {
		switch x := v.(type) {
		case map[string]any:
			r := &Retry{Count: x["count"], Delay: x["delay"]}
			r.BreakOn, _ = x["break-on"].(string)
			r.ContinueOn, _ = x["continue-on"].(string)
			t.Retry = r
		case string:
			_, params, _ := parseCmd("retry " + x)
			r := &Retry{Count: params["count"], Delay: params["delay"]}
			r.BreakOn, _ = params["break-on"].(string)
			r.ContinueOn, _ = params["continue-on"].(string)
			t.Retry = r
		}
	}
	t.WaitBefore, _, _ = get("wait-before")
	t.WaitAfter, _, _ = get("wait-after")
	t.Timeout, _, _ = get("timeout")
	t.Concurrency, _, _ = get("concurrency")
	t.KeepResult = m["keep-result"]
	t.SafeRerun = m["safe-rerun"]
	t.FailOn, _, _ = get("fail-on")
	t.PauseBefore, _, _ = get("pause-before")
	if reverse {
		// Mistral's get_task_requires: the task's and task-defaults'
		// requires together, without the task itself.
		seen := map[string]bool{name: true}
		for _, v := range []any{m["requires"], defaults["requires"]} {
			var l []any
			switch x := v.(type) {
			case string:
				l = []any{x}
			case []any:
				l = x
			}
			for _, e := range l {
				if s, ok := e.(string); ok && !seen[s] {
					seen[s] = true
					t.Requires = append(t.Requires, s)
				}
			}
		}
	}
	if _, ok := m["target"]; ok {
		p.stricterf(path+"/target", true, "target is not supported by fernetflow's engine yet: remove it")
	}
	return t
}

// transitions reads an on-* clause: a name, {name: condition}, a list of
// those, or {publish: ..., next: ...}.
func (p *fileParser) transitions(path string, v any) ([]Transition, *publishSpec) {
	var publish *publishSpec
	if m, ok := v.(map[string]any); ok {
		_, hasNext := m["next"]
		_, hasPub := m["publish"]
		if hasNext || hasPub {
			if pub, ok := m["publish"].(map[string]any); ok {
				_, b := pub["branch"]
				_, g := pub["global"]
				_, a := pub["atomic"]
				if !b && !g && !a {
					p.addf(path+"/publish", true, "give branch:, global: or atomic: under publish: (Mistral: Either 'branch', 'global' or 'atomic' must be specified)")
				}
				publish = &publishSpec{}
				publish.branch, _ = pub["branch"].(map[string]any)
				publish.global, _ = pub["global"].(map[string]any)
				// atomic: is accepted and never published: Mistral 15's
				// publish_variables leaves it as a TODO.
			}
			path += "/next"
			v = m["next"]
		}
	}
	var items []any
	switch x := v.(type) {
	case nil:
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := make([]Transition, 0, len(items))
	for i, e := range items {
		ipath := path
		if _, isList := v.([]any); isList {
			ipath += "/" + strconv.Itoa(i)
		}
		var target, cond string
		switch x := e.(type) {
		case string:
			target = x
		case map[string]any:
			for k, c := range x {
				target = k
				cond, _ = c.(string)
				ipath += "/" + escapeKey(k)
			}
		}
		cmd := target
		if i := strings.IndexByte(cmd, '('); i > 0 && strings.Contains(cmd, " ") && strings.HasSuffix(strings.TrimSpace(cmd), ")") {
			// fail(msg="it broke"): Mistral reads the name up to "(" and
			// the key=value pairs anywhere. Without a space the text is
			// both a name and a call to Mistral's schema, which rejects it
			// (testdata/bad/fail_call_without_space; the string form with
			// a space runs: conformance/fail_msg_on_error).
			cmd = cmd[:i] + " " + strings.TrimSuffix(strings.TrimSpace(cmd[i+1:]), ")")
		}
		name, params, msg := parseCmd(cmd)
		if msg != "" {
			p.cmdProblem(ipath, true, msg)
		}
		out = append(out, Transition{Target: name, Params: params, Condition: cond, Pos: p.ix.key(ipath)})
	}
	return out, publish
}

// isWorkbook tells a workbook (name:, workflows:, actions:) from a file of
// workflows, as Mistral's POST /v2/workbooks and /v2/workflows do.
func isWorkbook(doc map[string]any) bool {
	_, hasName := doc["name"].(string)
	_, hasWfs := doc["workflows"].(map[string]any)
	_, hasActs := doc["actions"].(map[string]any)
	return hasName && (hasWfs || hasActs)
}

// isActionFile reports a file of ad-hoc actions (Mistral's POST
// /v2/actions): every definition has a base and none has tasks.
func isActionFile(doc map[string]any) bool {
	n := 0
	for k, v := range doc {
		if k == "version" {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["base"]; !ok {
			return false
		}
		if _, ok := m["tasks"]; ok {
			return false
		}
		n++
	}
	return n > 0
}

// byPosition sorts mapping keys in file order.
func (p *fileParser) byPosition(prefix string, names []string) {
	sort.SliceStable(names, func(i, j int) bool {
		a, b := p.ix.key(prefix+"/"+escapeKey(names[i])), p.ix.key(prefix+"/"+escapeKey(names[j]))
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
}

func (p *fileParser) buildWorkbook(doc map[string]any) *File {
	f := &File{Name: p.file, Workbook: doc["name"].(string), Actions: map[string]*AdhocAction{}}
	wfs, _ := doc["workflows"].(map[string]any)
	wfs = withoutKeys(wfs, "version") // Mistral's WorkbookSpec allows version: '2.0' here
	names := sortedKeys(wfs)
	p.byPosition("/workflows", names)
	for _, name := range names {
		f.Workflows = append(f.Workflows, p.workflow("/workflows", name, wfs[name].(map[string]any)))
	}
	acts, _ := doc["actions"].(map[string]any)
	for name, v := range withoutKeys(acts, "version") {
		m := v.(map[string]any)
		a := &AdhocAction{ActionName: name, Base: m["base"].(string), Output: m["output"], Pos: p.ix.key("/actions/" + escapeKey(name))}
		a.Desc, _ = m["description"].(string)
		a.BaseInput, _ = m["base-input"].(map[string]any)
		// base: std.echo output="hi": as Mistral's ActionSpec, the inline
		// parameters go over base-input.
		base, params, msg := parseCmd(a.Base)
		if msg != "" {
			p.cmdProblem("/actions/"+escapeKey(name)+"/base", false, msg)
		}
		if len(params) > 0 {
			a.BaseInput = cloneMap(a.BaseInput)
			if a.BaseInput == nil {
				a.BaseInput = map[string]any{}
			}
			maps.Copy(a.BaseInput, params)
		}
		a.Base = base
		a.Params = inputParams(m["input"])
		f.Actions[name] = a
	}
	if len(f.Workflows) == 0 {
		// Mistral's parser accepts a workbook of actions alone.
		p.errs = append(p.errs, &Error{File: p.file, Pos: Pos{1, 1}, Msg: "the workbook defines no workflow under workflows: fernetflow runs workflows, not a library of actions", Stricter: true})
	}
	return f
}

func inputParams(v any) []Param {
	var out []Param
	in, _ := v.([]any)
	for _, e := range in {
		switch x := e.(type) {
		case string:
			out = append(out, Param{Name: x})
		case map[string]any:
			for k, d := range x {
				out = append(out, Param{Name: k, Default: d, HasDefault: true})
			}
		}
	}
	return out
}

// publishSpec is Mistral's PublishSpec: branch variables go to the task's
// published context, global ones to the execution's (global()).
type publishSpec struct {
	branch, global map[string]any
}

func (s *publishSpec) clone() *publishSpec {
	if s == nil {
		return nil
	}
	return &publishSpec{branch: cloneMap(s.branch), global: cloneMap(s.global)}
}

// merge is PublishSpec.merge: other's scopes merge into s's, overwriting,
// but only into scopes s already has. Mistral's merge_dicts(None, x)
// returns x without storing it, so a scope s lacks is dropped: a task
// with publish: and on-success: {publish: {global: ...}} publishes no
// branch variable at all.
func (s *publishSpec) merge(other *publishSpec) {
	if other == nil {
		return
	}
	if s.branch != nil && other.branch != nil {
		mergeDicts(s.branch, other.branch)
	}
	if s.global != nil && other.global != nil {
		mergeDicts(s.global, other.global)
	}
}

// effectivePublish is DirectWorkflowTaskSpec.get_publish for one state:
// plain is publish (or publish-on-error), clause the on-success (or
// on-error) publish, complete the on-complete publish.
func effectivePublish(plain map[string]any, clause, complete *publishSpec) publishSpec {
	var spec *publishSpec
	if len(plain) > 0 {
		spec = &publishSpec{branch: cloneMap(plain)}
	}
	if complete != nil {
		if spec != nil {
			spec.merge(complete)
		} else {
			spec = complete.clone()
		}
	}
	if clause != nil {
		res := clause.clone()
		res.merge(spec)
		return *res
	}
	if spec == nil {
		return publishSpec{}
	}
	return *spec
}

// mergeDicts is mistral_lib's merge_dicts: right into left, recursively.
func mergeDicts(left, right map[string]any) {
	for k, v := range right {
		lv, ok := left[k]
		lm, lok := lv.(map[string]any)
		rm, rok := v.(map[string]any)
		if ok && lok && rok {
			mergeDicts(lm, rm)
			continue
		}
		left[k] = v
	}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

func withoutKeys(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
