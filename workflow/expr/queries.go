package expr

import (
	"errors"
	"fmt"
	"slices"
)

// This file holds yaql's collection functions (standard_library/queries.py
// and collections.py) that the first version left out.

// lazySeq is an endless sequence (sequence(), x.repeat(), x.cycle()): only
// take()/limit() and first() read it, as an endless Python iterator can
// only be read that way.
type lazySeq struct{ at func(i int) any }

func fnAppend(ev *evaluator, c *callCtx) (any, error) {
	if c.nargs() < 1 || len(c.named) > 0 {
		return nil, errors.New("expr: append(): takes a list and values to append")
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l)+c.nargs(), "append()"); err != nil {
		return nil, err
	}
	out := slices.Clone(l)
	for i := 1; i < c.nargs(); i++ {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, ev.checkItems(len(out), "append()")
}

// fnInsert is insert(position, value) and insertMany(position, values): a
// negative position counts from the end, as Python's list.insert, for
// insert; insertMany treats it as 0 (yaql walks the iterator).
func fnInsert(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(3, "collection", "position", "value|values")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	pos, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	v, err := b.val(ev, 2, nil)
	if err != nil {
		return nil, err
	}
	vals := []any{v}
	if c.name == "insertMany" {
		var ok bool
		if vals, ok = iterable(v); !ok {
			return nil, b.err(2, v, "a list")
		}
		if pos < 0 {
			pos = 0
		}
	} else if pos < 0 {
		pos = max(0, pos+int64(len(l)))
	}
	pos = min(pos, int64(len(l)))
	if err := ev.allocate(len(l)+len(vals), c.name+"()"); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(l)+len(vals))
	out = append(out, l[:pos]...)
	out = append(out, vals...)
	return append(out, l[pos:]...), ev.checkItems(len(out), c.name+"()")
}

// fnDelete is list.delete(position, count => 1) (a negative count deletes
// to the end; a negative position deletes nothing, as yaql's enumerate
// never reaches it) and dict.delete(keys...).
func fnDelete(ev *evaluator, c *callCtx) (any, error) {
	if c.isM {
		if m, ok := c.recv.(map[string]any); ok {
			if len(c.named) > 0 {
				return nil, errors.New("expr: delete(): takes keys to delete")
			}
			keys := make([]any, 0, c.nargs()-1)
			for i := 1; i < c.nargs(); i++ {
				k, err := c.arg(ev, i)
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			return ev.dictWithout(m, keys)
		}
	}
	b, err := c.bind(2, "collection", "position", "count")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	pos, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	count, err := b.integer(ev, 2, 1)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), "delete()"); err != nil {
		return nil, err
	}
	out := []any{}
	for i, e := range l {
		i := int64(i)
		if (count >= 0 && !(pos <= i && i < pos+count)) || (count < 0 && i < pos) {
			out = append(out, e)
		}
	}
	return out, nil
}

func fnDeleteAll(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "dict", "keys")
	if err != nil {
		return nil, err
	}
	m, err := b.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	keys, err := b.seq(ev, 1)
	if err != nil {
		return nil, err
	}
	return ev.dictWithout(m, keys)
}

func (ev *evaluator) dictWithout(m map[string]any, keys []any) (any, error) {
	if err := ev.allocate(len(m), "delete()"); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		if s, ok := k.(string); ok {
			delete(out, s)
		}
	}
	return out, nil
}

// replaceList is list.replace(position, value, count => 1) and
// list.replaceMany(position, values, count => 1): the elements in
// [position, position+count) (to the end for a negative count) give way
// to the value(s), which appear once.
func replaceList(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(3, "collection", "position", "value|values", "count")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	pos, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	v, err := b.val(ev, 2, nil)
	if err != nil {
		return nil, err
	}
	vals := []any{v}
	if c.name == "replaceMany" {
		var ok bool
		if vals, ok = iterable(v); !ok {
			return nil, b.err(2, v, "a list")
		}
	}
	count, err := b.integer(ev, 3, 1)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l)+len(vals), c.name+"()"); err != nil {
		return nil, err
	}
	out := []any{}
	done := false
	for i, e := range l {
		i := int64(i)
		if (count >= 0 && pos <= i && i < pos+count) || (count < 0 && i >= pos) {
			if !done {
				out = append(out, vals...)
				done = true
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func fnIndexWhere(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "predicate")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	ls := lambdaScope(c.sc)
	found := int64(-1)
	for i, e := range l {
		v, err := ev.lambda(b.nodes[1], ls, e)
		if err != nil {
			return nil, err
		}
		if Truthy(v) {
			found = int64(i)
			if c.name == "indexWhere" {
				break
			}
		}
	}
	return found, nil
}

// fnTakeSkipWhile is takeWhile() and skipWhile().
func fnTakeSkipWhile(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "predicate")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	ls := lambdaScope(c.sc)
	i := 0
	for ; i < len(l); i++ {
		v, err := ev.lambda(b.nodes[1], ls, l[i])
		if err != nil {
			return nil, err
		}
		if !Truthy(v) {
			break
		}
	}
	if c.name == "takeWhile" {
		return slices.Clone(l[:i]), nil
	}
	return slices.Clone(l[i:]), nil
}

// fnSlice is slice(length): the list in parts of length elements. A zero
// length gives [] (itertools.islice(it, 0) is empty) and a negative one is
// an error.
func fnSlice(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "length")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	n, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("expr: slice(): length %d is negative", n)
	}
	out := []any{}
	if n == 0 {
		return out, nil
	}
	if err := ev.allocate(len(l), "slice()"); err != nil {
		return nil, err
	}
	for i := 0; i < len(l); i += int(min(n, int64(len(l)))) {
		end := min(int64(i)+n, int64(len(l)))
		out = append(out, slices.Clone(l[i:end]))
	}
	return out, nil
}

func fnSplitAt(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "index")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	i, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	n := int64(len(l))
	if i < 0 {
		i = max(0, i+n)
	}
	i = min(i, n)
	return []any{slices.Clone(l[:i]), slices.Clone(l[i:])}, ev.allocate(len(l), "splitAt()")
}

// fnSplitWhere splits at the elements the predicate holds for, dropping
// them; fnSliceWhere starts a new part where the predicate's value changes.
func fnSplitWhere(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "predicate")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), c.name+"()"); err != nil {
		return nil, err
	}
	ls := lambdaScope(c.sc)
	out := []any{}
	if c.name == "splitWhere" {
		cur := []any{}
		for _, e := range l {
			v, err := ev.lambda(b.nodes[1], ls, e)
			if err != nil {
				return nil, err
			}
			if Truthy(v) {
				out = append(out, cur)
				cur = []any{}
			} else {
				cur = append(cur, e)
			}
		}
		if len(cur) > 0 { // yaql yields the last part only when it has items
			out = append(out, cur)
		}
		return out, nil
	}
	var prev any
	start := 0
	for i, e := range l {
		v, err := ev.lambda(b.nodes[1], ls, e)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			eq, err := ev.equal(v, prev)
			if err != nil {
				return nil, err
			}
			if !eq {
				out = append(out, slices.Clone(l[start:i]))
				start = i
			}
		}
		prev = v
	}
	if start < len(l) {
		out = append(out, slices.Clone(l[start:]))
	}
	return out, nil
}

// fnAggregate is aggregate(selector, seed) (and reduce()): Python's
// functools.reduce; fnAccumulate yields every step, seed first.
func fnAggregate(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "selector", "seed")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	var acc any
	rest := l
	if b.has(2) {
		if acc, err = b.val(ev, 2, nil); err != nil {
			return nil, err
		}
	} else {
		if len(l) == 0 {
			if c.name == "accumulate" {
				return nil, errors.New("expr: accumulate(): the list is empty and no seed is given")
			}
			return nil, fmt.Errorf("expr: %s(): the list is empty and no seed is given", c.name)
		}
		acc, rest = l[0], l[1:]
	}
	steps := []any{acc}
	for _, e := range rest {
		if acc, err = ev.call2(b.nodes[1], c.sc, acc, e); err != nil {
			return nil, err
		}
		if c.name == "accumulate" {
			if err := ev.allocate(1, "accumulate()"); err != nil {
				return nil, err
			}
			steps = append(steps, acc)
		}
	}
	if c.name == "accumulate" {
		return steps, nil
	}
	return acc, nil
}

// ordering is what orderBy() records for thenBy(): the selectors so far.
type ordering struct {
	items []any
	keys  [][]any // keys[i] are items[i]'s sort keys, one per selector
	desc  []bool
}

func fnOrderBy(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "selector")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	var o *ordering
	switch c.name {
	case "orderBy", "orderByDescending":
		o = &ordering{items: l, keys: make([][]any, len(l))}
	default: // thenBy, thenByDescending
		if cap(l) > 0 {
			o = ev.orders[&l[:1][0]]
		}
		if o == nil {
			return nil, fmt.Errorf("expr: %s(): the receiver must come from orderBy() or orderByDescending()", c.name)
		}
		o = &ordering{items: o.items, keys: o.keys, desc: o.desc}
	}
	if err := ev.allocate(2*len(l), c.name+"()"); err != nil {
		return nil, err
	}
	o.desc = append(slices.Clone(o.desc), c.name == "orderByDescending" || c.name == "thenByDescending")
	ls := lambdaScope(c.sc)
	keys := make([][]any, len(o.items))
	for i, e := range o.items {
		k, err := ev.lambda(b.nodes[1], ls, e)
		if err != nil {
			return nil, err
		}
		keys[i] = append(slices.Clone(o.keys[i]), k)
	}
	o.keys = keys
	idx := make([]int, len(o.items))
	for i := range idx {
		idx[i] = i
	}
	var cmpErr error
	slices.SortStableFunc(idx, func(x, y int) int {
		for j, d := range o.desc {
			r, ok := compare(keys[x][j], keys[y][j])
			if !ok && cmpErr == nil {
				cmpErr = fmt.Errorf("expr: %s(): cannot compare %s with %s", c.name, article(keys[x][j]), article(keys[y][j]))
			}
			if d {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	if cmpErr != nil {
		// yaql's OrderingIterable sorts when it is read: the error waits
		// as a lambda's does ([1, 'a'].orderBy($) = 1 is false).
		return nil, &lambdaError{cmpErr}
	}
	// An empty result has room for one element too: its array names it
	// ([].orderBy($).thenBy($) is [], [].thenBy($) an error).
	out := make([]any, len(idx), max(len(idx), 1))
	for i, j := range idx {
		out[i] = o.items[j]
	}
	if ev.orders == nil {
		ev.orders = map[*any]*ordering{}
	}
	ev.orders[&out[:1][0]] = o
	return out, nil
}

// fnGroupBy is groupBy(keySelector, valueSelector, aggregator): pairs of
// [key, values] in the order keys first appear. Keys must be hashable.
// When the aggregator fails on the values list of the first group, yaql
// falls back to its 1.1.1 form, aggregator([key, values]), and keeps
// the first error if that fails too: [1, 2, 3].groupBy($ mod 2,
// aggregator => $[1].sum()) fails in Mistral with "No method sum".
func fnGroupBy(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "keySelector", "valueSelector", "aggregator")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(2*len(l), "groupBy()"); err != nil {
		return nil, err
	}
	type group struct {
		key  any
		vals []any
	}
	var groups []*group
	index := map[string]*group{}
	ls := lambdaScope(c.sc)
	for _, e := range l {
		k, err := ev.lambda(b.nodes[1], ls, e)
		if err != nil {
			return nil, err
		}
		v := e
		if b.has(2) && b.nodes[2] != nil {
			if v, err = ev.lambda(b.nodes[2], ls, e); err != nil {
				return nil, err
			}
		}
		hk, err := hashKey(k, "groupBy()")
		if err != nil {
			return nil, err
		}
		g := index[hk]
		if g == nil {
			g = &group{key: k}
			index[hk] = g
			groups = append(groups, g)
		}
		g.vals = append(g.vals, v)
	}
	out := make([]any, 0, len(groups))
	fallback := true
	var firstErr error
	for _, g := range groups {
		pair := []any{g.key, g.vals}
		if !b.has(3) {
			out = append(out, pair)
			continue
		}
		if firstErr == nil {
			r, err := ev.lambda(b.nodes[3], ls, g.vals)
			if err == nil {
				if rl, ok := r.([]any); !(len(g.vals) == 2 && ok && len(rl) == 2) {
					fallback = false
				} else if eq, _ := ev.equal(rl[0], g.vals[0]); !eq {
					fallback = false
				}
				out = append(out, []any{g.key, r})
				continue
			}
			if errors.Is(err, ErrLimit) {
				return nil, err
			}
			firstErr = err
		}
		if fallback {
			r, err := ev.lambda(b.nodes[3], ls, pair)
			if rl, ok := r.([]any); err == nil && ok && len(rl) == 2 {
				out = append(out, r)
				continue
			}
		}
		return nil, firstErr
	}
	return out, nil
}

// hashKey is the key under which a hashable value is looked up: lists and
// dicts from data are hashable in yaql (its input data is frozen), and
// are compared by value.
func hashKey(v any, fn string) (string, error) {
	return distinctKey(v)
}

func fnZip(ev *evaluator, c *callCtx) (any, error) {
	var fill any
	var lists [][]any
	for _, m := range c.named {
		id, ok := m.key.(*identNode)
		if !ok || id.name != "default" || c.name != "zipLongest" {
			return nil, fmt.Errorf("expr: %s(): takes lists only", c.name)
		}
		v, err := ev.value(m.value, c.sc)
		if err != nil {
			return nil, err
		}
		fill = v
	}
	for i := range c.nargs() {
		l, err := c.list(ev, i)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	n := len(lists[0])
	for _, l := range lists {
		if c.name == "zip" {
			n = min(n, len(l))
		} else {
			n = max(n, len(l))
		}
	}
	if err := ev.allocate(n*len(lists), c.name+"()"); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range n {
		row := make([]any, len(lists))
		for j, l := range lists {
			if i < len(l) {
				row[j] = l[i]
			} else {
				row[j] = fill
			}
		}
		out[i] = row
	}
	return out, nil
}

func fnEnumerate(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "collection", "start")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	start, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(2*len(l), "enumerate()"); err != nil {
		return nil, err
	}
	out := make([]any, len(l))
	for i, e := range l {
		out[i] = []any{start + int64(i), e}
	}
	return out, nil
}

func fnSingle(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	switch len(l) {
	case 0:
		return nil, errors.New("expr: single(): the list is empty")
	case 1:
		return l[0], nil
	}
	return nil, errors.New("expr: single(): collection contains more than one item")
}

func fnMemorize(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	return c.list(ev, 0)
}

func fnDefaultIfEmpty(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "collection", "default")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	d, err := b.seq(ev, 1)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return d, nil
	}
	return l, nil
}

// fnJoinQuery is collection1.join(collection2, predicate, selector): the
// selector of every pair ($1 from the first, $2 from the second) that the
// predicate holds for.
func fnJoinQuery(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(4, "collection1", "collection2", "predicate", "selector")
	if err != nil {
		return nil, err
	}
	l1, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	l2, err := b.seq(ev, 1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, x := range l1 {
		for _, y := range l2 {
			ok, err := ev.call2(b.nodes[2], c.sc, x, y)
			if err != nil {
				return nil, err
			}
			if !Truthy(ok) {
				continue
			}
			v, err := ev.call2(b.nodes[3], c.sc, x, y)
			if err != nil {
				return nil, err
			}
			if err := ev.allocate(1, "join()"); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// fnRepeat is value.repeat(times): times copies, endless when negative.
func fnRepeat(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "value", "times")
	if err != nil {
		return nil, err
	}
	v, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	n, err := b.integer(ev, 1, -1)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return &lazySeq{at: func(int) any { return v }}, nil
	}
	if err := ev.checkItems(int(min(n, int64(ev.lim.MaxItems)+1)), "repeat()"); err != nil {
		return nil, err
	}
	if err := ev.allocate(int(n), "repeat()"); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out, nil
}

func fnCycle(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return []any{}, nil
	}
	return &lazySeq{at: func(i int) any { return l[i%len(l)] }}, nil
}

func fnSequence(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(0, "start", "step")
	if err != nil {
		return nil, err
	}
	start, err := b.integer(ev, 0, 0)
	if err != nil {
		return nil, err
	}
	step, err := b.integer(ev, 1, 1)
	if err != nil {
		return nil, err
	}
	return &lazySeq{at: func(i int) any { return start + int64(i)*step }}, nil
}

// fnGenerate is generate(initial, predicate, producer, selector, decycle).
func fnGenerate(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(3, "initial", "predicate", "producer", "selector", "decycle")
	if err != nil {
		return nil, err
	}
	cur, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	decycle, err := b.boolean(ev, 4, false)
	if err != nil {
		return nil, err
	}
	ls := lambdaScope(c.sc)
	out := []any{}
	seen := map[string]bool{}
	for {
		ok, err := ev.lambda(b.nodes[1], ls, cur)
		if err != nil {
			return nil, err
		}
		if !Truthy(ok) {
			return out, nil
		}
		k, err := distinctKey(cur)
		if err != nil {
			return nil, err
		}
		if !decycle || !seen[k] {
			seen[k] = true
			v := cur
			if b.has(3) && b.nodes[3] != nil {
				if v, err = ev.lambda(b.nodes[3], ls, cur); err != nil {
					return nil, err
				}
			}
			if err := ev.allocate(1, "generate()"); err != nil {
				return nil, err
			}
			if err := ev.checkItems(len(out)+1, "generate()"); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if cur, err = ev.lambda(b.nodes[2], ls, cur); err != nil {
			return nil, err
		}
	}
}

// fnGenerateMany is generateMany(initial, producer, selector, decycle,
// depthFirst): a breadth-first (or depth-first) walk from initial, the
// producer giving each item's successors.
func fnGenerateMany(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "initial", "producer", "selector", "decycle", "depthFirst")
	if err != nil {
		return nil, err
	}
	init, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	decycle, err := b.boolean(ev, 3, false)
	if err != nil {
		return nil, err
	}
	depth, err := b.boolean(ev, 4, false)
	if err != nil {
		return nil, err
	}
	ls := lambdaScope(c.sc)
	queue := []any{init}
	out := []any{}
	seen := map[string]bool{}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		k, err := distinctKey(cur)
		if err != nil {
			return nil, err
		}
		if decycle && seen[k] {
			continue
		}
		seen[k] = true
		v := cur
		if b.has(2) && b.nodes[2] != nil {
			if v, err = ev.lambda(b.nodes[2], ls, cur); err != nil {
				return nil, err
			}
		}
		if err := ev.allocate(1, "generateMany()"); err != nil {
			return nil, err
		}
		if err := ev.checkItems(len(out)+1, "generateMany()"); err != nil {
			return nil, err
		}
		out = append(out, v)
		next, err := ev.lambda(b.nodes[1], ls, cur)
		if err != nil {
			return nil, err
		}
		nl, ok := iterable(next)
		if !ok {
			return nil, fmt.Errorf("expr: generateMany(): the producer gave %s, want a list", article(next))
		}
		if depth {
			queue = append(slices.Clone(nl), queue...)
		} else {
			queue = append(queue, nl...)
		}
	}
	return out, nil
}

// fnMergeWith is dict.mergeWith(another, listMerger, itemMerger,
// maxLevels): a deep merge; lists merge into distinct(l1 + l2) by default.
func fnMergeWith(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "dict", "another", "listMerger", "itemMerger", "maxLevels")
	if err != nil {
		return nil, err
	}
	d1, err := b.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	d2, err := b.dict(ev, 1)
	if err != nil {
		return nil, err
	}
	levels, err := b.integer(ev, 4, 0)
	if err != nil {
		return nil, err
	}
	listMerge := func(x, y []any) (any, error) {
		if b.has(2) && !isNullConst(b.nodes[2]) {
			return ev.call2(b.nodes[2], c.sc, x, y)
		}
		return ev.distinct(append(slices.Clone(x), y...), nil, c.sc)
	}
	itemMerge := func(x, y any) (any, error) {
		if b.has(3) && !isNullConst(b.nodes[3]) {
			return ev.call2(b.nodes[3], c.sc, x, y)
		}
		return y, nil
	}
	var merge func(a, b map[string]any, levels int64) (map[string]any, error)
	merge = func(a, bb map[string]any, levels int64) (map[string]any, error) {
		if err := ev.allocate(len(a)+len(bb), "mergeWith()"); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(a)+len(bb))
		for k, v1 := range a {
			out[k] = v1
			v2, ok := bb[k]
			if !ok {
				continue
			}
			m2, isMap2 := v2.(map[string]any)
			l2, isSeq2 := v2.([]any)
			switch {
			case levels != 1 && isMap2:
				m1, ok := v1.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("expr: mergeWith(): cannot merge %s with a dict", article(v1))
				}
				next := int64(0)
				if levels != 0 {
					next = levels - 1
				}
				r, err := merge(m1, m2, next)
				if err != nil {
					return nil, err
				}
				out[k] = r
			case levels != 1 && isSeq2:
				l1, ok := v1.([]any)
				if !ok {
					return nil, fmt.Errorf("expr: mergeWith(): cannot merge %s with a list", article(v1))
				}
				r, err := listMerge(l1, l2)
				if err != nil {
					return nil, err
				}
				out[k] = r
			default:
				r, err := itemMerge(v1, v2)
				if err != nil {
					return nil, err
				}
				out[k] = r
			}
		}
		for k, v2 := range bb {
			if _, ok := out[k]; !ok {
				out[k] = v2
			}
		}
		return out, nil
	}
	return merge(d1, d2, levels)
}

func isNullConst(n node) bool {
	c, ok := n.(*constNode)
	return ok && c.v == nil
}

// distinct keeps the first element of each class of equal elements (of
// equal selector values when sel is not nil).
func (ev *evaluator) distinct(l []any, sel node, sc *scope) ([]any, error) {
	if err := ev.allocate(len(l), "distinct()"); err != nil {
		return nil, err
	}
	out := []any{}
	seen := map[string]bool{} // by canonical JSON, for scalars and collections alike
	ls := lambdaScope(sc)
	for _, e := range l {
		if err := ev.step(); err != nil {
			return nil, err
		}
		k := e
		if sel != nil {
			var err error
			if k, err = ev.lambda(sel, ls, e); err != nil {
				return nil, err
			}
		}
		if err := ev.checkSize(k, "distinct()"); err != nil {
			return nil, err
		}
		key, err := distinctKey(k)
		if err != nil {
			return nil, err
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out, nil
}
