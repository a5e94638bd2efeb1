package expr

import (
	"fmt"
	"slices"
)

// setValue is a yaql set (set(), toSet(), union(), ...). Its elements are
// distinct by Python's == (1, 1.0 and true are one element) and kept in
// order: numbers, then strings, then the rest. A set leaves an evaluation
// as a list in that order (Mistral's evaluator hands back the Python set;
// the conformance harness lists it sorted).
type setValue struct {
	elems []any
	// view is the dict of yaql's items(): a Python ItemsView, a set of
	// (key, value) tuples in the dict's order. It works as a set inside an
	// expression but cannot leave one unless empty: yaql's output
	// conversion makes a set of it and turns the tuples into lists, which
	// Python cannot hash (Mistral: "unhashable type: 'list'", conformance
	// case dict_items).
	view map[string]any
}

// newSet builds a set. Lists and dicts are elements too: yaql hands a
// set its tuples and FrozenDicts, which Python hashes; such a set cannot
// leave an evaluation (see exportValue).
func (ev *evaluator) newSet(fn string, items []any) (*setValue, error) {
	ev.sets = true
	if err := ev.allocate(len(items), fn); err != nil {
		return nil, err
	}
	s := &setValue{elems: make([]any, 0, len(items))}
	seen := make(map[string]bool, len(items))
	for _, e := range items {
		if _, ok := e.(*setValue); ok {
			// yaql's sets are frozensets: a set of sets is a Python set.
			// Lists give it its canonical form.
			e = exportSetElems(e)
		}
		k, err := distinctKey(e)
		if err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			s.elems = append(s.elems, e)
		}
	}
	slices.SortStableFunc(s.elems, setOrder)
	return s, nil
}

func setOrder(a, b any) int {
	ra, rb := setRank(a), setRank(b)
	if ra != rb {
		return ra - rb
	}
	if ra == 1 { // false before true, as the harness lists Python's sets
		return int(boolInt(a.(bool)) - boolInt(b.(bool)))
	}
	if c, ok := compare(a, b); ok {
		return c
	}
	return 0
}

func setRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case string:
		return 3
	}
	return 4
}

func (s *setValue) has(v any, budget *int) bool {
	for _, e := range s.elems {
		if equalB(v, e, budget) {
			return true
		}
	}
	return false
}

func (s *setValue) subset(o *setValue, budget *int) bool {
	for _, e := range s.elems {
		if !o.has(e, budget) {
			return false
		}
	}
	return true
}

// exportValue replaces the sets inside v by lists, for a result.
func exportValue(v any) (any, error) {
	switch x := v.(type) {
	case *setValue:
		for _, e := range x.elems {
			switch e.(type) {
			case []any, map[string]any:
				// yaql's output conversion makes a Python set of the set,
				// with its tuples and FrozenDicts turned into lists and
				// dicts, which Python cannot hash.
				what := "a set of " + pyTypeName(e) + "s"
				if x.view != nil {
					what = "a dict's items() (a set of tuples)"
				}
				return nil, fmt.Errorf("expr: the result holds %s, which Mistral cannot return: unhashable type: '%s' (use .toList() or .select(...))", what, pyTypeName(e))
			}
		}
		return exportValue(x.elems)
	case []any:
		out := x
		for i, e := range x {
			n, err := exportValue(e)
			if err != nil {
				return nil, err
			}
			if !sameValue(n, e) {
				if &out[0] == &x[0] {
					out = slices.Clone(x)
				}
				out[i] = n
			}
		}
		return out, nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			n, err := exportValue(e)
			if err != nil {
				return nil, err
			}
			if !sameValue(n, e) {
				if out == nil {
					out = make(map[string]any, len(x))
					for k2, v2 := range x {
						out[k2] = v2
					}
				}
				out[k] = n
			}
		}
		if out != nil {
			return out, nil
		}
	}
	return v, nil
}

// sameValue reports whether exportValue left v as it was.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		return fmt.Sprintf("%p", x) == fmt.Sprintf("%p", y)
	case *setValue:
		return false
	}
	return true
}

// exportSetElems is a set's elements as a list (a set inside a set).
func exportSetElems(v any) any {
	if s, ok := v.(*setValue); ok {
		out := make([]any, len(s.elems))
		for i, e := range s.elems {
			out[i] = exportSetElems(e)
		}
		return out
	}
	return v
}
