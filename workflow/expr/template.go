package expr

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// inlineRE is Mistral's INLINE_YAQL_REGEXP: the shortest <% ... %> on one
// line ("." does not match a newline there either).
var inlineRE = regexp.MustCompile(`<%.*?%>`)

// IsExpression reports whether s holds an expression, <% %> or Jinja
// ({{ }}, {% %}), so that EvalString would evaluate rather than return it.
func IsExpression(s string) bool { return inlineRE.MatchString(s) || IsJinja(s) }

// Template is a string with embedded <% %> expressions, parsed once.
type Template struct {
	src   string
	whole bool       // s is exactly one <% %>: its value keeps its type
	lits  []string   // len(progs)+1 literal pieces around the expressions
	progs []*Program // the expressions, in order
	jinja *jinjaTemplate
}

// ParseTemplate parses every <% %> expression in s. A string without one
// is a template that evaluates to itself. A string with Jinja ({{ }} or
// {% %}) is a Jinja template, whatever <% %> it holds, as in Mistral,
// whose evaluators are tried in the order jinja, yaql.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	if IsJinja(s) {
		j, err := parseJinja(s)
		if err != nil {
			return nil, err
		}
		t.jinja = j
		return t, nil
	}
	locs := inlineRE.FindAllStringIndex(s, -1)
	prev := 0
	for _, l := range locs {
		inner := strings.Trim(s[l[0]:l[1]], "<%>") // as Mistral's expr.strip("<%>")
		p, err := Parse(strings.TrimSpace(inner))
		if err != nil {
			return nil, fmt.Errorf("%w in %s", err, s[l[0]:l[1]])
		}
		t.lits = append(t.lits, s[prev:l[0]])
		t.progs = append(t.progs, p)
		prev = l[1]
	}
	t.lits = append(t.lits, s[prev:])
	t.whole = len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s)
	return t, nil
}

// Eval evaluates the template as Mistral does: a string that is exactly
// one <% %> expression gives that expression's value, of any type; each
// expression embedded in a longer string is replaced by Python's str() of
// its value (so true shows as True, null as None, a list as ['a', 'b']).
func (t *Template) Eval(ctx context.Context, data any, funcs Funcs) (any, error) {
	if t.jinja != nil {
		return t.jinja.eval(ctx, data, funcs)
	}
	if len(t.progs) == 0 {
		return t.src, nil
	}
	if t.whole {
		return t.progs[0].Eval(ctx, data, funcs)
	}
	var b strings.Builder
	for i, p := range t.progs {
		b.WriteString(t.lits[i])
		v, err := p.Eval(ctx, data, funcs)
		if err != nil {
			return nil, err
		}
		b.WriteString(pyStr(v))
		if b.Len() > DefaultLimits().MaxBytes {
			return nil, fmt.Errorf("expr: the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit)
		}
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String(), nil
}

// EvalString parses and evaluates a string that may hold <% %> expressions.
// The parsed form of strings up to templateCacheMax bytes is kept (see
// parseTemplateCached): an engine evaluates the same task input for every
// item of a with-items.
func EvalString(ctx context.Context, s string, data any, funcs Funcs) (any, error) {
	t, err := parseTemplateCached(s)
	if err != nil {
		return nil, err
	}
	return t.Eval(ctx, data, funcs)
}

// templateCache holds parsed templates by their text, as regexCache holds
// patterns. A Template is immutable once parsed and safe for concurrent
// Eval.
var templateCache = resetCache[*Template]{size: 1024}

// templateCacheMax is the longest text templateCache keeps: longer ones
// are parsed each time.
const templateCacheMax = 16 << 10

// parseTemplateCached is ParseTemplate through templateCache. A text that
// fails to parse is not kept, nor one without an expression.
func parseTemplateCached(s string) (*Template, error) {
	if len(s) > templateCacheMax {
		return ParseTemplate(s)
	}
	if t, ok := templateCache.get(s); ok {
		return t, nil
	}
	t, err := ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	if t.jinja != nil || len(t.progs) > 0 {
		templateCache.put(s, t) // a plain string is as cheap to parse as to look up
	}
	return t, nil
}

// resetCache is a map of at most size values, safe for concurrent use,
// that starts over when it is full (as Python's re module does with its
// cache): no bookkeeping per lookup.
type resetCache[V any] struct {
	mu   sync.Mutex
	m    map[string]V
	size int
}

func (c *resetCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *resetCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.size {
		c.m = make(map[string]V)
	}
	c.m[key] = v
}

// EvalValue evaluates every string inside v (a value of the data model,
// such as a task's input) with EvalString, recursing into lists and dict
// values as Mistral does; dict keys are left alone. v is not modified.
func EvalValue(ctx context.Context, v any, data any, funcs Funcs) (any, error) {
	return evalValue(ctx, v, data, funcs, 0)
}

func evalValue(ctx context.Context, v any, data any, funcs Funcs, depth int) (any, error) {
	if depth > DefaultLimits().MaxDepth {
		return nil, fmt.Errorf("expr: value nests more than %d levels deep: %w", DefaultLimits().MaxDepth, ErrLimit)
	}
	switch x := v.(type) {
	case string:
		return EvalString(ctx, x, data, funcs)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := evalValue(ctx, e, data, funcs, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			r, err := evalValue(ctx, x[k], data, funcs, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}
