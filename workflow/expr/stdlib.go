package expr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// This file holds yaql's math, boolean, branching, system, string and regex
// functions that the first version left out.

func fnAbs(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case int64:
		if x == math.MinInt64 {
			return nil, errors.New("expr: abs(): integer overflow")
		}
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, c.argErr(0, v, "a number")
}

// fnPow is pow(a, b, c => null): Python's pow, an integer for integers
// with b >= 0, a float otherwise; c is a modulus, for integers only.
func fnPow(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "a", "b", "c")
	if err != nil {
		return nil, err
	}
	var n [3]any
	for i := range 3 {
		if n[i], err = b.val(ev, i, nil); err != nil {
			return nil, err
		}
		if _, ok := number(n[i]); !ok && !(i == 2 && n[i] == nil) {
			return nil, b.err(i, n[i], "a number")
		}
	}
	x, xi := n[0].(int64)
	y, yi := n[1].(int64)
	if n[2] != nil {
		m, mi := n[2].(int64)
		if !xi || !yi || !mi {
			return nil, errors.New("expr: pow(): 3rd argument not allowed unless all arguments are integers")
		}
		if m == 0 {
			return nil, errors.New("expr: pow(): 3rd argument cannot be 0")
		}
		if y < 0 {
			return nil, errors.New("expr: pow(): a negative exponent with a modulus is not supported")
		}
		r, base := int64(1), ((x%m)+m)%m
		for ; y > 0; y >>= 1 {
			if y&1 == 1 {
				r = mulMod(r, base, m)
			}
			base = mulMod(base, base, m)
		}
		if m < 0 && r > 0 {
			r += m
		}
		return r, nil
	}
	if xi && yi && y >= 0 {
		r := int64(1)
		for range y {
			if err := ev.step(); err != nil {
				return nil, err
			}
			p := r * x
			if x != 0 && (p/x != r || (x == -1 && r == math.MinInt64)) {
				return nil, errors.New("expr: pow(): integer overflow")
			}
			r = p
			if r == 0 || r == 1 && x == 1 {
				break
			}
		}
		return r, nil
	}
	fx, _ := number(n[0])
	fy, _ := number(n[1])
	if fx == 0 && fy < 0 {
		return nil, errors.New("expr: pow(): 0.0 cannot be raised to a negative power")
	}
	r := math.Pow(fx, fy)
	if math.IsNaN(r) {
		return nil, errors.New("expr: pow(): the result is a complex number")
	}
	if math.IsInf(r, 0) {
		return nil, errors.New("expr: pow(): numerical result out of range")
	}
	return r, nil
}

func mulMod(a, b, m int64) int64 {
	neg := m < 0
	if neg {
		m = -m
	}
	a, b = ((a%m)+m)%m, ((b%m)+m)%m
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return int64(bits.Rem64(hi, lo, uint64(m)))
}

// fnRound is Python's round(): half to even, an integer for an integer
// (round(1234, -2) is 1200) and a float for a float (round(2.5) is 2.0, as
// yaql calls round(number, 0)).
func fnRound(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "number", "ndigits")
	if err != nil {
		return nil, err
	}
	v, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	d, err := b.integer(ev, 1, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case int64:
		return roundInt(x, d), nil
	case float64:
		return pyRound(x, d), nil
	}
	return nil, b.err(0, v, "a number")
}

// roundInt is Python's round(x, d) for an integer: x itself for d >= 0,
// else half to even at 10**-d (round(1250, -2) is 1200).
func roundInt(x, d int64) int64 {
	if d >= 0 {
		return x
	}
	if d < -18 {
		return 0
	}
	p := int64(math.Pow10(int(-d)))
	q, r := x/p, x%p
	if r < 0 {
		q, r = q-1, r+p
	}
	if 2*r > p || (2*r == p && q%2 != 0) {
		q++
	}
	return q * p
}

// pyRound rounds as Python does: on the exact decimal value of the
// float, half to even, so round(2.675, 2) is 2.67 (2.675 is 2.67499999...
// as a double) and round(2.5) is 2.0.
func pyRound(x float64, d int64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || d > 320 {
		return x
	}
	if d >= 0 {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', int(d), 64), 64)
		return r
	}
	if d < -320 {
		return 0 * x
	}
	p := math.Pow10(int(-d))
	return math.RoundToEven(x/p) * p
}

func fnSign(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	f, ok := number(v)
	if !ok {
		return nil, c.argErr(0, v, "a number")
	}
	switch {
	case f > 0:
		return int64(1), nil
	case f < 0:
		return int64(-1), nil
	}
	return int64(0), nil
}

func fnBitwise(ev *evaluator, c *callCtx) (any, error) {
	n := 2
	if c.name == "bitwiseNot" {
		n = 1
	}
	if err := c.arity(n, n); err != nil {
		return nil, err
	}
	var a [2]int64
	for i := range n {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		if b, ok := v.(bool); ok {
			v = boolInt(b)
		}
		x, ok := v.(int64)
		if !ok {
			return nil, c.argErr(i, v, "an integer")
		}
		a[i] = x
	}
	switch c.name {
	case "bitwiseAnd":
		return a[0] & a[1], nil
	case "bitwiseOr":
		return a[0] | a[1], nil
	case "bitwiseXor":
		return a[0] ^ a[1], nil
	case "bitwiseNot":
		return ^a[0], nil
	}
	if a[1] < 0 {
		return nil, fmt.Errorf("expr: %s(): negative shift count", c.name)
	}
	if c.name == "shiftBitsRight" {
		return a[0] >> min(a[1], 63), nil
	}
	if a[1] >= 63 || (a[0] != 0 && (a[0]<<a[1])>>a[1] != a[0]) {
		return nil, errors.New("expr: shiftBitsLeft(): integer overflow")
	}
	return a[0] << a[1], nil
}

func fnRandom(ev *evaluator, c *callCtx) (any, error) {
	switch c.nargs() {
	case 0:
		return rand.Float64(), nil
	case 2:
		var a [2]int64
		for i := range 2 {
			n, err := c.integer(ev, i)
			if err != nil {
				return nil, err
			}
			a[i] = n
		}
		if a[1] < a[0] {
			return nil, fmt.Errorf("expr: random(): empty range (%d, %d)", a[0], a[1])
		}
		return a[0] + rand.Int64N(a[1]-a[0]+1), nil
	}
	return nil, fmt.Errorf("expr: random(): takes 0 or 2 arguments, got %d", c.nargs())
}

func fnBool(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.rawArg(ev, 0)
	if err != nil {
		return nil, err
	}
	return Truthy(v), nil
}

// fnCoalesce returns the first argument that is not null, evaluating no
// further.
func fnCoalesce(ev *evaluator, c *callCtx) (any, error) {
	if len(c.named) > 0 {
		return nil, errors.New("expr: coalesce(): takes no name => value arguments")
	}
	for i := range c.nargs() {
		v, err := c.arg(ev, i)
		if err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// fnCases is selectCase (the index of the first true argument, or the
// number of arguments), selectAllCases (the indexes of the true ones) and
// examine (each argument's truth).
func fnCases(ev *evaluator, c *callCtx) (any, error) {
	if len(c.named) > 0 {
		return nil, fmt.Errorf("expr: %s(): takes no name => value arguments", c.name)
	}
	out := []any{}
	for i := range c.nargs() {
		v, err := c.arg(ev, i)
		if err != nil {
			return nil, err
		}
		switch c.name {
		case "selectCase":
			if Truthy(v) {
				return int64(i), nil
			}
		case "selectAllCases":
			if Truthy(v) {
				out = append(out, int64(i))
			}
		default:
			out = append(out, Truthy(v))
		}
	}
	if c.name == "selectCase" {
		return int64(c.nargs()), nil
	}
	return out, nil
}

// fnSwitchCase is case.switchCase(args...): the case-th argument, or the
// last one when case is out of range; only that one is evaluated.
func fnSwitchCase(ev *evaluator, c *callCtx) (any, error) {
	if len(c.named) > 0 {
		return nil, errors.New("expr: switchCase(): takes no name => value arguments")
	}
	n, err := c.integer(ev, 0)
	if err != nil {
		return nil, err
	}
	args := c.nargs() - 1
	switch {
	case args == 0:
		return nil, nil
	case n >= 0 && n < int64(args):
		return c.arg(ev, int(n)+1)
	}
	return c.arg(ev, args)
}

// fnUnpack is list.unpack(names...) -> expr: the elements as $names (or
// $1, $2, ... without names), with $ still the list.
func fnUnpack(ev *evaluator, c *callCtx) (any, error) {
	l, err := c.list(ev, 0)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{}
	// yaql's unpack sets $1, $2, ... (or the names) in a context whose $
	// is unset: $ is $1 there, the first item, or null with names.
	if c.nargs() == 1 {
		var first any
		for i, e := range l {
			vars[fmt.Sprint(i+1)] = e
			if i == 0 {
				first = e
			}
		}
		return &letContext{vars: vars, dollar: first, setDollar: true}, nil
	}
	if c.nargs()-1 != len(l) {
		return nil, fmt.Errorf("expr: unpack(): cannot unpack %d elements into %d", len(l), c.nargs()-1)
	}
	for i := 1; i < c.nargs(); i++ {
		name, err := c.str(ev, i)
		if err != nil {
			return nil, err
		}
		vars[name] = l[i-1]
	}
	return &letContext{vars: vars, dollar: nil, setDollar: true}, nil
}

// fnWith is with(args...) -> expr: $1, $2, ... are the arguments and $ is
// the first one.
func fnWith(ev *evaluator, c *callCtx) (any, error) {
	vals, err := c.all(ev)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]any, len(vals))
	for i, v := range vals {
		vars[fmt.Sprint(i+1)] = v
	}
	lc := &letContext{vars: vars}
	if len(vals) > 0 {
		lc.dollar, lc.setDollar = vals[0], true
	}
	return lc, nil
}

// userDef is a function def() declares: its body is evaluated with $ and
// $1 as the first argument, $2 the second, ...
type userDef struct {
	body node
	sc   *scope
}

func fnDef(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(2, 2); err != nil {
		return nil, err
	}
	name, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	ev.defs = true
	return &letContext{defs: map[string]*userDef{name: {body: c.node(1), sc: c.sc}}}, nil
}

// callUser calls a def() function; only as a function (def(f, ...) ->
// 3.f() is an unknown method in yaql).
func (ev *evaluator) callUser(d *userDef, n *callNode, sc *scope) (any, error) {
	vars := map[string]any{}
	var dollar any
	for i, a := range n.args {
		if _, ok := a.(*mappingNode); ok {
			return nil, fmt.Errorf("expr: %s(): takes no name => value arguments", n.name)
		}
		v, err := ev.value(a, sc)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			dollar = v
		}
		vars[fmt.Sprint(i+1)] = v
	}
	return ev.value(d.body, &scope{parent: d.sc, dollar: dollar, vars: vars})
}

func (sc *scope) userDef(name string) *userDef {
	for ; sc != nil; sc = sc.parent {
		if d, ok := sc.defs[name]; ok {
			return d
		}
	}
	return nil
}

// fnAssert is x.assert(condition, message): x when the condition (with $
// as x) holds, an error otherwise.
func fnAssert(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "obj", "condition", "message")
	if err != nil {
		return nil, err
	}
	msg := "Assertion failed"
	if b.has(2) {
		if msg, err = b.str(ev, 2); err != nil {
			return nil, err
		}
	}
	v, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	ok, err := ev.lambda(b.nodes[1], lambdaScope(c.sc), v)
	if err != nil {
		return nil, err
	}
	if !Truthy(ok) {
		return nil, fmt.Errorf("expr: assert(): %s", msg)
	}
	return v, nil
}

// pyStrip is Python's str.strip/lstrip/rstrip: chars == nil strips
// whitespace.
func pyStrip(s string, chars *string, left, right bool) string {
	f := unicode.IsSpace
	if chars != nil {
		set := *chars
		f = func(r rune) bool { return strings.ContainsRune(set, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// fnTrim is trim, trimLeft and trimRight(chars => null).
func fnTrim(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "string", "chars")
	if err != nil {
		return nil, err
	}
	s, err := b.str(ev, 0)
	if err != nil {
		return nil, err
	}
	chars, ok, err := b.optStr(ev, 1)
	if err != nil {
		return nil, err
	}
	var cp *string
	if ok {
		cp = &chars
	}
	return pyStrip(s, cp, c.name != "trimRight", c.name != "trimLeft"), nil
}

// fnNorm is norm(chars => null): the trimmed string, or null when empty.
func fnNorm(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "string", "chars")
	if err != nil {
		return nil, err
	}
	s, ok, err := b.optStr(ev, 0)
	if err != nil || !ok {
		return nil, err
	}
	chars, hasChars, err := b.optStr(ev, 1)
	if err != nil {
		return nil, err
	}
	var cp *string
	if hasChars {
		cp = &chars
	}
	if s = pyStrip(s, cp, true, true); s == "" {
		return nil, nil
	}
	return s, nil
}

// fnIsEmpty is isEmpty(trim => true, chars => null). yaql names the
// second parameter trimSpaces in its documentation but registers it as
// trim: '  '.isEmpty(trimSpaces => false) is an error in Mistral.
func fnIsEmpty(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "string", "trim", "chars")
	if err != nil {
		return nil, err
	}
	s, ok, err := b.optStr(ev, 0)
	if err != nil {
		return nil, err
	}
	if !ok {
		return true, nil
	}
	trim, err := b.boolean(ev, 1, true)
	if err != nil {
		return nil, err
	}
	chars, hasChars, err := b.optStr(ev, 2)
	if err != nil {
		return nil, err
	}
	if trim {
		var cp *string
		if hasChars {
			cp = &chars
		}
		s = pyStrip(s, cp, true, true)
	}
	return s == "", nil
}

func fnToCharArray(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	r := []rune(s)
	if err := ev.allocate(len(r), "toCharArray()"); err != nil {
		return nil, err
	}
	out := make([]any, len(r))
	for i, ch := range r {
		out[i] = string(ch)
	}
	return out, nil
}

func fnHex(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Sprintf("-0x%x", uint64(-x)), nil
		}
		return fmt.Sprintf("0x%x", x), nil
	}
	// yaql's hex takes yaqltypes.Integer, which refuses a bool (Mistral:
	// No function "hex" matches supplied arguments), where int parameters
	// take one.
	return nil, c.argErr(0, v, "an integer")
}

// fnCharacters is characters(digits => true, ...): the characters of the
// named classes, in no particular order (Python's set order; sort them).
func fnCharacters(ev *evaluator, c *callCtx) (any, error) {
	classes := []string{"digits", "hexdigits", "asciiLowercase", "asciiUppercase", "asciiLetters", "letters", "octdigits", "punctuation", "printable", "lowercase", "uppercase", "whitespace"}
	b, err := c.bind(0, classes...)
	if err != nil {
		return nil, err
	}
	sets := map[string]string{
		"digits": "0123456789", "hexdigits": "0123456789abcdefABCDEF",
		"asciiLowercase": "abcdefghijklmnopqrstuvwxyz", "asciiUppercase": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"octdigits": "01234567", "punctuation": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
		"whitespace": " \t\n\r\x0b\x0c",
	}
	sets["asciiLetters"] = sets["asciiLowercase"] + sets["asciiUppercase"]
	sets["letters"] = sets["asciiLetters"]
	sets["printable"] = sets["digits"] + sets["asciiLetters"] + sets["punctuation"] + sets["whitespace"]
	var all strings.Builder
	for i, name := range classes {
		on, err := b.val(ev, i, false)
		if err != nil {
			return nil, err
		}
		if !Truthy(on) {
			continue
		}
		if name == "lowercase" || name == "uppercase" {
			// yaql reads Python 2's string.lowercase, gone in Python 3.
			return nil, fmt.Errorf("expr: characters(): module 'string' has no attribute %q", name)
		}
		all.WriteString(sets[name])
	}
	out := []any{}
	seen := map[rune]bool{}
	for _, r := range all.String() {
		if !seen[r] {
			seen[r] = true
			out = append(out, string(r))
		}
	}
	slices.SortFunc(out, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	return out, nil
}

// fnRightSplit is rightSplit(separator => null, maxSplits => -1).
func fnRightSplit(ev *evaluator, c *callCtx) (any, error) {
	return ev.split(c, true)
}

func fnSplit(ev *evaluator, c *callCtx) (any, error) {
	if c.isM {
		if rx, ok := c.recv.(*regexValue); ok {
			return ev.regexSplit(c, rx, 0)
		}
		if _, ok := c.recv.(string); ok && c.nargs() > 1 {
			v, err := c.arg(ev, 1)
			if err != nil {
				return nil, err
			}
			if rx, ok := v.(*regexValue); ok {
				return ev.regexSplit(c, rx, 1)
			}
		}
	}
	return ev.split(c, false)
}

func (ev *evaluator) split(c *callCtx, right bool) (any, error) {
	b, err := c.bind(1, "string", "separator", "maxSplits")
	if err != nil {
		return nil, err
	}
	s, err := b.str(ev, 0)
	if err != nil {
		return nil, err
	}
	sep, hasSep, err := b.optStr(ev, 1)
	if err != nil {
		return nil, err
	}
	max, err := b.integer(ev, 2, -1)
	if err != nil {
		return nil, err
	}
	var parts []string
	switch {
	case !hasSep && right:
		parts = rsplitSpace(s, max)
	case !hasSep:
		parts = splitSpace(s, max)
	case sep == "":
		return nil, fmt.Errorf("expr: %s(): empty separator", c.name)
	case right && max >= 0:
		parts = strings.Split(s, sep)
		if int64(len(parts)-1) > max {
			cut := len(parts) - int(max)
			parts = append([]string{strings.Join(parts[:cut], sep)}, parts[cut:]...)
		}
	default:
		n := -1
		if max >= 0 {
			n = int(min(max, int64(len(s)))) + 1
		}
		parts = strings.SplitN(s, sep, n)
	}
	if err := ev.allocate(len(parts), c.name+"()"); err != nil {
		return nil, err
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// rsplitSpace is Python's str.rsplit() without a separator.
func rsplitSpace(s string, max int64) []string {
	var rev []string
	for {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
		if s == "" {
			break
		}
		if max >= 0 && int64(len(rev)) == max {
			rev = append(rev, s)
			break
		}
		i := strings.LastIndexFunc(s, unicode.IsSpace)
		if i < 0 {
			rev = append(rev, s)
			break
		}
		_, w := utf8Last(s[i:])
		rev = append(rev, s[i+w:])
		s = s[:i]
	}
	slices.Reverse(rev)
	if rev == nil {
		return []string{}
	}
	return rev
}

func utf8Last(s string) (rune, int) {
	for i, r := range s {
		return r, len(string(r)) + i
	}
	return 0, 0
}

// regex() and its methods.

func fnRegex(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(1, "pattern", "ignoreCase", "multiLine", "dotAll")
	if err != nil {
		return nil, err
	}
	pat, err := b.str(ev, 0)
	if err != nil {
		return nil, err
	}
	flags := ""
	for i, f := range []string{"i", "m", "s"} {
		on, err := b.val(ev, i+1, false)
		if err != nil {
			return nil, err
		}
		if Truthy(on) {
			flags += f
		}
	}
	if err := ev.allocate(len(pat), "regex()"); err != nil {
		return nil, err
	}
	re, err := compilePyCached(pat, flags)
	if err != nil {
		return nil, fmt.Errorf("expr: regex(): pattern %q: %v", pat, err)
	}
	return &regexValue{re: re, src: pat}, nil
}

// regexArgs returns the regex and the string of rx.f(s) or s.f(rx), and
// for a string pattern (s.matches('^a')) the compiled pattern.
func (ev *evaluator) regexArgs(c *callCtx, b *bound) (*pyRegex, string, error) {
	a, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, "", err
	}
	x, err := b.val(ev, 1, nil)
	if err != nil {
		return nil, "", err
	}
	if rx, ok := a.(*regexValue); ok {
		s, ok := x.(string)
		if !ok {
			return nil, "", b.err(1, x, "a string")
		}
		return rx.re, s, ev.allocate(len(s)*(len(rx.src)+1)/64, c.name+"()")
	}
	s, ok := a.(string)
	if !ok {
		return nil, "", b.err(0, a, "a string or a regex")
	}
	switch p := x.(type) {
	case *regexValue:
		return p.re, s, ev.allocate(len(s)*(len(p.src)+1)/64, c.name+"()")
	case string:
		if c.name == "replaceBy" {
			// yaql's string.replaceBy(regexp, ...) calls regexp.sub: a
			// pattern given as a string has none ('abc'.replaceBy('b', x)
			// fails in Mistral; string.replace takes one).
			return nil, "", fmt.Errorf("expr: replaceBy(): the pattern %s is a string: give regex(%s) (yaql calls its sub method)", pyRepr(p, false), pyRepr(p, false))
		}
		if err := ev.allocate(len(s)*(len(p)+1)/64, c.name+"()"); err != nil {
			return nil, "", err
		}
		re, err := compilePyCached(p, "")
		if err != nil {
			return nil, "", fmt.Errorf("expr: %s(): pattern %q: %v", c.name, p, err)
		}
		return re, s, nil
	}
	return nil, "", b.err(1, x, "a regex")
}

func fnMatches(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "regexp", "string")
	if err != nil {
		return nil, err
	}
	re, s, err := ev.regexArgs(c, b)
	if err != nil {
		return nil, err
	}
	return re.search(ev.ctx, s)
}

// matchScope publishes a match as yaql does: $ and $1 are the whole match
// ({value, start, end}, offsets in characters), $2 the first group, ...
// (yaql numbers from 1 for the whole match). A pattern with named groups
// fails: yaql unpacks each group's value as a pair (Mistral's
// regex('(?P<d>\d)').search('a5', $) is "not enough values to unpack").
func matchScope(re *pyRegex, s string, loc []int, parent *scope) (*scope, error) {
	if re.named {
		return nil, errors.New("expr: not enough values to unpack (expected 2, got 1)")
	}
	rec := func(i int) map[string]any {
		if loc[2*i] < 0 {
			return map[string]any{"value": nil, "start": int64(-1), "end": int64(-1)}
		}
		return map[string]any{
			"value": s[loc[2*i]:loc[2*i+1]],
			"start": int64(len([]rune(s[:loc[2*i]]))),
			"end":   int64(len([]rune(s[:loc[2*i+1]]))),
		}
	}
	vars := map[string]any{}
	for i := 1; i < len(loc)/2; i++ {
		vars[fmt.Sprint(i+1)] = rec(i)
	}
	return &scope{parent: parent, dollar: rec(0), vars: vars, lambda: true}, nil
}

// fnSearch is search(string, selector) and searchAll(string, selector).
func fnSearch(ev *evaluator, c *callCtx) (any, error) {
	b, err := c.bind(2, "regexp", "string", "selector")
	if err != nil {
		return nil, err
	}
	a, err := b.val(ev, 0, nil)
	if err != nil {
		return nil, err
	}
	if _, ok := a.(*regexValue); !ok {
		return nil, b.err(0, a, "a regex")
	}
	re, s, err := ev.regexArgs(c, b)
	if err != nil {
		return nil, err
	}
	n := -1
	if c.name == "search" {
		n = 1
	}
	locs, err := re.findAll(ev.ctx, s, n)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, loc := range locs {
		var v any = s[loc[0]:loc[1]]
		if b.has(2) {
			sc, err := matchScope(re, s, loc, c.sc)
			if err != nil {
				return nil, err
			}
			if v, err = ev.value(b.nodes[2], sc); err != nil {
				return nil, err
			}
		}
		if c.name == "search" {
			return v, nil
		}
		out = append(out, v)
	}
	if c.name == "search" {
		return nil, nil
	}
	return out, nil
}

// regexSplit is regex.split(string, maxSplit => 0) and
// string.split(regex, maxSplit => 0): Python's re.split, groups included.
func (ev *evaluator) regexSplit(c *callCtx, rx *regexValue, strAt int) (any, error) {
	b, err := c.bind(2, "regexp", "string", "maxSplit")
	if err != nil {
		return nil, err
	}
	s, err := b.str(ev, 1-strAt)
	if err != nil {
		return nil, err
	}
	max, err := b.integer(ev, 2, 0)
	if err != nil {
		return nil, err
	}
	if max < 0 { // Python's re.split: a negative maxsplit splits nothing
		return []any{s}, nil
	}
	n := -1
	if max > 0 {
		n = int(min(max, int64(len(s))))
	}
	locs, err := rx.re.findAll(ev.ctx, s, n)
	if err != nil {
		return nil, err
	}
	out := []any{}
	last := 0
	for _, loc := range locs {
		out = append(out, s[last:loc[0]])
		for i := 1; i < len(loc)/2; i++ {
			if loc[2*i] < 0 {
				out = append(out, nil)
			} else {
				out = append(out, s[loc[2*i]:loc[2*i+1]])
			}
		}
		last = loc[1]
	}
	out = append(out, s[last:])
	return out, ev.allocate(len(out), "split()")
}

// regexReplace is regex.replace(string, repl, count => 0) (and the
// string.replace(regex, ...) form): Python's re.sub, with \1 and \g<1>
// in repl. With replaceBy, repl is an expression of the match.
func (ev *evaluator) regexReplace(c *callCtx, by bool) (any, error) {
	b, err := c.bind(3, "regexp", "string", "repl", "count")
	if err != nil {
		return nil, err
	}
	re, s, err := ev.regexArgs(c, b)
	if err != nil {
		return nil, err
	}
	var tmpl pyTemplate
	if !by {
		repl, err := b.str(ev, 2)
		if err != nil {
			return nil, err
		}
		if tmpl, err = re.template(repl); err != nil {
			return nil, fmt.Errorf("expr: %s(): replacement %q: %v", c.name, repl, err)
		}
	}
	count, err := b.integer(ev, 3, 0)
	if err != nil {
		return nil, err
	}
	n := -1
	switch {
	case count < 0:
		// Python's re.sub replaces nothing for a negative count.
		return s, nil
	case count > 0:
		n = int(min(count, int64(len(s)+1)))
	}
	locs, err := re.findAll(ev.ctx, s, n)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	last := 0
	for _, loc := range locs {
		out.WriteString(s[last:loc[0]])
		if by {
			sc, err := matchScope(re, s, loc, c.sc)
			if err != nil {
				return nil, err
			}
			v, err := ev.value(b.nodes[2], sc)
			if err != nil {
				return nil, err
			}
			r, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("expr: replaceBy(): the replacement is %s, want a string", article(v))
			}
			out.WriteString(r)
		} else {
			tmpl.expand(&out, s, loc)
		}
		last = loc[1]
		if out.Len() > ev.lim.MaxBytes {
			return nil, fmt.Errorf("expr: %s(): the string would be more than %d bytes: %w", c.name, ev.lim.MaxBytes, ErrLimit)
		}
	}
	out.WriteString(s[last:])
	return out.String(), ev.allocString(out.String(), c.name+"()")
}

func fnReplaceBy(ev *evaluator, c *callCtx) (any, error) { return ev.regexReplace(c, true) }

// fnEscapeRegex is Python's re.escape: every character but ASCII letters,
// digits and _ is escaped.
func fnEscapeRegex(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, r := range s {
		if r < 128 && !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') &&
			strings.ContainsRune("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

func fnIsRegex(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	_, ok := v.(*regexValue)
	return ok, nil
}
