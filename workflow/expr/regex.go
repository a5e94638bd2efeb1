package expr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"golang.org/x/text/unicode/runenames"
)

// RegexTimeout bounds every match of a pattern against a string: Python's
// re (and so Mistral) backtracks, and so does this package, so that a
// pattern such as (a*)*b can take time exponential in the text. A match
// that runs longer fails the evaluation with an error wrapping ErrLimit
// that names the pattern.
const RegexTimeout = time.Second

// regexStack bounds a match's backtracking stack (in ints): 4M, 32 MiB.
const regexStack = 1 << 22

// regexValue is what regex() returns: a compiled pattern.
type regexValue struct {
	re  *pyRegex
	src string
}

// pyRegex is a Python 3 re pattern compiled for regexp2, whose .NET
// backtracking engine has what RE2 lacks (backreferences, lookaround,
// atomic groups); compilePy rewrites what Python spells or means
// differently.
type pyRegex struct {
	re     *regexp2.Regexp
	src    string
	named  bool // the pattern has (?P<name>...) groups
	groups int  // its capturing groups
	names  map[string]int
	net    string // the .NET pattern
	opts   regexp2.RegexOptions

	once sync.Once
	ne   *regexp2.Regexp // see nonEmpty
}

// compilePy compiles a Python 3.11 re pattern (str, so Unicode) with the
// flags of yaql's regex(): "i", "m", "s" (re.I, re.M, re.S). The pattern
// is translated to .NET syntax: \d, \w, \s, \b and their negations match
// what Python's do (Unicode decimal digits, letters and numbers and _,
// str.isspace), \Z is the end of the text, (?P<n>...) and (?P=n) are .NET's
// (?<n>...) and \k<n>, a{,3} is a{0,3}, a*+ is (?>a*), and escapes,
// groups and flags that Python refuses are errors with Python's message
// ("bad escape \p at position 0"). Groups are numbered as Python numbers
// them, named ones included.
func compilePy(pat, flags string) (*pyRegex, error) {
	t := pyTranslator{src: pat, names: map[string]int{}}
	for _, f := range flags {
		t.setFlag(f)
	}
	if err := t.translate(); err != nil {
		return nil, err
	}
	re, err := regexp2.Compile(string(t.out), t.opts, regexp2.OptionMaintainCaptureOrder(),
		regexp2.OptionMaxBacktrackingStackSize(regexStack))
	if err != nil {
		// What the translation lets through and .NET refuses.
		msg, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "error parsing regexp: "), " in `")
		return nil, errors.New(msg)
	}
	re.MatchTimeout = RegexTimeout
	return &pyRegex{re: re, src: pat, named: len(t.names) > 0, groups: t.groups, names: t.names, net: string(t.out), opts: t.opts}, nil
}

// regexCache holds compiled patterns by flags and pattern, as Python's
// re module keeps its last 512: $.list.where($ =~ 'a+') compiles once,
// not once an element. A pyRegex is safe for concurrent use.
var regexCache = resetCache[*pyRegex]{size: 256}

// compilePyCached is compilePy through regexCache.
func compilePyCached(pat, flags string) (*pyRegex, error) {
	key := flags + "/" + pat
	if re, ok := regexCache.get(key); ok {
		return re, nil
	}
	re, err := compilePy(pat, flags)
	if err != nil {
		return nil, err
	}
	regexCache.put(key, re)
	return re, nil
}

// errTimeout is a findAll whose matches together take over RegexTimeout.
var errTimeout = errors.New("match timeout")

// matchErr names the pattern of a failed match: a timeout, or a
// backtracking stack that outgrew regexStack.
func (p *pyRegex) matchErr(err error) error {
	if errors.Is(err, regexp2.ErrBacktrackingStackLimit) {
		return fmt.Errorf("expr: regex %q: the match backtracks more than %d steps deep: %w", p.src, regexStack, ErrLimit)
	}
	if err != errTimeout && !strings.HasPrefix(err.Error(), "match timeout") {
		return fmt.Errorf("expr: regex %q: %v", p.src, err)
	}
	return fmt.Errorf("expr: regex %q: the match takes more than %v (the pattern backtracks too much on this string): %w", p.src, RegexTimeout, ErrLimit)
}

// search is Python's bool(re.search(pattern, s)), unless ctx is done: a
// where() whose every match takes nearly RegexTimeout stops with the
// evaluation's context.
func (p *pyRegex) search(ctx context.Context, s string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ok, err := p.re.MatchString(s)
	if err != nil {
		return false, p.matchErr(err)
	}
	return ok, nil
}

// findAll returns up to n (all when n < 0) successive matches of s, as
// regexp's FindAllStringSubmatchIndex does: byte offsets of the whole
// match and of every group, -1 for a group that took no part. Matches
// follow each other as in Python 3.7 and later: an empty match may follow
// a match (re.sub('x*', '-', 'abxd') is '-a-b--d-'), and after an empty
// match a non-empty one may start at the same place (re.findall("|a",
// "a") is ["", "a", ""]). RegexTimeout bounds all the matches together,
// and ctx is checked between them.
func (p *pyRegex) findAll(ctx context.Context, s string, n int) ([][]int, error) {
	start := time.Now()
	runes := []rune(s)
	var byteAt []int // byte offset of each rune, when s is not ASCII
	if len(runes) != len(s) {
		byteAt = make([]int, 0, len(runes)+1)
		for i := range s {
			byteAt = append(byteAt, i)
		}
		byteAt = append(byteAt, len(s))
	}
	off := func(r int) int {
		if byteAt == nil {
			return r
		}
		return byteAt[r]
	}
	var out [][]int
	m, err := p.re.FindRunesMatch(runes)
	other := false // m is a match of p.nonEmpty
	for ; err == nil && m != nil && n != 0; n-- {
		loc := make([]int, 2*(p.groups+1))
		for i := 0; i <= p.groups; i++ {
			g := &m.Group
			if i > 0 {
				g = m.GroupByNumber(i)
			}
			if g == nil || len(g.Captures) == 0 {
				loc[2*i], loc[2*i+1] = -1, -1
				continue
			}
			loc[2*i], loc[2*i+1] = off(g.RuneIndex), off(g.RuneIndex+g.RuneLength)
		}
		out = append(out, loc)
		if err = ctx.Err(); err != nil {
			return nil, err
		}
		if time.Since(start) > RegexTimeout {
			return nil, p.matchErr(errTimeout)
		}
		switch {
		case other:
			m, err = p.re.FindRunesMatchStartingAt(runes, m.RuneIndex+m.RuneLength)
			other = false
		case m.RuneLength > 0:
			m, err = p.re.FindNextMatch(m)
		default:
			var ne *regexp2.Match
			if ne, err = p.nonEmpty().FindRunesMatchStartingAt(runes, m.RuneIndex); ne != nil {
				m, other = ne, true
			} else if err == nil {
				m, err = p.re.FindNextMatch(m) // one character on
			}
		}
	}
	if err != nil {
		return nil, p.matchErr(err)
	}
	return out, nil
}

// nonEmpty is the pattern anchored where the search starts (\G) and
// refusing to end there: a non-empty match at that place.
func (p *pyRegex) nonEmpty() *regexp2.Regexp {
	p.once.Do(func() {
		re, err := regexp2.Compile(`\G(?:`+p.net+`)(?!\G)`, p.opts, regexp2.OptionMaintainCaptureOrder(),
			regexp2.OptionMaxBacktrackingStackSize(regexStack))
		if err != nil {
			panic(fmt.Sprintf("expr: regex %q: %v", p.src, err)) // p.net compiled
		}
		re.MatchTimeout = RegexTimeout
		p.ne = re
	})
	return p.ne
}

// Python's classes, in the body of a .NET character class.
const (
	pyWord       = `\p{L}\p{N}_` // str.isalnum() or _, which is L and N in Unicode 14
	pyDigit      = `\p{Nd}`
	pySpace      = `\t-\r\x1C-\x20\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000` // str.isspace()
	pyASCIIWord  = `a-zA-Z0-9_`
	pyASCIIDigit = `0-9`
	pyASCIISpace = `\t-\r\x20`
)

// pyTranslator rewrites a Python pattern in .NET syntax.
type pyTranslator struct {
	src     string
	i       int
	out     []byte
	opts    regexp2.RegexOptions
	ascii   bool // \w, \d, \s, \b are ASCII (yaql compiles with re.UNICODE: never)
	verbose bool // (?x), outside groups that set it themselves
	groups  int  // capturing groups opened so far
	names   map[string]int
	open    []pyGroup
	closed  map[int]bool
	atom    int  // where the last atom starts in out, -1 when none
	quant   bool // the last thing was a quantifier
	root    width
	widths  map[int][2]int // of the closed groups, for backreferences
}

type pyGroup struct {
	at, start int  // position in src, start in out
	num       int  // its number when it captures, else 0
	kind      byte // '<' a look-behind, '=' a look-ahead, '?' a conditional
	w         width
}

// width is what Python's getwidth computes: the least and the most
// characters a group matches, for its check that a look-behind has a fixed
// width (.NET accepts any).
type width struct {
	lo, hi         int // over the alternatives done
	curLo, curHi   int // of the alternative being read
	prevLo, prevHi int // of that alternative before its last atom
	lastLo, lastHi int // of its last atom
	alts           int // alternatives done
}

const inf = 1 << 40

func addW(a, b int) int { return min(a+b, inf) }

func mulW(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= inf/b {
		return inf
	}
	return min(a*b, inf)
}

func (w *width) atom(lo, hi int) {
	w.prevLo, w.prevHi, w.lastLo, w.lastHi = w.curLo, w.curHi, lo, hi
	w.curLo, w.curHi = addW(w.curLo, lo), addW(w.curHi, hi)
}

func (w *width) endAlt() {
	if w.alts == 0 {
		w.lo, w.hi = w.curLo, w.curHi
	} else {
		w.lo, w.hi = min(w.lo, w.curLo), max(w.hi, w.curHi)
	}
	w.alts++
	w.curLo, w.curHi = 0, 0
}

func (t *pyTranslator) width() *width {
	if len(t.open) == 0 {
		return &t.root
	}
	return &t.open[len(t.open)-1].w
}

// errAt is Python's error message: "missing ), unterminated subpattern
// at position 0", the position in characters.
func (t *pyTranslator) errAt(at int, format string, args ...any) error {
	return fmt.Errorf("%s at position %d", fmt.Sprintf(format, args...), utf8.RuneCountInString(t.src[:at]))
}

func (t *pyTranslator) setFlag(f rune) {
	switch f {
	case 'i':
		t.opts |= regexp2.IgnoreCase
	case 'm':
		t.opts |= regexp2.Multiline
	case 's':
		t.opts |= regexp2.Singleline
	case 'x':
		t.verbose = true
	}
}

func (t *pyTranslator) word() string {
	if t.ascii {
		return pyASCIIWord
	}
	return pyWord
}

func (t *pyTranslator) digit() string {
	if t.ascii {
		return pyASCIIDigit
	}
	return pyDigit
}

func (t *pyTranslator) space() string {
	if t.ascii {
		return pyASCIISpace
	}
	return pySpace
}

// emitAtom emits an atom of one character, emitZero one of none (\b),
// emitWidth one of lo to hi characters (a backreference).
func (t *pyTranslator) emitAtom(s string) { t.emitWidth(s, 1, 1) }

func (t *pyTranslator) emitZero(s string) { t.emitWidth(s, 0, 0) }

func (t *pyTranslator) emitWidth(s string, lo, hi int) {
	t.width().atom(lo, hi)
	t.atom = len(t.out)
	t.quant = false
	t.out = append(t.out, s...)
}

// literal is rune r as a .NET literal, inside or outside a class.
func literal(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf(`\x%02X`, r)
	case r < utf8.RuneSelf && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
		return `\` + string(r)
	}
	return string(r)
}

func (t *pyTranslator) translate() error {
	t.atom = -1
	t.closed = map[int]bool{}
	t.widths = map[int][2]int{}
	for t.i < len(t.src) {
		c := t.src[t.i]
		if t.verbose {
			if strings.IndexByte(" \t\n\r\v\f", c) >= 0 {
				t.i++
				continue
			}
			if c == '#' {
				if j := strings.IndexByte(t.src[t.i:], '\n'); j >= 0 {
					t.i += j + 1
				} else {
					t.i = len(t.src)
				}
				continue
			}
		}
		var err error
		switch c {
		case '\\':
			err = t.escape()
		case '[':
			err = t.class()
		case '(':
			err = t.group()
		case ')':
			if len(t.open) == 0 {
				return t.errAt(t.i, "unbalanced parenthesis")
			}
			g := t.open[len(t.open)-1]
			t.open = t.open[:len(t.open)-1]
			g.w.endAlt()
			lo, hi := g.w.lo, g.w.hi
			switch g.kind {
			case '<':
				if lo != hi {
					return errors.New("look-behind requires fixed-width pattern")
				}
				lo, hi = 0, 0
			case '=':
				lo, hi = 0, 0
			case '?':
				if g.w.alts == 1 {
					lo = 0
				}
			}
			if g.num > 0 {
				t.closed[g.num] = true
				t.widths[g.num] = [2]int{lo, hi}
			}
			t.out = append(t.out, ')')
			t.width().atom(lo, hi)
			t.atom, t.quant = g.start, false
			t.i++
		case '*', '+', '?':
			err = t.quantifier(t.i, string(c), t.i+1)
		case '{':
			if q, end, ok := t.repeat(); ok {
				err = t.quantifier(t.i, q, end)
			} else {
				t.emitAtom(`\{`)
				t.i++
			}
		case '|', '^', '$':
			if c == '|' {
				t.width().endAlt()
			}
			t.out = append(t.out, c)
			t.atom, t.quant = -1, false
			t.i++
		case '.':
			t.emitAtom(".")
			t.i++
		default:
			r, n := utf8.DecodeRuneInString(t.src[t.i:])
			t.emitAtom(literal(r))
			t.i += n
		}
		if err != nil {
			return err
		}
	}
	if len(t.open) > 0 {
		return t.errAt(t.open[len(t.open)-1].at, "missing ), unterminated subpattern")
	}
	return nil
}

// repeat reads {m}, {m,}, {,n}, {,} or {m,n} at t.i: ok is false when
// the brace is a literal ({} and {x}), as in Python.
func (t *pyTranslator) repeat() (q string, end int, ok bool) {
	j := strings.IndexByte(t.src[t.i:], '}')
	if j <= 1 {
		return "", 0, false
	}
	lo, hi, comma := strings.Cut(t.src[t.i+1:t.i+j], ",")
	for _, c := range lo + hi {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	if lo == "" {
		lo = "0"
	}
	switch {
	case !comma:
		q = "{" + lo + "}"
	case hi == "":
		q = "{" + lo + ",}"
	default:
		q = "{" + lo + "," + hi + "}"
	}
	return q, t.i + j + 1, true
}

// quantifier emits q (at src position at, ending at end) with its lazy
// ? or possessive + (an atomic group around the atom).
func (t *pyTranslator) quantifier(at int, q string, end int) error {
	if t.quant {
		return t.errAt(at, "multiple repeat")
	}
	if t.atom < 0 {
		return t.errAt(at, "nothing to repeat")
	}
	if lo, hi, ok := strings.Cut(strings.Trim(q, "{}"), ","); ok && hi != "" {
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		if l > h {
			return t.errAt(at+1, "min repeat greater than max repeat")
		}
	}
	lo, hi := 0, inf
	switch q {
	case "+":
		lo = 1
	case "?":
		hi = 1
	case "*":
	default:
		l, h, comma := strings.Cut(strings.Trim(q, "{}"), ",")
		lo, _ = strconv.Atoi(l)
		hi = lo
		if comma {
			hi = inf
			if h != "" {
				hi, _ = strconv.Atoi(h)
			}
		}
	}
	w := t.width()
	w.curLo, w.curHi = addW(w.prevLo, mulW(w.lastLo, lo)), addW(w.prevHi, mulW(w.lastHi, hi))
	t.i = end
	switch {
	case t.i < len(t.src) && t.src[t.i] == '?':
		t.out = append(t.out, q+"?"...)
		t.i++
	case t.i < len(t.src) && t.src[t.i] == '+':
		a := string(t.out[t.atom:])
		t.out = append(t.out[:t.atom], "(?>"+a+q+")"...)
		t.i++
	default:
		t.out = append(t.out, q...)
	}
	t.atom, t.quant = -1, true
	return nil
}

// escape translates the escape at t.i outside a class.
func (t *pyTranslator) escape() error {
	at := t.i
	if at+1 == len(t.src) {
		return t.errAt(at, "bad escape (end of pattern)")
	}
	c := t.src[at+1]
	t.i += 2
	w := t.word()
	switch c {
	case 'd':
		t.emitAtom("[" + t.digit() + "]")
	case 'D':
		t.emitAtom("[^" + t.digit() + "]")
	case 'w':
		t.emitAtom("[" + w + "]")
	case 'W':
		t.emitAtom("[^" + w + "]")
	case 's':
		t.emitAtom("[" + t.space() + "]")
	case 'S':
		t.emitAtom("[^" + t.space() + "]")
	case 'b':
		t.emitZero("(?:(?<=[" + w + "])(?![" + w + "])|(?<![" + w + "])(?=[" + w + "]))")
	case 'B':
		// Python's \B does not match in an empty string.
		t.emitZero("(?:(?<=[" + w + "])(?=[" + w + "])|(?<![" + w + "])(?![" + w + "])(?!\\A\\z))")
	case 'A':
		t.emitZero(`\A`)
	case 'Z':
		t.emitZero(`\z`)
	default:
		if c >= '1' && c <= '9' && !t.octal3() {
			n := int(c - '0')
			if t.i < len(t.src) && t.src[t.i] >= '0' && t.src[t.i] <= '9' {
				n = n*10 + int(t.src[t.i]-'0')
				t.i++
			}
			if n > t.groups {
				return t.errAt(at+1, "invalid group reference %d", n)
			}
			if !t.closed[n] {
				return t.errAt(at, "cannot refer to an open group")
			}
			t.emitWidth(fmt.Sprintf(`\k<%d>`, n), t.widths[n][0], t.widths[n][1])
			return nil
		}
		t.i = at
		r, err := t.literalEscape()
		if err != nil {
			return err
		}
		t.emitAtom(literal(r))
	}
	return nil
}

// octal3 reports whether \ddd at t.i-2 is a three-digit octal escape.
func (t *pyTranslator) octal3() bool {
	isOct := func(j int) bool { return j < len(t.src) && t.src[j] >= '0' && t.src[j] <= '7' }
	return isOct(t.i-1) && isOct(t.i) && isOct(t.i+1)
}

// runeNames is every character's Unicode name, made on first use.
var runeNames = sync.OnceValue(func() map[string]rune {
	m := make(map[string]rune, 1<<16)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if n := runenames.Name(r); n != "" && n[0] != '<' {
			m[n] = r
		}
	}
	return m
})

// runeNamed is Python's unicodedata.lookup without aliases, named
// sequences and Hangul syllables: the character of that name, in any case,
// or a CJK UNIFIED IDEOGRAPH-XXXX.
func runeNamed(name string) (rune, bool) {
	name = strings.ToUpper(name)
	if hex, ok := strings.CutPrefix(name, "CJK UNIFIED IDEOGRAPH-"); ok && (len(hex) == 4 || len(hex) == 5) {
		v, err := strconv.ParseUint(hex, 16, 32)
		if err == nil && strings.HasPrefix(runenames.Name(rune(v)), "<CJK Ideograph") {
			return rune(v), true
		}
		return 0, false
	}
	r, ok := runeNames()[name]
	return r, ok
}

// literalEscape reads an escape that stands for one character at t.i
// (\n, \x41, \u00e9, \U0001F600, octal \0 and \101, \. ...).
func (t *pyTranslator) literalEscape() (rune, error) {
	at := t.i
	c := t.src[at+1]
	t.i += 2
	hex := func(n int) (rune, error) {
		s := t.src[t.i:min(t.i+n, len(t.src))]
		v, err := strconv.ParseUint(s, 16, 32)
		if len(s) < n || err != nil || strings.ContainsAny(s, "+-_") {
			return 0, t.errAt(at, "incomplete escape \\%c%s", c, s)
		}
		t.i += n
		if v > utf8.MaxRune {
			return 0, t.errAt(at, "bad escape \\%c%s", c, s)
		}
		return rune(v), nil
	}
	switch c {
	case 'a':
		return 7, nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	case 'N':
		// sre_parse: \N{NAME} is unicodedata.lookup(NAME).
		if t.i >= len(t.src) || t.src[t.i] != '{' {
			return 0, t.errAt(at, "missing {")
		}
		end := strings.IndexByte(t.src[t.i:], '}')
		if end < 0 {
			return 0, t.errAt(at, "missing }, unterminated name")
		}
		name := t.src[t.i+1 : t.i+end]
		if name == "" {
			return 0, t.errAt(at, "missing character name")
		}
		r, ok := runeNamed(name)
		if !ok {
			return 0, t.errAt(at, "undefined character name %s", pyRepr(name, false))
		}
		t.i += end + 1
		return r, nil
	}
	if c >= '0' && c <= '7' {
		j := t.i
		for j < len(t.src) && j < at+4 && t.src[j] >= '0' && t.src[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(t.src[at+1:j], 8, 32)
		if v > 0o377 {
			return 0, t.errAt(at, "octal escape value \\%s outside of range 0-0o377", t.src[at+1:j])
		}
		t.i = j
		return rune(v), nil
	}
	if c < utf8.RuneSelf && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
		return 0, t.errAt(at, "bad escape \\%c", c)
	}
	r, n := utf8.DecodeRuneInString(t.src[at+1:])
	t.i = at + 1 + n
	return r, nil
}

// class translates the character set at t.i. A set that holds \D, \W or
// \S besides other members becomes an alternation (or, negated, lookaheads),
// Python's classes being unions .NET's set syntax cannot write.
func (t *pyTranslator) class() error {
	at := t.i
	t.i++
	negate := t.i < len(t.src) && t.src[t.i] == '^'
	if negate {
		t.i++
	}
	var body strings.Builder
	var negs []string // the positive sets of \D, \W, \S
	first := true
	for {
		if t.i >= len(t.src) {
			return t.errAt(at, "unterminated character set")
		}
		c := t.src[t.i]
		if c == ']' && !first {
			t.i++
			break
		}
		first = false
		lo, set, err := t.classItem()
		if err != nil {
			return err
		}
		if lo < 0 {
			negs = append(negs, set)
		} else if set != "" {
			body.WriteString(set)
		}
		if lo < 0 || set != "" {
			if t.i+1 < len(t.src) && t.src[t.i] == '-' && t.src[t.i+1] != ']' {
				return t.errAt(t.i-2, "bad character range %s", t.src[t.i-2:t.i+2])
			}
			continue
		}
		if t.i+1 < len(t.src) && t.src[t.i] == '-' && t.src[t.i+1] != ']' {
			rangeAt := t.i
			t.i++
			hi, set, err := t.classItem()
			if err != nil {
				return err
			}
			if hi < 0 || set != "" {
				return t.errAt(rangeAt-1, "bad character range %s", t.src[rangeAt-1:t.i])
			}
			if hi < lo {
				return t.errAt(rangeAt-1, "bad character range %s", t.src[rangeAt-1:t.i])
			}
			body.WriteString(literal(lo) + "-" + literal(hi))
			continue
		}
		body.WriteString(literal(lo))
	}
	inner := body.String()
	if len(negs) == 0 {
		if negate {
			t.emitAtom("[^" + inner + "]")
		} else {
			t.emitAtom("[" + inner + "]")
		}
		return nil
	}
	var b strings.Builder
	b.WriteString("(?:")
	if negate {
		// Neither a member nor in any negated class: in all their complements.
		if inner != "" {
			b.WriteString("(?![" + inner + "])")
		}
		for _, n := range negs[1:] {
			b.WriteString("(?=[" + n + "])")
		}
		b.WriteString("[" + negs[0] + "])")
	} else {
		if inner != "" {
			b.WriteString("[" + inner + "]|")
		}
		for i, n := range negs {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString("[^" + n + "]")
		}
		b.WriteByte(')')
	}
	t.emitAtom(b.String())
	return nil
}

// classItem reads one member of a set: a character r, or the body of a
// class (\d, \w, \s), or r < 0 and the body of the class a negated one
// (\D, \W, \S) excludes.
func (t *pyTranslator) classItem() (r rune, set string, err error) {
	c := t.src[t.i]
	if c != '\\' {
		r, n := utf8.DecodeRuneInString(t.src[t.i:])
		t.i += n
		return r, "", nil
	}
	at := t.i
	if at+1 == len(t.src) {
		return 0, "", t.errAt(at, "bad escape (end of pattern)")
	}
	switch e := t.src[at+1]; e {
	case 'd', 'w', 's', 'D', 'W', 'S':
		t.i += 2
		body := map[byte]string{'d': t.digit(), 'w': t.word(), 's': t.space()}[e|0x20]
		if e >= 'a' {
			return 0, body, nil
		}
		return -1, body, nil
	case 'b':
		t.i += 2
		return '\b', "", nil
	case '8', '9', 'A', 'Z', 'B':
		return 0, "", t.errAt(at, "bad escape \\%c", e)
	}
	r, err = t.literalEscape()
	return r, "", err
}

// group translates the ( at t.i: a group, an extension or global flags.
func (t *pyTranslator) group() error {
	at := t.i
	rest := t.src[at:]
	push := func(num int, open string) {
		g := pyGroup{at: at, start: len(t.out), num: num}
		switch {
		case strings.HasPrefix(open, "(?<"):
			g.kind = '<'
		case strings.HasPrefix(open, "(?="), strings.HasPrefix(open, "(?!"):
			g.kind = '='
		case strings.HasPrefix(open, "(?("):
			g.kind = '?'
		}
		if strings.HasPrefix(open, "(?<") && num > 0 {
			g.kind = 0 // (?<name>
		}
		t.open = append(t.open, g)
		t.out = append(t.out, open...)
		t.atom, t.quant = -1, false
	}
	if !strings.HasPrefix(rest, "(?") {
		t.groups++
		push(t.groups, "(")
		t.i++
		return nil
	}
	if len(rest) < 3 {
		return t.errAt(at+2, "unexpected end of pattern")
	}
	switch {
	case strings.HasPrefix(rest, "(?P<"):
		name, end, err := t.groupName(at+4, '>')
		if err != nil {
			return err
		}
		if prev, ok := t.names[name]; ok {
			return t.errAt(at+4, "redefinition of group name '%s' as group %d; was group %d", name, t.groups+1, prev)
		}
		t.groups++
		t.names[name] = t.groups
		t.i = end
		push(t.groups, "(?<"+name+">")
	case strings.HasPrefix(rest, "(?P="):
		name, end, err := t.groupName(at+4, ')')
		if err != nil {
			return err
		}
		n, ok := t.names[name]
		if !ok {
			return t.errAt(at+4, "unknown group name '%s'", name)
		}
		if !t.closed[n] {
			return t.errAt(at+4, "cannot refer to an open group")
		}
		t.i = end
		t.emitWidth(`\k<`+name+`>`, t.widths[n][0], t.widths[n][1])
	case strings.HasPrefix(rest, "(?P"):
		if len(rest) == 3 {
			return t.errAt(at+3, "unexpected end of pattern")
		}
		return t.errAt(at+1, "unknown extension ?P%s", string([]rune(rest[3:])[0]))
	case strings.HasPrefix(rest, "(?#"):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return t.errAt(at+3, "missing ), unterminated comment")
		}
		t.i = at + end + 1
	case strings.HasPrefix(rest, "(?:"), strings.HasPrefix(rest, "(?>"),
		strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
		t.i = at + 3
		push(0, rest[:3])
	case strings.HasPrefix(rest, "(?<=") || strings.HasPrefix(rest, "(?<!"):
		t.i = at + 4
		push(0, rest[:4])
	case strings.HasPrefix(rest, "(?<"):
		if len(rest) == 3 {
			return t.errAt(at+3, "unexpected end of pattern")
		}
		return t.errAt(at+1, "unknown extension ?<%s", string([]rune(rest[3:])[0]))
	case strings.HasPrefix(rest, "(?("):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return t.errAt(at+3, "missing ), unterminated name")
		}
		cond := rest[3:end]
		if n, err := strconv.Atoi(cond); err == nil && cond[0] != '+' && cond[0] != '-' {
			if n == 0 {
				return t.errAt(at+3, "bad group number")
			}
			if n > t.groups {
				return t.errAt(at+3, "invalid group reference %d", n)
			}
		} else if _, ok := t.names[cond]; !ok {
			if _, _, err := t.groupName(at+3, ')'); err != nil {
				return err
			}
			return t.errAt(at+3, "unknown group name '%s'", cond)
		}
		t.i = at + end + 1
		push(0, "(?("+cond+")")
	default:
		return t.flags(at)
	}
	return nil
}

// groupName reads a Python group name (an identifier) from j to the
// terminator.
func (t *pyTranslator) groupName(j int, term byte) (string, int, error) {
	end := strings.IndexByte(t.src[j:], term)
	if end < 0 {
		if j == len(t.src) {
			return "", 0, t.errAt(j, "missing group name")
		}
		return "", 0, t.errAt(j, "missing %c, unterminated name", term)
	}
	name := t.src[j : j+end]
	if name == "" {
		return "", 0, t.errAt(j, "missing group name")
	}
	if !validGroupName(name) {
		return "", 0, t.errAt(j, "bad character in group name '%s'", name)
	}
	return name, j + end + 1, nil
}

// validGroupName approximates Python's str.isidentifier (XID_Start, then
// XID_Continue).
func validGroupName(name string) bool {
	for i, r := range name {
		if !(r == '_' || unicode.IsLetter(r) || i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))) {
			return false
		}
	}
	return name != ""
}

// flags reads (?aiLmsux) at the start of the pattern, or the scoped
// (?imsx-imsx:...).
func (t *pyTranslator) flags(at int) error {
	j := at + 2
	on, off := "", ""
	neg := false
	for ; j < len(t.src); j++ {
		c := t.src[j]
		switch {
		case c == ')' || c == ':':
		case c == '-' && !neg:
			neg = true
			continue
		case strings.IndexByte("aiLmsux", c) >= 0:
			switch c {
			case 'L':
				return t.errAt(j+1, "bad inline flags: cannot use 'L' flag with a str pattern")
			case 'a':
				// yaql's regex() passes re.UNICODE.
				return errors.New("ASCII and UNICODE flags are incompatible")
			}
			if neg {
				if strings.IndexByte("imsx", c) < 0 {
					return t.errAt(j, "bad inline flags: cannot turn off flags 'a', 'u' and 'L'")
				}
				off += string(c)
			} else {
				on += string(c)
			}
			continue
		default:
			if j == at+2 {
				r, _ := utf8.DecodeRuneInString(t.src[j:])
				return t.errAt(at+1, "unknown extension ?%c", r)
			}
			return t.errAt(j, "unknown flag")
		}
		break
	}
	if j == len(t.src) {
		return t.errAt(j, "missing -, : or )")
	}
	if t.src[j] == ')' {
		if neg {
			return t.errAt(j, "missing :")
		}
		if len(t.out) > 0 || len(t.open) > 0 {
			return t.errAt(at, "global flags not at the start of the expression")
		}
		for _, f := range on {
			t.setFlag(f)
		}
		t.i = j + 1
		return nil
	}
	if neg && off == "" {
		return t.errAt(j, "missing flag")
	}
	scoped := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			if c != 'a' && c != 'u' {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	open := "(?" + scoped(on)
	if off != "" {
		open += "-" + off
	}
	t.i = j + 1
	t.open = append(t.open, pyGroup{at: at, start: len(t.out)})
	t.out = append(t.out, open+":"...)
	t.atom, t.quant = -1, false
	return nil
}

// pyTemplate is a parsed re.sub replacement: text, and the groups \1,
// \g<1> and \g<name> stand for.
type pyTemplate []pyPiece

type pyPiece struct {
	text  string
	group int // -1 for text
}

// template parses repl as Python's re.sub does, with its errors (a
// replacement is checked before any match, as Python checks it).
func (p *pyRegex) template(repl string) (pyTemplate, error) {
	var out pyTemplate
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, pyPiece{text: text.String(), group: -1})
			text.Reset()
		}
	}
	group := func(g, at int) error {
		if g > p.groups {
			return fmt.Errorf("invalid group reference %d at position %d", g, utf8.RuneCountInString(repl[:at]))
		}
		flush()
		out = append(out, pyPiece{group: g})
		return nil
	}
	isOct := func(j int) bool { return j < len(repl) && repl[j] >= '0' && repl[j] <= '7' }
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' {
			text.WriteByte(c)
			continue
		}
		at := i
		if i+1 == len(repl) {
			return nil, fmt.Errorf("bad escape (end of pattern) at position %d", utf8.RuneCountInString(repl[:at]))
		}
		i++
		c = repl[i]
		switch {
		case c == 'g':
			if i+1 == len(repl) || repl[i+1] != '<' {
				return nil, fmt.Errorf("missing < at position %d", utf8.RuneCountInString(repl[:i+1]))
			}
			end := strings.IndexByte(repl[i+2:], '>')
			if end < 0 {
				return nil, fmt.Errorf("missing >, unterminated name at position %d", utf8.RuneCountInString(repl[:i+2]))
			}
			name := repl[i+2 : i+2+end]
			g, err := strconv.Atoi(name)
			switch {
			case name == "":
				return nil, fmt.Errorf("missing group name at position %d", utf8.RuneCountInString(repl[:i+2]))
			case err == nil && name[0] >= '0' && name[0] <= '9':
				if err := group(g, i+2); err != nil {
					return nil, err
				}
			default:
				n, ok := p.names[name]
				if !ok {
					if !validGroupName(name) {
						return nil, fmt.Errorf("bad character in group name '%s' at position %d", name, utf8.RuneCountInString(repl[:i+2]))
					}
					return nil, fmt.Errorf("unknown group name '%s'", name)
				}
				_ = group(n, i+2)
			}
			i += 2 + end
		case c == '0':
			j := i + 1
			for j < i+3 && isOct(j) {
				j++
			}
			v, _ := strconv.ParseUint(repl[i:j], 8, 32)
			text.WriteRune(rune(v))
			i = j - 1
		case c >= '1' && c <= '9':
			if isOct(i) && isOct(i+1) && isOct(i+2) {
				v, _ := strconv.ParseUint(repl[i:i+3], 8, 32)
				if v > 0o377 {
					return nil, fmt.Errorf("octal escape value \\%s outside of range 0-0o377 at position %d", repl[i:i+3], utf8.RuneCountInString(repl[:at]))
				}
				text.WriteRune(rune(v))
				i += 2
				continue
			}
			g := int(c - '0')
			if i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				g = g*10 + int(repl[i+1]-'0')
				i++
			}
			if err := group(g, at+1); err != nil {
				return nil, err
			}
		default:
			if e, ok := map[byte]byte{'a': 7, 'b': 8, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}[c]; ok {
				text.WriteByte(e)
				continue
			}
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
				return nil, fmt.Errorf("bad escape \\%c at position %d", c, utf8.RuneCountInString(repl[:at]))
			}
			text.WriteByte('\\')
			text.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

// expand writes the replacement of the match loc of s (byte offsets, as
// findAll gives them); a group that took no part is empty.
func (t pyTemplate) expand(b *strings.Builder, s string, loc []int) {
	for _, p := range t {
		switch {
		case p.group < 0:
			b.WriteString(p.text)
		case loc[2*p.group] >= 0:
			b.WriteString(s[loc[2*p.group]:loc[2*p.group+1]])
		}
	}
}
