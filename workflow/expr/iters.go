package expr

// yaqlIter is what yaql's collection functions give inside an
// expression: a Python iterator (filter, map, islice, a generator, the
// keys of a dict, ...), not a list, which Mistral's output conversion
// lists only at the end. While the expression runs it is true even when
// empty, equal only to itself (so $.l.where($ > 1) = [2] is false, as in
// Mistral), and cannot be indexed (no #indexer: $.l.where(true)[0]
// fails); functions read its items as a list's. range() gives a Python
// range: indexable, and false when empty (rng). Its items are computed
// at once: an error of a predicate shows even where Mistral never reads
// the iterator.
//
// A yaqlIter is never held in a list or dict: list and dict literals, a
// function's arguments and a lambda's result take its items (iterItems),
// so only operators and the expression's result see one.
type yaqlIter struct {
	items []any
	rng   bool
	err   error // what reading the items raises (a map's missing key)
}

// iterResults are the functions (and methods) whose list result is a
// Python iterator in yaql 2.0 (checked with isList() on Mistral 15).
var iterResults = map[string]bool{
	"where": true, "filter": true, "select": true, "map": true, "skip": true, "take": true, "limit": true,
	"orderBy": true, "orderByDescending": true, "thenBy": true, "thenByDescending": true, "distinct": true,
	"reverse": true, "enumerate": true, "concat": true, "flatten": true, "selectMany": true, "append": true,
	"delete": true, "replace": true, "replaceMany": true, "slice": true, "takeWhile": true, "skipWhile": true,
	"groupBy": true, "zip": true, "zipLongest": true, "join": true, "keys": true, "values": true, "items": true,
	"repeat": true, "range": true,
}

// iterItems is v with a yaqlIter's items in its place, or the error
// reading them raises.
func iterItems(v any) (any, error) {
	if it, ok := v.(*yaqlIter); ok {
		if it.err != nil {
			return nil, it.err
		}
		return it.items, nil
	}
	return v, nil
}
