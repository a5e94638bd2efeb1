package expr

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
)

// Jinja's filters and tests that gonja's versions answer where Jinja (with
// Mistral's StrictUndefined) fails or answers otherwise, found by running
// mutated conformance cases through both: a missing attribute or an
// unknown test or filter name is an error, not an empty answer; sum keeps
// Python's types; round gives an int for an int; even, odd and
// divisibleby do Python's % (a TypeError for a string).

// jinjaItem is Jinja's make_attrgetter applied to item: attr split at
// dots, each part that is all digits an index, each looked up as
// environment.getitem does (a key, then an attribute). A missing part is
// Jinja's undefined: errUndefined names it as StrictUndefined does.
func jinjaItem(item any, attr any) (any, error) {
	var parts []any
	switch a := attr.(type) {
	case string:
		for p := range strings.SplitSeq(a, ".") {
			if n, err := strconv.Atoi(p); err == nil && p != "" && strings.Trim(p, "0123456789") == "" {
				parts = append(parts, int64(n))
			} else {
				parts = append(parts, p)
			}
		}
	case nil:
		return item, nil
	default:
		parts = []any{attr}
	}
	v := item
	for _, p := range parts {
		next, ok := jinjaGetItem(v, p)
		if !ok {
			return nil, undefinedError(v, p)
		}
		v = next
	}
	return v, nil
}

// jinjaGetItem is obj[key] for the data model, as Jinja's getitem: a dict
// by string key, a list or string by integer index (negative from the end).
func jinjaGetItem(obj, key any) (any, bool) {
	switch x := obj.(type) {
	case map[string]any:
		k, ok := key.(string)
		if !ok {
			return nil, false
		}
		v, ok := x[k]
		return v, ok
	case []any:
		if i, ok := itemIndex(key, len(x)); ok {
			return x[i], true
		}
	case jinjaGroup:
		switch key {
		case "grouper":
			return x[0], true
		case "list":
			return x[1], true
		}
		return jinjaGetItem([]any(x), key)
	case string:
		r := []rune(x)
		if i, ok := itemIndex(key, len(r)); ok {
			return string(r[i]), true
		}
	}
	return nil, false
}

// itemIndex is key as an index into a sequence of n: an integer, negative
// from the end; ok is false for another key or one out of range.
func itemIndex(key any, n int) (int, bool) {
	i, ok := key.(int64)
	if !ok {
		return 0, false
	}
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// undefinedError is StrictUndefined's message for obj[key] or obj.key.
func undefinedError(obj, key any) error {
	if s, ok := key.(string); ok {
		return fmt.Errorf("'%s object' has no attribute '%s'", pyTypeName(obj), s)
	}
	return fmt.Errorf("%s object has no element %s", pyTypeName(obj), pyRepr(key, false))
}

// undefinedSafeTests are the tests that answer for an undefined value
// without touching it; any other fails on StrictUndefined.
var undefinedSafeTests = map[string]bool{
	"defined": true, "undefined": true, "none": true, "boolean": true, "false": true, "true": true,
	"string": true, "mapping": true, "number": true, "integer": true, "float": true, "callable": true, "sameas": true,
}

// undefinedSafe wraps test name (one of undefinedSafeTests) with Jinja's
// answers for an undefined operand: only "undefined" is true of it, and an
// error that is no undefined value (1 / 0 is defined) is raised, as
// Jinja raises it before the test runs. A defined value is defined even
// when it is None (gonja's took None for undefined).
func undefinedSafe(name string, f exec.TestFunction) exec.TestFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) (bool, error) {
		if isUndefined(in) {
			return name == "undefined", nil
		}
		if in.IsError() {
			return false, in.Interface().(error)
		}
		switch name {
		case "defined":
			return true, nil
		case "undefined":
			return false, nil
		}
		switch g := f.(type) {
		case func(*exec.Evaluator, *exec.Value, *exec.VarArgs) (bool, error):
			return g(e, in, params)
		case func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error):
			return g(e.Environment.Context, in, params)
		}
		return false, fmt.Errorf("test %s: unsupported function type %T", name, f)
	}
}

// undefinedLookup rewrites the operand of an undefined-safe test when it
// is a name, obj.attr or obj[key] into a call of jinjaLookupFn, which
// gives jinjaUndefined where that last step finds nothing; it is nil for
// any other operand, whose errors stay errors.
func undefinedLookup(x nodes.Expression) nodes.Expression {
	switch n := x.(type) {
	case *nodes.Name:
		if n.Name == nil {
			return nil
		}
		return jinjaCall(jinjaLookup, &nodes.String{Location: n.Name, Val: n.Name.Val})
	case *nodes.GetAttribute:
		obj, ok := n.Node.(nodes.Expression)
		if !ok {
			return nil
		}
		if n.Attribute != "" {
			return jinjaCall(jinjaLookup, obj, &nodes.String{Location: n.Location, Val: n.Attribute}, &nodes.Bool{Location: n.Location, Val: true})
		}
		return jinjaCall(jinjaLookup, obj, &nodes.Integer{Location: n.Location, Val: n.Index}, &nodes.Bool{Location: n.Location})
	case *nodes.Call:
		// obj.items, which rewriteExpr made a call of jinjaDictAtt.
		if f, ok := n.Func.(*nodes.Name); ok && f.Name != nil && f.Name.Val == jinjaDictAtt && len(n.Args) == 2 {
			return jinjaCall(jinjaLookup, n.Args[0], n.Args[1], &nodes.Bool{Location: f.Name, Val: true})
		}
	case *nodes.GetItem:
		obj, okObj := n.Node.(nodes.Expression)
		arg, okArg := n.Arg.(nodes.Expression)
		if !okObj || !okArg {
			return nil
		}
		if c, ok := arg.(*nodes.Call); ok && len(c.Args) == 2 {
			if f, ok := c.Func.(*nodes.Name); ok && f.Name != nil && f.Name.Val == jinjaIndex {
				arg = c.Args[1] // the index as written: the lookup counts from the end itself
			}
		}
		return jinjaCall(jinjaLookup, obj, arg, &nodes.Bool{Location: n.Location})
	}
	return nil
}

// pyMethods are the methods of Python's str, list and dict, which
// Jinja's sandbox lets a template read as attributes.
var pyMethods = map[string]map[string]bool{
	"str": setOf("capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
		"index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
		"isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix",
		"removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
		"startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"),
	"list": setOf("append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"),
	"dict": dictMethodNames,
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// pyMethodRepr stands for the bound method name of a t (Jinja's getattr
// finds methods before items): Python's repr less its address.
func pyMethodRepr(name, t string) string {
	return fmt.Sprintf("<built-in method %s of %s object>", name, t)
}

// pyMethodOf is the Python type name of obj when name is one of its
// methods, else "".
func pyMethodOf(obj *exec.Value, name string) string {
	t := ""
	switch {
	case obj.IsString():
		t = "str"
	case obj.IsDict():
		t = "dict"
	case obj.IsList():
		if _, gen := obj.Interface().(jinjaGen); gen {
			return ""
		}
		t = "list"
	}
	if pyMethods[t][name] {
		return t
	}
	return ""
}

// jinjaDictFn is a dict written in a template, {k1: v1, ...} as
// __ff_dict(k1, v1, ...): a Go map, keyed as Python hashes (a list key is
// a TypeError).
func jinjaDictFn(a *exec.VarArgs) *exec.Value {
	d := &exec.Dict{}
	for i := 0; i+1 < len(a.Args); i += 2 {
		d.Pairs = append(d.Pairs, &exec.Pair{Key: a.Args[i], Value: a.Args[i+1]})
	}
	v, err := fromJinjaAny(d, 0)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(v)
}

// jinjaLookupFn is a name, obj.attr (third argument true) or obj[key]
// whose absence is Jinja's undefined (jinjaUndefined) rather than an
// error, for undefinedSafe's tests: __ff_lookup('x'), __ff_lookup(obj,
// 'attr', true), __ff_lookup(obj, key, false). It looks up as gonja's
// evaluator does (an attribute before an item for obj.attr, the other way
// for obj[key]), and an index counts from the end as Python's.
func jinjaLookupFn(e *exec.Evaluator, a *exec.VarArgs) *exec.Value {
	if len(a.Args) == 1 {
		name := a.Args[0].String()
		if v, ok := e.Environment.Context.Get(name); ok {
			return exec.ToValue(v)
		}
		return exec.AsValue(jinjaUndefined(fmt.Sprintf("'%s' is undefined", name)))
	}
	if len(a.Args) != 3 {
		return exec.AsValue(errors.New("lookup: want an object, a key and whether it is an attribute"))
	}
	obj, key := a.Args[0], a.Args[1]
	var v *exec.Value
	found := false
	switch {
	case key.IsString():
		s := key.String()
		if a.Args[2].IsTrue() {
			if t := pyMethodOf(obj, s); t != "" {
				return exec.AsValue(pyMethodRepr(s, t))
			}
			if v, found = obj.GetAttribute(s); !found {
				v, found = obj.GetItem(s)
			}
		} else if v, found = obj.GetItem(s); !found {
			v, found = obj.GetAttribute(s)
		}
	case key.IsInteger() || key.IsBool():
		i := key.Integer()
		if key.IsBool() {
			i = int(boolInt(key.Bool()))
		}
		if i < 0 && (obj.IsList() || obj.IsString()) {
			i += obj.Len()
		}
		if i >= 0 {
			v, found = obj.GetItem(i)
		}
	}
	// Any other key (None, a float, a list) is undefined too: Jinja's
	// getitem takes the TypeError or KeyError it raises for undefined.
	if found {
		return v
	}
	// Not found is undefined, whatever gonja says of it (0[5] is
	// defined is false: Jinja's getitem takes the TypeError for it).
	x, err := fromJinja(obj)
	if err != nil {
		return exec.AsValue(err)
	}
	k, err := fromJinja(key)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(jinjaUndefined(undefinedError(x, k).Error()))
}

// jinjaSelect is Jinja's select, reject, selectattr and rejectattr.
func jinjaSelect(byAttr, keep bool) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		if _, gen := in.Interface().(jinjaGen); gen {
			// A generator is true, even an empty one: its arguments are
			// read (x | select | rejectattr fails for want of a name).
		} else if in.IsList() || in.IsDict() || in.IsString() {
			if in.Len() == 0 {
				return exec.AsValue([]any{})
			}
		} else if !jinjaTruthy(in) {
			// select_or_reject reads its arguments only "if value":
			// none | reject('nope') is an empty generator.
			return exec.AsValue([]any{})
		}
		args := a.Args
		var attr any
		var err error
		if byAttr {
			if len(args) == 0 {
				return exec.AsValue(errors.New("missing parameter for attribute name"))
			}
			if attr, err = fromJinja(args[0]); err != nil {
				return exec.AsValue(err)
			}
			args = args[1:]
		}
		test := ""
		if len(args) > 0 {
			name, err := fromJinja(args[0])
			if err != nil {
				return exec.AsValue(err)
			}
			s, ok := name.(string)
			if !ok || !e.Environment.Tests.Exists(s) {
				return exec.AsValue(fmt.Errorf("no test named %s (Jinja: No test named ...)", pyRepr(name, false)))
			}
			test, args = s, args[1:]
		}
		items, err := jinjaValues(in)
		if err != nil {
			return exec.AsValue(err)
		}
		params := &exec.VarArgs{Args: args, KwArgs: a.KwArgs}
		out := make([]any, 0, len(items))
		for _, item := range items {
			v := item
			var missing error
			if byAttr {
				if v, missing = jinjaValueItem(item, attr); missing != nil && !undefinedSafeTests[test] {
					return exec.AsValue(missing)
				}
			}
			var ok bool
			switch {
			case missing != nil:
				ok = test == "undefined"
			case test == "":
				ok = jinjaTruthy(v)
			default:
				r := e.ExecuteTestByName(test, v, params)
				if r.IsError() {
					return r
				}
				ok = r.IsTrue()
			}
			if ok == keep {
				out = append(out, item.Interface())
			}
		}
		return exec.AsValue(out)
	}
}

// jinjaValues is jinjaIterable on a gonja value: a list's items as they
// are (no conversion of what may be large), else through the data model.
func jinjaValues(in *exec.Value) ([]*exec.Value, error) {
	if in.IsList() {
		out := make([]*exec.Value, 0, in.Len())
		in.Iterate(func(_, _ int, key, _ *exec.Value) bool {
			out = append(out, key)
			return true
		}, func() {})
		return out, nil
	}
	v, err := fromJinja(in)
	if err != nil {
		return nil, err
	}
	items, err := jinjaIterable(v)
	if err != nil {
		return nil, err
	}
	out := make([]*exec.Value, len(items))
	for i, x := range items {
		out[i] = exec.AsValue(x)
	}
	return out, nil
}

// jinjaValueItem is jinjaItem on a gonja value: a dict's keys and a
// list's indexes looked up in place, anything else through the data model.
func jinjaValueItem(item *exec.Value, attr any) (*exec.Value, error) {
	path, ok := attr.(string)
	if !ok {
		x, err := fromJinja(item)
		if err != nil {
			return nil, err
		}
		v, err := jinjaItem(x, attr)
		if err != nil {
			return nil, err
		}
		return exec.AsValue(v), nil
	}
	v := item
	for part := range strings.SplitSeq(path, ".") {
		var key any = part
		if n, err := strconv.Atoi(part); err == nil && part != "" && strings.Trim(part, "0123456789") == "" {
			key = n
		}
		var next *exec.Value
		found := false
		switch {
		case v.IsDict():
			if k, isStr := key.(string); isStr {
				next, found = v.GetItem(k)
			}
		case v.IsList():
			if i, isInt := key.(int); isInt {
				next, found = v.GetItem(i)
			}
		}
		if !found {
			x, err := fromJinja(v)
			if err != nil {
				return nil, err
			}
			if k, isInt := key.(int); isInt {
				return nil, undefinedError(x, int64(k))
			}
			return nil, undefinedError(x, key)
		}
		v = next
	}
	return v, nil
}

// jinjaIterable is what a Jinja for loop walks in v: a list's items, a
// dict's keys, a string's characters.
func jinjaIterable(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case map[string]any:
		keys := sortedKeys(x)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case string:
		out := []any{}
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	}
	return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(v))
}

// jinjaSum is Jinja's sum(iterable, attribute=None, start=0): Python's +
// from start, so 1.5 + 1.5 is 3.0 (gonja's gave 3) and a string is a
// TypeError (gonja's skipped it).
func jinjaSum(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	seq, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	args, err := jinjaBind("sum", a, []string{"attribute", "start"}, nil, int64(0))
	if err != nil {
		return exec.AsValue(err)
	}
	attr, total := args[0], args[1]
	items, err := jinjaIterable(seq)
	if err != nil {
		return exec.AsValue(err)
	}
	for _, item := range items {
		v, err := jinjaItem(item, attr)
		if err != nil {
			return exec.AsValue(err)
		}
		if total, err = pyAdd(total, v); err != nil {
			return exec.AsValue(err)
		}
	}
	return exec.AsValue(total)
}

// jinjaRound is Jinja's do_round(value, precision=0, method='common'):
// common is Python's round(value, precision), an int for an int (and for
// precision None), half to even; ceil and floor scale by 10**precision
// and give a float.
func jinjaRound(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "round", []string{"precision", "method"}, int64(0), "common")
	if err != nil {
		return exec.AsValue(err)
	}
	precision, method := args[0], args[1]
	switch method {
	case "common":
		r, err := pyRoundAny(v, precision)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(r)
	case "ceil", "floor":
		scale, err := pyPow(int64(10), precision)
		if err != nil {
			return exec.AsValue(err)
		}
		scaled, err := pyMul(v, scale)
		if err != nil {
			return exec.AsValue(err)
		}
		f, ok := scaled.(float64)
		if n, isInt := scaled.(int64); isInt {
			f, ok = float64(n), true
		}
		if !ok {
			return exec.AsValue(fmt.Errorf("must be real number, not %s", pyTypeName(scaled)))
		}
		if method == "ceil" {
			f = math.Ceil(f)
		} else {
			f = math.Floor(f)
		}
		r, err := pyDiv(f, scale)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(r)
	}
	return exec.AsValue(errors.New("method must be common, ceil or floor"))
}

// pyRoundAny is Python's round(v, ndigits) on the data model: an int for
// an int, or for a float when ndigits is None.
func pyRoundAny(v, ndigits any) (any, error) {
	var nd int64
	switch n := ndigits.(type) {
	case nil:
	case bool:
		nd = boolInt(n)
	case int64:
		nd = n
	default:
		return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(ndigits))
	}
	switch x := v.(type) {
	case bool:
		return roundInt(boolInt(x), nd), nil
	case int64:
		return roundInt(x, nd), nil
	case float64:
		if ndigits != nil {
			return pyRound(x, nd), nil
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot convert float %s to integer", pyFloat(x))
		}
		r := math.RoundToEven(x)
		if math.Abs(r) >= 1<<63 {
			return nil, errOverflow
		}
		return int64(r), nil
	}
	return nil, fmt.Errorf("type %s doesn't define __round__ method", pyTypeName(v))
}

// jinjaParity is Jinja's even and odd tests: value % 2 with Python's %,
// so a string is a TypeError and true is odd.
func jinjaParity(odd bool) func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error) {
	return func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		v, err := fromJinja(in)
		if err != nil {
			return false, err
		}
		r, err := pyMod(v, int64(2))
		if err != nil {
			return false, err
		}
		if odd {
			return pyEquals(r, int64(1)), nil // 1.5 is neither odd nor even
		}
		return pyEquals(r, int64(0)), nil
	}
}

// jinjaDivisibleBy is Jinja's divisibleby test: value % num == 0.
var jinjaDivisibleBy = jinjaBinaryTest(func(l, r any) (any, error) {
	m, err := pyMod(l, r)
	if err != nil {
		return nil, err
	}
	return pyEquals(m, int64(0)), nil
})

// pyEqOp and pyNeOp are Python's == and != on the data model: 1 == 1.0 ==
// true, lists and dicts element by element (gonja's compared
// {'a': true} and {'a': 1} unequal).
func pyEqOp(l, r any) (any, error) { return pyEquals(l, r), nil }
func pyNeOp(l, r any) (any, error) { return !pyEquals(l, r), nil }

// jinjaBinaryTest is a Jinja test of one argument as op's truth: the
// comparison tests (eq, ne, gt, ge, lt, le and their aliases) with
// Python's operators, so 3 > true holds and 1 > 'a' is a TypeError
// (gonja's failed on a boolean and answered false for mixed types).
func jinjaBinaryTest(op func(l, r any) (any, error)) func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error) {
	return func(_ *exec.Context, in *exec.Value, a *exec.VarArgs) (bool, error) {
		if len(a.Args) != 1 {
			return false, errors.New("the test takes one argument")
		}
		l, err := fromJinja(in)
		if err != nil {
			return false, err
		}
		r, err := fromJinja(a.Args[0])
		if err != nil {
			return false, err
		}
		v, err := op(l, r)
		if err != nil {
			return false, err
		}
		return Truthy(v), nil
	}
}

// jinjaTests are the tests that replace gonja's.
var jinjaTests = func() map[string]exec.TestFunction {
	m := map[string]exec.TestFunction{"even": jinjaParity(false), "odd": jinjaParity(true), "divisibleby": jinjaDivisibleBy,
		"upper": jinjaCaseTest(unicode.IsUpper), "lower": jinjaCaseTest(unicode.IsLower)}
	for op, names := range map[string][]string{
		"==": {"==", "eq", "equalto"}, "!=": {"!=", "ne"}, ">": {">", "gt", "greaterthan"},
		">=": {">=", "ge"}, "<": {"<", "lt", "lessthan"}, "<=": {"<=", "le"},
	} {
		for _, n := range names {
			m[n] = jinjaBinaryTest(jinjaOps[op])
		}
	}
	return m
}()

// jinjaAbs is Python's abs(): a bool is an int, anything but a number a
// TypeError (gonja's gave 0.0).
func jinjaAbs(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	switch x := v.(type) {
	case bool:
		return exec.AsValue(boolInt(x))
	case int64:
		if x == math.MinInt64 {
			return exec.AsValue(errOverflow)
		}
		if x < 0 {
			x = -x
		}
		return exec.AsValue(x)
	case float64:
		return exec.AsValue(math.Abs(x))
	}
	return exec.AsValue(fmt.Errorf("bad operand type for abs(): '%s'", pyTypeName(v)))
}

// jinjaSort is Jinja's do_sort(value, reverse=False,
// case_sensitive=False, attribute=None): Python's stable sorted() on the
// attribute(s) (a comma-separated list of them makes a list key), strings
// compared lower-cased unless case_sensitive; values Python cannot order
// (1 and 'a') are a TypeError (gonja's ordered them anyway).
func jinjaSort(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "sort", []string{"reverse", "case_sensitive", "attribute"}, false, false, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	opts := map[string]any{"reverse": args[0], "case_sensitive": args[1], "attribute": args[2]}
	items, err := jinjaIterable(v)
	if err != nil {
		return exec.AsValue(err)
	}
	var attrs []any
	if s, ok := opts["attribute"].(string); ok {
		for part := range strings.SplitSeq(s, ",") {
			attrs = append(attrs, part)
		}
	} else if opts["attribute"] != nil {
		attrs = []any{opts["attribute"]}
	}
	fold := !Truthy(opts["case_sensitive"])
	// The key is a list, as make_multi_attrgetter's: Python compares
	// lists element by element with == first, so equal dicts sort
	// ([{}, {}] | sort) where {} < {} alone is a TypeError.
	keyOf := func(item any) (any, error) {
		if len(attrs) == 0 {
			return []any{caseKey(item, fold)}, nil
		}
		var keys []any
		for _, at := range attrs {
			k, err := jinjaItem(item, at)
			if err != nil {
				return nil, err
			}
			keys = append(keys, caseKey(k, fold))
		}
		return keys, nil
	}
	type keyed struct{ item, key any }
	ks := make([]keyed, len(items))
	raw := rawItems(in)
	for i, item := range items {
		src := item
		if i < len(raw) {
			if g, ok := raw[i].(jinjaGroup); ok {
				src = g // groupby's tuples have grouper and list
			}
		}
		k, err := keyOf(src)
		if err != nil {
			return exec.AsValue(err)
		}
		ks[i] = keyed{item, k}
	}
	reverse, err := pyIntArg(opts["reverse"]) // sorted()'s reverse is an int
	if err != nil {
		return exec.AsValue(err)
	}
	if err := pySortStable(ks, func(k keyed) any { return k.key }, reverse != 0); err != nil {
		return exec.AsValue(err)
	}
	out := make([]any, len(ks))
	for i, k := range ks {
		out[i] = k.item
	}
	return exec.AsValue(out)
}

// caseKey is Jinja's ignore_case: a string lower-cased when fold.
func caseKey(v any, fold bool) any {
	if s, ok := v.(string); ok && fold {
		return strings.ToLower(s)
	}
	return v
}

// jinjaIndexFn is what a computed or negative index becomes before
// gonja's item lookup: for a list or string, a negative integer counted
// from the end (an error past -len, Python's IndexError) and a bool as 0
// or 1; anything else as it is.
func jinjaIndexFn(a *exec.VarArgs) *exec.Value {
	if len(a.Args) != 2 {
		return exec.AsValue(errors.New("index: want an object and an index"))
	}
	obj, key := a.Args[0], a.Args[1]
	if !obj.IsList() && !obj.IsString() {
		return key
	}
	var i int
	switch {
	case key.IsBool():
		if key.Bool() {
			i = 1
		}
	case key.IsInteger():
		i = key.Integer()
	default:
		return key
	}
	if i < 0 {
		n := obj.Len()
		if i+n < 0 {
			what := "list"
			if obj.IsString() {
				what = "string"
			}
			return exec.AsValue(fmt.Errorf("%s index out of range", what))
		}
		i += n
	}
	return exec.AsValue(i)
}

// jinjaSliceFn is what obj[start:stop:step] becomes: Python's slice of
// a list or string, each bound an integer, a bool or None.
func jinjaSliceFn(a *exec.VarArgs) *exec.Value {
	if len(a.Args) != 4 {
		return exec.AsValue(errors.New("slice: want an object and three bounds"))
	}
	var vals [4]any
	for i, x := range a.Args {
		v, err := fromJinja(x)
		if err != nil {
			return exec.AsValue(err)
		}
		vals[i] = v
	}
	var n int
	switch x := vals[0].(type) {
	case []any:
		n = len(x)
	case string:
		n = utf8.RuneCountInString(x)
	case map[string]any:
		return exec.AsValue(errors.New("unhashable type: 'slice'"))
	default:
		return exec.AsValue(fmt.Errorf("'%s' object is not subscriptable", pyTypeName(vals[0])))
	}
	idx, err := pySliceIndices(n, vals[1], vals[2], vals[3])
	if err != nil {
		return exec.AsValue(err)
	}
	switch x := vals[0].(type) {
	case []any:
		out := make([]any, len(idx))
		for i, j := range idx {
			out[i] = x[j]
		}
		return exec.AsValue(out)
	default:
		r := []rune(x.(string))
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = r[j]
		}
		return exec.AsValue(string(out))
	}
}

// pySliceIndices are the indexes that seq[start:stop:step] takes of a
// sequence of n (Python's slice.indices and range).
func pySliceIndices(n int, start, stop, step any) ([]int, error) {
	bound := func(v any) (int, bool, error) {
		if v == nil {
			return 0, false, nil
		}
		i, err := pyIntArg(v)
		if err != nil {
			return 0, false, errors.New("slice indices must be integers or None or have an __index__ method")
		}
		return int(max(min(i, math.MaxInt32), math.MinInt32)), true, nil
	}
	st, ok, err := bound(step)
	if err != nil {
		return nil, err
	}
	if !ok {
		st = 1
	}
	if st == 0 {
		return nil, errors.New("slice step cannot be zero")
	}
	lower, upper := 0, n
	if st < 0 {
		lower, upper = -1, n-1
	}
	clamp := func(v any, def int) (int, error) {
		i, ok, err := bound(v)
		if err != nil || !ok {
			return def, err
		}
		if i < 0 {
			i += n
		}
		return max(lower, min(i, upper)), nil
	}
	first, last := lower, upper // the defaults: the whole sequence
	if st < 0 {
		first, last = upper, lower
	}
	lo, err := clamp(start, first)
	if err != nil {
		return nil, err
	}
	hi, err := clamp(stop, last)
	if err != nil {
		return nil, err
	}
	var out []int
	for i := lo; (st > 0 && i < hi) || (st < 0 && i > hi); i += st {
		out = append(out, i)
	}
	return out, nil
}

// jinjaTrim is Jinja's do_trim(value, chars=None): str(value).strip(chars)
// (gonja's refused a value that is not a string).
func jinjaTrim(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "trim", []string{"chars"}, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	chars := args[0]
	s := pyStr(v)
	switch c := chars.(type) {
	case nil:
		return exec.AsValue(strings.TrimFunc(s, pyIsSpace))
	case string:
		return exec.AsValue(strings.Trim(s, c))
	}
	return exec.AsValue(errors.New("strip arg must be None or str"))
}

// jinjaCaseTest is Jinja's upper and lower tests: Python's isupper() and
// islower() of str(value), true when it has a cased character and all of
// them are of that case (” is neither; gonja's found ” upper).
func jinjaCaseTest(is func(rune) bool) func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error) {
	return func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		v, err := fromJinja(in)
		if err != nil {
			return false, err
		}
		cased := false
		for _, r := range pyStr(v) {
			if unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) {
				if !is(r) {
					return false, nil
				}
				cased = true
			}
		}
		return cased, nil
	}
}

// jinjaBind binds a filter's arguments (after the filtered value) to the
// parameters names as Python does: by position, then by keyword, with
// defaults for the rest; too many, unknown or doubled ones are Python's
// TypeError.
func jinjaBind(fn string, a *exec.VarArgs, names []string, defaults ...any) ([]any, error) {
	out := slices.Clone(defaults)
	for i, arg := range a.Args {
		if i >= len(names) {
			return nil, fmt.Errorf("%s() takes at most %d arguments (%d given)", fn, len(names)+1, len(a.Args)+1)
		}
		v, err := fromJinja(arg)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	for k, arg := range a.KwArgs {
		i := slices.Index(names, k)
		switch {
		case i < 0:
			return nil, fmt.Errorf("%s() got an unexpected keyword argument '%s'", fn, k)
		case i < len(a.Args):
			return nil, fmt.Errorf("%s() got multiple values for argument '%s'", fn, k)
		}
		v, err := fromJinja(arg)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// jinjaFilterItems is jinjaFilterArgs for a filter that iterates its
// input: the input's items (see jinjaIterable) and the arguments.
func jinjaFilterItems(in *exec.Value, a *exec.VarArgs, fn string, names []string, defaults ...any) ([]any, []any, error) {
	v, args, err := jinjaFilterArgs(in, a, fn, names, defaults...)
	if err != nil {
		return nil, nil, err
	}
	items, err := jinjaIterable(v)
	return items, args, err
}

// jinjaFilterArgs is a filter's input and its arguments bound as
// jinjaBind binds them.
func jinjaFilterArgs(in *exec.Value, a *exec.VarArgs, fn string, names []string, defaults ...any) (any, []any, error) {
	v, err := fromJinja(in)
	if err != nil {
		return nil, nil, err
	}
	args, err := jinjaBind(fn, a, names, defaults...)
	return v, args, err
}

// jinjaSignatures are the parameters of Jinja's built-in filters after
// the filtered value (Jinja 3.1; "*" takes any arguments), with the
// number of them that have no default. gonja's filters ignore arguments
// they do not know; jinjaChecked refuses them as Python does.
var jinjaSignatures = map[string]struct {
	params   []string
	required int
}{
	"abs": {}, "attr": {[]string{"name"}, 1}, "batch": {[]string{"linecount", "fill_with"}, 1},
	"capitalize": {}, "center": {[]string{"width"}, 0}, "count": {},
	"d": {[]string{"default_value", "boolean"}, 0}, "default": {[]string{"default_value", "boolean"}, 0},
	"dictsort": {[]string{"case_sensitive", "by", "reverse"}, 0}, "e": {}, "escape": {},
	"filesizeformat": {[]string{"binary"}, 0}, "first": {}, "float": {[]string{"default"}, 0},
	"forceescape": {}, "groupby": {[]string{"attribute", "default", "case_sensitive"}, 1},
	"indent": {[]string{"width", "first", "blank"}, 0}, "int": {[]string{"default", "base"}, 0},
	"items": {}, "join": {[]string{"d", "attribute"}, 0}, "last": {}, "length": {}, "list": {},
	"lower": {}, "max": {[]string{"case_sensitive", "attribute"}, 0}, "min": {[]string{"case_sensitive", "attribute"}, 0},
	"pprint": {}, "replace": {[]string{"old", "new", "count"}, 2}, "reverse": {},
	"slice": {[]string{"slices", "fill_with"}, 1}, "string": {}, "striptags": {}, "title": {},
	"tojson": {[]string{"indent"}, 0}, "truncate": {[]string{"length", "killwords", "end", "leeway"}, 0},
	"unique": {[]string{"case_sensitive", "attribute"}, 0}, "upper": {}, "urlencode": {},
	"wordcount": {}, "wordwrap": {[]string{"width", "break_long_words", "wrapstring", "break_on_hyphens"}, 0},
	"xmlattr": {[]string{"autospace"}, 0},
}

// jinjaChecked wraps filter name with Python's argument checks: too many
// positional arguments, an unknown or doubled keyword, a missing required
// one are TypeErrors ({{ l | reverse(2) }} fails in Mistral; gonja's
// reversed).
func jinjaChecked(name string, f exec.FilterFunction) exec.FilterFunction {
	sig, ok := jinjaSignatures[name]
	if !ok {
		return f
	}
	return func(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		if len(a.Args) > len(sig.params) {
			return exec.AsValue(fmt.Errorf("%s() takes %d positional arguments but %d were given", name, len(sig.params)+1, len(a.Args)+1))
		}
		given := len(a.Args)
		for k := range a.KwArgs {
			i := slices.Index(sig.params, k)
			switch {
			case i < 0:
				return exec.AsValue(fmt.Errorf("%s() got an unexpected keyword argument '%s'", name, k))
			case i < len(a.Args):
				return exec.AsValue(fmt.Errorf("%s() got multiple values for argument '%s'", name, k))
			case i < sig.required:
				given++
			}
		}
		if given < sig.required {
			return exec.AsValue(fmt.Errorf("%s() missing required argument '%s'", name, sig.params[given]))
		}
		return f(e, in, a)
	}
}

// jinjaCenter is Jinja's do_center(value, width=80): Python's
// str(value).center(width), which puts the odd space on the left when
// the width is odd (gonja's required the width and padded otherwise).
func jinjaCenter(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "center", []string{"width"}, int64(80))
	if err != nil {
		return exec.AsValue(err)
	}
	width, ok := args[0].(int64)
	if b, isBool := args[0].(bool); isBool {
		width, ok = boolInt(b), true
	}
	if !ok {
		return exec.AsValue(fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(args[0])))
	}
	s := pyStr(v)
	n := int64(utf8.RuneCountInString(s))
	if width <= n {
		return exec.AsValue(s)
	}
	if width > int64(DefaultLimits().MaxBytes) {
		return exec.AsValue(fmt.Errorf("expr: center(): width %d: %w", width, ErrLimit))
	}
	marg := width - n
	left := marg/2 + (marg & width & 1)
	return exec.AsValue(strings.Repeat(" ", int(left)) + s + strings.Repeat(" ", int(marg-left)))
}

// jinjaLength is Jinja's length and count: Python's len(), a TypeError for
// a value that has none (gonja's gave 0 for a number or None).
func jinjaLength(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if err := notGenerator(in, "object of type 'generator' has no len()"); err != nil {
		return exec.AsValue(err)
	}
	switch {
	case in.IsError():
		return in
	case in.IsString():
		return exec.AsValue(utf8.RuneCountInString(in.String()))
	case in.IsList(), in.IsDict():
		return exec.AsValue(in.Len()) // no conversion of what may be large
	}
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	switch x := v.(type) {
	case string:
		return exec.AsValue(utf8.RuneCountInString(x))
	case []any:
		return exec.AsValue(len(x))
	case map[string]any:
		return exec.AsValue(len(x))
	}
	return exec.AsValue(fmt.Errorf("object of type '%s' has no len()", pyTypeName(v)))
}

// jinjaLast is Jinja's last: the last item of a sequence (a dict's last
// key, a string's last character); a TypeError for what is not iterable
// and Jinja's undefined for an empty one (gonja's gave "").
func jinjaLast(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if err := notGenerator(in, "'generator' object is not reversible"); err != nil {
		return exec.AsValue(err)
	}
	if in.IsList() && in.Len() > 0 {
		if v, ok := in.GetItem(in.Len() - 1); ok {
			return v // in place: no conversion of the whole list
		}
	}
	items, err := jinjaValues(in)
	if err != nil {
		return exec.AsValue(err)
	}
	if len(items) == 0 {
		return exec.AsValue(jinjaUndefined("no last item, sequence was empty"))
	}
	return items[len(items)-1]
}

// jinjaList is Jinja's list: Python's list(value), a list's items, a
// dict's keys, a string's characters; a TypeError for anything else
// (gonja's gave [] for None).
func jinjaList(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	items, err := jinjaValues(in)
	if err != nil {
		return exec.AsValue(err)
	}
	out := make([]any, len(items))
	for i, v := range items {
		out[i] = v.Interface()
	}
	return exec.AsValue(out)
}

// jinjaEscape is Jinja's escape and e: markupsafe's escape of str(value)
// (& < > ' " as entities), so none is "None" (gonja's gave "").
func jinjaEscape(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsString() {
		return exec.AsValue(markupEscape.Replace(in.String()))
	}
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(markupEscape.Replace(pyStr(v)))
}

var markupEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&#34;")

// jinjaDictsort is Jinja's do_dictsort(value, case_sensitive=False,
// by='key', reverse=False): the (key, value) pairs sorted by key or by
// value, strings lower-cased unless case_sensitive; what is not a dict is
// Python's AttributeError (gonja's gave [] for any dict of the data).
func jinjaDictsort(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return exec.AsValue(fmt.Errorf("'%s' object has no attribute 'items'", pyTypeName(v)))
	}
	args, err := jinjaBind("dictsort", a, []string{"case_sensitive", "by", "reverse"}, false, "key", false)
	if err != nil {
		return exec.AsValue(err)
	}
	pos := 0
	switch args[1] {
	case "key":
	case "value":
		pos = 1
	default:
		return exec.AsValue(errors.New("you can only sort by either 'key' or 'value'"))
	}
	fold := !Truthy(args[0])
	rev, err := pyIntArg(args[2]) // sorted()'s reverse is an int
	if err != nil {
		return exec.AsValue(err)
	}
	reverse := rev != 0
	pairs := make([][2]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		pairs = append(pairs, [2]any{k, m[k]})
	}
	if err := pySortStable(pairs, func(p [2]any) any { return caseKey(p[pos], fold) }, reverse); err != nil {
		return exec.AsValue(err)
	}
	out := make([]any, len(pairs))
	for i, p := range pairs {
		out[i] = []any{p[0], p[1]}
	}
	return exec.AsValue(out)
}

// pySortStable is Python's sorted(s, key=key, reverse=reverse) in place:
// stable both ways, and the first comparison Python cannot make (1 < 'a')
// is the error.
func pySortStable[T any](s []T, key func(T) any, reverse bool) error {
	var cmpErr error
	slices.SortStableFunc(s, func(x, y T) int {
		c, err := pyCmp(key(x), key(y), "<", 0)
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		if reverse {
			return -c
		}
		return c
	})
	return cmpErr
}

// jinjaBatch is Jinja's do_batch(value, linecount, fill_with=None): lists
// of linecount items, the last one filled up with fill_with when given. A
// linecount that no length equals (0.0 is 0, "2" never) makes the first
// batch empty or takes every item, as in Python.
func jinjaBatch(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	items, args, err := jinjaFilterItems(in, a, "batch", []string{"linecount", "fill_with"}, nil, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	count := args[0]
	out := []any{}
	tmp := []any{}
	for _, item := range items {
		if pyEquals(int64(len(tmp)), count) {
			out = append(out, tmp)
			tmp = []any{}
		}
		tmp = append(tmp, item)
	}
	if len(tmp) > 0 {
		if fill := args[1]; fill != nil {
			n, ok := pyReal(count)
			if !ok {
				return exec.AsValue(fmt.Errorf("'<' not supported between instances of 'int' and '%s'", pyTypeName(count)))
			}
			if float64(len(tmp)) < n {
				k, err := pyIntArg(count)
				if err != nil {
					return exec.AsValue(fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(count)))
				}
				if k > int64(DefaultLimits().MaxItems) {
					return exec.AsValue(fmt.Errorf("expr: batch(): more than %d items: %w", DefaultLimits().MaxItems, ErrLimit))
				}
				for int64(len(tmp)) < k {
					tmp = append(tmp, fill)
				}
			}
		}
		out = append(out, tmp)
	}
	return exec.AsValue(out)
}

// jinjaSliceFilter is Jinja's do_slice(value, slices, fill_with=None):
// the items cut into that many lists, the first ones one longer, the
// others filled up with fill_with when given; none for slices < 0.
func jinjaSliceFilter(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	seq, args, err := jinjaFilterItems(in, a, "slice", []string{"slices", "fill_with"}, nil, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	parts, err := pyIntArg(args[0])
	if err != nil {
		return exec.AsValue(err)
	}
	if parts == 0 {
		return exec.AsValue(errors.New("integer division or modulo by zero"))
	}
	if parts > int64(DefaultLimits().MaxItems) {
		return exec.AsValue(fmt.Errorf("expr: slice(): more than %d slices: %w", DefaultLimits().MaxItems, ErrLimit))
	}
	out := []any{}
	if parts < 0 {
		return exec.AsValue(out) // range(slices) is empty
	}
	n := int64(len(seq))
	per, extra := n/parts, n%parts
	offset := int64(0)
	for i := range parts {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		tmp := slices.Clone(seq[start:end])
		if args[1] != nil && i >= extra {
			tmp = append(tmp, args[1])
		}
		out = append(out, tmp)
	}
	return exec.AsValue(out)
}

// jinjaGroup is one group of Jinja's groupby: a (grouper, list) tuple
// whose grouper and list are attributes too.
type jinjaGroup []any

// GetAttribute gives grouper and list to gonja's attribute lookup.
func (g jinjaGroup) GetAttribute(name string) (*exec.Value, bool) {
	switch name {
	case "grouper":
		return exec.AsValue(g[0]), true
	case "list":
		return exec.AsValue(g[1]), true
	}
	return exec.AsValue(nil), false
}

// jinjaGroupBy is Jinja's do_groupby(value, attribute, default=None,
// case_sensitive=False): the items sorted by their attribute (default
// where it is missing) and grouped where it is equal, as (grouper, list)
// tuples; without case_sensitive strings group case-insensitively and the
// grouper is the first item's own. A missing attribute without a default
// is undefined, which Mistral refuses.
func jinjaGroupBy(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "groupby", []string{"attribute", "default", "case_sensitive"}, errMissing, nil, false)
	if err != nil {
		return exec.AsValue(err)
	}
	if args[0] == errMissing {
		return exec.AsValue(errors.New("sync_do_groupby() missing 1 required positional argument: 'attribute'"))
	}
	items, err := jinjaIterable(v)
	if err != nil {
		return exec.AsValue(err)
	}
	attr, def, fold := args[0], args[1], !Truthy(args[2])
	raw := func(item any) (any, error) {
		k, err := jinjaItem(item, attr)
		if err != nil && def != nil {
			return def, nil
		}
		return k, err
	}
	type keyed struct{ item, key any }
	ks := make([]keyed, len(items))
	for i, item := range items {
		k, err := raw(item)
		if err != nil {
			return exec.AsValue(err)
		}
		ks[i] = keyed{item, caseKey(k, fold)}
	}
	if err := pySortStable(ks, func(k keyed) any { return k.key }, false); err != nil {
		return exec.AsValue(err)
	}
	out := []any{}
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && pyEquals(ks[j].key, ks[i].key) {
			j++
		}
		list := make([]any, 0, j-i)
		for _, k := range ks[i:j] {
			list = append(list, k.item)
		}
		grouper := ks[i].key
		if fold {
			grouper, _ = raw(list[0])
		}
		out = append(out, jinjaGroup{grouper, list})
		i = j
	}
	return exec.AsValue(out)
}

// jinjaGen is what Jinja's map, select, reject, selectattr, rejectattr,
// batch, slice, unique and items filters give, and reverse of a list: a
// generator (an iterator), which later filters read as a list but which
// has no len() and no last item and which tojson cannot write. As a
// task's value it is a list: Mistral stores values through
// utils.to_json_str, whose fallback lists a generator.
type jinjaGen []any

// jinjaGenerators are the filters whose result is a jinjaGen.
var jinjaGenerators = []string{"map", "select", "reject", "selectattr", "rejectattr", "batch", "slice", "unique", "items"}

// jinjaGenerator wraps filter f so that its list is a jinjaGen.
func jinjaGenerator(f exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		out := f(e, in, a)
		if out.IsError() {
			return out
		}
		if l, ok := out.Interface().([]any); ok {
			return exec.AsValue(jinjaGen(l))
		}
		v, err := fromJinja(out)
		if err != nil {
			return exec.AsValue(err)
		}
		if l, ok := v.([]any); ok {
			return exec.AsValue(jinjaGen(l))
		}
		return out
	}
}

// notGenerator is err (a Python TypeError) when v is a jinjaGen.
func notGenerator(v *exec.Value, msg string) error {
	if _, ok := v.Interface().(jinjaGen); ok {
		return errors.New(msg)
	}
	return nil
}

// rawItems is v's list as gonja holds it (groupby's tuples kept), a
// generator's too; nil for anything else.
func rawItems(v *exec.Value) []any {
	switch x := v.Interface().(type) {
	case []any:
		return x
	case jinjaGen:
		return x
	}
	return nil
}

// jinjaUnique is Jinja's do_unique(value, case_sensitive=False,
// attribute=None): the items whose key (the item or its attribute,
// strings folded unless case_sensitive) was not seen before; Python's set
// of keys refuses a list or dict (gonja's took anything, and gave [] for
// what is not iterable).
func jinjaUnique(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	items, args, err := jinjaFilterItems(in, a, "unique", []string{"case_sensitive", "attribute"}, false, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	fold := !Truthy(args[0])
	seen := map[string]bool{}
	out := []any{}
	for _, item := range items {
		k, err := jinjaItem(item, args[1])
		if err != nil {
			return exec.AsValue(err)
		}
		switch k.(type) {
		case []any, map[string]any:
			return exec.AsValue(fmt.Errorf("unhashable type: '%s'", pyTypeName(k)))
		}
		key, err := distinctKey(caseKey(k, fold))
		if err != nil {
			return exec.AsValue(err)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, item)
		}
	}
	return exec.AsValue(out)
}
