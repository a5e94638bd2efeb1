package expr

import (
	"fmt"
	"strings"
)

// strIndexOf is string.indexOf(sub, start, length) and lastIndexOf: the
// character index of sub within [start, start+length), or -1. A negative
// start counts from the end; a negative length reaches the end.
func (ev *evaluator) strIndexOf(c *callCtx, s string) (any, error) {
	b, err := c.bind(2, "string", "sub", "start", "length")
	if err != nil {
		return nil, err
	}
	sub, err := b.str(ev, 1)
	if err != nil {
		return nil, err
	}
	r := []rune(s)
	n := int64(len(r))
	start, err := b.integer(ev, 2, 0)
	if err != nil {
		return nil, err
	}
	if start < 0 {
		start += n
	}
	end := n
	if b.has(3) {
		length, err := b.integer(ev, 3, 0)
		if err != nil {
			return nil, err
		}
		if length < 0 {
			length = n - start
		}
		end = start + length
	}
	// Python's find(sub, start, end): slice indexes, clamped.
	start = max(0, min(start, n))
	end = max(0, min(end, n))
	if end < start {
		return int64(-1), nil
	}
	hay := string(r[start:end])
	i := strings.Index(hay, sub)
	if c.name == "lastIndexOf" {
		i = strings.LastIndex(hay, sub)
	}
	if i < 0 {
		return int64(-1), nil
	}
	return start + int64(len([]rune(hay[:i]))), nil
}

// replaceDict is string.replace(replacements, count => -1): each key
// (by sorted key here, in the dict's order in yaql) is replaced by str()
// of its value.
func (ev *evaluator) replaceDict(c *callCtx, s string, m map[string]any) (any, error) {
	b, err := c.bind(2, "string", "replacements", "count")
	if err != nil {
		return nil, err
	}
	count, err := b.integer(ev, 2, -1)
	if err != nil {
		return nil, err
	}
	n := -1
	if count >= 0 {
		n = int(min(count, int64(len(s)+1)))
	}
	for _, k := range sortedKeys(m) {
		if err := ev.checkSize(m[k], "replace()"); err != nil {
			return nil, err
		}
		v := yaqlStr(m[k])
		if k != "" && len(v) > len(k) && int64(len(s))+int64(strings.Count(s, k))*int64(len(v)-len(k)) > int64(ev.lim.MaxBytes) {
			return nil, fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
		}
		if k == "" && int64(len(s)+1)*int64(len(v))+int64(len(s)) > int64(ev.lim.MaxBytes) {
			return nil, fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
		}
		s = strings.Replace(s, k, v, n)
		if err := ev.allocString(s, "replace()"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// fnSetFn is set(): set(values...) as a function, dict.set(key, value),
// dict.set(dict) and dict.set(key => value, ...) as a method.
func fnSetFn(ev *evaluator, c *callCtx) (any, error) {
	if !c.isM {
		if len(c.named) > 0 {
			return nil, fmt.Errorf("expr: set(): takes no name => value arguments")
		}
		vals, err := c.all(ev)
		if err != nil {
			return nil, err
		}
		return ev.newSet("set()", vals)
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	switch {
	case c.nargs() == 1: // yaql's dict.set(*args) of key => value rules, none too
		for _, nm := range c.named {
			k, v, err := ev.entry(nm, c.sc, "set()")
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
	case len(c.named) == 0 && c.nargs() == 2:
		r, err := c.dict(ev, 1)
		if err != nil {
			return nil, err
		}
		for k, v := range r {
			out[k] = v
		}
	case len(c.named) == 0 && c.nargs() == 3:
		k, err := c.arg(ev, 1)
		if err != nil {
			return nil, err
		}
		key, err := dictKey(k, "set()")
		if err != nil {
			return nil, err
		}
		if out[key], err = c.arg(ev, 2); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("expr: set(): takes a key and a value, a dict, or key => value arguments")
	}
	return out, ev.allocate(len(out), "set()")
}

// fnItems is dict.items(): [key, value] pairs by sorted key.
func fnItems(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(2*len(m), "items()"); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, []any{k, m[k]})
	}
	ev.sets = true
	return &setValue{elems: out, view: m}, nil
}

func fnContainsValue(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	x, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	for _, v := range m {
		eq, err := ev.equal(x, v)
		if err != nil || eq {
			return eq, err
		}
	}
	return false, nil
}

func fnToSet(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	return ev.newSet("toSet()", l)
}

// fnSetOp is union, intersect, difference and symmetricDifference of two
// sets (lists are refused, as in yaql).
func fnSetOp(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	var s [2]*setValue
	for i := range s {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		x, ok := v.(*setValue)
		if !ok {
			return nil, c.argErr(i, v, "a set")
		}
		s[i] = x
	}
	budget := int(ev.lim.MaxSteps)
	var out []any
	switch c.name {
	case "union":
		out = append(append(out, s[0].elems...), s[1].elems...)
	case "intersect":
		for _, e := range s[0].elems {
			if s[1].has(e, &budget) {
				out = append(out, e)
			}
		}
	case "difference":
		for _, e := range s[0].elems {
			if !s[1].has(e, &budget) {
				out = append(out, e)
			}
		}
	default:
		for _, e := range s[0].elems {
			if !s[1].has(e, &budget) {
				out = append(out, e)
			}
		}
		for _, e := range s[1].elems {
			if !s[0].has(e, &budget) {
				out = append(out, e)
			}
		}
	}
	return ev.newSet(c.name+"()", out)
}

// fnSetAddRemove is set.add(values...) and set.remove(values...).
func fnSetAddRemove(ev *evaluator, c *callCtx) (any, error) {
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	s, ok := v.(*setValue)
	if !ok {
		return nil, c.argErr(0, v, "a set")
	}
	vals, err := c.all(ev)
	if err != nil {
		return nil, err
	}
	vals = vals[1:]
	if c.name == "add" {
		return ev.newSet("add()", append(append([]any{}, s.elems...), vals...))
	}
	rm, err := ev.newSet("remove()", vals)
	if err != nil {
		return nil, err
	}
	budget := int(ev.lim.MaxSteps)
	var out []any
	for _, e := range s.elems {
		if !rm.has(e, &budget) {
			out = append(out, e)
		}
	}
	return ev.newSet("remove()", out)
}

// setCompare is < <= > >= on sets: subset and superset.
func (ev *evaluator) setCompare(op string, a, b *setValue) (any, error) {
	budget := int(ev.lim.MaxSteps)
	ab, ba := a.subset(b, &budget), b.subset(a, &budget)
	switch op {
	case "<":
		return ab && !ba, nil
	case "<=":
		return ab, nil
	case ">":
		return ba && !ab, nil
	}
	return ba, nil
}

func fnIsSetIter(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	_, isSet := v.(*setValue)
	if c.name == "isSet" {
		return isSet, nil
	}
	_, isList := v.([]any)
	_, endless := v.(*lazySeq) // sequence(), cycle(): Python iterators
	return isSet || isList || endless, nil
}
