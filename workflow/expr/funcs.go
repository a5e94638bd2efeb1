package expr

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// form says how a builtin may be called: f(x) or x.f().
type form int

const (
	asFunction form = 1 << iota
	asMethod
	asBoth = asFunction | asMethod
)

// builtin is a function yaql (or Mistral) provides.
type builtin struct {
	form form
	fn   func(ev *evaluator, c *callCtx) (any, error)
}

// callCtx is one call: the receiver of a method call comes first in args.
type callCtx struct {
	name  string
	args  []node // positional arguments, not evaluated, without the receiver
	named []*mappingNode
	recv  any
	isM   bool // a method call: recv is the first argument
	sc    *scope
}

// nargs is the number of positional arguments, counting the receiver.
func (c *callCtx) nargs() int {
	if c.isM {
		return len(c.args) + 1
	}
	return len(c.args)
}

// arg evaluates positional argument i (0 is the receiver of a method call).
func (c *callCtx) arg(ev *evaluator, i int) (any, error) {
	v, err := c.rawArg(ev, i)
	if err != nil {
		return nil, err
	}
	return iterItems(v)
}

// rawArg is arg, but an iterator argument (not a receiver) stays one:
// for bool() and the isX() tests, which see the iterator itself.
func (c *callCtx) rawArg(ev *evaluator, i int) (any, error) {
	if c.isM {
		if i == 0 {
			return c.recv, nil
		}
		i--
	}
	return ev.rawValue(c.args[i], c.sc)
}

// node returns the unevaluated positional argument i (counting the receiver).
func (c *callCtx) node(i int) node {
	if c.isM {
		i--
	}
	return c.args[i]
}

func (c *callCtx) all(ev *evaluator) ([]any, error) {
	out := make([]any, c.nargs())
	for i := range out {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *callCtx) arity(lo, hi int) error {
	if len(c.named) > 0 {
		return fmt.Errorf("expr: %s(): takes no name => value arguments", c.name)
	}
	n := c.nargs()
	if n < lo || (hi >= 0 && n > hi) {
		switch {
		case lo == hi:
			return fmt.Errorf("expr: %s(): takes %d arguments, got %d", c.name, lo, n)
		case hi < 0:
			return fmt.Errorf("expr: %s(): takes at least %d arguments, got %d", c.name, lo, n)
		}
		return fmt.Errorf("expr: %s(): takes %d to %d arguments, got %d", c.name, lo, hi, n)
	}
	return nil
}

func article(v any) string {
	t := typeName(v)
	switch t {
	case "null":
		return "null"
	case "integer":
		return "an integer"
	}
	return "a " + t
}

func (c *callCtx) argErr(i int, v any, want string) error {
	which := fmt.Sprintf("argument %d", i+1)
	if c.isM {
		if i == 0 {
			which = "the receiver"
		} else {
			which = fmt.Sprintf("argument %d", i)
		}
	}
	return fmt.Errorf("expr: %s(): %s is %s, want %s", c.name, which, article(v), want)
}

func (c *callCtx) list(ev *evaluator, i int) ([]any, error) {
	v, err := c.arg(ev, i)
	if err != nil {
		return nil, err
	}
	l, ok := iterable(v)
	if !ok {
		return nil, c.argErr(i, v, "a list")
	}
	return l, nil
}

func (c *callCtx) str(ev *evaluator, i int) (string, error) {
	v, err := c.arg(ev, i)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", c.argErr(i, v, "a string")
	}
	return s, nil
}

func (c *callCtx) integer(ev *evaluator, i int) (int64, error) {
	v, err := c.arg(ev, i)
	if err != nil {
		return 0, err
	}
	if x, ok := v.(bool); ok { // Python: a bool is an int
		return boolInt(x), nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, c.argErr(i, v, "an integer")
	}
	return n, nil
}

// builtins are looked up by name; the table is read-only.
var builtins map[string]builtin

func init() {
	builtins = map[string]builtin{
		"len":               {asBoth, fnLen},
		"count":             {asMethod, fnCount},
		"str":               {asFunction, fnStr},
		"int":               {asFunction, fnInt},
		"float":             {asFunction, fnFloat},
		"list":              {asFunction, fnList},
		"dict":              {asFunction, fnDict},
		"keys":              {asMethod, fnKeys},
		"values":            {asMethod, fnValues},
		"select":            {asMethod, fnSelect},
		"where":             {asMethod, fnWhere},
		"distinct":          {asBoth, fnDistinct},
		"first":             {asMethod, fnFirstLast},
		"last":              {asMethod, fnFirstLast},
		"join":              {asMethod, fnJoin},
		"split":             {asMethod, fnSplit},
		"json_dump":         {asFunction, fnJSONDump},
		"json_parse":        {asFunction, fnJSONParse},
		"now":               {asFunction, fnNow},
		"range":             {asFunction, fnRange},
		"sum":               {asMethod, fnSum},
		"min":               {asBoth, fnMinMax},
		"max":               {asBoth, fnMinMax},
		"any":               {asBoth, fnAnyAll},
		"all":               {asBoth, fnAnyAll},
		"let":               {asFunction, fnLet},
		"switch":            {asFunction, fnSwitch},
		"toUpper":           {asMethod, fnCase},
		"toLower":           {asMethod, fnCase},
		"startsWith":        {asMethod, fnAffix},
		"endsWith":          {asMethod, fnAffix},
		"replace":           {asMethod, fnReplace},
		"trim":              {asMethod, fnTrim},
		"format":            {asBoth, fnFormat},
		"toDict":            {asMethod, fnToDict},
		"orderBy":           {asMethod, fnOrderBy},
		"orderByDescending": {asMethod, fnOrderBy},
		"skip":              {asMethod, fnSkipTake},
		"take":              {asMethod, fnSkipTake},
		"limit":             {asMethod, fnSkipTake},
		"flatten":           {asMethod, fnFlatten},
		"selectMany":        {asMethod, fnSelectMany},
		"contains":          {asMethod, fnContains},
		"indexOf":           {asMethod, fnIndexOf},
		"lastIndexOf":       {asMethod, fnIndexOf},
		"concat":            {asBoth, fnConcat},
		"reverse":           {asMethod, fnReverse},
		"toList":            {asMethod, fnToList},
		"substring":         {asMethod, fnSubstring},
		"get":               {asMethod, fnGet},
		"containsKey":       {asMethod, fnContainsKey},
		"isString":          {asFunction, fnIsType},
		"isList":            {asFunction, fnIsType},
		"isDict":            {asFunction, fnIsType},
		"isInteger":         {asFunction, fnIsType},
		"isNumber":          {asFunction, fnIsType},
		"isBoolean":         {asFunction, fnIsType},
		"uuid":              {asFunction, fnUUID},
		"task":              {asFunction, fnTask},
		"execution":         {asFunction, fnExecution},
		"env":               {asFunction, fnEnv},
		// yaql's standard library beyond the first version's subset
		"filter":              {asMethod, fnWhere},
		"map":                 {asMethod, fnSelect},
		"thenBy":              {asMethod, fnOrderBy},
		"thenByDescending":    {asMethod, fnOrderBy},
		"trimLeft":            {asMethod, fnTrim},
		"trimRight":           {asMethod, fnTrim},
		"norm":                {asBoth, fnNorm},
		"isEmpty":             {asBoth, fnIsEmpty},
		"toCharArray":         {asMethod, fnToCharArray},
		"rightSplit":          {asMethod, fnRightSplit},
		"hex":                 {asFunction, fnHex},
		"characters":          {asFunction, fnCharacters},
		"set":                 {asBoth, fnSetFn},
		"items":               {asMethod, fnItems},
		"containsValue":       {asMethod, fnContainsValue},
		"delete":              {asMethod, fnDelete},
		"deleteAll":           {asMethod, fnDeleteAll},
		"insert":              {asMethod, fnInsert},
		"insertMany":          {asMethod, fnInsert},
		"replaceMany":         {asMethod, replaceList},
		"toSet":               {asMethod, fnToSet},
		"union":               {asMethod, fnSetOp},
		"intersect":           {asMethod, fnSetOp},
		"difference":          {asMethod, fnSetOp},
		"symmetricDifference": {asMethod, fnSetOp},
		"add":                 {asMethod, fnSetAddRemove},
		"remove":              {asMethod, fnSetAddRemove},
		"isSet":               {asFunction, fnIsSetIter},
		"isIterable":          {asFunction, fnIsSetIter},
		"mergeWith":           {asMethod, fnMergeWith},
		"append":              {asBoth, fnAppend},
		"enumerate":           {asBoth, fnEnumerate},
		"memorize":            {asMethod, fnMemorize},
		"single":              {asMethod, fnSingle},
		"groupBy":             {asMethod, fnGroupBy},
		"zip":                 {asMethod, fnZip},
		"zipLongest":          {asMethod, fnZip},
		"repeat":              {asMethod, fnRepeat},
		"cycle":               {asMethod, fnCycle},
		"sequence":            {asFunction, fnSequence},
		"takeWhile":           {asMethod, fnTakeSkipWhile},
		"skipWhile":           {asMethod, fnTakeSkipWhile},
		"indexWhere":          {asMethod, fnIndexWhere},
		"lastIndexWhere":      {asMethod, fnIndexWhere},
		"slice":               {asMethod, fnSlice},
		"splitWhere":          {asMethod, fnSplitWhere},
		"sliceWhere":          {asMethod, fnSplitWhere},
		"splitAt":             {asMethod, fnSplitAt},
		"aggregate":           {asMethod, fnAggregate},
		"reduce":              {asMethod, fnAggregate},
		"accumulate":          {asMethod, fnAggregate},
		"defaultIfEmpty":      {asMethod, fnDefaultIfEmpty},
		"generate":            {asFunction, fnGenerate},
		"generateMany":        {asFunction, fnGenerateMany},
		"abs":                 {asFunction, fnAbs},
		"pow":                 {asFunction, fnPow},
		"round":               {asFunction, fnRound},
		"sign":                {asFunction, fnSign},
		"bitwiseAnd":          {asFunction, fnBitwise},
		"bitwiseOr":           {asFunction, fnBitwise},
		"bitwiseXor":          {asFunction, fnBitwise},
		"bitwiseNot":          {asFunction, fnBitwise},
		"shiftBitsLeft":       {asFunction, fnBitwise},
		"shiftBitsRight":      {asFunction, fnBitwise},
		"random":              {asFunction, fnRandom},
		"bool":                {asFunction, fnBool},
		"coalesce":            {asFunction, fnCoalesce},
		"selectCase":          {asFunction, fnCases},
		"selectAllCases":      {asFunction, fnCases},
		"examine":             {asFunction, fnCases},
		"switchCase":          {asMethod, fnSwitchCase},
		"unpack":              {asMethod, fnUnpack},
		"with":                {asFunction, fnWith},
		"def":                 {asFunction, fnDef},
		"assert":              {asMethod, fnAssert},
		"regex":               {asFunction, fnRegex},
		"matches":             {asMethod, fnMatches},
		"search":              {asMethod, fnSearch},
		"searchAll":           {asMethod, fnSearch},
		"replaceBy":           {asMethod, fnReplaceBy},
		"escapeRegex":         {asFunction, fnEscapeRegex},
		"isRegex":             {asFunction, fnIsRegex},
		// Mistral's functions
		"global":     {asFunction, fnGlobal},
		"tasks":      {asFunction, fnTasks},
		"json_pp":    {asFunction, fnJSONPP},
		"yaml_dump":  {asFunction, fnYAMLDump},
		"yaml_parse": {asFunction, fnYAMLParse},
	}
}

// call evaluates f(args) or recv.f(args).
func (ev *evaluator) call(n *callNode, recv any, isMethod bool, sc *scope) (any, error) {
	if ev.defs && !isMethod {
		if d := sc.userDef(n.name); d != nil {
			return ev.callUser(d, n, sc)
		}
	}
	b, ok := builtins[n.name]
	switch {
	case !ok && isMethod:
		return nil, fmt.Errorf("expr: unknown method %q for %s", n.name, article(recv))
	case !ok:
		return nil, fmt.Errorf("expr: unknown function %q", n.name)
	case isMethod && b.form&asMethod == 0:
		return nil, fmt.Errorf("expr: %s() is a function, not a method: write %s(x), not x.%s()", n.name, n.name, n.name)
	case !isMethod && b.form&asFunction == 0:
		return nil, fmt.Errorf("expr: %s() is a method, not a function: write x.%s(), not %s(x)", n.name, n.name, n.name)
	}
	c := &callCtx{name: n.name, recv: recv, isM: isMethod, sc: sc}
	for _, a := range n.args {
		if m, ok := a.(*mappingNode); ok {
			c.named = append(c.named, m)
		} else {
			c.args = append(c.args, a)
		}
	}
	v, err := b.fn(ev, c)
	if iterResults[n.name] {
		var le *lambdaError
		switch l, isList := v.([]any); {
		case err == nil && isList:
			return &yaqlIter{items: l, rng: n.name == "range"}, nil
		case errors.As(err, &le):
			return &yaqlIter{err: err}, nil
		}
	}
	return v, err
}

func fnLen(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		return int64(len([]rune(x))), nil
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	case *setValue:
		return int64(len(x.elems)), nil
	}
	return nil, c.argErr(0, v, "a string, list or dict")
}

func fnCount(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	return int64(len(l)), nil
}

func fnStr(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.checkSize(v, "str()"); err != nil {
		return nil, err
	}
	out := yaqlStr(v)
	return out, ev.allocString(out, "str()")
}

func fnInt(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return int64(0), nil
	case bool:
		return boolInt(x), nil
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1<<63 {
			return nil, fmt.Errorf("expr: int(): %s does not fit in 64 bits", pyFloat(x))
		}
		return int64(x), nil
	case string:
		s := strings.TrimSpace(x)
		if t := strings.ReplaceAll(s, "_", ""); t != s && !strings.Contains(s, "__") && !strings.HasPrefix(s, "_") && !strings.HasSuffix(s, "_") {
			s = t // Python's int() accepts 1_000
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expr: int(): argument 1 %s is not an integer", shortRepr(x))
		}
		return n, nil
	}
	return nil, c.argErr(0, v, "a string or a number")
}

func fnFloat(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil: // yaql's float(null) is 0.0
		return 0.0, nil
	case bool:
		return float64(boolInt(x)), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("expr: float(): argument 1 %s is not a number", shortRepr(x))
		}
		return f, nil
	}
	return nil, c.argErr(0, v, "a string or a number")
}

func fnList(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, -1); err != nil {
		return nil, err
	}
	if err := ev.allocate(c.nargs(), "list()"); err != nil {
		return nil, err
	}
	// yaql's list(*args) spreads an iterator argument into the list
	// (list($.l.where(true), 1) is [3, 1, 2, 1, 1]) and keeps any other
	// value whole, a list too (list([1]) is [[1]]).
	out := make([]any, 0, c.nargs())
	for i := 0; i < c.nargs(); i++ {
		v, err := c.rawArg(ev, i)
		if err != nil {
			return nil, err
		}
		if it, ok := v.(*yaqlIter); ok {
			if err := ev.allocate(len(it.items), "list()"); err != nil {
				return nil, err
			}
			out = append(out, it.items...)
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func fnDict(ev *evaluator, c *callCtx) (any, error) {
	out := map[string]any{}
	switch {
	case len(c.args) == 0:
	case len(c.args) == 1 && len(c.named) == 0:
		l, err := c.list(ev, 0)
		if err != nil {
			return nil, err
		}
		if err := ev.allocate(len(l), "dict()"); err != nil {
			return nil, err
		}
		for _, p := range l {
			pair, ok := p.([]any)
			if !ok || len(pair) != 2 {
				return nil, fmt.Errorf("expr: dict(): each element of argument 1 must be a [key, value] pair, not %s", shortRepr(p))
			}
			k, err := dictKey(pair[0], "dict()")
			if err != nil {
				return nil, err
			}
			out[k] = pair[1]
		}
		return out, nil
	default:
		return nil, errors.New("expr: dict(): takes key => value arguments or one list of [key, value] pairs")
	}
	for _, m := range c.named {
		k, v, err := ev.entry(m, c.sc, "dict()")
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, ev.checkItems(len(out), "dict()")
}

func (c *callCtx) dict(ev *evaluator, i int) (map[string]any, error) {
	v, err := c.arg(ev, i)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, c.argErr(i, v, "a dict")
	}
	return m, nil
}

func fnKeys(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(m), "keys()"); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k)
	}
	return out, nil
}

func fnValues(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(m), "values()"); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out, nil
}

func fnSelect(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), "select()"); err != nil {
		return nil, err
	}
	out := make([]any, len(l))
	ls := lambdaScope(c.sc)
	for i, e := range l {
		v, err := ev.lambda(c.node(1), ls, e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func fnWhere(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), "where()"); err != nil {
		return nil, err
	}
	out := []any{}
	ls := lambdaScope(c.sc)
	for _, e := range l {
		v, err := ev.lambda(c.node(1), ls, e)
		if err != nil {
			return nil, err
		}
		if Truthy(v) {
			out = append(out, e)
		}
	}
	return out, nil
}

func fnDistinct(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "collection", "keySelector")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	return ev.distinct(l, b.nodes[1], c.sc)
}

// distinctKey is a key under which values Python considers equal collide:
// 1, 1.0 and true are one value.
func distinctKey(v any) (string, error) {
	switch x := v.(type) {
	case bool:
		v = float64(boolInt(x))
	case int64:
		v = float64(x)
	}
	if f, ok := v.(float64); ok {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	b, err := MarshalJSON(canonNumbers(v), "")
	return string(b), err
}

// canonNumbers turns every number inside v into a float, so that equal
// collections have the same JSON.
func canonNumbers(v any) any {
	switch x := v.(type) {
	case bool:
		return float64(boolInt(x))
	case int64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonNumbers(e)
		}
		return out
	}
	return v
}

func fnFirstLast(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 2); err != nil {
		return nil, err
	}
	if lz, ok := c.recv.(*lazySeq); ok && c.name == "first" {
		return lz.at(0), nil
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	var def any
	if c.nargs() == 2 {
		// yaql evaluates the default before the call, used or not:
		// [1].first($ mod 2) fails where $ is a dict.
		if def, err = c.arg(ev, 1); err != nil {
			return nil, err
		}
	}
	if len(l) == 0 {
		if c.nargs() == 2 {
			return def, nil
		}
		return nil, fmt.Errorf("expr: %s(): the list is empty and no default is given", c.name)
	}
	if c.name == "first" {
		return l[0], nil
	}
	return l[len(l)-1], nil
}

func fnJoin(ev *evaluator, c *callCtx) (any, error) {
	if c.nargs() == 4 {
		return fnJoinQuery(ev, c)
	}
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	a, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	b, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	sep, okS := b.(string)
	l, okL := iterable(a)
	if !okS || !okL {
		sep, okS = a.(string)
		l, okL = iterable(b)
		if !okS || !okL {
			return nil, fmt.Errorf("expr: join(): want list.join(separator) or separator.join(list), not %s.join(%s)", article(a), article(b))
		}
	}
	parts := make([]string, len(l))
	n := 0
	for i, e := range l {
		if err := ev.step(); err != nil {
			return nil, err
		}
		if err := ev.checkSize(e, "join()"); err != nil {
			return nil, err
		}
		parts[i] = yaqlStr(e)
		n += len(parts[i]) + len(sep)
		if n > ev.lim.MaxBytes {
			return nil, fmt.Errorf("expr: join(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
		}
	}
	out := strings.Join(parts, sep)
	return out, ev.allocString(out, "join()")
}

// splitSpace is Python's str.split() without a separator.
func splitSpace(s string, max int64) []string {
	out := []string{}
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out
		}
		if max >= 0 && int64(len(out)) == max {
			return append(out, s)
		}
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

func fnJSONDump(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.checkSize(v, "json_dump()"); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := writeJSON(&b, v, "    ", "", ", ", ": ", true); err != nil {
		return nil, fmt.Errorf("expr: json_dump(): %w", err)
	}
	return b.String(), ev.allocString(b.String(), "json_dump()")
}

func fnJSONParse(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(s), "json_parse()"); err != nil {
		return nil, err
	}
	v, err := unmarshalPythonJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("expr: json_parse(): %s", strings.TrimPrefix(err.Error(), "expr: decode JSON: "))
	}
	return v, nil
}

func fnNow(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, 0); err != nil {
		return nil, err
	}
	return time.Now().UTC().Format("2006-01-02 15:04:05.000000+00:00"), nil
}

func fnRange(ev *evaluator, c *callCtx) (any, error) {
	if len(c.named) > 0 {
		bd, err := c.bind(2, "start", "stop", "step")
		if err != nil {
			return nil, err
		}
		var a [3]int64
		for i, d := range []int64{0, 0, 1} {
			if a[i], err = bd.integer(ev, i, d); err != nil {
				return nil, err
			}
		}
		return ev.rangeList(a[0], a[1], a[2])
	}
	if err := c.arity(1, 3); err != nil {
		return nil, err
	}
	var a [3]int64
	for i := range c.nargs() {
		n, err := c.integer(ev, i)
		if err != nil {
			return nil, err
		}
		a[i] = n
	}
	start, stop, step := int64(0), a[0], int64(1)
	if c.nargs() > 1 {
		start, stop = a[0], a[1]
	}
	if c.nargs() > 2 {
		step = a[2]
	}
	return ev.rangeList(start, stop, step)
}

func (ev *evaluator) rangeList(start, stop, step int64) (any, error) {
	if step == 0 {
		return nil, errors.New("expr: range(): argument 3 (step) must not be zero")
	}
	var n float64
	if step > 0 && stop > start {
		n = math.Ceil((float64(stop) - float64(start)) / float64(step))
	} else if step < 0 && stop < start {
		n = math.Ceil((float64(start) - float64(stop)) / -float64(step))
	}
	if n > float64(ev.lim.MaxItems) {
		return nil, fmt.Errorf("expr: range(): %.0f elements, more than %d: %w", n, ev.lim.MaxItems, ErrLimit)
	}
	if err := ev.allocate(int(n), "range()"); err != nil {
		return nil, err
	}
	out := make([]any, 0, int(n))
	for i, v := 0, start; i < int(n); i, v = i+1, v+step {
		if i&63 == 0 {
			if err := ev.step(); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func fnSum(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "collection", "initial")
	if err != nil {
		return nil, err
	}
	l, err := b.seq(ev, 0)
	if err != nil {
		return nil, err
	}
	var acc any
	if b.has(1) {
		if acc, err = b.val(ev, 1, nil); err != nil {
			return nil, err
		}
	} else {
		if len(l) == 0 {
			return nil, errors.New("expr: sum(): the list is empty")
		}
		acc, l = l[0], l[1:]
	}
	for _, e := range l {
		if err := ev.step(); err != nil {
			return nil, err
		}
		if acc, err = ev.operator("+", acc, e); err != nil {
			return nil, fmt.Errorf("expr: sum(): %w", errors.Unwrap(err))
		}
	}
	return acc, nil
}

// fnMinMax is min(a, b) and max(a, b) (null is less than everything), and
// list.min(initial) and list.max(initial).
func fnMinMax(ev *evaluator, c *callCtx) (any, error) {
	var l []any
	var err error
	switch {
	case c.isM:
		b, err := c.bind(1, "collection", "initial")
		if err != nil {
			return nil, err
		}
		if l, err = b.seq(ev, 0); err != nil {
			return nil, err
		}
		if b.has(1) {
			init, err := b.val(ev, 1, nil)
			if err != nil {
				return nil, err
			}
			l = append([]any{init}, l...)
		}
		if len(l) == 0 {
			return nil, fmt.Errorf("expr: %s(): the list is empty", c.name)
		}
	default:
		if err := c.arity(2, 2); err != nil {
			return nil, fmt.Errorf("%w (use list.%s() for a list)", err, c.name)
		}
		if l, err = c.all(ev); err != nil {
			return nil, err
		}
	}
	best := l[0]
	for _, e := range l[1:] {
		if err := ev.step(); err != nil {
			return nil, err
		}
		r, ok := compare(e, best)
		if !ok {
			return nil, fmt.Errorf("expr: %s(): cannot compare %s with %s", c.name, article(e), article(best))
		}
		if (c.name == "max" && r > 0) || (c.name == "min" && r < 0) {
			best = e
		}
	}
	return best, nil
}

func fnAnyAll(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 2); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	want := c.name == "any"
	if want && c.nargs() == 1 {
		// yaql's any() without a predicate asks whether the collection
		// has an element, not whether one is truthy: any([0, null]) is
		// true (all() tests each element's truth).
		return len(l) > 0, nil
	}
	ls := lambdaScope(c.sc)
	for _, e := range l {
		v := e
		if c.nargs() == 2 {
			if v, err = ev.lambda(c.node(1), ls, e); err != nil {
				return nil, err
			}
		}
		if Truthy(v) == want {
			return want, nil
		}
	}
	return !want, nil
}

func fnLet(ev *evaluator, c *callCtx) (any, error) {
	vals, err := c.all(ev)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]any, len(vals)+len(c.named))
	for i, v := range vals {
		vars[strconv.Itoa(i+1)] = v
	}

	for _, m := range c.named {
		id, ok := m.key.(*identNode)
		if !ok {
			return nil, errors.New("expr: let(): a variable name must be a bare name, as in let(x => 1)")
		}
		v, err := ev.value(m.value, c.sc)
		if err != nil {
			return nil, err
		}
		vars[id.name] = v
	}
	lc := &letContext{vars: vars}
	if len(vals) > 0 {
		lc.dollar, lc.setDollar = vals[0], true
	}
	return lc, nil
}

func fnSwitch(ev *evaluator, c *callCtx) (any, error) {
	if len(c.args) > 0 {
		return nil, errors.New("expr: switch(): every argument must be condition => value")
	}
	for _, m := range c.named {
		cond, err := ev.value(m.key, c.sc)
		if err != nil {
			return nil, err
		}
		if Truthy(cond) {
			return ev.value(m.value, c.sc)
		}
	}
	return nil, nil
}

func fnCase(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	out := pyCase(s, c.name == "toUpper")
	return out, ev.allocString(out, c.name+"()")
}

// pyCase is Python's str.upper() or str.lower(): full Unicode case
// mapping ('straße'.upper() is 'STRASSE', a final Σ lowers to ς), where
// Go's strings.ToUpper maps one rune to one rune.
func pyCase(s string, upper bool) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	switch {
	case ascii && upper:
		return strings.ToUpper(s)
	case ascii:
		return strings.ToLower(s)
	case upper:
		return cases.Upper(language.Und).String(s) // a Caser is not safe for concurrent use
	default:
		return cases.Lower(language.Und).String(s)
	}
}

func fnAffix(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, -1); err != nil { // yaql: string.startsWith(*prefixes), false without one
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	// yaql checks every argument's type before the call: 'aX'.endsWith('X', 1) fails.
	affixes := make([]string, 0, c.nargs()-1)
	for i := 1; i < c.nargs(); i++ {
		a, err := c.str(ev, i)
		if err != nil {
			return nil, err
		}
		affixes = append(affixes, a)
	}
	for _, a := range affixes {
		if (c.name == "startsWith" && strings.HasPrefix(s, a)) || (c.name == "endsWith" && strings.HasSuffix(s, a)) {
			return true, nil
		}
	}
	return false, nil
}

// fnReplace is string.replace(old, new, count), string.replace(dict,
// count), list.replace(position, value, count) and the regex forms.
func fnReplace(ev *evaluator, c *callCtx) (any, error) {
	switch x := c.recv.(type) {
	case []any, *setValue:
		return replaceList(ev, c)
	case *regexValue:
		return ev.regexReplace(c, false)
	case string:
		if c.nargs() > 1 {
			v, err := c.arg(ev, 1)
			if err != nil {
				return nil, err
			}
			switch r := v.(type) {
			case *regexValue:
				return ev.regexReplace(c, false)
			case map[string]any:
				return ev.replaceDict(c, x, r)
			}
		}
	}
	if err := c.arity(3, 4); err != nil {
		return nil, err
	}
	var s [3]string
	for i := range s {
		v, err := c.str(ev, i)
		if err != nil {
			return nil, err
		}
		s[i] = v
	}
	n := int64(-1)
	if c.nargs() == 4 {
		var err error
		if n, err = c.integer(ev, 3); err != nil {
			return nil, err
		}
		if n < 0 {
			n = -1
		}
	}
	if s[1] != "" && len(s[2]) > len(s[1]) {
		if cnt := int64(strings.Count(s[0], s[1])); n < 0 || cnt < n {
			n2 := cnt
			if int64(len(s[0]))+n2*int64(len(s[2])-len(s[1])) > int64(ev.lim.MaxBytes) {
				return nil, fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
			}
		}
	} else if s[1] == "" && int64(len(s[0])+1)*int64(len(s[2]))+int64(len(s[0])) > int64(ev.lim.MaxBytes) {
		return nil, fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
	}
	nn := int(min(n, math.MaxInt32))
	out := strings.Replace(s[0], s[1], s[2], nn)
	return out, ev.allocString(out, "replace()")
}

// fnFormat is Python's str.format with {}, {0} and {name} fields.
func fnFormat(ev *evaluator, c *callCtx) (any, error) {
	if c.nargs() < 1 {
		return nil, errors.New("expr: format(): takes a format string")
	}
	f, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, c.nargs()-1)
	for i := 1; i < c.nargs(); i++ {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	named := map[string]any{}
	for _, m := range c.named {
		id, ok := m.key.(*identNode)
		if !ok {
			return nil, errors.New("expr: format(): a field name must be a bare name, as in format(\"{x}\", x => 1)")
		}
		v, err := ev.value(m.value, c.sc)
		if err != nil {
			return nil, err
		}
		named[id.name] = v
	}
	var b strings.Builder
	auto, manual := 0, false
	for _, a := range args {
		if err := ev.checkSize(a, "format()"); err != nil {
			return nil, err
		}
	}
	for i := 0; i < len(f); i++ {
		ch := f[i]
		switch {
		case ch == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case ch == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case ch == '{':
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return nil, errors.New("expr: format(): expected '}' before end of string")
			}
			field := f[i+1 : i+end]
			i += end
			out, err := formatField(field, args, named, &auto, &manual)
			if err != nil {
				return nil, fmt.Errorf("expr: format(): %v", err)
			}
			b.WriteString(out)
		case ch == '}':
			return nil, errors.New("expr: format(): single '}' in the format string")
		default:
			b.WriteByte(ch)
		}
		if b.Len() > ev.lim.MaxBytes {
			return nil, fmt.Errorf("expr: format(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
		}
	}
	return b.String(), ev.allocString(b.String(), "format()")
}

// pyFormatValue is Python's format(v, ""): str() of the value yaql holds.
func pyFormatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any, map[string]any:
		return pyRepr(x, true)
	}
	return pyRepr(v, false)
}

func fnToDict(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 3); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), "toDict()"); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(l))
	ls := lambdaScope(c.sc)
	for _, e := range l {
		k, err := ev.lambda(c.node(1), ls, e)
		if err != nil {
			return nil, err
		}
		key, err := dictKey(k, "toDict()")
		if err != nil {
			return nil, err
		}
		v := e
		if c.nargs() == 3 {
			if v, err = ev.lambda(c.node(2), ls, e); err != nil {
				return nil, err
			}
		}
		out[key] = v
	}
	return out, nil
}

func fnTask(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, 1); err != nil {
		return nil, err
	}
	var v any
	if c.nargs() == 1 {
		var err error
		if v, err = c.arg(ev, 0); err != nil {
			return nil, err
		}
	}
	if ev.funcs.Task == nil {
		return nil, errors.New("expr: task(): no task executions here (outside a workflow)")
	}
	// Mistral's task_(): a false name is the current task; another is
	// looked up by name, which a value that is not a string never is
	// (Mistral logs "Task ... not found" and gives None).
	name, none := taskFilter(v)
	if none {
		return nil, nil
	}
	v, err := ev.funcs.Task(ev.ctx, name)
	if err != nil {
		return nil, fmt.Errorf("expr: task(%s): %w", pyRepr(name, false), err)
	}
	return Normalize(v)
}

func fnExecution(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, 0); err != nil {
		return nil, err
	}
	if ev.funcs.Execution == nil {
		return nil, errors.New("expr: execution(): no workflow execution here (outside a workflow)")
	}
	v, err := ev.funcs.Execution(ev.ctx)
	if err != nil {
		return nil, fmt.Errorf("expr: execution(): %w", err)
	}
	return Normalize(v)
}

func fnEnv(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, 0); err != nil {
		return nil, err
	}
	if ev.funcs.Env == nil {
		return nil, nil
	}
	v, err := ev.funcs.Env(ev.ctx)
	if err != nil {
		return nil, fmt.Errorf("expr: env(): %w", err)
	}
	return Normalize(v)
}

func fnSkipTake(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	n, err := c.integer(ev, 1)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("expr: %s(): argument 1 is %d, want 0 or more", c.name, n)
	}
	if lz, ok := c.recv.(*lazySeq); ok && c.isM && c.name != "skip" {
		if err := ev.checkItems(int(min(n, int64(ev.lim.MaxItems)+1)), c.name+"()"); err != nil {
			return nil, err
		}
		if err := ev.allocate(int(n), c.name+"()"); err != nil {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			out[i] = lz.at(i)
		}
		return out, nil
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	n = min(n, int64(len(l)))
	if c.name == "skip" {
		return slices.Clone(l[n:]), nil
	}
	return slices.Clone(l[:n]), nil
}

func fnFlatten(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.checkSize(l, "flatten()"); err != nil {
		return nil, err
	}
	out := []any{}
	var walk func(l []any)
	walk = func(l []any) {
		for _, e := range l {
			if inner, ok := iterable(e); ok {
				walk(inner)
			} else {
				out = append(out, e)
			}
		}
	}
	walk(l)
	return out, ev.allocate(len(out), "flatten()")
}

func fnSelectMany(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
	ls := lambdaScope(c.sc)
	for _, e := range l {
		v, err := ev.lambda(c.node(1), ls, e)
		if err != nil {
			return nil, err
		}
		if inner, ok := v.([]any); ok {
			if err := ev.allocate(len(inner), "selectMany()"); err != nil {
				return nil, err
			}
			out = append(out, inner...)
		} else {
			out = append(out, v)
		}
	}
	return out, ev.checkItems(len(out), "selectMany()")
}

func fnContains(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	x, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	for _, e := range l {
		eq, err := ev.equal(x, e)
		if err != nil || eq {
			return eq, err
		}
	}
	return false, nil
}

// fnIndexOf finds an element of a list or a substring (in characters),
// from the start or, for lastIndexOf, from the end; -1 when absent.
func fnIndexOf(ev *evaluator, c *callCtx) (any, error) {
	if s, ok := c.recv.(string); ok && c.isM && c.nargs() > 2 {
		return ev.strIndexOf(c, s)
	}
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	recv, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	x, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	last := c.name == "lastIndexOf"
	switch r := recv.(type) {
	case string:
		sub, ok := x.(string)
		if !ok {
			return nil, c.argErr(1, x, "a string")
		}
		i := strings.Index(r, sub)
		if last {
			i = strings.LastIndex(r, sub)
		}
		if i < 0 {
			return int64(-1), nil
		}
		return int64(len([]rune(r[:i]))), nil
	case []any, *setValue:
		// yaql's indexOf takes any iterable (a set walks in its order).
		items, _ := r.([]any)
		if set, ok := r.(*setValue); ok {
			items = set.elems
		}
		found := int64(-1)
		for i, e := range items {
			eq, err := ev.equal(x, e)
			if err != nil {
				return nil, err
			}
			if eq {
				found = int64(i)
				if !last {
					break
				}
			}
		}
		return found, nil
	}
	return nil, c.argErr(0, recv, "a string or a list")
}

func fnConcat(ev *evaluator, c *callCtx) (any, error) {
	vals, err := c.all(ev)
	if err != nil {
		return nil, err
	}
	if len(c.named) > 0 {
		return nil, fmt.Errorf("expr: %s(): takes no name => value arguments", c.name)
	}
	if len(vals) == 0 {
		return nil, errors.New("expr: concat(): takes lists or strings to join, got none")
	}
	if _, ok := vals[0].(string); ok && !c.isM {
		var b strings.Builder
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, c.argErr(i, v, "a string")
			}
			b.WriteString(s)
			if b.Len() > ev.lim.MaxBytes {
				return nil, fmt.Errorf("expr: concat(): the string would be more than %d bytes: %w", ev.lim.MaxBytes, ErrLimit)
			}
		}
		return b.String(), ev.allocString(b.String(), "concat()")
	}
	out := []any{}
	for i, v := range vals {
		l, ok := iterable(v)
		if !ok {
			return nil, c.argErr(i, v, "a list")
		}
		if err := ev.allocate(len(l), "concat()"); err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, ev.checkItems(len(out), "concat()")
}

func fnReverse(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(l), "reverse()"); err != nil {
		return nil, err
	}
	out := slices.Clone(l)
	slices.Reverse(out)
	return out, nil
}

func fnToList(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// fnSubstring is yaql's substring(start, length): characters from start
// (counted from the end when negative), length of them (all when negative).
func fnSubstring(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 3); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	start, err := c.integer(ev, 1)
	if err != nil {
		return nil, err
	}
	length := int64(-1)
	if c.nargs() == 3 {
		if length, err = c.integer(ev, 2); err != nil {
			return nil, err
		}
	}
	r := []rune(s)
	n := int64(len(r))
	if length < 0 {
		length = n
	}
	if start < 0 {
		start += n
	}
	start = max(0, min(start, n))
	end := n
	if length < n-start {
		end = start + length
	}
	return string(r[start:end]), nil
}

func fnGet(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 3); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	k, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	if key, ok := k.(string); ok {
		if v, ok := m[key]; ok {
			return v, nil
		}
	}
	if c.nargs() == 3 {
		return c.arg(ev, 2)
	}
	return nil, nil
}

func fnContainsKey(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	m, err := c.dict(ev, 0)
	if err != nil {
		return nil, err
	}
	k, err := c.arg(ev, 1)
	if err != nil {
		return nil, err
	}
	key, ok := k.(string)
	if !ok {
		return false, nil
	}
	_, ok = m[key]
	return ok, nil
}

func fnIsType(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.rawArg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case string:
		return c.name == "isString", nil
	case []any:
		return c.name == "isList", nil
	case map[string]any:
		return c.name == "isDict", nil
	case int64:
		return c.name == "isInteger" || c.name == "isNumber", nil
	case float64:
		return c.name == "isNumber", nil
	case bool:
		return c.name == "isBoolean", nil
	}
	return false, nil
}

// fnUUID is Mistral's uuid(): a random (version 4) UUID.
func fnUUID(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(0, 0); err != nil {
		return nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("expr: uuid(): %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
