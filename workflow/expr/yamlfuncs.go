package expr

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	yamllexer "github.com/goccy/go-yaml/lexer"
	yamlparser "github.com/goccy/go-yaml/parser"
	yamltoken "github.com/goccy/go-yaml/token"
)

// yaml_dump and yaml_parse follow PyYAML's safe_dump (block style, sorted
// keys, ASCII only) and safe_load (YAML 1.1: yes is true, 010 is 8, 1:30
// is 90, 1e3 is a string), as Mistral calls them. Plain and single-quoted
// strings fold at a space past column 80 as PyYAML's emitter does
// (best_width 80); double-quoted ones (what is not printable ASCII) with an
// escaped line break, as write_double_quoted does. yaml_parse reads with
// goccy/go-yaml's scanner and parser, corrected where they read otherwise
// than PyYAML: merge keys (<<: *anchor, <<: [*a, *b]) merge, a plain key
// ending in << is a key, single-quoted scalars fold as PyYAML folds them.

func fnYAMLDump(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	v, err := c.arg(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.checkSize(v, "yaml_dump()"); err != nil {
		return nil, err
	}
	var b strings.Builder
	switch x := v.(type) {
	case []any, map[string]any:
		if valueSize(x, 1) == 1 { // empty: PyYAML writes it in flow style
			if _, ok := x.([]any); ok {
				return "[]\n", nil
			}
			return "{}\n", nil
		}
		if err := yamlBlock(&b, v, 0, false); err != nil {
			return nil, err
		}
	default:
		s, plain, err := yamlScalar(v, 2)
		if err != nil {
			return nil, err
		}
		// A root scalar's continuation lines are indented by 2
		// (PyYAML's increase_indent(flow=True) from no indent).
		s = yamlFold(s, plain, -1, 2, v) // no space before a root scalar
		b.WriteString(s + "\n")
		if _, isStr := v.(string); plain || (!isStr && !strings.Contains(s, "\n")) {
			b.WriteString("...\n") // PyYAML ends a bare plain scalar document so
		}
	}
	return b.String(), ev.allocString(b.String(), "yaml_dump()")
}

// yamlBlock writes a collection at indent; inSeq means it follows "- ".
func yamlBlock(b *strings.Builder, v any, indent int, inSeq bool) error {
	pad := strings.Repeat(" ", indent)
	first := true
	line := func() {
		if !(inSeq && first) {
			b.WriteString(pad)
		}
		first = false
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			line()
			complexKey := !yamlSimpleKey(k)
			if complexKey {
				// PyYAML's complex key: "? KEY", then ":" on a line of its own.
				ks, plain, err := yamlScalar(k, indent+2)
				if err != nil {
					return err
				}
				b.WriteString("?")
				b.WriteString(" " + yamlFold(ks, plain, yamlColumn(b), indent+2, k) + "\n" + pad + ":")
			} else {
				ks, _, err := yamlScalar(k, indent)
				if err != nil {
					return err
				}
				b.WriteString(ks + ":")
			}
			// A complex key's collection value starts on the ":" line, as
			// a sequence's item does.
			if err := yamlValue(b, x[k], indent, complexKey); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			line()
			b.WriteString("-")
			if err := yamlValue(b, e, indent, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlSimpleKey is PyYAML's check_simple_key for a string key: not
// empty, no line break, under 128 characters.
func yamlSimpleKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, "\n\u0085\u2028\u2029") && utf8.RuneCountInString(k) < 128
}

// yamlValue writes what follows "key:" or "-".
func yamlValue(b *strings.Builder, v any, indent int, inSeq bool) error {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString(" {}\n")
			return nil
		}
		if inSeq {
			b.WriteString(" ")
			return yamlBlock(b, x, indent+2, true)
		}
		b.WriteString("\n")
		return yamlBlock(b, x, indent+2, false)
	case []any:
		if len(x) == 0 {
			b.WriteString(" []\n")
			return nil
		}
		if inSeq {
			b.WriteString(" ")
			return yamlBlock(b, x, indent+2, true)
		}
		b.WriteString("\n")
		return yamlBlock(b, x, indent, false) // PyYAML: sequences in a mapping are not indented
	}
	s, plain, err := yamlScalar(v, indent+2)
	if err != nil {
		return err
	}
	b.WriteString(" " + yamlFold(s, plain, yamlColumn(b), indent+2, v) + "\n")
	return nil
}

// yamlColumn is the column the builder's last line ends at.
func yamlColumn(b *strings.Builder) int {
	s := b.String()
	return len(s) - strings.LastIndexByte(s, '\n') - 1
}

// yamlBestWidth is PyYAML's Emitter.best_width.
const yamlBestWidth = 80

// yamlFold folds a scalar v that yamlScalar wrote as s as PyYAML's
// write_plain, write_single_quoted and write_double_quoted do (the last
// in yamlDoubleQuoted): a single space between two words becomes a line
// break and indent spaces when the line is already past column 80. col
// is the column before the space that precedes the scalar. Other scalars
// are returned as they are.
func yamlFold(s string, plain bool, col, indent int, v any) string {
	if text, ok := v.(string); ok && strings.HasPrefix(s, `"`) {
		return yamlDoubleQuoted(text, col, indent, true)
	}
	single := strings.HasPrefix(s, "'")
	if !plain && !single {
		return s
	}
	if col+1+len(s) <= yamlBestWidth {
		return s // nothing can fold
	}
	text := s
	column := col + 1 // the space before the scalar
	if single {
		// PyYAML folds the text as it writes it.
		text, _ = v.(string)
		column++ // the opening quote
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	if single {
		out.WriteByte('\'')
	}
	write := func(data string) {
		out.WriteString(data)
		column += len(data)
	}
	newline := func() {
		out.WriteString("\n" + pad)
		column = indent
	}
	spaces, breaks := false, false
	start := 0
	for end := 0; end <= len(text); end++ {
		var ch byte
		if end < len(text) {
			ch = text[end]
		}
		switch {
		case spaces:
			if ch != ' ' {
				fold := start+1 == end && column > yamlBestWidth
				if single {
					fold = fold && start != 0 && end != len(text)
				}
				if fold {
					newline()
				} else {
					write(text[start:end])
				}
				start = end
			}
		case breaks: // single-quoted only: plain scalars hold no line break
			if ch != '\n' {
				if text[start] == '\n' {
					out.WriteString("\n")
				}
				for range text[start:end] {
					out.WriteString("\n")
				}
				out.WriteString(pad) // write_indent right after a line break
				column = indent
				start = end
			}
		default:
			if end == len(text) || ch == ' ' || ch == '\n' || (single && ch == '\'') {
				if start < end {
					write(text[start:end])
					start = end
				}
			}
		}
		if single && ch == '\'' && end < len(text) {
			write("''")
			start = end + 1
		}
		if end < len(text) {
			spaces, breaks = ch == ' ', ch == '\n'
		}
	}
	if single {
		out.WriteByte('\'')
	}
	return out.String()
}

// yamlScalar is PyYAML's representation of a scalar; plain reports an
// unquoted string.
func yamlScalar(v any, indent int) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "null", false, nil
	case bool:
		return strconv.FormatBool(x), false, nil
	case int64:
		return strconv.FormatInt(x, 10), false, nil
	case float64:
		switch {
		case math.IsInf(x, 1):
			return ".inf", false, nil
		case math.IsInf(x, -1):
			return "-.inf", false, nil
		case math.IsNaN(x):
			return ".nan", false, nil
		}
		s := strings.ToLower(pyFloat(x))
		if !strings.Contains(s, ".") && strings.Contains(s, "e") {
			s = strings.Replace(s, "e", ".0e", 1) // PyYAML's represent_float
		}
		return s, false, nil
	case string:
		return yamlString(x, indent)
	}
	return "", false, fmt.Errorf("expr: yaml_dump(): cannot represent %s", article(v))
}

func yamlString(s string, indent int) (string, bool, error) {
	if yamlNeedsDouble(s) {
		return yamlDoubleQuoted(s, -1, indent, false), false, nil
	}
	if yamlPlainOK(s) {
		return s, true, nil
	}
	q := strings.ReplaceAll(s, "'", "''")
	// write_single_quoted: a run of n line breaks is n+1 of them, then the
	// indent.
	q = yamlBreakRun.ReplaceAllStringFunc(q, func(run string) string {
		return run + "\n" + strings.Repeat(" ", indent)
	})
	return "'" + q + "'", false, nil
}

// yamlNeedsDouble is PyYAML's analyze_scalar leaving only the
// double-quoted style (allow_unicode off, as safe_dump): a character other
// than a line break or printable ASCII, a space before a line break, or a
// line break before a space.
func yamlNeedsDouble(s string) bool {
	prevSpace, prevBreak := false, false
	for _, r := range s {
		switch {
		case r == ' ':
			if prevBreak {
				return true
			}
			prevSpace, prevBreak = true, false
		case r == '\n':
			if prevSpace {
				return true
			}
			prevSpace, prevBreak = false, true
		case r < 0x20 || r > 0x7e:
			return true
		default:
			prevSpace, prevBreak = false, false
		}
	}
	return false
}

// yamlEscapes is PyYAML's Emitter.ESCAPE_REPLACEMENTS.
var yamlEscapes = map[rune]string{
	0: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r", 0x1b: "e",
	'"': "\"", '\\': "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
}

// yamlDoubleQuoted is PyYAML's write_double_quoted with allow_unicode off:
// every character but printable ASCII escaped, and, when split, the text
// folded past column 80 with an escaped line break (a space that then
// begins the next line is escaped too). col is the column before the space
// that precedes the scalar; continuation lines are indented by indent.
func yamlDoubleQuoted(text string, col, indent int, split bool) string {
	rs := []rune(text)
	var out strings.Builder
	out.WriteByte('"')
	column := col + 2 // the space and the opening quote
	write := func(data string) {
		out.WriteString(data)
		column += len(data)
	}
	start := 0
	for end := 0; end <= len(rs); end++ {
		ch := rune(-1)
		if end < len(rs) {
			ch = rs[end]
		}
		if ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' {
			if start < end {
				write(string(rs[start:end]))
				start = end
			}
			if ch >= 0 {
				esc, ok := yamlEscapes[ch]
				switch {
				case ok:
					esc = "\\" + esc
				case ch <= 0xff:
					esc = fmt.Sprintf("\\x%02X", ch)
				case ch <= 0xffff:
					esc = fmt.Sprintf("\\u%04X", ch)
				default:
					esc = fmt.Sprintf("\\U%08X", ch)
				}
				write(esc)
				start = end + 1
			}
		}
		if split && 0 < end && end < len(rs)-1 && (ch == ' ' || start >= end) && column+(end-start) > yamlBestWidth {
			data := "\\"
			if start < end {
				data = string(rs[start:end]) + data
				start = end
			}
			write(data)
			out.WriteString("\n" + strings.Repeat(" ", indent))
			column = indent
			if rs[start] == ' ' {
				write("\\")
			}
		}
	}
	out.WriteByte('"')
	return out.String()
}

func yamlPlainOK(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n") || s != strings.TrimSpace(s) {
		return false
	}
	if _, isStr := yaml11Resolve(s).(string); !isStr || yaml11Date.MatchString(s) {
		return false
	}
	if s == "<<" || s == "=" { // YAML 1.1's merge and value keys: PyYAML quotes them
		return false
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false // a document marker (PyYAML's analyze_scalar)
	}
	if strings.ContainsAny(s[:1], ",[]{}#&*!|>'\"%@`") {
		return false
	}
	if strings.ContainsAny(s[:1], "-?:") && (len(s) == 1 || s[1] == ' ') {
		return false
	}
	return !strings.Contains(s, ": ") && !strings.Contains(s, " #") && !strings.HasSuffix(s, ":")
}

var (
	yamlBreakRun = regexp.MustCompile(`\n+`)
	yaml11Float  = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yaml11Int    = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Date   = regexp.MustCompile(`^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?$`)
)

// yaml11Resolve is PyYAML's implicit resolution of a plain scalar.
func yaml11Resolve(s string) any {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil
	case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true
	case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false
	}
	if yaml11Int.MatchString(s) {
		t := strings.ReplaceAll(s, "_", "")
		sign := int64(1)
		if t[0] == '-' || t[0] == '+' {
			if t[0] == '-' {
				sign = -1
			}
			t = t[1:]
		}
		var n int64
		var err error
		switch {
		case strings.Contains(t, ":"):
			for _, part := range strings.Split(t, ":") {
				d, _ := strconv.ParseInt(part, 10, 64)
				n = n*60 + d
			}
		case strings.HasPrefix(t, "0b"):
			n, err = strconv.ParseInt(t[2:], 2, 64)
		case strings.HasPrefix(t, "0x"):
			n, err = strconv.ParseInt(t[2:], 16, 64)
		case len(t) > 1 && t[0] == '0':
			n, err = strconv.ParseInt(t[1:], 8, 64)
		default:
			n, err = strconv.ParseInt(t, 10, 64)
		}
		if err == nil {
			return sign * n
		}
	}
	if yaml11Float.MatchString(s) {
		t := strings.ToLower(strings.ReplaceAll(s, "_", ""))
		sign := 1.0
		if t[0] == '-' || t[0] == '+' {
			if t[0] == '-' {
				sign = -1
			}
			t = t[1:]
		}
		switch {
		case t == ".inf":
			return sign * math.Inf(1)
		case t == ".nan":
			return math.NaN()
		case strings.Contains(t, ":"):
			var f float64
			for _, part := range strings.Split(t, ":") {
				d, _ := strconv.ParseFloat(part, 64)
				f = f*60 + d
			}
			return sign * f
		}
		f, _ := strconv.ParseFloat(t, 64)
		return sign * f
	}
	return s
}

func fnYAMLParse(ev *evaluator, c *callCtx) (any, error) {
	if err := c.arity(1, 1); err != nil {
		return nil, err
	}
	s, err := c.str(ev, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.allocate(len(s), "yaml_parse()"); err != nil {
		return nil, err
	}
	toks := yamllexer.Tokenize(s)
	for _, tk := range toks {
		// goccy/go-yaml's scanner makes a plain scalar ending in << the
		// merge key (goccy/go-yaml#885): "a<<: 1" is the key "a<<".
		if o := strings.TrimSpace(tk.Origin); tk.Type == yamltoken.MergeKeyType && o != "<<" {
			tk.Type, tk.Value = yamltoken.StringType, o
			if tk.Position != nil { // it points at the <<: move it to the key's start
				pos := *tk.Position
				pos.Column -= utf8.RuneCountInString(o) - 2
				pos.Offset -= len(o) - 2
				tk.Position = &pos
			}
		}
	}
	f, err := yamlparser.Parse(toks, 0)
	if err != nil {
		return nil, fmt.Errorf("expr: yaml_parse(): %v", err)
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch len(docs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errors.New("expr: yaml_parse(): expected a single document in the stream")
	}
	y := &yamlReader{anchors: map[string]ast.Node{}}
	return y.node(docs[0].Body, 0)
}

type yamlReader struct{ anchors map[string]ast.Node }

func (y *yamlReader) node(n ast.Node, depth int) (any, error) {
	if depth > 200 {
		return nil, fmt.Errorf("expr: yaml_parse(): nested more than 200 levels deep: %w", ErrLimit)
	}
	switch x := n.(type) {
	case nil:
		return nil, nil
	case *ast.MappingNode:
		return y.mapping(x.Values, depth)
	case *ast.MappingValueNode:
		return y.mapping([]*ast.MappingValueNode{x}, depth)
	case *ast.MappingKeyNode: // "? KEY", a complex key
		return y.node(x.Value, depth+1)
	case *ast.SequenceNode:
		out := make([]any, 0, len(x.Values))
		for _, e := range x.Values {
			v, err := y.node(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ast.AnchorNode:
		if x.Name != nil {
			y.anchors[x.Name.GetToken().Value] = x.Value
		}
		return y.node(x.Value, depth+1)
	case *ast.AliasNode:
		target, ok := y.anchors[x.Value.GetToken().Value]
		if !ok {
			return nil, fmt.Errorf("expr: yaml_parse(): found undefined alias %s", x.Value.GetToken().Value)
		}
		return y.node(target, depth+1)
	case *ast.LiteralNode:
		return x.Value.Value, nil
	case *ast.TagNode:
		switch x.Start.Value {
		case "!!str":
			if s, ok := x.Value.(ast.ScalarNode); ok {
				return fmt.Sprint(s.GetValue()), nil
			}
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
			return y.node(x.Value, depth+1)
		}
		return nil, fmt.Errorf("expr: yaml_parse(): could not determine a constructor for the tag %s", x.Start.Value)
	case *ast.CommentNode, *ast.CommentGroupNode:
		return nil, nil
	case ast.ScalarNode:
		tk := n.GetToken()
		if tk != nil && tk.Type == yamltoken.SingleQuoteType {
			// goccy/go-yaml drops the space after a '' that begins a
			// continuation line ('a\n\n  '' ' is "a\n' " in PyYAML):
			// the scalar is read again from its source.
			if s, ok := singleQuoted(tk.Origin); ok {
				return s, nil
			}
		}
		if tk != nil && (tk.Type == yamltoken.SingleQuoteType || tk.Type == yamltoken.DoubleQuoteType) {
			return fmt.Sprint(x.GetValue()), nil
		}
		if tk == nil {
			return nil, nil
		}
		return yaml11Resolve(tk.Value), nil
	}
	return nil, fmt.Errorf("expr: yaml_parse(): unsupported YAML node %s", n.Type())
}

func (y *yamlReader) mapping(values []*ast.MappingValueNode, depth int) (any, error) {
	out := make(map[string]any, len(values))
	// PyYAML's flatten_mapping: the mappings merged by << come first, the
	// first of a list of them last (it wins), and the keys written in the
	// mapping itself override them all.
	var merged []map[string]any
	for _, mv := range values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); !ok {
			continue
		}
		v, err := y.node(mv.Value, depth+1)
		if err != nil {
			return nil, err
		}
		switch m := v.(type) {
		case map[string]any:
			merged = append(merged, m)
		case []any:
			for i := len(m) - 1; i >= 0; i-- {
				mm, ok := m[i].(map[string]any)
				if !ok {
					return nil, fmt.Errorf("expr: yaml_parse(): while constructing a mapping: expected a mapping for merging, but found %s", pyTypeName(m[i]))
				}
				merged = append(merged, mm)
			}
		default:
			return nil, fmt.Errorf("expr: yaml_parse(): while constructing a mapping: expected a mapping or list of mappings for merging, but found %s", pyTypeName(v))
		}
	}
	for _, m := range merged {
		maps.Copy(out, m)
	}
	for _, mv := range values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); mv.Key == nil || ok {
			continue
		}
		kv, err := y.node(mv.Key, depth+1)
		if err != nil {
			return nil, err
		}
		var k string
		switch kk := kv.(type) {
		case string:
			k = kk
		case []any, map[string]any:
			return nil, errors.New("expr: yaml_parse(): found unhashable key")
		default:
			k = pyStr(kk)
		}
		v, err := y.node(mv.Value, depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// singleQuoted reads a single-quoted scalar from its source text (the
// token's Origin: the quotes, what is between them, spaces around) as
// PyYAML's scan_flow_scalar does: ” is a quote; spaces before a line
// break are dropped; a line break followed by more text folds to a space,
// each empty line after it to a newline, and the next line's leading
// spaces and tabs are dropped; \u2028 and \u2029 are kept as they are.
// ok is false when src is not one whole single-quoted scalar.
func singleQuoted(src string) (string, bool) {
	src = strings.TrimSpace(src)
	if len(src) < 2 || src[0] != '\'' || src[len(src)-1] != '\'' {
		return "", false
	}
	body := src[1 : len(src)-1]
	isBreak := func(r rune) bool { return r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029' }
	rs := []rune(body)
	var b strings.Builder
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '\'':
			if i+1 < len(rs) && rs[i+1] == '\'' {
				b.WriteRune('\'')
				i += 2
				continue
			}
			return "", false // a lone quote ends the scalar before src does
		case r == ' ' || r == '\t':
			j := i
			for j < len(rs) && (rs[j] == ' ' || rs[j] == '\t') {
				j++
			}
			if j < len(rs) && isBreak(rs[j]) {
				i = j // spaces before a break are dropped
				continue
			}
			b.WriteString(string(rs[i:j]))
			i = j
		case isBreak(r):
			first, n := yamlBreak(rs, i)
			i += n
			var breaks strings.Builder
			for {
				for i < len(rs) && (rs[i] == ' ' || rs[i] == '\t') {
					i++
				}
				if i < len(rs) && isBreak(rs[i]) {
					br, n := yamlBreak(rs, i)
					breaks.WriteString(br)
					i += n
					continue
				}
				break
			}
			switch {
			case first != "\n":
				b.WriteString(first)
			case breaks.Len() == 0:
				b.WriteByte(' ')
			}
			b.WriteString(breaks.String())
		default:
			b.WriteRune(r)
			i++
		}
	}
	return b.String(), true
}

// yamlBreak is PyYAML's scan_line_break at rs[i]: \r\n, \r, \n and \x85
// are "\n", \u2028 and \u2029 themselves; n is the runes it spans.
func yamlBreak(rs []rune, i int) (string, int) {
	switch rs[i] {
	case '\r':
		if i+1 < len(rs) && rs[i+1] == '\n' {
			return "\n", 2
		}
		return "\n", 1
	case '\n', '\u0085':
		return "\n", 1
	}
	return string(rs[i]), 1
}
