package expr

import (
	"fmt"
	"strings"
)

// bound is a call's arguments matched to a function's parameters, the way
// yaql matches them: positional arguments first, then name => value
// arguments by parameter name (yaql spells Python's max_splits as
// maxSplits). Arguments stay unevaluated until asked for, so that a lambda
// parameter can be evaluated once per element.
type bound struct {
	c     *callCtx
	names []string
	nodes []node // nil for the receiver of a method call and for absent ones
	set   []bool
}

// bind matches c's arguments to the parameters names (the receiver of a
// method call is names[0]); a name may list aliases as "trimSpaces|trim".
// At least min parameters must be given.
func (c *callCtx) bind(min int, names ...string) (*bound, error) {
	b := &bound{c: c, names: names, nodes: make([]node, len(names)), set: make([]bool, len(names))}
	n := c.nargs()
	if n > len(names) {
		return nil, fmt.Errorf("expr: %s(): takes at most %d arguments, got %d", c.name, len(names), n)
	}
	for i := range n {
		b.set[i] = true
		if !(c.isM && i == 0) {
			b.nodes[i] = c.node(i)
		}
	}
	for _, m := range c.named {
		id, ok := m.key.(*identNode)
		if !ok {
			return nil, fmt.Errorf("expr: %s(): an argument name must be a bare name", c.name)
		}
		i := paramIndex(names, id.name)
		if i < 0 || (c.isM && i == 0) {
			return nil, fmt.Errorf("expr: %s(): no parameter named %q", c.name, id.name)
		}
		if b.set[i] {
			return nil, fmt.Errorf("expr: %s(): parameter %q given twice", c.name, id.name)
		}
		b.set[i], b.nodes[i] = true, m.value
	}
	for i := range min {
		if !b.set[i] {
			return nil, fmt.Errorf("expr: %s(): missing argument %q", c.name, strings.Split(names[i], "|")[0])
		}
	}
	return b, nil
}

func paramIndex(names []string, name string) int {
	for i, n := range names {
		for _, alias := range strings.Split(n, "|") {
			if alias == name {
				return i
			}
		}
	}
	return -1
}

func (b *bound) has(i int) bool { return b.set[i] }

// val evaluates parameter i; an absent one is def.
func (b *bound) val(ev *evaluator, i int, def any) (any, error) {
	if !b.set[i] {
		return def, nil
	}
	if b.c.isM && i == 0 {
		return b.c.recv, nil
	}
	return ev.value(b.nodes[i], b.c.sc)
}

func (b *bound) err(i int, v any, want string) error {
	which := fmt.Sprintf("argument %s", strings.Split(b.names[i], "|")[0])
	if b.c.isM && i == 0 {
		which = "the receiver"
	}
	return fmt.Errorf("expr: %s(): %s is %s, want %s", b.c.name, which, article(v), want)
}

func (b *bound) integer(ev *evaluator, i int, def int64) (int64, error) {
	v, err := b.val(ev, i, def)
	if err != nil {
		return 0, err
	}
	if x, ok := v.(bool); ok { // Python: a bool is an int
		return boolInt(x), nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, b.err(i, v, "an integer")
	}
	return n, nil
}

func (b *bound) boolean(ev *evaluator, i int, def bool) (bool, error) {
	v, err := b.val(ev, i, def)
	if err != nil {
		return false, err
	}
	x, ok := v.(bool)
	if !ok {
		return false, b.err(i, v, "a boolean")
	}
	return x, nil
}

func (b *bound) str(ev *evaluator, i int) (string, error) {
	v, err := b.val(ev, i, nil)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", b.err(i, v, "a string")
	}
	return s, nil
}

// optStr is a string parameter that may be null or absent (ok false).
func (b *bound) optStr(ev *evaluator, i int) (string, bool, error) {
	v, err := b.val(ev, i, nil)
	if err != nil || v == nil {
		return "", false, err
	}
	s, ok := v.(string)
	if !ok {
		return "", false, b.err(i, v, "a string or null")
	}
	return s, true, nil
}

// seq is an iterable parameter: a list or a set (yaql's Iterable, which
// excludes strings and dicts).
func (b *bound) seq(ev *evaluator, i int) ([]any, error) {
	v, err := b.val(ev, i, nil)
	if err != nil {
		return nil, err
	}
	l, ok := iterable(v)
	if !ok {
		return nil, b.err(i, v, "a list")
	}
	return l, nil
}

func (b *bound) dict(ev *evaluator, i int) (map[string]any, error) {
	v, err := b.val(ev, i, nil)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, b.err(i, v, "a dict")
	}
	return m, nil
}

// iterable is v's elements when v is a list or a set.
func iterable(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case *setValue:
		return x.elems, true
	}
	return nil, false
}

// call2 evaluates a lambda of two arguments: $ and $1 are a, $2 is b, as
// in aggregate($1 + $2).
func (ev *evaluator) call2(n node, sc *scope, a, b any) (any, error) {
	return ev.value(n, &scope{parent: sc, dollar: a, lambda: true, vars: map[string]any{"2": b}})
}
