package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	gbuiltins "github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// jinjaMethods are gonja's methods with those that differ from Python's
// replaced: str.split(), lstrip() and rstrip() without an argument split
// or strip whitespace, str.replace() takes an optional count,
// str.count() counts non-overlapping occurrences, and lists have index()
// and count(), with Python's == (1 == 1.0).
var jinjaMethods = func() exec.Methods {
	m := gbuiltins.Methods
	str := map[string]exec.Method[string]{}
	for _, name := range []string{"capitalize", "capwords", "casefold", "center", "encode", "endswith", "expandtabs", "find", "format",
		"isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
		"join", "ljust", "lower", "partition", "removeprefix", "removesuffix", "rfind", "rjust", "rpartition", "rsplit",
		"splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill"} {
		if f, ok := m.Str.Get(name); ok {
			str[name] = f
		}
	}
	str["split"] = strSplit
	str["lstrip"] = strStrip(strings.TrimLeftFunc, strings.TrimLeft)
	str["rstrip"] = strStrip(strings.TrimRightFunc, strings.TrimRight)
	str["replace"] = strReplace
	str["count"] = strCount
	list := map[string]exec.Method[[]any]{"index": listIndex, "count": listCount}
	for _, name := range []string{"append", "reverse", "copy"} {
		if f, ok := m.List.Get(name); ok {
			list[name] = f
		}
	}
	dict := map[string]exec.Method[map[string]any]{"get": dictGet}
	for _, name := range []string{"keys", "values", "items", "pop", "setdefault", "update", "copy", "clear"} {
		if f, ok := m.Dict.Get(name); ok {
			dict[name] = f
		}
	}
	m.Str = exec.NewMethodSet(str)
	m.List = exec.NewMethodSet(list)
	m.Dict = exec.NewMethodSet(dict)
	return m
}()

// dictGet is Python's dict.get(key, default=None): the keys are strings,
// so another key finds nothing, and a list or dict is unhashable (gonja's
// looked str(key) up: {'1': 2}.get(1) was 2).
func dictGet(self map[string]any, _ *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 1, 2, "get")
	if err != nil {
		return nil, err
	}
	switch k := args[0].(type) {
	case string:
		if v, ok := self[k]; ok {
			return v, nil
		}
	case []any, map[string]any:
		return nil, fmt.Errorf("unhashable type: '%s'", pyTypeName(k))
	}
	return argOr(args, 1), nil
}

// methodArgs turns a method call's arguments into the data model.
func methodArgs(a *exec.VarArgs, min, max int, name string) ([]any, error) {
	if len(a.KwArgs) > 0 {
		return nil, fmt.Errorf("%s() takes no keyword arguments", name)
	}
	if len(a.Args) < min || len(a.Args) > max {
		return nil, fmt.Errorf("%s() takes %d to %d arguments (%d given)", name, min, max, len(a.Args))
	}
	out := make([]any, len(a.Args))
	for i, v := range a.Args {
		x, err := fromJinja(v)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func strSplit(self string, _ *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 0, 2, "split")
	if err != nil {
		return nil, err
	}
	maxsplit := -1
	if len(args) == 2 {
		n, err := pyIntArg(args[1])
		if err != nil {
			return nil, err
		}
		maxsplit = int(n)
	}
	var parts []string
	switch sep := argOr(args, 0); sep := sep.(type) {
	case nil:
		// Python: runs of whitespace, no empty strings, maxsplit splits.
		rest := strings.TrimLeftFunc(self, unicode.IsSpace)
		for rest != "" {
			if maxsplit >= 0 && len(parts) == maxsplit {
				parts = append(parts, rest)
				break
			}
			i := strings.IndexFunc(rest, unicode.IsSpace)
			if i < 0 {
				parts = append(parts, rest)
				break
			}
			parts = append(parts, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
		}
	case string:
		if sep == "" {
			return nil, errors.New("empty separator")
		}
		n := -1
		if maxsplit >= 0 {
			n = maxsplit + 1
		}
		parts = strings.SplitN(self, sep, n)
	default:
		return nil, fmt.Errorf("must be str or None, not %s", pyTypeName(sep))
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func argOr(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func strStrip(fn func(string, func(rune) bool) string, chars func(string, string) string) exec.Method[string] {
	return func(self string, _ *exec.Value, a *exec.VarArgs) (any, error) {
		args, err := methodArgs(a, 0, 1, "strip")
		if err != nil {
			return nil, err
		}
		switch c := argOr(args, 0).(type) {
		case nil:
			return fn(self, unicode.IsSpace), nil
		case string:
			return chars(self, c), nil
		default:
			return nil, fmt.Errorf("strip arg must be None or str, not %s", pyTypeName(c))
		}
	}
}

func strReplace(self string, _ *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 2, 3, "replace")
	if err != nil {
		return nil, err
	}
	old, ok1 := args[0].(string)
	repl, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, errors.New("replace() arguments must be str")
	}
	n := -1
	if len(args) == 3 {
		c, err := pyIntArg(args[2])
		if err != nil {
			return nil, err
		}
		n = int(c)
	}
	return strings.Replace(self, old, repl, n), nil
}

func strCount(self string, _ *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 1, 3, "count")
	if err != nil {
		return nil, err
	}
	sub, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("must be str, not %s", pyTypeName(args[0]))
	}
	r := []rune(self)
	start, end := 0, len(r)
	for i, p := range []*int{&start, &end} {
		if v := argOr(args, i+1); v != nil {
			n, err := pyIntArg(v)
			if err != nil {
				return nil, errors.New("slice indices must be integers or None or have an __index__ method")
			}
			*p = pyIndex(int(n), len(r))
		}
	}
	if start > end {
		return int64(0), nil
	}
	return int64(strings.Count(string(r[start:end]), sub)), nil
}

// pyIndex clamps a Python slice index (negative counts from the end).
func pyIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

// listData is a list method's receiver in the data model (gonja's may
// hold its own number types).
func listData(v *exec.Value) ([]any, error) {
	x, err := fromJinja(v)
	if err != nil {
		return nil, err
	}
	l, _ := x.([]any)
	return l, nil
}

func listIndex(_ []any, selfValue *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 1, 3, "index")
	if err != nil {
		return nil, err
	}
	self, err := listData(selfValue)
	if err != nil {
		return nil, err
	}
	start, end := 0, len(self)
	for i, p := range []*int{&start, &end} {
		if i+1 < len(args) { // list.index takes no None, unlike str.count
			n, err := pyIntArg(args[i+1])
			if err != nil {
				return nil, errors.New("slice indices must be integers or have an __index__ method")
			}
			*p = pyIndex(int(n), len(self))
		}
	}
	for i := start; i < end; i++ {
		if pyEquals(self[i], args[0]) {
			return int64(i), nil
		}
	}
	return nil, fmt.Errorf("%s is not in list", pyRepr(args[0], false))
}

func listCount(_ []any, selfValue *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := methodArgs(a, 1, 1, "count")
	if err != nil {
		return nil, err
	}
	self, err := listData(selfValue)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	for _, e := range self {
		if pyEquals(e, args[0]) {
			n++
		}
	}
	return n, nil
}

// pyEquals is Python's == on the data model, bounded.
func pyEquals(a, b any) bool {
	budget := 1 << 20
	return equalB(a, b, &budget)
}
