package expr

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Jinja's string filters, as Jinja 3.1 and MarkupSafe 2.1 write them: the
// ones that take any value read Python's str() of it (Jinja's soft_str:
// {{ none | lower }} is "none", {{ [1] | upper }} "[1]"; gonja's gave ""
// or the value unchanged), the others refuse what Python refuses.

// jinjaStrFilters are the filters of this file, by name.
var jinjaStrFilters = map[string]exec.FilterFunction{
	"capitalize":     jinjaSoftStr(pyCapitalize),
	"lower":          jinjaSoftStr(strings.ToLower),
	"upper":          jinjaSoftStr(strings.ToUpper),
	"title":          jinjaSoftStr(jinjaTitle),
	"wordcount":      jinjaWordcount,
	"striptags":      jinjaSoftStr(jinjaStriptags),
	"replace":        jinjaReplace,
	"truncate":       jinjaTruncate,
	"wordwrap":       jinjaWordwrap,
	"filesizeformat": jinjaFilesizeformat,
	"urlencode":      jinjaURLEncode,
	"int":            jinjaIntFilter,
	"float":          jinjaFloatFilter,
	"join":           jinjaJoin,
	"indent":         jinjaIndent,
}

// jinjaSoftStr is a filter without arguments that gives f(str(value)).
func jinjaSoftStr(f func(string) string) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		v, err := fromJinja(in)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(f(pyStr(v)))
	}
}

// pyCapitalize is Python's str.capitalize(): the first character in title
// case, the others in lower case.
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

// jinjaTitle is Jinja's do_title: each piece that follows a run of "-",
// whitespace, "(", "{", "[" or "<" starts upper case, the rest is lower
// case ("it's" is "It's", where Python's str.title() gives "It'S").
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		switch {
		case r == '-' || r == '(' || r == '{' || r == '[' || r == '<' || pyIsSpace(r):
			b.WriteRune(r)
			start = true
		case start:
			b.WriteString(strings.ToUpper(string(r)))
			start = false
		default:
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	return b.String()
}

// isWordRune is Python's \w: a letter, a number or "_".
func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// jinjaWordcount is Jinja's do_wordcount: the runs of \w in str(value).
func jinjaWordcount(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	n, inWord := int64(0), false
	for _, r := range pyStr(v) {
		w := isWordRune(r)
		if w && !inWord {
			n++
		}
		inWord = w
	}
	return exec.AsValue(n)
}

var (
	stripCommentsRE = regexp.MustCompile(`(?s)<!--.*?-->`)
	stripTagsRE     = regexp.MustCompile(`(?s)<.*?>`)
)

// jinjaStriptags is MarkupSafe's Markup.striptags(): comments and tags
// removed, whitespace runs made one space, HTML entities unescaped.
func jinjaStriptags(s string) string {
	s = stripCommentsRE.ReplaceAllString(s, "")
	s = stripTagsRE.ReplaceAllString(s, "")
	return html.UnescapeString(strings.Join(strings.FieldsFunc(s, pyIsSpace), " "))
}

// pyIntArg is an argument Python reads as an integer (operator.index):
// an int, or a bool as 0 or 1.
func pyIntArg(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case bool:
		return boolInt(x), nil
	}
	return 0, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(v))
}

// jinjaReplace is Jinja's do_replace(s, old, new, count=None) outside
// autoescape: str(s).replace(str(old), str(new), count).
func jinjaReplace(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "replace", []string{"old", "new", "count"}, nil, nil, nil)
	if err != nil {
		return exec.AsValue(err)
	}
	n := int64(-1)
	if args[2] != nil {
		if n, err = pyIntArg(args[2]); err != nil {
			return exec.AsValue(err)
		}
	}
	if n < 0 {
		n = -1
	}
	old, repl := pyStr(args[0]), pyStr(args[1])
	s := pyStr(v)
	if old == "" && n != 0 {
		// Python inserts new before every character: bound the result.
		k := int64(utf8.RuneCountInString(s)) + 1
		if n > 0 {
			k = min(k, n)
		}
		if int64(len(s))+k*int64(len(repl)) > int64(DefaultLimits().MaxBytes) {
			return exec.AsValue(fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
		}
	} else if old != "" && len(repl) > len(old) {
		k := int64(strings.Count(s, old))
		if n >= 0 {
			k = min(k, n)
		}
		if int64(len(s))+k*int64(len(repl)-len(old)) > int64(DefaultLimits().MaxBytes) {
			return exec.AsValue(fmt.Errorf("expr: replace(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
		}
	}
	return exec.AsValue(strings.Replace(s, old, repl, int(n)))
}

// pyLen is Python's len() of a value of the data model.
func pyLen(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return int64(utf8.RuneCountInString(x)), nil
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", pyTypeName(v))
}

// jinjaTruncate is Jinja's do_truncate(s, length=255, killwords=False,
// end="...", leeway=5): s itself when it is at most length+leeway long
// (a short list too), else its first length-len(end) characters, cut at
// the last space unless killwords, and end.
func jinjaTruncate(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "truncate", []string{"length", "killwords", "end", "leeway"}, int64(255), false, "...", int64(5))
	if err != nil {
		return exec.AsValue(err)
	}
	if args[3] == nil {
		args[3] = int64(5) // the truncate.leeway policy
	}
	end, ok := args[2].(string)
	if !ok {
		return exec.AsValue(fmt.Errorf("object of type '%s' has no len()", pyTypeName(args[2])))
	}
	length, lengthOK := pyReal(args[0])
	leeway, leewayOK := pyReal(args[3])
	endLen := float64(utf8.RuneCountInString(end))
	switch {
	case !lengthOK:
		return exec.AsValue(fmt.Errorf("'>=' not supported between instances of '%s' and 'int'", pyTypeName(args[0])))
	case length < endLen:
		return exec.AsValue(fmt.Errorf("expected length >= %d, got %s", int64(endLen), pyStr(args[0])))
	case !leewayOK:
		return exec.AsValue(fmt.Errorf("'>=' not supported between instances of '%s' and 'int'", pyTypeName(args[3])))
	case leeway < 0:
		return exec.AsValue(fmt.Errorf("expected leeway >= 0, got %s", pyStr(args[3])))
	}
	if err := notGenerator(in, "object of type 'generator' has no len()"); err != nil {
		return exec.AsValue(err)
	}
	n, err := pyLen(v)
	if err != nil {
		return exec.AsValue(err)
	}
	if float64(n) <= length+leeway {
		return exec.AsValue(v)
	}
	s, ok := v.(string)
	switch {
	case !ok:
		return exec.AsValue(fmt.Errorf("truncate(): a %s longer than length+leeway cannot be cut (Python: no rsplit or + on it)", pyTypeName(v)))
	case length != math.Trunc(length):
		return exec.AsValue(errors.New("slice indices must be integers or None or have an __index__ method"))
	}
	head := string([]rune(s)[:int64(length-endLen)])
	if Truthy(args[1]) {
		return exec.AsValue(head + end)
	}
	if i := strings.LastIndex(head, " "); i >= 0 {
		head = head[:i]
	}
	return exec.AsValue(head + end)
}

// pyReal is a number Python compares with an int: an int, a float or a
// bool.
func pyReal(v any) (float64, bool) {
	if b, ok := v.(bool); ok {
		return float64(boolInt(b)), true
	}
	return number(v)
}

// textwrap's wordsep_re (Python 3.11), which break_on_hyphens uses, and
// wordsep_simple_re: the chunks textwrap.wrap() fills lines with.
const (
	pyWordsepRE = `(` +
		`[\t\n\x0b\x0c\r ]+` +
		`|(?<=[\w!"'&.,?])-{2,}(?=\w)` +
		`|[^\t\n\x0b\x0c\r ]+?(?:` +
		`-(?:(?<=[^\d\W]{2}-)|(?<=[^\d\W]-[^\d\W]-))(?=[^\d\W]-?[^\d\W])` +
		`|(?=[\t\n\x0b\x0c\r ]|\Z)` +
		`|(?<=[\w!"'&.,?])(?=-{2,}\w)` +
		`))`
	pyWordsepSimpleRE = `([\t\n\x0b\x0c\r ]+)`
)

// jinjaWordwrap is Jinja's do_wordwrap(s, width=79, break_long_words=True,
// wrapstring=None, break_on_hyphens=True): each line of s (str.splitlines)
// wrapped by Python's textwrap.wrap (expand_tabs and replace_whitespace
// off), joined by wrapstring ("\n").
func jinjaWordwrap(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "wordwrap", []string{"width", "break_long_words", "wrapstring", "break_on_hyphens"}, int64(79), true, nil, true)
	if err != nil {
		return exec.AsValue(err)
	}
	s, ok := v.(string)
	if !ok {
		return exec.AsValue(fmt.Errorf("'%s' object has no attribute 'splitlines'", pyTypeName(v)))
	}
	sep := "\n"
	if args[2] != nil {
		if sep, ok = args[2].(string); !ok {
			return exec.AsValue(fmt.Errorf("sequence item 0: expected str instance, %s found", pyTypeName(args[2])))
		}
	}
	width, widthOK := pyReal(args[0])
	w := textWrapper{width: width, breakLong: Truthy(args[1]), hyphens: Truthy(args[3])}
	var out strings.Builder
	for i, line := range pySplitlines(s) {
		if !widthOK {
			return exec.AsValue(fmt.Errorf("'<=' not supported between instances of '%s' and 'int'", pyTypeName(args[0])))
		}
		if width <= 0 {
			// textwrap checks the width of each line it wraps: an empty
			// text has none.
			return exec.AsValue(fmt.Errorf("invalid width %s (must be > 0)", pyRepr(args[0], false)))
		}
		if i > 0 {
			out.WriteString(sep)
		}
		lines, err := w.wrap(line)
		if err != nil {
			return exec.AsValue(err)
		}
		for j, l := range lines {
			if j > 0 {
				out.WriteString(sep)
			}
			out.WriteString(l)
		}
		if out.Len() > DefaultLimits().MaxBytes {
			return exec.AsValue(fmt.Errorf("expr: wordwrap(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
		}
	}
	return exec.AsValue(out.String())
}

// pySplitlines is Python's str.splitlines(): lines without their ends,
// which are \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029.
func pySplitlines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, s[start:i])
			if r == '\r' && strings.HasPrefix(s[i+n:], "\n") {
				n++
			}
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// textWrapper is Python's textwrap.TextWrapper with the settings Jinja's
// wordwrap uses (no indents, drop_whitespace, no tab expansion).
type textWrapper struct {
	width              float64 // Python lets a float through
	breakLong, hyphens bool
}

// wrap is TextWrapper.wrap(text).
func (w textWrapper) wrap(text string) ([]string, error) {
	pat := pyWordsepSimpleRE
	if w.hyphens {
		pat = pyWordsepRE
	}
	re, err := compilePyCached(pat, "")
	if err != nil {
		return nil, err
	}
	ms, err := re.findAll(context.Background(), text, -1)
	if err != nil {
		return nil, err
	}
	// re.split with the one group: the text between matches and the
	// matches, without the empty ones; reversed, as textwrap pops them.
	var chunks [][]rune
	prev := 0
	for _, m := range ms {
		if m[0] > prev {
			chunks = append(chunks, []rune(text[prev:m[0]]))
		}
		if m[1] > m[0] {
			chunks = append(chunks, []rune(text[m[0]:m[1]]))
		}
		prev = m[1]
	}
	if prev < len(text) {
		chunks = append(chunks, []rune(text[prev:]))
	}
	for i, j := 0, len(chunks)-1; i < j; i, j = i+1, j-1 {
		chunks[i], chunks[j] = chunks[j], chunks[i]
	}
	blank := func(c []rune) bool { return strings.TrimFunc(string(c), pyIsSpace) == "" }
	var lines []string
	for len(chunks) > 0 {
		var cur [][]rune
		curLen := 0
		if blank(chunks[len(chunks)-1]) && len(lines) > 0 {
			chunks = chunks[:len(chunks)-1]
		}
		for len(chunks) > 0 {
			l := len(chunks[len(chunks)-1])
			if float64(curLen+l) > w.width {
				break
			}
			cur = append(cur, chunks[len(chunks)-1])
			chunks = chunks[:len(chunks)-1]
			curLen += l
		}
		if len(chunks) > 0 && float64(len(chunks[len(chunks)-1])) > w.width {
			if chunks, cur, err = w.handleLongWord(chunks, cur, curLen); err != nil {
				return nil, err
			}
		}
		if len(cur) > 0 && blank(cur[len(cur)-1]) {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			var b strings.Builder
			for _, c := range cur {
				b.WriteString(string(c))
			}
			lines = append(lines, b.String())
		}
	}
	return lines, nil
}

// handleLongWord is TextWrapper._handle_long_word: the next chunk, longer
// than a line, is broken to fill the current one (at a hyphen when it can).
func (w textWrapper) handleLongWord(chunks, cur [][]rune, curLen int) ([][]rune, [][]rune, error) {
	spaceLeft := 1.0
	if w.width >= 1 {
		spaceLeft = w.width - float64(curLen)
	}
	last := len(chunks) - 1
	chunk := chunks[last]
	if !w.breakLong {
		if len(cur) == 0 {
			return chunks[:last], append(cur, chunk), nil
		}
		return chunks, cur, nil
	}
	if spaceLeft != math.Trunc(spaceLeft) {
		return nil, nil, errors.New("slice indices must be integers or None or have an __index__ method")
	}
	end := int(spaceLeft)
	if w.hyphens && len(chunk) > end {
		if h := lastIndexRune(chunk[:max(end, 0)], '-'); h > 0 && strings.Trim(string(chunk[:h]), "-") != "" {
			end = h + 1
		}
	}
	end = min(max(end, 0), len(chunk))
	chunks[last] = chunk[end:]
	return chunks, append(cur, chunk[:end]), nil
}

func lastIndexRune(rs []rune, r rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

// pyParseFloat is Python's float() of a string: surrounding whitespace,
// "_" between digits, inf, infinity and nan in any case.
func pyParseFloat(s string) (float64, error) {
	t := strings.TrimFunc(s, pyIsSpace)
	bad := fmt.Errorf("could not convert string to float: %s", pyRepr(s, false))
	if strings.ContainsAny(t, "xXpP") || strings.HasPrefix(t, "_") || strings.HasSuffix(t, "_") || strings.Contains(t, "__") {
		return 0, bad
	}
	for i := strings.IndexByte(t, '_'); i >= 0; i = strings.IndexByte(t, '_') {
		if !isDigit(t[i-1]) || !isDigit(t[i+1]) {
			return 0, bad
		}
		t = t[:i] + t[i+1:]
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // Python's float() gives inf or 0 too
		}
		return 0, bad
	}
	return f, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// jinjaFilesizeformat is Jinja's do_filesizeformat(value, binary=False):
// float(value) as "1 Byte", "N Bytes", then "1.5 kB" ... ("KiB" ... with
// binary).
func jinjaFilesizeformat(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "filesizeformat", []string{"binary"}, false)
	if err != nil {
		return exec.AsValue(err)
	}
	var bytes float64
	switch x := v.(type) {
	case int64:
		bytes = float64(x)
	case float64:
		bytes = x
	case bool:
		bytes = float64(boolInt(x))
	case string:
		if bytes, err = pyParseFloat(x); err != nil {
			return exec.AsValue(err)
		}
	default:
		return exec.AsValue(fmt.Errorf("float() argument must be a string or a real number, not '%s'", pyTypeName(v)))
	}
	base, prefixes := 1000.0, []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if Truthy(args[0]) {
		base, prefixes = 1024, []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	}
	switch {
	case bytes == 1:
		return exec.AsValue("1 Byte")
	case bytes < base:
		if math.IsInf(bytes, -1) {
			return exec.AsValue(errors.New("cannot convert float infinity to integer"))
		}
		return exec.AsValue(pyStr(int64(bytes)) + " Bytes")
	}
	// Python's base ** (i + 2) is an exact integer, rounded once to a
	// float when it divides: so is unit here. NaN and inf fall through
	// every comparison to the last prefix, as in Python ("nan YB").
	var unit float64
	var prefix string
	for i := range prefixes {
		prefix = prefixes[i]
		if base == 1024 {
			unit = math.Ldexp(1, 10*(i+2))
		} else {
			unit, _ = strconv.ParseFloat("1e"+strconv.Itoa(3*(i+2)), 64)
		}
		if bytes < unit {
			break
		}
	}
	return exec.AsValue(pyFormatFixed(base*bytes/unit, 1) + " " + prefix)
}

// pyFormatFixed is Python's f"{x:.{prec}f}".
func pyFormatFixed(x float64, prec int) string {
	if s, ok := pyNonFinite(x); ok {
		return s
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// jinjaURLEncode is Jinja's do_urlencode: a string or a value that is not
// iterable is quoted (str() of it, "/" kept); a dict's items or a list of
// pairs become a query string (spaces as "+").
func jinjaURLEncode(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	v, err := fromJinja(in)
	if err != nil {
		return exec.AsValue(err)
	}
	var pairs [][2]any
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			pairs = append(pairs, [2]any{k, x[k]})
		}
	case []any:
		for _, item := range x {
			kv, err := unpackPair(item)
			if err != nil {
				return exec.AsValue(err)
			}
			pairs = append(pairs, kv)
		}
	default:
		return exec.AsValue(urlQuote(pyStr(v), false))
	}
	parts := make([]string, len(pairs))
	for i, kv := range pairs {
		parts[i] = urlQuote(pyStr(kv[0]), true) + "=" + urlQuote(pyStr(kv[1]), true)
	}
	return exec.AsValue(strings.Join(parts, "&"))
}

// unpackPair is Python's k, v = item.
func unpackPair(item any) ([2]any, error) {
	var elems []any
	switch x := item.(type) {
	case []any:
		elems = x
	case string:
		for _, r := range x {
			elems = append(elems, string(r))
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			elems = append(elems, k)
		}
	default:
		return [2]any{}, fmt.Errorf("cannot unpack non-iterable %s object", pyTypeName(item))
	}
	switch {
	case len(elems) < 2:
		return [2]any{}, fmt.Errorf("not enough values to unpack (expected 2, got %d)", len(elems))
	case len(elems) > 2:
		return [2]any{}, errors.New("too many values to unpack (expected 2)")
	}
	return [2]any{elems[0], elems[1]}, nil
}

// urlQuote is Jinja's url_quote: Python's quote_from_bytes of the UTF-8
// bytes, with "/" safe unless forQS, which turns "%20" into "+".
func urlQuote(s string, forQS bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '~',
			c == '/' && !forQS:
			b.WriteByte(c)
		case c == ' ' && forQS:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// pyParseInt is Python's int(s, base) of a string: surrounding
// whitespace, a sign, "_" between digits (and after a prefix), the 0x, 0o
// and 0b prefixes where base is 0 or theirs; base 0 refuses other leading
// zeros. Integers past 64 bits are an error here (Python's grow).
func pyParseInt(s string, base int64) (int64, error) {
	bad := fmt.Errorf("invalid literal for int() with base %d: %s", base, pyRepr(s, false))
	if base != 0 && (base < 2 || base > 36) {
		return 0, errors.New("int() base must be >= 2 and <= 36, or 0")
	}
	t := strings.TrimFunc(s, pyIsSpace)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg, t = t[0] == '-', t[1:]
	}
	prefixed := false
	if len(t) >= 2 && t[0] == '0' {
		p := map[byte]int64{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[t[1]]
		if p != 0 && (base == 0 || base == p) {
			base, t, prefixed = p, t[2:], true
		}
	}
	if base == 0 {
		base = 10
		if strings.Trim(t, "0_") == "" && t != "" && t[0] == '0' {
			t = "0" + strings.TrimLeft(t, "0_") // 0, 00 and 0_0 are zero
		} else if len(t) > 1 && t[0] == '0' {
			return 0, bad
		}
	}
	var digits strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == '_' {
			if i == len(t)-1 || t[i+1] == '_' || (i == 0 && !prefixed) {
				return 0, bad
			}
			continue
		}
		digits.WriteByte(t[i])
	}
	if digits.Len() == 0 {
		return 0, bad
	}
	u, err := strconv.ParseUint(digits.String(), int(base), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("expr: int(): %s does not fit in 64 bits: %w", pyRepr(s, false), ErrLimit)
		}
		return 0, bad
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u-1) - 1, nil
	case !neg && u < 1<<63:
		return int64(u), nil
	}
	return 0, fmt.Errorf("expr: int(): %s does not fit in 64 bits: %w", pyRepr(s, false), ErrLimit)
}

// pyFloatOf is Python's float(v): ok is false where Python raises a
// TypeError or ValueError.
func pyFloatOf(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, err := pyParseFloat(s)
		return f, err == nil
	}
	return pyReal(v)
}

// jinjaIntFilter is Jinja's do_int(value, default=0, base=10): int() of
// the value (of a string in that base), else int(float(value)), else the
// default, whatever it is.
func jinjaIntFilter(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "int", []string{"default", "base"}, int64(0), int64(10))
	if err != nil {
		return exec.AsValue(err)
	}
	switch x := v.(type) {
	case int64:
		return exec.AsValue(x)
	case bool:
		return exec.AsValue(boolInt(x))
	case string:
		if base, err := pyIntArg(args[1]); err == nil {
			n, err := pyParseInt(x, base)
			if errors.Is(err, ErrLimit) {
				return exec.AsValue(err)
			}
			if err == nil {
				return exec.AsValue(n)
			}
		}
	}
	f, ok := pyFloatOf(v)
	switch {
	case !ok || math.IsNaN(f):
		return exec.AsValue(args[0])
	case math.IsInf(f, 0):
		return exec.AsValue(errors.New("cannot convert float infinity to integer"))
	case math.Abs(f) >= 1<<63:
		return exec.AsValue(fmt.Errorf("expr: int(): %s does not fit in 64 bits: %w", pyFloat(f), ErrLimit))
	}
	return exec.AsValue(int64(f))
}

// jinjaFloatFilter is Jinja's do_float(value, default=0.0): float() of the
// value, else the default.
func jinjaFloatFilter(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "float", []string{"default"}, 0.0)
	if err != nil {
		return exec.AsValue(err)
	}
	if f, ok := pyFloatOf(v); ok {
		return exec.AsValue(f)
	}
	return exec.AsValue(args[0])
}

// jinjaJoin is Jinja's do_join(value, d="", attribute=None) outside
// autoescape: str(d).join(str(item) for each item, or for its attribute,
// which must exist).
func jinjaJoin(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	items, args, err := jinjaFilterItems(in, a, "join", []string{"d", "attribute"}, "", nil)
	if err != nil {
		return exec.AsValue(err)
	}
	sep := pyStr(args[0])
	var b strings.Builder
	for i, item := range items {
		if args[1] != nil {
			if item, err = jinjaItem(item, args[1]); err != nil {
				return exec.AsValue(err)
			}
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(pyStr(item))
		if b.Len() > DefaultLimits().MaxBytes {
			return exec.AsValue(fmt.Errorf("expr: join(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
		}
	}
	return exec.AsValue(b.String())
}

// jinjaIndent is Jinja's do_indent(s, width=4, first=False, blank=False):
// every line of s but the first (and blank ones unless blank) starts with
// width spaces, or with width itself when it is a string.
func jinjaIndent(_ *exec.Evaluator, in *exec.Value, a *exec.VarArgs) *exec.Value {
	v, args, err := jinjaFilterArgs(in, a, "indent", []string{"width", "first", "blank"}, int64(4), false, false)
	if err != nil {
		return exec.AsValue(err)
	}
	s, ok := v.(string)
	if !ok {
		return exec.AsValue(fmt.Errorf("'%s' object has no attribute 'splitlines'", pyTypeName(v)))
	}
	indention, ok := args[0].(string)
	if !ok {
		n, err := pyIntArg(args[0])
		if err != nil {
			return exec.AsValue(fmt.Errorf("can't multiply sequence by non-int of type '%s'", pyTypeName(args[0])))
		}
		if n > 1024 {
			return exec.AsValue(fmt.Errorf("expr: indent(): width %d: %w", n, ErrLimit))
		}
		indention = strings.Repeat(" ", int(max(n, 0)))
	}
	lines := pySplitlines(s + "\n")
	if len(s)+(len(lines)+1)*len(indention) > DefaultLimits().MaxBytes {
		return exec.AsValue(fmt.Errorf("expr: indent(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
	}
	var rv string
	if Truthy(args[2]) {
		rv = strings.Join(lines, "\n"+indention)
	} else {
		var b strings.Builder
		b.WriteString(lines[0])
		for _, line := range lines[1:] {
			b.WriteString("\n")
			if line != "" {
				b.WriteString(indention)
			}
			b.WriteString(line)
		}
		rv = b.String()
	}
	if Truthy(args[1]) {
		rv = indention + rv
	}
	if len(rv) > DefaultLimits().MaxBytes {
		return exec.AsValue(fmt.Errorf("expr: indent(): the string would be more than %d bytes: %w", DefaultLimits().MaxBytes, ErrLimit))
	}
	return exec.AsValue(rv)
}
