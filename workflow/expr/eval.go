package expr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Program is a parsed expression. It holds no evaluation state: one Program
// may be evaluated any number of times, from any number of goroutines.
type Program struct {
	src  string
	root node
	view bool // reads Funcs.Internal's keys or $ as a whole (readsView)
}

// Parse parses a YAQL expression (without the <% %> delimiters). A syntax
// error is a *SyntaxError naming the column and what was expected there.
func Parse(src string) (*Program, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "an operator or the end of the expression")
	}
	if _, ok := root.(*mappingNode); ok {
		return nil, &SyntaxError{Src: src, Pos: root.pos(), Msg: "unexpected \"=>\""}
	}
	return &Program{src: src, root: root, view: readsView(src, '$')}, nil
}

// String returns the expression's source.
func (p *Program) String() string { return p.src }

// Funcs are the functions whose values only the workflow engine knows.
// A nil field makes the function fail with an error when called.
type Funcs struct {
	// Task returns the task execution named name as Mistral shows it
	// (id, name, state, state_info, result, published, ...), or nil when
	// there is none. name is "" for task(): the current task.
	Task func(ctx context.Context, name string) (any, error)
	// Execution returns the current workflow execution (id, name, input,
	// params, created_at, ...).
	Execution func(ctx context.Context) (any, error)
	// Env returns the execution's environment (the env of its params).
	Env func(ctx context.Context) (any, error)
	// Global returns the workflow execution's variable name (what
	// global(name) reads: Mistral's wf_ex.context), or nil.
	Global func(ctx context.Context, name string) (any, error)
	// Tasks returns the task executions that tasks(...) lists, in
	// Mistral's view (as Task). An empty workflowExecutionID means all;
	// an empty state, any state.
	Tasks func(ctx context.Context, q TasksQuery) ([]any, error)
	// Internal returns what Mistral's context view adds to the data of
	// every expression beside the workflow's variables: __execution
	// ({id}), __env and, inside a task, __task_execution ({id, name}).
	// $.get('__env') and {{ _.__execution.id }} read them ($.__env is a
	// lexical error in YAQL, as in yaql), and <% $ %> shows
	// them. A key the data already has keeps its value, except
	// __task_execution, which Mistral's view puts first.
	Internal func(ctx context.Context) (map[string]any, error)
}

// readsView reports whether an expression may see what Funcs.Internal
// adds to its data: it names one of those keys ("__"), or uses root (YAQL's
// $, Jinja's _) otherwise than to read a key ($.name, _.name), so that
// it may print, count or walk the whole view. It errs on the side of yes
// (a "$" in a string literal); an expression that reads neither is
// evaluated on the data as it is, without the copy Internal costs.
func readsView(src string, root byte) bool {
	if strings.Contains(src, "__") {
		return true
	}
	word := func(i int) bool {
		if i < 0 || i >= len(src) {
			return false
		}
		c := src[i]
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	space := func(i int) int {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		return i
	}
	for i := 0; i < len(src); i++ {
		if src[i] != root || word(i+1) || root == '_' && (word(i-1) || i > 0 && src[i-1] == '.') {
			continue // $x, $1, my_var, x._
		}
		k := space(i + 1)
		if k < len(src) && src[k] == '.' {
			start := space(k + 1)
			end := start
			for word(end) {
				end++
			}
			if end > start && (space(end) >= len(src) || src[space(end)] != '(') {
				continue // $.name: a key, not a method of the whole
			}
		}
		return true
	}
	return false
}

// withInternal is data with funcs.Internal's keys (see Funcs.Internal),
// and funcs without Internal for the evaluations inside this one.
func withInternal(ctx context.Context, data any, funcs Funcs) (any, Funcs, error) {
	in := funcs.Internal
	if in == nil {
		return data, funcs, nil
	}
	funcs.Internal = nil
	m, ok := data.(map[string]any)
	if !ok {
		return data, funcs, nil
	}
	add, err := in(ctx)
	if err != nil {
		return nil, funcs, err
	}
	out := make(map[string]any, len(m)+len(add))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range add {
		if _, ok := out[k]; !ok || k == "__task_execution" {
			out[k] = v
		}
	}
	return out, funcs, nil
}

// TasksQuery is the filter of Mistral's tasks(workflow_execution_id,
// recursive, state, flat).
type TasksQuery struct {
	WorkflowExecutionID string
	Recursive           bool
	State               string
	Flat                bool
}

// Limits bound an evaluation. A zero field takes its default.
type Limits struct {
	MaxDepth int   // nested evaluation depth (default 200)
	MaxItems int   // elements in one list, dict or range (default 1,000,000)
	MaxBytes int   // bytes in one string (default 16 MiB)
	MaxSteps int64 // evaluation steps in all (default 100,000,000)
	MaxAlloc int64 // list elements, dict entries and string bytes/8 created in all (default 16,000,000)
}

// DefaultLimits returns the bounds Eval uses.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 200, MaxItems: 1_000_000, MaxBytes: 16 << 20, MaxSteps: 100_000_000, MaxAlloc: 16_000_000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = d.MaxItems
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxAlloc <= 0 {
		l.MaxAlloc = d.MaxAlloc
	}
	return l
}

// ErrLimit is wrapped by the errors of an evaluation refused for exceeding
// its Limits.
var ErrLimit = errors.New("limit exceeded")

// Eval evaluates the expression with data as $ and the default limits.
// data must be in the data model (see Normalize). The result is in the
// data model too.
func (p *Program) Eval(ctx context.Context, data any, funcs Funcs) (any, error) {
	return p.EvalLimits(ctx, data, funcs, DefaultLimits())
}

// EvalLimits is Eval with explicit bounds.
func (p *Program) EvalLimits(ctx context.Context, data any, funcs Funcs, limits Limits) (any, error) {
	var err error
	if p.view {
		if data, funcs, err = withInternal(ctx, data, funcs); err != nil {
			return nil, err
		}
	}
	ev := &evaluator{ctx: ctx, funcs: funcs, lim: limits.withDefaults()}
	v, err := ev.eval(p.root, &scope{dollar: data})
	if err != nil {
		return nil, err
	}
	if v, err = iterItems(v); err != nil { // Mistral's output conversion lists an iterator
		return nil, err
	}
	if _, ok := v.(*letContext); ok {
		return nil, errors.New("expr: let() must be followed by -> and an expression")
	}
	if _, ok := v.(*lazySeq); ok {
		return nil, fmt.Errorf("expr: the result is an endless sequence (sequence(), repeat(), cycle()), which Mistral lists until memory runs out: read it with take() or first(): %w", ErrLimit)
	}
	if err := ev.checkSize(v, "the result"); err != nil {
		return nil, err
	}
	if ev.sets {
		if v, err = exportValue(v); err != nil {
			return nil, err
		}
	}
	if _, ok := v.(*regexValue); ok {
		return nil, errors.New("expr: the result is a regex, which has no value outside an expression")
	}
	return v, nil
}

// Eval parses and evaluates src in one step.
func Eval(ctx context.Context, src string, data any, funcs Funcs) (any, error) {
	p, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return p.Eval(ctx, data, funcs)
}

// scope is one level of yaql's context: $ and the named $variables.
type scope struct {
	parent *scope
	dollar any
	vars   map[string]any
	lambda bool                // $1 is dollar, as in a lambda's scope
	defs   map[string]*userDef // functions def() declared
}

func (s *scope) lookup(name string) any {
	top := s
	for ; s != nil; s = s.parent {
		if s.lambda && name == "1" {
			return s.dollar
		}
		if v, ok := s.vars[name]; ok {
			return v
		}
	}
	if name == "1" {
		// yaql stores $ as $1: where nothing set $1 (a lambda, unpack()),
		// it is $ (Mistral's $.l.append($1) appends the data).
		return top.dollar
	}
	return nil
}

// letContext is what let() returns: variables for the right side of ->.
type letContext struct {
	vars      map[string]any
	defs      map[string]*userDef
	dollar    any // the new $ when setDollar (with(), unpack())
	setDollar bool
}

type evaluator struct {
	ctx   context.Context
	funcs Funcs
	lim   Limits
	depth int
	steps int64
	alloc int64
	sets  bool // a set was made: the result is exported (see exportValue)
	defs  bool // def() was called: calls look for user functions first
	// orders are the sort keys of lists that orderBy() returned, by their
	// first element's place in the array (an empty one has room for
	// one), for thenBy() (yaql's OrderingIterable).
	orders map[*any]*ordering
}

// allocate charges the creation of n list elements or dict entries (or
// 8n string bytes) to the evaluation, in memory and in time.
func (ev *evaluator) allocate(n int, what string) error {
	ev.alloc += int64(n)
	ev.steps += int64(n / 16)
	if ev.alloc > ev.lim.MaxAlloc {
		return fmt.Errorf("expr: %s: the expression creates more than %d elements in all: %w", what, ev.lim.MaxAlloc, ErrLimit)
	}
	return ev.step()
}

func (ev *evaluator) allocString(s string, what string) error {
	if err := ev.checkString(s, what); err != nil {
		return err
	}
	return ev.allocate(len(s)/8, what)
}

func (ev *evaluator) step() error {
	ev.steps++
	if ev.steps&1023 != 0 && ev.steps <= ev.lim.MaxSteps {
		return nil
	}
	if ev.steps > ev.lim.MaxSteps {
		return fmt.Errorf("expr: evaluation takes more than %d steps: %w", ev.lim.MaxSteps, ErrLimit)
	}
	if ev.steps&1023 == 0 {
		if err := ev.ctx.Err(); err != nil {
			return fmt.Errorf("expr: %w", err)
		}
	}
	return nil
}

// equal compares two values within the evaluation's step budget.
func (ev *evaluator) equal(a, b any) (bool, error) {
	if err := ev.step(); err != nil {
		return false, err
	}
	budget := int(min(ev.lim.MaxSteps-ev.steps, math.MaxInt32))
	start := budget
	eq := equalB(a, b, &budget)
	ev.steps += int64(start - budget)
	if budget < 0 {
		return false, fmt.Errorf("expr: comparing the values takes more than %d steps: %w", ev.lim.MaxSteps, ErrLimit)
	}
	return eq, nil
}

// checkSize refuses a value too big to print or walk: see valueSize.
func (ev *evaluator) checkSize(v any, what string) error {
	if valueSize(v, ev.lim.MaxBytes) > ev.lim.MaxBytes {
		return fmt.Errorf("expr: %s: the value is bigger than %d: %w", what, ev.lim.MaxBytes, ErrLimit)
	}
	return nil
}

func (ev *evaluator) checkItems(n int, what string) error {
	if n > ev.lim.MaxItems {
		return fmt.Errorf("expr: %s would have %d elements, more than %d: %w", what, n, ev.lim.MaxItems, ErrLimit)
	}
	return nil
}

func (ev *evaluator) checkString(s string, what string) error {
	if len(s) > ev.lim.MaxBytes {
		return fmt.Errorf("expr: %s would be %d bytes, more than %d: %w", what, len(s), ev.lim.MaxBytes, ErrLimit)
	}
	return nil
}

func (ev *evaluator) eval(n node, sc *scope) (any, error) {
	if err := ev.step(); err != nil {
		return nil, err
	}
	if ev.depth >= ev.lim.MaxDepth {
		return nil, fmt.Errorf("expr: evaluation nests more than %d levels deep: %w", ev.lim.MaxDepth, ErrLimit)
	}
	ev.depth++
	v, err := ev.evalNode(n, sc)
	ev.depth--
	return v, err
}

func (ev *evaluator) evalNode(n node, sc *scope) (any, error) {
	switch n := n.(type) {
	case *constNode:
		return n.v, nil
	case *identNode:
		return n.name, nil
	case *dollarNode:
		if n.name == "" {
			return sc.dollar, nil
		}
		return sc.lookup(n.name), nil
	case *listNode:
		out := make([]any, 0, len(n.items))
		for _, it := range n.items {
			v, err := ev.value(it, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *mapNode:
		out := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			k, v, err := ev.entry(e, sc, "{}")
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case *mappingNode:
		return nil, errors.New("expr: name => value is only allowed as a function argument or a dict entry")
	case *callNode:
		return ev.call(n, nil, false, sc)
	case *dotNode:
		return ev.dot(n, sc)
	case *indexNode:
		return ev.index(n, sc)
	case *unaryNode:
		return ev.unary(n, sc)
	case *binaryNode:
		return ev.binary(n, sc)
	}
	return nil, fmt.Errorf("expr: unknown node %T", n)
}

// value evaluates n and refuses a let() context where a value is needed.
// An iterator gives its items (see yaqlIter).
func (ev *evaluator) value(n node, sc *scope) (any, error) {
	v, err := ev.rawValue(n, sc)
	if err != nil {
		return nil, err
	}
	return iterItems(v)
}

// rawValue is value, but an iterator stays one: for the operators.
func (ev *evaluator) rawValue(n node, sc *scope) (any, error) {
	// Leaves cost no step: the node above them has paid for one.
	switch x := n.(type) {
	case *constNode:
		return x.v, nil
	case *dollarNode:
		if x.name == "" {
			return sc.dollar, nil
		}
	}
	v, err := ev.eval(n, sc)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(*letContext); ok {
		return nil, errors.New("expr: let() must be followed by -> and an expression")
	}
	return v, nil
}

// entry evaluates key => value as a dict entry; keys must be strings
// (integers are spelled as decimal strings, as JSON would show them).
func (ev *evaluator) entry(e *mappingNode, sc *scope, fn string) (string, any, error) {
	k, err := ev.value(e.key, sc)
	if err != nil {
		return "", nil, err
	}
	key, err := dictKey(k, fn)
	if err != nil {
		return "", nil, err
	}
	v, err := ev.value(e.value, sc)
	if err != nil {
		return "", nil, err
	}
	return key, v, nil
}

func dictKey(k any, fn string) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case int64:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("expr: %s: a dict key must be a string, not %s", fn, article(k))
}

// lambda evaluates n with $ (and $1) bound to item, as yaql does for the
// predicates and selectors of where(), select() and friends. ls is the
// lambda's scope, made once per call by lambdaScope and reused for every
// item: nothing an evaluation returns keeps a scope.
func (ev *evaluator) lambda(n node, ls *scope, item any) (any, error) {
	ls.dollar = item
	v, err := ev.value(n, ls)
	if err != nil && !errors.Is(err, ErrLimit) && ev.ctx.Err() == nil {
		return nil, &lambdaError{err}
	}
	return v, err
}

// lambdaError is an error a lambda raised: a function that gives an
// iterator (iterResults) raises it only when the iterator is read, as
// Python runs a generator's predicate lazily ($.l.where($.zz) = 1 is
// false in Mistral, $.l.where($.zz).len() fails).
type lambdaError struct{ err error }

func (e *lambdaError) Error() string { return e.err.Error() }
func (e *lambdaError) Unwrap() error { return e.err }

func lambdaScope(sc *scope) *scope { return &scope{parent: sc, lambda: true} }

func (ev *evaluator) dot(n *dotNode, sc *scope) (any, error) {
	recv, err := ev.value(n.recv, sc)
	if err != nil {
		return nil, err
	}
	if n.safe && recv == nil {
		return nil, nil
	}
	if n.call != nil {
		return ev.call(n.call, recv, true, sc)
	}
	if set, ok := recv.(*setValue); ok {
		recv = set.elems
	}
	v, err := ev.attribute(recv, n.name)
	if _, isList := recv.([]any); isList && !errors.Is(err, ErrLimit) {
		// yaql maps the attribute over a collection: a map iterator,
		// whose error shows only when something reads its items
		// ([{a => 1}].zz = 1 is false in Mistral).
		if err != nil {
			return &yaqlIter{err: err}, nil
		}
		return &yaqlIter{items: v.([]any)}, nil
	}
	return v, err
}

// attribute is recv.name: a dict's key, or that key of each dict in a list.
func (ev *evaluator) attribute(recv any, name string) (any, error) {
	switch x := recv.(type) {
	case map[string]any:
		v, ok := x[name]
		if !ok {
			return nil, fmt.Errorf("expr: key %q not found in the dict", name)
		}
		return v, nil
	case []any:
		if err := ev.allocate(len(x), "."+name); err != nil {
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			if err := ev.step(); err != nil {
				return nil, err
			}
			v, err := ev.attribute(e, name)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("expr: %s has no property %q", article(recv), name)
}

func (ev *evaluator) index(n *indexNode, sc *scope) (any, error) {
	recv, err := ev.rawValue(n.recv, sc)
	if err != nil {
		return nil, err
	}
	if it, ok := recv.(*yaqlIter); ok {
		if !it.rng {
			return nil, errors.New("expr: [] does not apply to the iterator that where(), select(), skip(), keys() and the like give (yaql has no #indexer for it): write .toList()[i], or .skip(i).first()")
		}
		recv = it.items // a range is a sequence
	}
	if len(n.args) == 0 || len(n.args) > 2 {
		return nil, fmt.Errorf("expr: [] takes 1 or 2 arguments, got %d", len(n.args))
	}
	for _, a := range n.args {
		if _, ok := a.(*mappingNode); ok {
			return nil, errors.New("expr: [] takes no name => value arguments")
		}
	}
	k, err := ev.value(n.args[0], sc)
	if err != nil {
		return nil, err
	}
	switch x := recv.(type) {
	case []any:
		if len(n.args) != 1 {
			return nil, errors.New("expr: a list index takes 1 argument")
		}
		if b, isBool := k.(bool); isBool {
			k = boolInt(b) // Python: True is 1
		}
		i, ok := k.(int64)
		if !ok {
			return nil, fmt.Errorf("expr: a list index must be an integer, not %s", article(k))
		}
		if i < 0 {
			i += int64(len(x))
		}
		if i < 0 || i >= int64(len(x)) {
			return nil, fmt.Errorf("expr: list index %v out of range (length %d)", k, len(x))
		}
		return x[i], nil
	case map[string]any:
		key, ok := k.(string)
		var v any
		if ok {
			v, ok = x[key]
		}
		if ok {
			return v, nil
		}
		if len(n.args) == 2 {
			return ev.value(n.args[1], sc)
		}
		return nil, fmt.Errorf("expr: key %s not found in the dict", shortRepr(k))
	}
	return nil, fmt.Errorf("expr: %s cannot be indexed", article(recv))
}

func (ev *evaluator) unary(n *unaryNode, sc *scope) (any, error) {
	x, err := ev.rawValue(n.x, sc)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "not":
		return !Truthy(x), nil
	}
	if x, err = iterItems(x); err != nil {
		return nil, err
	}
	switch n.op {
	case "-":
		switch v := x.(type) {
		case int64:
			if v == math.MinInt64 {
				return nil, errors.New("expr: integer overflow in -")
			}
			return -v, nil
		case float64:
			return -v, nil
		}
	case "+":
		switch x.(type) {
		case int64, float64:
			return x, nil
		}
	}
	return nil, fmt.Errorf("expr: unary %s does not apply to %s", n.op, article(x))
}

func (ev *evaluator) binary(n *binaryNode, sc *scope) (any, error) {
	switch n.op {
	case "and", "or":
		l, err := ev.rawValue(n.l, sc)
		if err != nil {
			return nil, err
		}
		if Truthy(l) == (n.op == "or") {
			return l, nil
		}
		return ev.rawValue(n.r, sc)
	case "->":
		l, err := ev.eval(n.l, sc)
		if err != nil {
			return nil, err
		}
		lc, ok := l.(*letContext)
		if !ok {
			return nil, fmt.Errorf("expr: the left side of -> must be let(...), not %s", article(l))
		}
		dollar := sc.dollar
		if lc.setDollar {
			dollar = lc.dollar
		}
		return ev.eval(n.r, &scope{parent: sc, dollar: dollar, vars: lc.vars, defs: lc.defs})
	}
	l, err := ev.rawValue(n.l, sc)
	if err != nil {
		return nil, err
	}
	r, err := ev.rawValue(n.r, sc)
	if err != nil {
		return nil, err
	}
	return ev.operator(n.op, l, r)
}

// operator applies a binary operator to two values. An iterator is
// equal only to itself (= and != and the left of in); any other operator
// reads its items.
func (ev *evaluator) operator(op string, l, r any) (any, error) {
	_, lIter := l.(*yaqlIter)
	_, rIter := r.(*yaqlIter)
	if lIter || rIter {
		var err error
		switch op {
		case "=", "!=":
			return (l == r) == (op == "="), nil
		case "in":
			r, err = iterItems(r)
		default:
			if l, err = iterItems(l); err == nil {
				r, err = iterItems(r)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	switch op {
	case "=", "!=":
		if a, ok := l.(string); ok {
			if b, ok := r.(string); ok {
				return (a == b) == (op == "="), nil
			}
		}
		eq, err := ev.equal(l, r)
		return eq == (op == "="), err
	case "<", ">", "<=", ">=":
		if a, ok := l.(*setValue); ok {
			if b, ok := r.(*setValue); ok {
				return ev.setCompare(op, a, b)
			}
		}
		c, ok := compare(l, r)
		if !ok {
			break
		}
		switch op {
		case "<":
			return c < 0, nil
		case ">":
			return c > 0, nil
		case "<=":
			return c <= 0, nil
		default:
			return c >= 0, nil
		}
	case "in":
		switch c := r.(type) {
		case *setValue:
			return ev.operator(op, l, c.elems)
		case []any:
			for _, e := range c {
				eq, err := ev.equal(l, e)
				if err != nil || eq {
					return eq, err
				}
			}
			return false, nil
		case string:
			if s, ok := l.(string); ok {
				return strings.Contains(c, s), nil
			}
		}
	case "=~", "!~":
		if rx, ok := r.(*regexValue); ok {
			if s, ok := l.(string); ok {
				if err := ev.allocate((len(s)+1)*(len(rx.src)+1)/64, op); err != nil {
					return nil, err
				}
				ok, err := rx.re.search(ev.ctx, s)
				return ok == (op == "=~"), err
			}
			break
		}
		s, ok1 := l.(string)
		pat, ok2 := r.(string)
		if !ok1 || !ok2 {
			break
		}
		// Charge the match as linear in the text times the pattern (a
		// backtracking one may take longer: RegexTimeout bounds it).
		if err := ev.allocate((len(s)+1)*(len(pat)+1)/64, op); err != nil {
			return nil, err
		}
		re, err := compilePyCached(pat, "")
		if err != nil {
			return nil, fmt.Errorf("expr: %s: pattern %q: %v", op, pat, err)
		}
		ok, err := re.search(ev.ctx, s)
		return ok == (op == "=~"), err
	case "+", "-", "*", "/", "mod":
		return ev.arith(op, l, r)
	}
	return nil, fmt.Errorf("expr: operator %s does not apply to %s and %s", op, article(l), article(r))
}

// compare orders two values: null before everything, numbers with
// numbers, strings with strings. ok is false when they cannot be ordered.
func compare(l, r any) (int, bool) {
	if l == nil || r == nil {
		switch {
		case l == nil && r == nil:
			return 0, true
		case l == nil:
			return -1, true
		default:
			return 1, true
		}
	}
	if a, ok := number(l); ok {
		if b, ok := number(r); ok {
			if x, ok := l.(int64); ok {
				if y, ok := r.(int64); ok {
					return cmp3(x, y), true
				}
			}
			return cmp3(a, b), true
		}
		return 0, false
	}
	if a, ok := l.(string); ok {
		if b, ok := r.(string); ok {
			return strings.Compare(a, b), true
		}
	}
	return 0, false
}

func cmp3[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (ev *evaluator) arith(op string, l, r any) (any, error) {
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case "+":
			s := li + ri
			if (s > li) != (ri > 0) {
				return nil, errors.New("expr: integer overflow in +")
			}
			return s, nil
		case "-":
			s := li - ri
			if (s < li) != (ri > 0) {
				return nil, errors.New("expr: integer overflow in -")
			}
			return s, nil
		case "*":
			if li != 0 && ri != 0 {
				p := li * ri
				if p/ri != li || (li == -1 && ri == math.MinInt64) || (ri == -1 && li == math.MinInt64) {
					return nil, errors.New("expr: integer overflow in *")
				}
				return p, nil
			}
			return int64(0), nil
		case "/", "mod":
			if ri == 0 {
				return nil, fmt.Errorf("expr: integer division by zero in %s", op)
			}
			if li == math.MinInt64 && ri == -1 {
				return nil, fmt.Errorf("expr: integer overflow in %s", op)
			}
			q, m := li/ri, li%ri
			if m != 0 && (m < 0) != (ri < 0) { // floor, as Python
				q--
				m += ri
			}
			if op == "/" {
				return q, nil
			}
			return m, nil
		}
	}
	lf, lNum := number(l)
	rf, rNum := number(r)
	if lNum && rNum {
		switch op {
		case "+":
			return lf + rf, nil
		case "-":
			return lf - rf, nil
		case "*":
			return lf * rf, nil
		case "/":
			if rf == 0 {
				return nil, errors.New("expr: float division by zero")
			}
			return lf / rf, nil
		case "mod":
			if rf == 0 {
				return nil, errors.New("expr: float modulo by zero")
			}
			return pyFloatMod(lf, rf), nil
		}
	}
	switch op {
	case "+":
		a, aSet := l.(*setValue)
		b, bSet := r.(*setValue)
		if aSet && bSet {
			// yaql's combine_lists: two frozensets make their union.
			return ev.newSet("+", append(slices.Clone(a.elems), b.elems...))
		}
		if aSet {
			l = a.elems
		}
		if bSet {
			r = b.elems
		}
		switch a := l.(type) {
		case string:
			if b, ok := r.(string); ok {
				if len(a)+len(b) > ev.lim.MaxBytes {
					return nil, fmt.Errorf("expr: the string from + would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
				}
				s := a + b
				return s, ev.allocString(s, "+")
			}
		case []any:
			if b, ok := r.([]any); ok {
				if err := ev.checkItems(len(a)+len(b), "the list from +"); err != nil {
					return nil, err
				}
				if err := ev.allocate(len(a)+len(b), "+"); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(a)+len(b))
				return append(append(out, a...), b...), nil
			}
		case map[string]any:
			if b, ok := r.(map[string]any); ok {
				if err := ev.allocate(len(a)+len(b), "+"); err != nil {
					return nil, err
				}
				out := make(map[string]any, len(a)+len(b))
				for k, v := range a {
					out[k] = v
				}
				for k, v := range b {
					out[k] = v
				}
				return out, nil
			}
		}
	case "*":
		if s, n, ok := repeatArgs(l, r); ok {
			if n <= 0 || s == "" {
				return "", nil
			}
			if int64(len(s)) > int64(ev.lim.MaxBytes)/n {
				return nil, fmt.Errorf("expr: the string from * would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
			}
			if err := ev.allocate(len(s)*int(n)/8, "*"); err != nil {
				return nil, err
			}
			return strings.Repeat(s, int(n)), nil
		}
		if xs, n, ok := repeatList(l, r); ok {
			if n <= 0 || len(xs) == 0 {
				return []any{}, nil
			}
			if int64(len(xs)) > int64(ev.lim.MaxItems)/n {
				return nil, fmt.Errorf("expr: the list from * would have more than %d elements: %w", ev.lim.MaxItems, ErrLimit)
			}
			if err := ev.allocate(len(xs)*int(n), "*"); err != nil {
				return nil, err
			}
			out := make([]any, 0, len(xs)*int(n))
			for range n {
				out = append(out, xs...)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("expr: operator %s does not apply to %s and %s", op, article(l), article(r))
}

func repeatArgs(l, r any) (string, int64, bool) {
	if s, ok := l.(string); ok {
		n, ok := r.(int64)
		return s, n, ok
	}
	if s, ok := r.(string); ok {
		n, ok := l.(int64)
		return s, n, ok
	}
	return "", 0, false
}

func repeatList(l, r any) ([]any, int64, bool) {
	if s, ok := l.([]any); ok {
		n, ok := r.(int64)
		return s, n, ok
	}
	if s, ok := r.([]any); ok {
		n, ok := l.(int64)
		return s, n, ok
	}
	return nil, 0, false
}
