package expr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2"
	gbuiltins "github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	gparser "github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Mistral's InlineJinjaEvaluator patterns (mistral/expressions/
// jinja_expression.py): the shortest {{ }} or {% %} on one line.
var (
	jinjaVarRE   = regexp.MustCompile(`{{(.*?)}}`)
	jinjaBlockRE = regexp.MustCompile(`{%(.*?)%}`)
)

// IsJinja reports whether s holds a Jinja expression ({{ }} or {% %}), so
// that Mistral evaluates it with Jinja. A string holding both Jinja and
// <% %> is a Jinja template in which the <% %> is plain text.
func IsJinja(s string) bool {
	return strings.Contains(s, "{") && (jinjaVarRE.MatchString(s) || jinjaBlockRE.MatchString(s))
}

// ErrMixed is what Validate returns for a string that holds both a YAQL
// and a Jinja expression: Mistral refuses it when it loads a workflow.
var ErrMixed = errors.New("expr: the string holds both a <% %> and a {{ }} expression: Mistral refuses mixing expression types in one string")

// Validate checks a string of a workflow definition as Mistral's
// expressions.validate does when it loads a workflow: a string with an
// expression must parse, and must not mix <% %> and Jinja.
func Validate(s string) error {
	j, y := IsJinja(s), inlineRE.MatchString(s)
	if j && y {
		return ErrMixed
	}
	if !j && !y {
		return nil
	}
	_, err := ParseTemplate(s)
	return err
}

// jinjaConfig is Mistral's SandboxedEnvironment: StrictUndefined,
// trim_blocks and lstrip_blocks; lstrip_blocks is lstripBlocks, not
// gonja's, which also strips the spaces between }} and a {% on one line.
var jinjaConfig = func() *config.Config {
	c := config.New()
	c.StrictUndefined = true
	c.TrimBlocks = true
	return c
}()

// jinjaPrescan reads s as Jinja's lexer does where gonja's is looser: in
// the tags ({{ }}, {% %}), outside string literals, a character that is
// no part of Jinja's syntax ("`", "@", "#", "?", "$", "&", "^", "\\",
// a control character, and ";", which its parser takes nowhere) is an
// error, "unexpected char '`' at 3" as
// Jinja's (gonja joined it to the next operator or ignored it), and
// Python's other whitespace (\v, \f, \x1c-\x1f, \x85, \xa0, \u2000...)
// is a space (gonja took it for part of a number or name). Comments and
// {% raw %} blocks are left alone. It returns s with those spaces
// replaced.
func jinjaPrescan(s string) (string, error) {
	var b []byte // nil until a space is replaced
	i := 0
	for i < len(s) {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 || i+j+1 >= len(s) {
			break
		}
		i += j
		switch s[i+1] {
		case '#':
			end := strings.Index(s[i+2:], "#}")
			if end < 0 {
				return s, nil // gonja's parser reports it
			}
			i += 2 + end + 2
			continue
		case '{', '%':
		default:
			i++
			continue
		}
		if m := jinjaRawRE.FindStringIndex(s[i:]); m != nil && m[0] == 0 {
			end := jinjaEndRawRE.FindStringIndex(s[i+m[1]:])
			if end == nil {
				return s, nil
			}
			i += m[1] + end[1]
			continue
		}
		closer := "}}"
		if s[i+1] == '%' {
			closer = "%}"
		}
		i += 2
		depth := 0
	tag:
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case depth == 0 && strings.HasPrefix(s[i:], closer):
				i += 2
				break tag
			case depth == 0 && strings.HasPrefix(s[i:], "-"+closer):
				i += 3
				break tag
			case r == '\'' || r == '"':
				k := i + 1
				for k < len(s) && s[k] != byte(r) {
					if s[k] == '\\' {
						k++
					}
					k++
				}
				if k >= len(s) {
					return s, nil // an unterminated string: gonja's parser reports it
				}
				i = k + 1
				continue
			case r == '(' || r == '[' || r == '{':
				depth++
			case r == ')' || r == ']' || r == '}':
				if depth > 0 {
					depth--
				}
			case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			case pyIsSpace(r):
				if b == nil {
					b = []byte(s)
				}
				for k := range size {
					b[i+k] = ' '
				}
			case r == ';': // Jinja's lexer knows it, its parser takes it nowhere
				return "", fmt.Errorf("unexpected ';' at %d", i)
			case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("+-*/%~=!<>.:|,", r):
			case r == utf8.RuneError && size == 1:
				return "", fmt.Errorf("unexpected byte %#x at %d", s[i], i)
			default:
				return "", fmt.Errorf("unexpected char %s at %d", pyCharRepr(r), i)
			}
			i += size
		}
	}
	if b == nil {
		return s, nil
	}
	return string(b), nil
}

var (
	jinjaRawRE    = regexp.MustCompile(`^\{%[-+]?\s*raw\s*[-+]?%\}`)
	jinjaEndRawRE = regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`)
)

// pyIsSpace is Python's str.isspace for one character: Go's
// unicode.IsSpace and the separators \x1c-\x1f.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyCharRepr is Python's repr of a one-character string.
func pyCharRepr(r rune) string { return pyRepr(string(r), false) }

// pyComparisons rewrites the comparisons of s that gonja's parser reads
// unlike Jinja's, before parsing:
//   - a chain, 0 < x < 10, is Python's (0 < x) and (x < 10) (gonja's was
//     (0 < x) < 10: 1 < 3 < 2 was true);
//   - the right operand of in / not in holding arithmetic, ~ or a filter,
//     3 in [1] + [3] or x in l | list, is put in parentheses (gonja's
//     parser takes a single variable or literal after in: a syntax error,
//     or the filter applied to the test's result).
//
// A comparison's operands end, as in Jinja, at and, or, a unary not, if,
// else, a comma, colon or = of their own bracket level, or the end of the
// tag; a for loop's in is not a comparison. A chain's middle operands are
// written twice (Jinja evaluates them once; its expressions have no side
// effects that could tell). s is returned as it is when nothing needs
// rewriting.
func pyComparisons(s string) (string, error) {
	if !mayNeedCmpRewrite(s) {
		return s, nil
	}
	return rewriteComparisons(s)
}

// rewriteComparisons is pyComparisons without mayNeedCmpRewrite's test.
func rewriteComparisons(s string) (out string, err error) {
	defer func() {
		// gonja's lexer panics on some malformed input (a slice out of
		// range in lexNumber, found by FuzzPyComparisons): leave s as it
		// is, for gonja's parser, which recovers, to report.
		if recover() != nil {
			out, err = s, nil
		}
	}()
	if !utf8.ValidString(s) {
		return s, nil // gonja's lexer can loop forever on invalid UTF-8 in a tag (FuzzPyComparisons)
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n") // as gonja's lexer: offsets stay true
	stream := tokens.LexAll(s, jinjaConfig)
	var toks []*tokens.Token
	for t := stream.Current(); t != nil && t.Type != tokens.EOF; t = stream.Current() {
		if t.Type == tokens.Error {
			return s, nil // gonja's parser reports it
		}
		toks = append(toks, t)
		stream.Next()
	}
	rw := &cmpRewriter{s: s, toks: toks}
	var b strings.Builder
	if len(toks) > 0 {
		b.WriteString(s[:toks[0].Pos])
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Type != tokens.VariableBegin && t.Type != tokens.BlockBegin {
			b.WriteString(rw.raw(i))
			continue
		}
		end := i + 1
		for end < len(toks) && toks[end].Type != tokens.VariableEnd && toks[end].Type != tokens.BlockEnd {
			end++
		}
		b.WriteString(rw.raw(i))
		lo := i + 1
		if t.Type == tokens.BlockBegin && lo < end && toks[lo].Type == tokens.Name && toks[lo].Val == "for" {
			rw.forIn = true
		}
		b.WriteString(rw.level(lo, end))
		rw.forIn = false
		i = end - 1
	}
	if rw.err != nil {
		return "", rw.err
	}
	if rw.changed {
		return b.String(), nil
	}
	return s, nil
}

// mayNeedCmpRewrite is a cheap test of whether pyComparisons has work:
// two comparison operators, or an in followed by a space or tab (where
// gonja's lexer ends it), anywhere in s. It may say yes for nothing (text
// outside the tags, a for loop's in), never no for something.
func mayNeedCmpRewrite(s string) bool {
	ops := strings.Count(s, "<") + strings.Count(s, ">") + strings.Count(s, "==") + strings.Count(s, "!=")
	return ops >= 2 || strings.Contains(s, "in ") || strings.Contains(s, "in\t")
}

type cmpRewriter struct {
	s       string
	toks    []*tokens.Token
	forIn   bool // the next in at the tag's top level is a for loop's
	changed bool
	err     error // the first comparison missing an operand
}

// raw is token i's source text and the spaces after it.
func (rw *cmpRewriter) raw(i int) string {
	end := len(rw.s)
	if i+1 < len(rw.toks) {
		end = rw.toks[i+1].Pos
	}
	return rw.s[rw.toks[i].Pos:end]
}

// closing is the index of the bracket closing the one at i, or -1.
func (rw *cmpRewriter) closing(i, hi int) int {
	depth := 0
	for j := i; j < hi; j++ {
		switch rw.toks[j].Type {
		case tokens.LeftParenthesis, tokens.LeftBracket, tokens.LeftBrace:
			depth++
		case tokens.RightParenthesis, tokens.RightBracket, tokens.RightBrace:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// level renders tokens lo..hi-1, one bracket level, with its comparisons
// rewritten.
func (rw *cmpRewriter) level(lo, hi int) string {
	var b strings.Builder
	seg := lo
	for i := lo; i < hi; i++ {
		t := rw.toks[i]
		switch t.Type {
		case tokens.LeftParenthesis, tokens.LeftBracket, tokens.LeftBrace:
			if j := rw.closing(i, hi); j > 0 {
				i = j
			} else {
				i = hi - 1
			}
			continue
		}
		if rw.boundary(i) {
			b.WriteString(rw.segment(seg, i))
			b.WriteString(rw.raw(i))
			seg = i + 1
		}
	}
	b.WriteString(rw.segment(seg, hi))
	return b.String()
}

// boundary reports whether token i ends a comparison at its level.
func (rw *cmpRewriter) boundary(i int) bool {
	t := rw.toks[i]
	switch t.Type {
	case tokens.Comma, tokens.Colon, tokens.Assign, tokens.Semicolon, tokens.And, tokens.Or:
		return true
	case tokens.Not:
		return !(i+1 < len(rw.toks) && rw.toks[i+1].Type == tokens.In)
	case tokens.In:
		if rw.forIn {
			rw.forIn = false
			return true
		}
	case tokens.Name:
		return t.Val == "if" || t.Val == "else" || t.Val == "recursive"
	}
	return false
}

// segment renders lo..hi-1, a stretch of one level without boundaries.
func (rw *cmpRewriter) segment(lo, hi int) string {
	type op struct{ at, n int } // the operator's first token and its count
	var ops []op
	for i := lo; i < hi; i++ {
		switch rw.toks[i].Type {
		case tokens.LeftParenthesis, tokens.LeftBracket, tokens.LeftBrace:
			if j := rw.closing(i, hi); j > 0 {
				i = j
			} else {
				i = hi - 1
			}
		case tokens.Equals, tokens.Ne, tokens.LowerThan, tokens.LowerThanOrEqual, tokens.GreaterThan, tokens.GreaterThanOrEqual, tokens.In:
			if i > lo {
				ops = append(ops, op{i, 1})
			}
		case tokens.Not:
			if i > lo && i+1 < hi && rw.toks[i+1].Type == tokens.In {
				ops = append(ops, op{i, 2})
				i++
			}
		}
	}
	need := len(ops) >= 2
	for k, o := range ops {
		if rw.toks[o.at+o.n-1].Type == tokens.In {
			end := hi
			if k+1 < len(ops) {
				end = ops[k+1].at
			}
			need = need || rw.hasOperator(o.at+o.n, end)
		}
	}
	if !need {
		return rw.render(lo, hi)
	}
	rw.changed = true
	operands := make([]string, 0, len(ops)+1)
	start := lo
	for k, o := range ops {
		operands = append(operands, "("+rw.render(start, o.at)+")")
		start = o.at + o.n
		end := hi
		if k+1 < len(ops) {
			end = ops[k+1].at
		}
		if start >= end && rw.err == nil {
			// gonja drops an operator left without its right operand.
			rw.err = fmt.Errorf("unexpected end of expression after '%s' (line %d)", strings.TrimSpace(rw.toks[o.at+o.n-1].Val), rw.toks[o.at].Line)
		}
	}
	operands = append(operands, "("+rw.render(start, hi)+")")
	var b strings.Builder
	b.WriteString("(")
	for k, o := range ops {
		if k > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(operands[k])
		b.WriteString(" ")
		for j := o.at; j < o.at+o.n; j++ {
			b.WriteString(rw.toks[j].Val)
			b.WriteString(" ")
		}
		b.WriteString(operands[k+1])
	}
	b.WriteString(")")
	return b.String()
}

// hasOperator reports whether lo..hi-1 holds arithmetic, ~ or a filter at
// its own level (a leading - is a sign).
func (rw *cmpRewriter) hasOperator(lo, hi int) bool {
	for i := lo; i < hi; i++ {
		switch rw.toks[i].Type {
		case tokens.LeftParenthesis, tokens.LeftBracket, tokens.LeftBrace:
			if j := rw.closing(i, hi); j > 0 {
				i = j
			}
		case tokens.Addition, tokens.Multiply, tokens.Division, tokens.FloorDivision, tokens.Modulo,
			tokens.Power, tokens.Tilde, tokens.Pipe:
			return true
		case tokens.Subtraction:
			if i > lo {
				return true
			}
		}
	}
	return false
}

// render is the source of lo..hi-1 with the comparisons inside its
// brackets rewritten.
func (rw *cmpRewriter) render(lo, hi int) string {
	var b strings.Builder
	for i := lo; i < hi; i++ {
		switch rw.toks[i].Type {
		case tokens.LeftParenthesis, tokens.LeftBracket, tokens.LeftBrace:
			if j := rw.closing(i, hi); j > 0 {
				b.WriteString(rw.raw(i))
				b.WriteString(rw.level(i+1, j))
				b.WriteString(rw.raw(j))
				i = j
				continue
			}
		}
		b.WriteString(rw.raw(i))
	}
	return b.String()
}

// lstripBlocks is Jinja's lstrip_blocks: the spaces and tabs that begin a
// line before a {% or {# (not {%+ or {#+) are removed.
func lstripBlocks(s string) string {
	if !strings.Contains(s, "{%") && !strings.Contains(s, "{#") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for line := range strings.SplitAfterSeq(s, "\n") {
		rest := strings.TrimLeft(line, " \t")
		if len(rest) < len(line) && (strings.HasPrefix(rest, "{%") || strings.HasPrefix(rest, "{#")) &&
			!strings.HasPrefix(rest[2:], "+") {
			line = rest
		}
		b.WriteString(line)
	}
	return b.String()
}

func init() { gonja.SetLoggerOutput(io.Discard) }

// jinjaTemplate is a parsed Jinja string, as Mistral's
// InlineJinjaEvaluator treats it: when the first {{ }} is the whole string
// it is one expression whose value keeps its type; otherwise the string
// is rendered as a template.
type jinjaTemplate struct {
	src   string
	whole *nodes.Output  // the expression of a whole-string {{ }}
	tmpl  *exec.Template // any other template
	noVar bool           // {% %} without {{ }}: Mistral fails (see eval)
	view  bool           // reads Funcs.Internal's keys or _ as a whole (readsView)
}

// The names of the helpers that the parsed tree calls instead of gonja's
// own operators and output, to get Python's semantics.
const (
	jinjaStr     = "__ff_str"
	jinjaOpPfx   = "__ff_op_"
	jinjaDictAtt = "__ff_dict_attr"
	jinjaIndex   = "__ff_index"
	jinjaSlice   = "__ff_slice"
	jinjaLookup  = "__ff_lookup"
	jinjaDictLit = "__ff_dict"
	// jinjaDefaultUndef is default after a filter that may give undefined
	// (see undefinedFilters): it replaces that undefined only.
	jinjaDefaultUndef = "__ff_default_undefined"
)

// dictMethodNames are the methods of Python's dict: Jinja's dotted access
// (environment.getattr) finds them before the keys, so in Mistral
// {{ _.items }} is the method, never the data's "items" key.
var dictMethodNames = map[string]bool{
	"clear": true, "copy": true, "fromkeys": true, "get": true, "items": true, "keys": true,
	"pop": true, "popitem": true, "setdefault": true, "update": true, "values": true,
}

func parseJinja(s string) (*jinjaTemplate, error) {
	j := &jinjaTemplate{src: s, view: readsView(s, '_')}
	clean, err := jinjaPrescan(s)
	if err != nil {
		return nil, jinjaSyntaxError(s, err)
	}
	m := jinjaVarRE.FindStringSubmatch(clean)
	if m == nil {
		// Mistral's evaluator indexes the list of {{ }} and fails with
		// "list index out of range" on a template of blocks alone; its
		// validator parses it all the same.
		j.noVar = true
	}
	if m != nil && m[0] == clean {
		src, err := pyComparisons("{{" + m[1] + "}}")
		if err != nil {
			return nil, jinjaSyntaxError(s, err)
		}
		root, err := parseJinjaSource(src)
		if err != nil {
			return nil, jinjaSyntaxError(s, err)
		}
		out, ok := root.Nodes[0].(*nodes.Output)
		if len(root.Nodes) != 1 || !ok {
			return nil, fmt.Errorf("expr: Jinja expression %s does not parse: want one expression", s)
		}
		if err := rewriteJinja(out, false); err != nil {
			return nil, jinjaSyntaxError(s, err)
		}
		j.whole = out
		return j, nil
	}
	src, err := pyComparisons(lstripBlocks(clean))
	if err != nil {
		return nil, jinjaSyntaxError(s, err)
	}
	if _, err := parseJinjaSource(src); err != nil {
		return nil, jinjaSyntaxError(s, err)
	}
	t, err := exec.NewTemplate("expression", jinjaConfig, &jinjaLoader{src: src}, jinjaBaseEnv)
	if err != nil {
		return nil, jinjaSyntaxError(s, err)
	}
	if err := rewriteJinja(t.Root(), true); err != nil {
		return nil, jinjaSyntaxError(s, err)
	}
	j.tmpl = t
	return j, nil
}

func jinjaSyntaxError(s string, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "': "); strings.HasPrefix(msg, "failed to parse template '") && i > 0 {
		msg = msg[i+3:]
	}
	return fmt.Errorf("expr: Jinja syntax error in %s: %s", s, msg)
}

// parseJinjaSource parses s with gonja's lexer and parser and the
// control structures of the base environment. Errors come out as errors,
// where gonja's parser reports some by panicking.
func parseJinjaSource(s string) (root *nodes.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("%v", r)
		}
	}()
	p := gparser.NewParser("expression", tokens.LexAll(s, jinjaConfig), jinjaConfig, &jinjaLoader{src: s}, jinjaBaseEnv.ControlStructures)
	return p.Parse()
}

// jinjaLoader serves the template itself and nothing else: Mistral's
// environment has no loader, so include, import and extends fail.
type jinjaLoader struct{ src string }

func (l *jinjaLoader) Read(path string) (io.Reader, error) {
	if path != "expression" {
		return nil, fmt.Errorf("no template %q: Mistral's Jinja has no template loader", path)
	}
	return strings.NewReader(l.src), nil
}
func (l *jinjaLoader) Resolve(path string) (string, error) { return path, nil }
func (l *jinjaLoader) Inherit(string) (loaders.Loader, error) {
	return nil, errors.New("no template loader (Mistral's Jinja has none)")
}

// jinjaBaseEnv holds gonja's filters, tests, statements and methods, less
// what Mistral's sandbox would not allow.
var jinjaBaseEnv = func() *exec.Environment {
	g := exec.EmptyContext().Update(gbuiltins.GlobalFunctions).Update(gbuiltins.GlobalVariables)
	for _, n := range []string{"_", "gettext", "ngettext"} {
		g.Set(n, nil) // i18n helpers; "_" is Mistral's data context
	}
	g.Set("cycler", jinjaCycler)
	g.Set("none", nil)
	// The helpers rewriteJinja calls and Mistral's functions are set once
	// here: those that need the evaluation find it through the evaluator
	// (perRun), so that an evaluation's own context holds only its data.
	for _, name := range mistralFuncNames {
		// Mistral's function bound to the data context, as its Jinja
		// globals are: functools.partial(f, data_context).
		g.Set(name, perRun(func(r *jinjaRun, a *exec.VarArgs) *exec.Value { return r.callMistral(name, r.data, a) }))
	}
	g.Set("range", perRun((*jinjaRun).rangeFn))
	g.Set(jinjaIndex, jinjaIndexFn)
	g.Set(jinjaSlice, jinjaSliceFn)
	g.Set(jinjaLookup, jinjaLookupFn)
	g.Set(jinjaDictLit, jinjaDictFn)
	g.Set(jinjaDictAtt, jinjaDictAttFn)
	g.Set(jinjaStr, jinjaStrFn)
	for op, fn := range jinjaOps {
		g.Set(jinjaOpPfx+op, perRun(func(r *jinjaRun, a *exec.VarArgs) *exec.Value { return r.applyOp(op, fn, a) }))
	}
	g.Set(jinjaOpPfx+jinjaModOne, perRun(func(r *jinjaRun, a *exec.VarArgs) *exec.Value { return r.applyOp("%", pyModOne, a) }))
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(gbuiltins.Filters)
	for _, name := range mistralFuncNames {
		_ = filters.Replace(name, mistralFilter(name))
		_ = filters.Register(name, mistralFilter(name))
	}
	for _, set := range []map[string]exec.FilterFunction{jinjaFilters, jinjaStrFilters} {
		for name, f := range set {
			if filters.Replace(name, f) != nil {
				_ = filters.Register(name, f)
			}
		}
	}
	for name := range jinjaSignatures {
		if f, ok := filters.Get(name); ok {
			_ = filters.Replace(name, jinjaChecked(name, f))
		}
	}
	// default as rewriteExpr renames it takes default's arguments.
	_ = filters.Replace(jinjaDefaultUndef, jinjaChecked("default", jinjaDefaultUndefined))
	for _, name := range jinjaGenerators {
		if f, ok := filters.Get(name); ok {
			_ = filters.Replace(name, jinjaGenerator(f))
		}
	}
	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(gbuiltins.Tests)
	for name, fn := range jinjaTests {
		if tests.Replace(name, fn) != nil {
			_ = tests.Register(name, fn)
		}
	}
	for name := range undefinedSafeTests {
		if f, ok := tests.Get(name); ok {
			_ = tests.Replace(name, undefinedSafe(name, f))
		}
	}
	return &exec.Environment{
		Context:           g,
		Filters:           filters,
		Tests:             tests,
		ControlStructures: jinjaControlStructures,
		Methods:           jinjaMethods,
	}
}()

// jinjaCycler is Jinja's cycler(*items): next() gives the items
// themselves in turn (gonja's gives their strings), current is the one
// next() gives next, reset() starts over.
func jinjaCycler(_ *exec.Evaluator, a *exec.VarArgs) *exec.Value {
	if len(a.Args) == 0 {
		return exec.AsValue(errors.New("at least one item has to be provided"))
	}
	values := make([]any, len(a.Args))
	for i, v := range a.Args {
		values[i] = v.Interface()
	}
	idx := 0
	c := map[string]any{"current": values[0]}
	c["next"] = func() any {
		v := values[idx]
		idx = (idx + 1) % len(values)
		c["current"] = values[idx]
		return v
	}
	c["reset"] = func() any { // None, as Python's
		idx = 0
		c["current"] = values[0]
		return nil
	}
	return exec.AsValue(c)
}

// mistralFuncNames are Mistral's expression functions
// (mistral.expression.functions), which its Jinja environment has both as
// globals, bound to the data context, and as filters, unbound.
var mistralFuncNames = []string{"env", "execution", "executions", "global", "json_dump", "json_parse", "json_pp", "task", "tasks", "uuid", "yaml_dump", "yaml_parse"}

// jinjaRun is the state of one evaluation.
type jinjaRun struct {
	ctx   context.Context
	data  any
	funcs Funcs
	steps atomic.Int64
	// limit is the first limit the evaluation hit: gonja's wrapping of
	// each call level would bury it.
	limit atomic.Pointer[error]
	// opErr is the first error an operator gave. Python raises it, where
	// gonja can drop the error value: a for loop's if clause reads it as
	// false, a list literal keeps it as an item ([1 > 'a'] | length).
	opErr atomic.Pointer[error]
}

// hitLimit records err as the evaluation's first limit and returns it.
func (r *jinjaRun) hitLimit(err error) error {
	r.limit.CompareAndSwap(nil, &err)
	return err
}

var errJinjaSteps = fmt.Errorf("expr: the Jinja template runs more than %d steps: %w", DefaultLimits().MaxSteps/1000, ErrLimit)

func (r *jinjaRun) step(n int64) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if r.steps.Add(n) > DefaultLimits().MaxSteps/1000 {
		return r.hitLimit(errJinjaSteps)
	}
	return nil
}

func (r *jinjaRun) environment() *exec.Environment {
	c := jinjaBaseEnv.Context.Inherit()
	c.Set("_", r.data)
	if d, ok := r.data.(map[string]any); ok {
		c.Set("__env", d["__env"])
		c.Set("__execution", d["__execution"])
		c.Set("__task_execution", d["__task_execution"])
	}
	return &exec.Environment{
		Context:           c,
		Filters:           jinjaBaseEnv.Filters,
		Tests:             jinjaBaseEnv.Tests,
		ControlStructures: jinjaBaseEnv.ControlStructures,
		Methods:           jinjaBaseEnv.Methods,
	}
}

// perRun makes f a function of the evaluation the calling evaluator
// belongs to, so that jinjaBaseEnv can hold it.
func perRun(f func(r *jinjaRun, a *exec.VarArgs) *exec.Value) func(*exec.Evaluator, *exec.VarArgs) *exec.Value {
	return func(e *exec.Evaluator, a *exec.VarArgs) *exec.Value {
		r, ok := jinjaRunOf(e)
		if !ok {
			return exec.AsValue(errors.New("no evaluation"))
		}
		return f(r, a)
	}
}

// jinjaDictAttFn is obj.name for a name of a dict method that is not
// called (see rewriteExpr): an error that says how to read the key.
func jinjaDictAttFn(a *exec.VarArgs) *exec.Value {
	v, err := fromJinja(a.Args[0])
	if err != nil {
		return exec.AsValue(err)
	}
	name := a.Args[1].String()
	if _, ok := v.(map[string]any); ok {
		return exec.AsValue(fmt.Errorf("%s is a method of the dict in Mistral's Jinja, not its key %q (Jinja reads attributes before keys): write ['%s'] for the key, or call it: .%s()", name, name, name, name))
	}
	return exec.AsValue(fmt.Errorf("'%s' object has no attribute '%s'", pyTypeName(v), name))
}

// jinjaStrFn is Python's str() of what a {{ }} prints.
func jinjaStrFn(a *exec.VarArgs) *exec.Value {
	v, err := fromJinja(a.Args[0])
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(pyStr(v))
}

// maxJinjaRange is Jinja's sandbox bound on range() (MAX_RANGE).
const maxJinjaRange = 100000

func (r *jinjaRun) rangeFn(a *exec.VarArgs) *exec.Value {
	var n []int64
	for _, v := range a.Args {
		if !v.IsInteger() {
			return exec.AsValue(fmt.Errorf("'%s' object cannot be interpreted as an integer", jinjaTypeName(v)))
		}
		n = append(n, int64(v.Integer()))
	}
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(n) {
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	default:
		return exec.AsValue(fmt.Errorf("range expected at most 3 arguments, got %d", len(n)))
	}
	if step == 0 {
		return exec.AsValue(errors.New("range() arg 3 must not be zero"))
	}
	var out []any
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) >= maxJinjaRange {
			return exec.AsValue(fmt.Errorf("range too big: the sandbox blocks ranges larger than MAX_RANGE (%d)", maxJinjaRange))
		}
		out = append(out, i)
	}
	if err := r.step(int64(len(out)) + 1); err != nil {
		return exec.AsValue(err)
	}
	if out == nil {
		out = []any{}
	}
	return exec.AsValue(out)
}

// mistralFilter is Mistral's function name as a filter: Mistral registers
// the unbound function, so the filtered value takes the place of the data
// context ({{ _ | env }} works, {{ x | json_dump }} lacks an argument).
func mistralFilter(name string) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		r, ok := jinjaRunOf(e)
		if !ok {
			return exec.AsValue(errors.New("no evaluation"))
		}
		if name == "env" && !sameMap(in.Interface(), r.data) {
			// env_(context) is context['__env']: only the data context
			// has one here (the engine serves it), any other dict is a
			// KeyError ({} | env).
			if m, ok := in.Interface().(map[string]any); ok {
				if e, ok := m["__env"]; ok {
					return exec.AsValue(e)
				}
				return exec.AsValue(errors.New("'__env'"))
			}
		}
		d, err := fromJinja(in)
		if err != nil {
			switch name {
			case "json_dump", "json_parse", "json_pp", "yaml_dump", "yaml_parse", "uuid":
				// The filtered value is the function's context, which
				// these never read: _.nope | json_dump(1) is "1".
				d = nil
			default:
				return exec.AsValue(err)
			}
		}
		return r.callMistral(name, d, a)
	}
}

// sameMap reports whether a and b are the same Go map (not equal ones).
func sameMap(a, b any) bool {
	x, ok1 := a.(map[string]any)
	y, ok2 := b.(map[string]any)
	return ok1 && ok2 && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
}

// jinjaRunOf finds the evaluation behind an evaluator through the
// context, where environment() left it.
func jinjaRunOf(e *exec.Evaluator) (*jinjaRun, bool) {
	v, ok := e.Environment.Context.Get(jinjaRunKey)
	if !ok {
		return nil, false
	}
	r, ok := v.(*jinjaRun)
	return r, ok
}

const jinjaRunKey = "__ff_run"

// mistralParams are the parameters of Mistral's functions after the data
// context, for keyword arguments and the error of a missing one.
var mistralParams = map[string][]string{
	"env": {}, "execution": {}, "uuid": {}, "executions": {"id", "root_execution_id", "state", "from_time", "to_time"},
	"global": {"var_name"}, "json_dump": {"data"}, "json_parse": {"data"}, "json_pp": {"data"},
	"task": {"task_name"}, "tasks": {"workflow_execution_id", "recursive", "state", "flat"},
	"yaml_dump": {"data"}, "yaml_parse": {"data"},
}

var yaqlCalls sync.Map // "name/n" -> *Program calling name with $.a0...

// callMistral runs Mistral's function name with the data context d and
// the arguments of a, through the YAQL implementation of the function,
// so that both expression languages share one.
func (r *jinjaRun) callMistral(name string, d any, a *exec.VarArgs) *exec.Value {
	params := mistralParams[name]
	args := make([]any, 0, len(params))
	for _, v := range a.Args {
		x, err := fromJinja(v)
		if err != nil {
			return exec.AsValue(err)
		}
		args = append(args, x)
	}
	if len(args) > len(params) {
		return exec.AsValue(fmt.Errorf("%s_() takes from 1 to %d positional arguments but %d were given", name, len(params)+1, len(args)+1))
	}
	keys := make([]string, 0, len(a.KwArgs))
	for k := range a.KwArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kw := map[string]any{}
	for _, k := range keys {
		i := indexOf(params, k)
		if i < 0 {
			return exec.AsValue(fmt.Errorf("%s_() got an unexpected keyword argument '%s'", name, k))
		}
		if i < len(args) {
			return exec.AsValue(fmt.Errorf("%s_() got multiple values for argument '%s'", name, k))
		}
		x, err := fromJinja(a.KwArgs[k])
		if err != nil {
			return exec.AsValue(err)
		}
		kw[k] = x
	}
	// Fill the positions up to the last one given; a required one missing
	// is Python's TypeError.
	last := len(args)
	for k := range kw {
		last = max(last, indexOf(params, k)+1)
	}
	for i := len(args); i < last; i++ {
		v, ok := kw[params[i]]
		if !ok {
			v = jinjaDefault(name, params[i])
			if v == errMissing {
				return exec.AsValue(fmt.Errorf("%s_() missing 1 required positional argument: '%s'", name, params[i]))
			}
		}
		args = append(args, v)
	}
	if (name == "json_dump" || name == "json_parse" || name == "json_pp" || name == "yaml_dump" || name == "yaml_parse" || name == "global") && len(args) == 0 {
		return exec.AsValue(fmt.Errorf("%s_() missing 1 required positional argument: '%s'", name, params[0]))
	}
	if name == "global" {
		switch k := args[0].(type) {
		case []any, map[string]any:
			// wf_ex.context.get(var_name) hashes the name.
			return exec.AsValue(fmt.Errorf("unhashable type: '%s'", pyTypeName(k)))
		}
	}
	if name == "env" {
		// env_(context) reads context['__env'], which fernetflow's engine
		// serves through Funcs.Env instead.
		m, ok := d.(map[string]any)
		if !ok {
			return exec.AsValue(fmt.Errorf("'%s' object is not subscriptable", pyTypeName(d)))
		}
		if e, ok := m["__env"]; ok {
			return exec.AsValue(e)
		}
	}
	if name != "json_dump" && name != "json_parse" && name != "json_pp" && name != "yaml_dump" && name != "yaml_parse" && name != "uuid" {
		if _, ok := d.(map[string]any); !ok {
			return exec.AsValue(fmt.Errorf("%s_(): the data context is a %s, not the workflow's context", name, pyTypeName(d)))
		}
	}
	if err := r.step(1); err != nil {
		return exec.AsValue(err)
	}
	key := name + "/" + strconv.Itoa(len(args))
	p, ok := yaqlCalls.Load(key)
	if !ok {
		var b strings.Builder
		b.WriteString(name + "(")
		for i := range args {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$.a%d", i)
		}
		b.WriteString(")")
		prog, err := Parse(b.String())
		if err != nil {
			return exec.AsValue(err)
		}
		p, _ = yaqlCalls.LoadOrStore(key, prog)
	}
	in := make(map[string]any, len(args))
	for i, v := range args {
		in["a"+strconv.Itoa(i)] = v
	}
	v, err := p.(*Program).Eval(r.ctx, in, r.funcs)
	if err != nil {
		return exec.AsValue(errors.New(strings.TrimPrefix(err.Error(), "expr: ")))
	}
	return exec.AsValue(v)
}

var errMissing = errors.New("missing")

// jinjaDefault is the default of Mistral's parameter, or errMissing.
func jinjaDefault(fn, param string) any {
	switch fn + "." + param {
	case "task.task_name", "tasks.workflow_execution_id", "tasks.state":
		return nil
	case "tasks.recursive", "tasks.flat":
		return false
	}
	return errMissing
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func (j *jinjaTemplate) eval(ctx context.Context, data any, funcs Funcs) (any, error) {
	if j.view {
		var err error
		if data, funcs, err = withInternal(ctx, data, funcs); err != nil {
			return nil, err
		}
	}
	r := &jinjaRun{ctx: ctx, data: data, funcs: funcs}
	env := r.environment()
	env.Context.Set(jinjaRunKey, r)
	v, err := j.run(r, env)
	if err != nil {
		if lim := r.limit.Load(); lim != nil {
			err = *lim
		}
		if errors.Is(err, ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("expr: can not evaluate Jinja expression %s: %w", j.src, err)
		}
		return nil, &JinjaError{Expr: j.src, Msg: jinjaMessage(err)}
	}
	return v, nil
}

func (j *jinjaTemplate) run(r *jinjaRun, env *exec.Environment) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("%v", p)
		}
	}()
	if j.noVar {
		return nil, errors.New("list index out of range")
	}
	if j.whole != nil {
		ev := &exec.Evaluator{Config: jinjaConfig, Environment: env, Loader: &jinjaLoader{}}
		out := j.whole
		expr := out.Expression
		if out.Condition != nil {
			c := ev.Eval(out.Condition)
			if c.IsError() {
				return nil, c.Interface().(error)
			}
			if !jinjaTruthy(c) {
				if out.Alternative == nil {
					// Jinja's "x if c" without else is undefined, which
					// StrictUndefined refuses once Mistral prints it.
					return nil, errors.New("the inline if expression evaluated to false and no else section was defined")
				}
				expr = out.Alternative
			}
		}
		res := ev.Eval(expr)
		if res.IsError() {
			return nil, res.Interface().(error)
		}
		if e := r.opErr.Load(); e != nil {
			return nil, *e
		}
		return fromJinja(res)
	}
	var b limitWriter
	b.max = DefaultLimits().MaxBytes
	if err := j.tmpl.Execute(&b, env.Context); err != nil {
		return nil, err
	}
	if e := r.opErr.Load(); e != nil {
		return nil, *e
	}
	return b.String(), nil
}

func jinjaTruthy(v *exec.Value) bool {
	x, err := fromJinja(v)
	if err != nil {
		return v.IsTrue()
	}
	return Truthy(x)
}

// JinjaError is a Jinja expression that failed: Mistral's
// JinjaEvaluationException ("Can not evaluate Jinja expression
// [expression=..., error=..., data=...]") less the data.
type JinjaError struct {
	Expr string // the string as written in the workflow
	Msg  string
}

func (e *JinjaError) Error() string {
	return fmt.Sprintf("expr: can not evaluate Jinja expression [expression=%s, error=%s]", e.Expr, e.Msg)
}

// jinjaMessage keeps the innermost of gonja's wrapped messages, the one
// that says what failed.
func jinjaMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	return jinjaNoise.ReplaceAllString(msg, "")
}

// jinjaNoise are the parts of gonja's messages that name its own
// internals (the helpers of rewriteJinja, a filter's Go value).
var jinjaNoise = regexp.MustCompile(`invalid call to function '__ff_[^']*': |unable to evaluate filter &\{.*?\}: `)

type limitWriter struct {
	strings.Builder
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.max {
		return 0, fmt.Errorf("expr: the string would be more than %d bytes: %w", w.max, ErrLimit)
	}
	return w.Builder.Write(p)
}

// fromJinja converts a gonja value into the data model.
func fromJinja(v *exec.Value) (any, error) {
	if v == nil || v.IsNil() {
		return nil, nil
	}
	if v.IsError() {
		return nil, v.Interface().(error)
	}
	return fromJinjaAny(v.Interface(), 0)
}

func fromJinjaAny(x any, depth int) (any, error) {
	if depth > DefaultLimits().MaxDepth {
		return nil, fmt.Errorf("expr: value nests more than %d levels deep: %w", DefaultLimits().MaxDepth, ErrLimit)
	}
	switch y := x.(type) {
	case nil, bool, int64, float64, string:
		return y, nil
	case *exec.Value:
		if y == nil || y.IsNil() {
			return nil, nil
		}
		if y.IsError() {
			return nil, y.Interface().(error)
		}
		return fromJinjaAny(y.Interface(), depth+1)
	case exec.ValuesList:
		out := make([]any, len(y))
		for i, e := range y {
			v, err := fromJinjaAny(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *exec.Dict:
		out := make(map[string]any, len(y.Pairs))
		for _, p := range y.Pairs {
			k, err := fromJinjaAny(p.Key, depth+1)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case []any, map[string]any:
				// A Python dict hashes its keys: {[1]: 2} is a TypeError.
				return nil, fmt.Errorf("unhashable type: '%s'", pyTypeName(k))
			}
			v, err := fromJinjaAny(p.Value, depth+1)
			if err != nil {
				return nil, err
			}
			out[jinjaKey(k)] = v
		}
		return out, nil
	case *exec.Pair:
		return fromJinjaAny(exec.ValuesList{y.Key, y.Value}, depth+1)
	case error:
		return nil, y
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			v, err := fromJinjaAny(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k, err := fromJinjaAny(it.Key().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			v, err := fromJinjaAny(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[jinjaKey(k)] = v
		}
		return out, nil
	case reflect.Chan:
		var out []any
		for {
			e, ok := rv.Recv()
			if !ok {
				return out, nil
			}
			v, err := fromJinjaAny(e.Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	case reflect.Func:
		return nil, errors.New("a function is not a value")
	}
	return Normalize(x)
}

func jinjaKey(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return pyStr(k)
}

func jinjaTypeName(v *exec.Value) string {
	x, err := fromJinja(v)
	if err != nil {
		return "error"
	}
	return pyTypeName(x)
}

func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// jinjaOps are Python's arithmetic operators on the data model, which
// replace gonja's looser ones (gonja's ** gives a float, % does no string
// formatting, 1/0 is +Inf, 1 + 'a' is '1a').
var jinjaOps = map[string]func(l, r any) (any, error){
	"~": func(l, r any) (any, error) { return pyAdd(pyStr(l), pyStr(r)) },
	"+": pyAdd, "-": pySub, "*": pyMul, "/": pyDiv, "//": pyFloorDiv, "%": pyMod, "**": pyPow,
	"<": pyOrder("<"), ">": pyOrder(">"), "<=": pyOrder("<="), ">=": pyOrder(">="),
	"in": pyIn, "==": pyEqOp, "!=": pyNeOp,
}

// pyIn is Python's in: a substring of a string (of strings only), an
// item of a list (by ==), a key of a dict; anything else is a TypeError
// (gonja's answered 3 in 'abc' and 'a' in 1 with false, none in 'a'
// with true).
func pyIn(l, r any) (any, error) {
	switch c := r.(type) {
	case string:
		s, ok := l.(string)
		if !ok {
			return nil, fmt.Errorf("'in <string>' requires string as left operand, not %s", pyTypeName(l))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, e := range c {
			if pyEquals(l, e) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		switch k := l.(type) {
		case []any, map[string]any:
			return nil, fmt.Errorf("unhashable type: '%s'", pyTypeName(l))
		case string:
			_, ok := c[k]
			return ok, nil
		}
		return false, nil
	}
	return nil, fmt.Errorf("argument of type '%s' is not iterable", pyTypeName(r))
}

// pyOrder is Python's <, >, <= or >=: numbers (and booleans) with
// numbers, strings with strings by code point, lists element by element;
// anything else is a TypeError (gonja compared 1 < 'a' as strings).
func pyOrder(op string) func(l, r any) (any, error) {
	return func(l, r any) (any, error) {
		c, err := pyCmp(l, r, op, 0)
		if err != nil {
			return nil, err
		}
		switch op {
		case "<":
			return c < 0, nil
		case ">":
			return c > 0, nil
		case "<=":
			return c <= 0, nil
		}
		return c >= 0, nil
	}
}

func pyCmp(l, r any, op string, depth int) (int, error) {
	if depth > DefaultLimits().MaxDepth {
		return 0, fmt.Errorf("expr: values nest more than %d levels deep: %w", DefaultLimits().MaxDepth, ErrLimit)
	}
	asNum := func(v any) (float64, bool) {
		if b, ok := v.(bool); ok {
			if b {
				return 1, true
			}
			return 0, true
		}
		return number(v)
	}
	if a, ok := asNum(l); ok {
		if b, ok := asNum(r); ok {
			x, xi := l.(int64)
			y, yi := r.(int64)
			if xi && yi {
				return cmp3(x, y), nil
			}
			return cmp3(a, b), nil
		}
	}
	switch x := l.(type) {
	case string:
		if y, ok := r.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := r.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if pyEquals(x[i], y[i]) {
					continue
				}
				return pyCmp(x[i], y[i], op, depth+1)
			}
			return cmp3(int64(len(x)), int64(len(y))), nil
		}
	}
	return 0, fmt.Errorf("'%s' not supported between instances of '%s' and '%s'", op, pyTypeName(l), pyTypeName(r))
}

// applyOp is Python's binary operator name (fn) on a call's two
// arguments, one step of the evaluation; an error is also kept for the
// end of the template (gonja would print it as a value).
func (r *jinjaRun) applyOp(name string, fn func(l, r any) (any, error), a *exec.VarArgs) *exec.Value {
	if err := r.step(1); err != nil {
		return exec.AsValue(err)
	}
	_, lGen := a.Args[0].Interface().(jinjaGen)
	_, rGen := a.Args[1].Interface().(jinjaGen)
	switch {
	case (lGen || rGen) && name == "==":
		return exec.AsValue(false) // a generator equals only itself
	case (lGen || rGen) && name == "!=":
		return exec.AsValue(true)
	case lGen && name == "in" && !a.Args[1].IsString():
		return exec.AsValue(false)
	}
	l, err := fromJinja(a.Args[0])
	if err != nil {
		return exec.AsValue(err)
	}
	rv, err := fromJinja(a.Args[1])
	if err != nil {
		return exec.AsValue(err)
	}
	v, err := fn(l, rv)
	if err != nil {
		r.opErr.CompareAndSwap(nil, &err)
		return exec.AsValue(err)
	}
	return exec.AsValue(v)
}

func opTypeError(op string, l, r any) error {
	return fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, pyTypeName(l), pyTypeName(r))
}

// num returns v as a number: int64 (bools count as ints) or float64.
func num(v any) (int64, float64, bool, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case int64:
		return x, float64(x), false, true
	case float64:
		return 0, x, true, true
	}
	return 0, 0, false, false
}

func arith(op string, l, r any, ints func(a, b int64) (any, error), floats func(a, b float64) (any, error)) (any, error) {
	li, lf, lflt, lok := num(l)
	ri, rf, rflt, rok := num(r)
	if !lok || !rok {
		return nil, opTypeError(op, l, r)
	}
	if lflt || rflt {
		return floats(lf, rf)
	}
	return ints(li, ri)
}

func pyAdd(l, r any) (any, error) {
	switch x := l.(type) {
	case string:
		if y, ok := r.(string); ok {
			if len(x)+len(y) > DefaultLimits().MaxBytes {
				return nil, fmt.Errorf("expr: the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit)
			}
			return x + y, nil
		}
		return nil, fmt.Errorf("can only concatenate str (not \"%s\") to str", pyTypeName(r))
	case []any:
		if y, ok := r.([]any); ok {
			if len(x)+len(y) > DefaultLimits().MaxItems {
				return nil, fmt.Errorf("expr: the list would have more than %d items: %w", DefaultLimits().MaxItems, ErrLimit)
			}
			return append(append(make([]any, 0, len(x)+len(y)), x...), y...), nil
		}
		return nil, fmt.Errorf("can only concatenate list (not \"%s\") to list", pyTypeName(r))
	}
	return arith("+", l, r, func(a, b int64) (any, error) {
		s := a + b
		if (s > a) != (b > 0) {
			return nil, errOverflow
		}
		return s, nil
	}, func(a, b float64) (any, error) { return a + b, nil })
}

var errOverflow = fmt.Errorf("expr: integer overflow (Python's integers grow; fernetflow's are 64-bit): %w", ErrLimit)

func pySub(l, r any) (any, error) {
	return arith("-", l, r, func(a, b int64) (any, error) {
		s := a - b
		if (s < a) != (b > 0) {
			return nil, errOverflow
		}
		return s, nil
	}, func(a, b float64) (any, error) { return a - b, nil })
}

func pyMul(l, r any) (any, error) {
	rep := func(n int64, size int, f func(int) any) (any, error) {
		if n <= 0 {
			n = 0
		}
		if size > 0 && n > int64(DefaultLimits().MaxBytes/size) {
			return nil, fmt.Errorf("expr: the repetition would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit)
		}
		return f(int(n)), nil
	}
	seqInt := func(v any) (int64, bool) {
		switch x := v.(type) {
		case int64:
			return x, true
		case bool:
			if x {
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	switch x := l.(type) {
	case string:
		if n, ok := seqInt(r); ok {
			return rep(n, len(x), func(n int) any { return strings.Repeat(x, n) })
		}
	case []any:
		if n, ok := seqInt(r); ok {
			return rep(n, len(x)*8, func(n int) any {
				out := make([]any, 0, len(x)*n)
				for range n {
					out = append(out, x...)
				}
				return out
			})
		}
	}
	_, lStr := l.(string)
	_, lList := l.([]any)
	if _, ok := r.(string); ok && !lStr && !lList {
		return pyMul(r, l)
	}
	if _, ok := r.([]any); ok && !lStr && !lList {
		return pyMul(r, l)
	}
	if lStr || lList {
		return nil, fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(r))
	}
	return arith("*", l, r, func(a, b int64) (any, error) {
		if a != 0 && b != 0 {
			p := a * b
			if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return nil, errOverflow
			}
			return p, nil
		}
		return int64(0), nil
	}, func(a, b float64) (any, error) { return a * b, nil })
}

func pyDiv(l, r any) (any, error) {
	return arith("/", l, r, func(a, b int64) (any, error) {
		if b == 0 {
			return nil, errors.New("division by zero")
		}
		return float64(a) / float64(b), nil
	}, func(a, b float64) (any, error) {
		if b == 0 {
			return nil, errors.New("float division by zero")
		}
		return a / b, nil
	})
}

func pyFloorDiv(l, r any) (any, error) {
	return arith("//", l, r, func(a, b int64) (any, error) {
		if b == 0 {
			return nil, errors.New("integer division or modulo by zero")
		}
		if a == math.MinInt64 && b == -1 {
			return nil, errOverflow
		}
		q := a / b
		if (a%b != 0) && ((a < 0) != (b < 0)) {
			q--
		}
		return q, nil
	}, func(a, b float64) (any, error) {
		if b == 0 {
			return nil, errors.New("float floor division by zero")
		}
		return math.Floor(a / b), nil
	})
}

// jinjaModOne names the % whose right operand is not a tuple literal:
// gonja has no tuples, so only the parser tells Python's '%s-%s' % (a, b)
// (the tuple's items are the arguments) from '%s' % [a, b] (one argument,
// a list). A tuple kept in a variable is a list here, and so one argument.
const jinjaModOne = "%1"

// pyModOne is % with r as the one argument of a format string.
func pyModOne(l, r any) (any, error) {
	if s, ok := l.(string); ok {
		if list, isList := r.([]any); isList {
			return pyPercentArgs(s, list, []any{list}, true)
		}
	}
	return pyMod(l, r)
}

func pyMod(l, r any) (any, error) {
	if s, ok := l.(string); ok {
		return pyPercent(s, r)
	}
	return arith("%", l, r, func(a, b int64) (any, error) {
		if b == 0 {
			return nil, errors.New("integer division or modulo by zero")
		}
		m := a % b
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		return m, nil
	}, func(a, b float64) (any, error) {
		if b == 0 {
			return nil, errors.New("float modulo")
		}
		return pyFloatMod(a, b), nil
	})
}

// pyPercent is Python's printf-style str % args: flags, width and
// precision, the conversions s r d i u f F e E g G x X o c and %%, and
// %(name)s keys of a dict argument (not * widths or an integer's
// precision). A list is the arguments, as a tuple is in Python (gonja has
// no tuples).
func pyPercent(f string, arg any) (any, error) {
	args := []any{arg}
	if l, ok := arg.([]any); ok {
		args = l
	}
	_, isDict := arg.(map[string]any)
	return pyPercentArgs(f, arg, args, isDict)
}

// pyPercentArgs formats f with args; mapping is Python's PyMapping_Check
// on the right operand (a dict, or a list given as one argument): then
// arguments left over are no error (' a ' % [1] is ' a ').
func pyPercentArgs(f string, arg any, args []any, mapping bool) (any, error) {
	dict, _ := arg.(map[string]any) // nil for a list: %(key)s fails
	var b strings.Builder
	n := 0
	next := func() (any, error) {
		if n >= len(args) {
			return nil, errors.New("not enough arguments for format string")
		}
		n++
		return args[n-1], nil
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return nil, errors.New("incomplete format")
		}
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// %[(key)][flags][width][.precision]conversion
		start := i
		var keyed *any
		if f[i] == '(' {
			depth, j := 1, i+1
			for ; j < len(f) && depth > 0; j++ {
				switch f[j] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			if depth > 0 {
				return nil, errors.New("incomplete format key")
			}
			if dict == nil {
				return nil, errors.New("format requires a mapping")
			}
			v, ok := dict[f[i+1:j-1]]
			if !ok {
				return nil, fmt.Errorf("%s", pyRepr(f[i+1:j-1], false)) // KeyError
			}
			keyed, i = &v, j
		}
		flags := ""
		for i < len(f) && strings.IndexByte("-+ 0#", f[i]) >= 0 {
			flags += string(f[i])
			i++
		}
		width, prec := "", ""
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			width += string(f[i])
			i++
		}
		hasPrec := false
		if i < len(f) && f[i] == '.' {
			hasPrec = true
			i++
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				prec += string(f[i])
				i++
			}
			if prec == "" {
				prec = "0"
			}
		}
		if len(width) > 6 || len(prec) > 6 {
			return nil, errors.New("width or precision too big")
		}
		if i >= len(f) {
			return nil, errors.New("incomplete format")
		}
		conv := f[i]
		if strings.IndexByte("srdiufFeEgGxXoc", conv) < 0 {
			return nil, fmt.Errorf("unsupported format character '%c' (0x%x) at index %d", conv, conv, i)
		}
		var v any
		if keyed != nil {
			v = *keyed
		} else {
			var err error
			if v, err = next(); err != nil {
				return nil, err
			}
		}
		out, err := pyPercentOne(v, conv, flags, width, prec, hasPrec)
		if err != nil {
			return nil, fmt.Errorf("%s format: %w", f[start-1:i+1], err)
		}
		b.WriteString(out)
	}
	if n < len(args) && !mapping {
		return nil, errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// pyPercentOne formats one value of printf-style % formatting through
// format()'s mini-language: %-5.2f is format(v, '<5.2f'); strings are
// right-aligned unless '-' (format() left-aligns them).
func pyPercentOne(v any, conv byte, flags, width, prec string, hasPrec bool) (string, error) {
	left := strings.Contains(flags, "-")
	switch conv {
	case 's', 'r':
		text := pyStr(v)
		if conv == 'r' {
			text = pyRepr(v, false)
		}
		if hasPrec {
			p, _ := strconv.Atoi(prec)
			if r := []rune(text); len(r) > p {
				text = string(r[:p])
			}
		}
		w, _ := strconv.Atoi(width)
		if pad := w - utf8.RuneCountInString(text); pad > 0 {
			if left {
				return text + strings.Repeat(" ", pad), nil
			}
			return strings.Repeat(" ", pad) + text, nil
		}
		return text, nil
	case 'c':
		switch x := v.(type) {
		case string:
			if utf8.RuneCountInString(x) != 1 {
				return "", errors.New("%c requires int or char")
			}
			return pyPercentOne(x, 's', flags, width, "", false)
		case int64:
			return pyPercentOne(string(rune(x)), 's', flags, width, "", false)
		}
		return "", errors.New("%c requires int or char")
	}
	ni, nf, isF, ok := num(v)
	if !ok {
		if strings.IndexByte("diuxXoc", conv) >= 0 {
			return "", fmt.Errorf("a real number is required, not %s", pyTypeName(v))
		}
		return "", fmt.Errorf("must be real number, not %s", pyTypeName(v))
	}
	spec := ""
	switch {
	case left:
		spec = "<"
	case strings.Contains(flags, "0"):
		spec = "0"
	}
	if strings.Contains(flags, "+") {
		spec = strings.Replace(spec, "0", "", 1) + "+"
		if strings.Contains(flags, "0") && !left {
			spec += "0"
		}
	} else if strings.Contains(flags, " ") {
		spec = strings.Replace(spec, "0", "", 1) + " "
		if strings.Contains(flags, "0") && !left {
			spec += "0"
		}
	}
	if strings.Contains(flags, "#") {
		spec = strings.Replace(spec, "0", "", 1) + "#"
		if strings.Contains(flags, "0") && !left {
			spec += "0"
		}
	}
	spec += width
	var arg any
	switch conv {
	case 'd', 'i', 'u', 'x', 'X', 'o':
		if hasPrec {
			return "", errors.New("precision for an integer conversion is not supported here")
		}
		if isF && (conv == 'x' || conv == 'X' || conv == 'o') {
			// Python truncates a float for %d, %i and %u only.
			return "", fmt.Errorf("%%%c format: an integer is required, not float", conv)
		}
		if isF {
			if math.IsInf(nf, 0) || math.IsNaN(nf) {
				return "", errors.New("cannot convert float infinity or NaN to integer")
			}
			ni = int64(nf)
		}
		arg = ni
		if conv == 'i' || conv == 'u' {
			conv = 'd'
		}
	default:
		arg = nf
		if !hasPrec {
			prec = "6"
		}
		spec += "." + prec
	}
	return pyFormatSpec(arg, spec+string(conv))
}

func pyPow(l, r any) (any, error) {
	return arith("**", l, r, func(a, b int64) (any, error) {
		if b < 0 {
			if a == 0 {
				return nil, errors.New("0.0 cannot be raised to a negative power")
			}
			return math.Pow(float64(a), float64(b)), nil
		}
		p := int64(1)
		for range b {
			q := p * a
			if a != 0 && q/a != p {
				return nil, errOverflow
			}
			p = q
			if p == 0 || p == 1 && a == 1 {
				break
			}
		}
		return p, nil
	}, func(a, b float64) (any, error) {
		if a == 0 && b < 0 {
			return nil, errors.New("0.0 cannot be raised to a negative power")
		}
		return math.Pow(a, b), nil
	})
}

// rewriteJinja walks a parsed tree and replaces gonja's arithmetic with
// calls of jinjaOps and, in a template, wraps every {{ }} in Python's
// str() (gonja prints None as "" and a float 1e20 as 1e+20). gonja keeps
// some statement fields unexported, so the walk sets those through
// reflect and unsafe; the tree is the one parse made and nothing else
// holds it.
//
// It refuses a test that gonja's parser left without its operand or
// argument ({{ in }}, {{ 1 in }}), which Jinja's parser refuses or reads
// as an undefined name: gonja would evaluate it to false.
func rewriteJinja(root any, render bool) (err error) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if te, ok := v.Interface().(*nodes.TestExpression); ok && err == nil {
				switch {
				case te.Test == nil:
					err = errors.New("a test without its name")
				case te.Expression == nil:
					err = fmt.Errorf("unexpected '%s'", te.Test.Name)
				case te.Test.Name == "in" && len(te.Test.Args) == 0:
					err = errors.New("unexpected 'end of print statement' after 'in'")
				}
			}
			if c, ok := v.Interface().(*nodes.Call); ok {
				if ga, ok := c.Func.(*nodes.GetAttribute); ok && dictMethodNames[ga.Attribute] {
					// A call of a dict method (_.items()) stays: rewrite
					// what it is called on and its arguments only.
					if e, ok := ga.Node.(nodes.Expression); ok {
						ga.Node = rewriteExpr(e, walk)
					} else {
						walk(reflect.ValueOf(ga.Node))
					}
					for i, a := range c.Args {
						if a != nil {
							c.Args[i] = rewriteExpr(a, walk)
						}
					}
					for k, a := range c.Kwargs {
						if a != nil {
							c.Kwargs[k] = rewriteExpr(a, walk)
						}
					}
					return
				}
			}
			if o, ok := v.Interface().(*nodes.Output); ok && render {
				if o.Expression != nil {
					o.Expression = jinjaCall(jinjaStr, rewriteExpr(o.Expression, walk))
				}
				if o.Condition != nil {
					o.Condition = rewriteExpr(o.Condition, walk)
				}
				if o.Alternative != nil {
					o.Alternative = jinjaCall(jinjaStr, rewriteExpr(o.Alternative, walk))
				}
				return
			}
			walk(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				f := v.Field(i)
				if !f.CanSet() && f.CanAddr() {
					f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
				}
				if f.Type() == reflect.TypeFor[nodes.Expression]() && !f.IsNil() && f.CanSet() {
					f.Set(reflect.ValueOf(rewriteExpr(f.Interface().(nodes.Expression), walk)))
					continue
				}
				if f.Type() == reflect.TypeFor[nodes.Node]() && !f.IsNil() && f.CanSet() {
					if e, ok := f.Interface().(nodes.Expression); ok {
						f.Set(reflect.ValueOf(rewriteExpr(e, walk)))
						continue
					}
				}
				walk(f)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				e := v.Index(i)
				if e.Type() == reflect.TypeFor[nodes.Expression]() && !e.IsNil() && e.CanSet() {
					e.Set(reflect.ValueOf(rewriteExpr(e.Interface().(nodes.Expression), walk)))
					continue
				}
				walk(e)
			}
		case reflect.Map:
			if v.Type().Elem() == reflect.TypeFor[nodes.Expression]() {
				it := v.MapRange()
				for it.Next() {
					if !it.Value().IsNil() {
						v.SetMapIndex(it.Key(), reflect.ValueOf(rewriteExpr(it.Value().Interface().(nodes.Expression), walk)))
					}
				}
				return
			}
			it := v.MapRange()
			for it.Next() {
				walk(it.Value())
			}
		}
	}
	if o, ok := root.(*nodes.Output); ok && !render {
		if o.Expression != nil {
			o.Expression = rewriteExpr(o.Expression, walk)
		}
		if o.Condition != nil {
			o.Condition = rewriteExpr(o.Condition, walk)
		}
		if o.Alternative != nil {
			o.Alternative = rewriteExpr(o.Alternative, walk)
		}
		return err
	}
	walk(reflect.ValueOf(root))
	return err
}

// jinjaUndefined is the undefined value a filter gives (the first item
// of nothing, a missing attribute): an error here, as StrictUndefined
// refuses to print it, that default replaces. Other errors of a filter
// are Python exceptions, which default does not catch.
// Its message ends with undefinedMark, by which default knows it: gonja
// flattens a filter's error into a string ("invalid call to filter ...").
type jinjaUndefined string

const undefinedMark = " (Jinja: undefined)"

func (u jinjaUndefined) Error() string {
	if strings.HasSuffix(string(u), undefinedMark) {
		return string(u)
	}
	return string(u) + undefinedMark
}

// isUndefined reports whether in is the jinjaUndefined of the step that
// gave it, not an error an operation raised on one: gonja hands a
// function's or filter's error on as a new error ("invalid call to filter
// 'first': ..."), and wraps it again in anything that takes it as an
// operand ("unable to evaluate parameters: ..."), which Jinja's
// StrictUndefined would have raised on.
func isUndefined(in *exec.Value) bool {
	if !in.IsError() {
		return false
	}
	if _, ok := in.Interface().(jinjaUndefined); ok {
		return true
	}
	m := in.Error()
	if loc := gonjaCallWrap.FindStringIndex(m); loc != nil {
		m = m[loc[1]:]
	}
	return strings.HasSuffix(m, undefinedMark) && !strings.Contains(m, "invalid call to ") && !strings.Contains(m, "nable to evaluate ")
}

// gonjaCallWrap is how gonja hands on the error of a function or filter
// (a filter's, with its node printed first).
var gonjaCallWrap = regexp.MustCompile(`^(?:unable to evaluate filter &\{.*?\}: )?invalid call to (?:function|filter) '[^']*': `)

// jinjaDefaultUndefined is default(value, ...) after a filter that may
// give undefined: it replaces that undefined, not another error.
func jinjaDefaultUndefined(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	if in.IsError() && !isUndefined(in) {
		return in
	}
	return jinjaDefaultFilter(e, in, a)
}

// isDefault reports whether f is Jinja's default filter, by either name.
func isDefault(f *nodes.FilterCall) bool { return f.Name == "default" || f.Name == "d" }

// undefinedFilters are the filters whose result may be Jinja's undefined
// (an item or attribute that is not there, the first or last of nothing).
var undefinedFilters = map[string]bool{"attr": true, "first": true, "last": true, "min": true, "max": true}

// rewriteExpr rewrites e's subtrees, then e itself when it is an
// arithmetic operator.
func rewriteExpr(e nodes.Expression, walk func(reflect.Value)) nodes.Expression {
	walk(reflect.ValueOf(e))
	if ga, ok := e.(*nodes.GetAttribute); ok && dictMethodNames[ga.Attribute] {
		if obj, ok := ga.Node.(nodes.Expression); ok {
			tok := &tokens.Token{Type: tokens.String, Val: ga.Attribute}
			if p := ga.Position(); p != nil {
				tok.Line, tok.Col, tok.Pos = p.Line, p.Col, p.Pos
			}
			return jinjaCall(jinjaDictAtt, obj, &nodes.String{Location: tok, Val: ga.Attribute})
		}
	}
	if te, ok := e.(*nodes.TestExpression); ok && te.Test != nil && undefinedSafeTests[te.Test.Name] {
		// x is defined: only x's last step may be undefined (zz.yy is
		// an error in Jinja when zz is); see jinjaLookupFn.
		if x := undefinedLookup(te.Expression); x != nil {
			te.Expression = x
		}
	}
	if te, ok := e.(*nodes.TestExpression); ok && te.Test != nil && te.Test.Name == "in" && len(te.Test.Args) == 1 && len(te.Test.Kwargs) == 0 {
		return jinjaCall(jinjaOpPfx+"in", te.Expression, te.Test.Args[0])
	}
	if fe, ok := e.(*nodes.FilteredExpression); ok && len(fe.Filters) > 0 && fe.Expression != nil && isDefault(fe.Filters[0]) {
		// x | default(...): as for x is defined, only x's last step may
		// be undefined; any other error is raised (_.zz.yy | d(1) fails).
		if x := undefinedLookup(fe.Expression); x != nil {
			fe.Expression = x
		}
		head := *fe.Filters[0]
		head.Name = jinjaDefaultUndef
		fe.Filters[0] = &head
	}
	if fe, ok := e.(*nodes.FilteredExpression); ok && len(fe.Filters) > 1 && fe.Expression != nil {
		// gonja stops a chain at the first error, where Jinja hands an
		// undefined value on: x | first | default('d') is (x | first) |
		// default('d'), so that default sees the undefined (an error
		// here) that first gives for an empty list. Only there: any other
		// error is an exception in Jinja, which default does not catch.
		// The filter before default stands alone, so that default knows
		// its undefined from one an earlier filter gave (gonja hands that
		// on): [] | first | max | default('x') fails, as max(undefined).
		cur := &nodes.FilteredExpression{Expression: fe.Expression}
		for i, f := range fe.Filters {
			toDefault := i+1 < len(fe.Filters) && undefinedFilters[f.Name] && isDefault(fe.Filters[i+1])
			if toDefault && len(cur.Filters) > 0 {
				cur = &nodes.FilteredExpression{Expression: cur}
			}
			cur.Filters = append(cur.Filters, f)
			if toDefault {
				cur = &nodes.FilteredExpression{Expression: cur}
				next := *fe.Filters[i+1]
				next.Name = jinjaDefaultUndef
				fe.Filters[i+1] = &next
			}
		}
		return cur
	}
	if d, ok := e.(*nodes.Dict); ok {
		// A dict written in the template is a Go map, as one from the
		// data is: gonja's own dict is true even when empty ({} or 1).
		var args []nodes.Expression
		for _, p := range d.Pairs {
			if p == nil || p.Key == nil || p.Value == nil {
				return e
			}
			args = append(args, p.Key, p.Value)
		}
		c := jinjaCall(jinjaDictLit, args...).(*nodes.Call)
		if len(args) == 0 && d.Token != nil {
			tok := *c.Location
			tok.Line, tok.Col, tok.Pos = d.Token.Line, d.Token.Col, d.Token.Pos
			c.Location = &tok
			c.Func = &nodes.Name{Name: &tok}
		}
		return c
	}
	if gs, ok := e.(*nodes.GetSlice); ok {
		if obj, ok := gs.Node.(nodes.Expression); ok {
			// Python's slice: None bounds, bools, clamping (gonja's
			// refused s[::none]).
			args := []nodes.Expression{obj}
			for _, b := range []nodes.Node{gs.Start, gs.End, gs.Step} {
				x, ok := b.(nodes.Expression)
				if !ok {
					x = &nodes.None{Location: &tokens.Token{Type: tokens.Name, Val: "none"}}
				}
				args = append(args, x)
			}
			return jinjaCall(jinjaSlice, args...)
		}
	}
	if gi, ok := e.(*nodes.GetItem); ok && gi.Arg != nil {
		obj, objOK := gi.Node.(nodes.Expression)
		arg, argOK := gi.Arg.(nodes.Expression)
		switch a := gi.Arg.(type) {
		case *nodes.String:
			argOK = false // a key: gonja's lookup
		case *nodes.Integer:
			argOK = a.Val < 0
		}
		if objOK && argOK {
			// Python's index: a negative one counts from the end, down to
			// -len (gonja's stopped at -len+1: 'a-b'.split('-')[-2] was
			// "not found"); a bool is 0 or 1.
			gi.Arg = jinjaCall(jinjaIndex, obj, arg)
		}
	}
	if b, ok := e.(*nodes.BinaryExpression); ok && b.Operator != nil && b.Operator.Token != nil {
		// gonja's lexer keeps what precedes an operator and is no space
		// to it (Python's whitespace, such as \x1e, is): "\x1e*".
		op := strings.TrimLeftFunc(b.Operator.Token.Val, func(r rune) bool { return !strings.ContainsRune("+-*/%~<>=!", r) })
		if _, isTuple := b.Right.(*nodes.Tuple); op == "%" && !isTuple {
			return jinjaCall(jinjaOpPfx+jinjaModOne, b.Left, b.Right)
		}
		if _, ok := jinjaOps[op]; ok {
			return jinjaCall(jinjaOpPfx+op, b.Left, b.Right)
		}
	}
	return e
}

// nodePosition is e's position, or nil where gonja's Position would
// dereference a part its parser left out ({{ in }} parses as a test of
// nothing).
func nodePosition(e nodes.Expression) (pos *tokens.Token) {
	defer func() {
		if recover() != nil {
			pos = nil
		}
	}()
	return e.Position()
}

func jinjaCall(name string, args ...nodes.Expression) nodes.Expression {
	var pos *tokens.Token
	if len(args) > 0 && args[0] != nil {
		pos = nodePosition(args[0])
	}
	tok := &tokens.Token{Type: tokens.Name, Val: name}
	if pos != nil {
		tok.Line, tok.Col, tok.Pos = pos.Line, pos.Col, pos.Pos
	}
	return &nodes.Call{Location: tok, Func: &nodes.Name{Name: tok}, Args: args, Kwargs: map[string]nodes.Expression{}}
}

// jinjaAttr is Jinja's do_attr: Python's getattr, so a dict's keys are
// not attributes: d | attr('k') is undefined, which Mistral's
// StrictUndefined refuses with "'dict object' has no attribute 'k'"
// (gonja's reads the key). Other values keep gonja's attribute lookup.
func jinjaAttr(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(a.Args) == 1 && !a.Args[0].IsString() {
		return exec.AsValue(fmt.Errorf("attribute name must be string, not '%s'", jinjaTypeName(a.Args[0])))
	}
	if len(a.Args) == 1 {
		if t := pyMethodOf(in, a.Args[0].String()); t != "" {
			return exec.AsValue(pyMethodRepr(a.Args[0].String(), t))
		}
		if in.IsDict() {
			return exec.AsValue(jinjaUndefined(fmt.Sprintf("'dict object' has no attribute '%s'", a.Args[0].String())))
		}
	}
	out := gonjaAttr(e, in, a)
	if len(a.Args) != 1 || !out.IsNil() {
		return out
	}
	x, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	switch x.(type) {
	case nil, string, bool, int64, float64, []any:
		// A value of the data model: what gonja finds nothing for is
		// Jinja's undefined ('a' | attr('a')), not None.
		return exec.AsValue(jinjaUndefined(fmt.Sprintf("'%s object' has no attribute '%s'", pyTypeName(x), a.Args[0].String())))
	}
	return out
}

// jinjaMap is gonja's map, except that map(attribute=...) without a
// default refuses an item that lacks the attribute: Jinja gives an
// undefined value there, which Mistral's StrictUndefined refuses when it
// is printed and Mistral fails to store in a list (gonja's gives None).
func jinjaMap(e *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	if len(a.Args) > 0 {
		name, err := fromJinja(a.Args[0])
		if err != nil {
			return exec.AsValue(err)
		}
		if s, ok := name.(string); !ok || !e.Environment.Filters.Exists(s) {
			return exec.AsValue(fmt.Errorf("no filter named %s (Jinja: No filter named ...)", pyRepr(name, false)))
		}
	}
	attr, ok := a.KwArgs["attribute"]
	if !ok && len(a.Args) == 0 {
		return exec.AsValue(errors.New("map requires a filter argument"))
	}
	if _, hasDefault := a.KwArgs["default"]; !ok || hasDefault || len(a.Args) > 0 || in.IsError() {
		return gonjaMap(e, in, a)
	}
	items, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	list, _ := items.([]any)
	raw := rawItems(in)
	if attr.IsInteger() || attr.IsBool() {
		// make_attrgetter keeps a number whole: getitem(item, -1), and
		// True is 1 (groupby's tuples too).
		k := int64(attr.Integer())
		if attr.IsBool() {
			k = boolInt(attr.Bool())
		}
		out := make([]any, len(list))
		for i, item := range list {
			if i < len(raw) {
				if g, ok := raw[i].(jinjaGroup); ok {
					item = []any(g)
				}
			}
			v, err := jinjaItem(item, k)
			if err != nil {
				return exec.AsValue(err)
			}
			out[i] = v
		}
		return exec.AsValue(out)
	}
	path := attr.String()
	for i, item := range list {
		if i < len(raw) {
			if g, ok := raw[i].(jinjaGroup); ok {
				// A group has grouper, list and its two indexes only.
				if _, err := jinjaItem(g, path); err != nil {
					return exec.AsValue(fmt.Errorf("'_GroupTuple object' has no attribute '%s'", path))
				}
				continue
			}
		}
		// Jinja's getitem, then getattr: a value of the data model has
		// no attribute Mistral could use, so a missing key or index is
		// undefined.
		if _, err := jinjaItem(item, path); err != nil {
			return exec.AsValue(err)
		}
	}
	return gonjaMap(e, in, a)
}

var gonjaMap = gonjaFilter("map")

// gonjaAttr is gonja's own attr filter, for what is not a dict.
var gonjaAttr = gonjaFilter("attr")

// gonjaFilter is gonja's builtin filter of that name.
func gonjaFilter(name string) exec.FilterFunction {
	f, ok := gbuiltins.Filters.Get(name)
	if !ok {
		panic("expr: gonja has no " + name + " filter")
	}
	return f
}

// jinjaDefaultFilter is Jinja's do_default(value, default_value="",
// boolean=False): only an undefined value (here, the error StrictUndefined
// gives) is replaced, not None, unless boolean is true; then every false
// value is (gonja's replaced None too).
func jinjaDefaultFilter(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	def, boolean := exec.AsValue(""), false
	if len(a.Args) > 0 {
		def = a.Args[0]
	} else if v, ok := a.KwArgs["default_value"]; ok {
		def = v
	}
	if len(a.Args) > 1 {
		boolean = a.Args[1].IsTrue()
	} else if v, ok := a.KwArgs["boolean"]; ok {
		boolean = v.IsTrue()
	}
	if in.IsError() || (boolean && !in.IsTrue()) {
		return def
	}
	return in
}

// jinjaFilters replace gonja's filters whose results differ from Jinja's.
var jinjaFilters = map[string]exec.FilterFunction{
	"attr":            jinjaAttr,
	"map":             jinjaMap,
	"default":         jinjaDefaultFilter,
	"d":               jinjaDefaultFilter,
	jinjaDefaultUndef: jinjaDefaultUndefined,
	// reverse gives a reversed copy (gonja's reverses the list in place,
	// so {{ l | reverse | list }} saw it reversed twice).
	"reverse": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		switch x := v.(type) {
		case string:
			r := []rune(x)
			slices.Reverse(r)
			return exec.AsValue(string(r))
		case []any:
			out := slices.Clone(x)
			slices.Reverse(out)
			return exec.AsValue(jinjaGen(out)) // Python's reversed(): an iterator
		case map[string]any:
			keys := sortedKeys(x) // a dict is reversible: its keys, last first
			out := make(jinjaGen, len(keys))
			for i, k := range keys {
				out[len(keys)-1-i] = k
			}
			return exec.AsValue(out)
		}
		return exec.AsValue(fmt.Errorf("argument must be iterable, not %s", pyTypeName(v)))
	},
	"round":      jinjaRound,
	"trim":       jinjaTrim,
	"center":     jinjaCenter,
	"length":     jinjaLength,
	"count":      jinjaLength,
	"last":       jinjaLast,
	"list":       jinjaList,
	"e":          jinjaEscape,
	"escape":     jinjaEscape,
	"dictsort":   jinjaDictsort,
	"abs":        jinjaAbs,
	"sort":       jinjaSort,
	"sum":        jinjaSum,
	"select":     jinjaSelect(false, true),
	"reject":     jinjaSelect(false, false),
	"selectattr": jinjaSelect(true, true),
	"rejectattr": jinjaSelect(true, false),
	"batch":      jinjaBatch,
	"groupby":    jinjaGroupBy,
	"unique":     jinjaUnique,
	"slice":      jinjaSliceFilter,
	// first of an empty sequence is undefined in Jinja, which Mistral
	// fails to print (gonja's is "").
	"first": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		switch x := v.(type) {
		case []any:
			if len(x) > 0 {
				return exec.AsValue(x[0])
			}
		case string:
			if x != "" {
				r, _ := utf8.DecodeRuneInString(x)
				return exec.AsValue(string(r))
			}
		case map[string]any:
			if keys := sortedKeys(x); len(keys) > 0 {
				return exec.AsValue(keys[0])
			}
		default:
			// next(iter(value)): 1 | first is a TypeError, no undefined.
			return exec.AsValue(fmt.Errorf("'%s' object is not iterable", pyTypeName(x)))
		}
		return exec.AsValue(jinjaUndefined("no first item, sequence was empty"))
	},
	// format is Jinja's do_format: Python's printf-style value % args
	// (gonja's uses Go's fmt verbs).
	"format": func(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		if len(a.KwArgs) > 0 {
			// Jinja formats with the keywords as a dict: '%(x)s' | format(x=1).
			if len(a.Args) > 0 {
				return exec.AsValue(errors.New("can't handle positional and keyword arguments at the same time"))
			}
			kw := map[string]any{}
			for k, x := range a.KwArgs {
				if kw[k], err = fromJinja(x); err != nil {
					return exec.AsValue(err)
				}
			}
			out, err := pyPercent(pyStr(v), kw)
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(out)
		}
		args := make([]any, len(a.Args))
		for i, x := range a.Args {
			if args[i], err = fromJinja(x); err != nil {
				return exec.AsValue(err)
			}
		}
		out, err := pyPercent(pyStr(v), args)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(out)
	},
	// max and min with attribute= give the item, as Jinja's, not the
	// attribute (gonja's).
	"max": jinjaMinMax(1),
	"min": jinjaMinMax(-1),
	// items walks a dict in key order (gonja's walks Go's map order).
	"items": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return exec.AsValue(errors.New("can only get item pairs from a mapping"))
		}
		out := make([]any, 0, len(m))
		for _, k := range sortedKeys(m) {
			out = append(out, []any{k, m[k]})
		}
		return exec.AsValue(out)
	},
	// string is Python's str(): None is "None".
	"string": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(pyStr(v))
	},
	// tojson is Jinja's htmlsafe_json_dumps: sorted keys, Python's
	// separators, and <, >, & and ' escaped.
	"tojson": func(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		if err := notGenerator(in, "Object of type generator is not JSON serializable"); err != nil {
			return exec.AsValue(err)
		}
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		args, err := jinjaBind("tojson", a, []string{"indent"}, nil)
		if err != nil {
			return exec.AsValue(err)
		}
		// json.dumps' indent: a number of spaces or the string itself
		// (0 and less, which Python writes as bare newlines, are compact
		// here).
		indent := ""
		switch i := args[0].(type) {
		case nil:
		case string:
			indent = i
		default:
			n, err := pyIntArg(i)
			if err != nil {
				if !jsonNests(v) {
					break // json.dumps uses the indent only inside a list or dict
				}
				return exec.AsValue(fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(i)))
			}
			if n > 64 {
				return exec.AsValue(fmt.Errorf("expr: tojson(): indent %d: %w", n, ErrLimit))
			}
			indent = strings.Repeat(" ", int(max(n, 0)))
		}
		// json.dumps' ensure_ascii: every character past "~" is \uXXXX.
		var b bytes.Buffer
		if err := writeJSON(&b, v, indent, "", ", ", ": ", true); err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`).Replace(b.String()))
	},
}

// jsonNests reports whether json.dumps writes v with newlines when
// indenting: a list or dict that is not empty.
func jsonNests(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return false
}

// jinjaMinMax is Jinja's do_max (sign 1) or do_min (-1): the largest or
// smallest item, compared by its attribute= key when given; strings
// compare case-insensitively unless case_sensitive=true. An empty
// sequence is undefined, which Mistral fails to print.
func jinjaMinMax(sign int) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		items, err := jinjaIterable(v) // a string's characters too: 'xyz' | max is 'z'
		if err != nil {
			return exec.AsValue(err)
		}
		caseSensitive := false
		if c, ok := a.KwArgs["case_sensitive"]; ok {
			caseSensitive = c.IsTrue()
		}
		var attr any
		if at, ok := a.KwArgs["attribute"]; ok {
			if attr, err = fromJinja(at); err != nil {
				return exec.AsValue(err)
			}
		}
		key := func(x any) (any, error) {
			x, err := jinjaItem(x, attr)
			if err != nil {
				return nil, err
			}
			if s, ok := x.(string); ok && !caseSensitive {
				return strings.ToLower(s), nil
			}
			return x, nil
		}
		var best, bestKey any
		for i, it := range items {
			k, err := key(it)
			if err != nil {
				return exec.AsValue(err)
			}
			if i == 0 {
				best, bestKey = it, k
				continue
			}
			op := "<" // Python's min compares with <, max with >
			if sign > 0 {
				op = ">"
			}
			c, err := pyCmp(k, bestKey, op, 0) // Python's order: lists too
			if err != nil {
				return exec.AsValue(err)
			}
			if c*sign > 0 {
				best, bestKey = it, k
			}
		}
		if len(items) == 0 {
			return exec.AsValue(jinjaUndefined("no aggregated item, sequence was empty"))
		}
		return exec.AsValue(best)
	}
}
