package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a lexeme the way yaql's ply lexer does.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokNumber           // 12, 1.5
	tokString           // 'a', "a", `a`
	tokDollar           // $, $name, $1
	tokIdent            // a bare name: a keyword constant such as a dict key
	tokFunc             // a name directly followed by "(": the "(" is part of the token
	tokTrue             // true
	tokFalse            // false
	tokNull             // null
	tokOp               // an operator or punctuation: . ?. [ ] { } ( ) , => -> + - * / mod ...
)

type token struct {
	kind tokenKind
	text string // the operator, name or decoded string
	num  any    // int64 or float64 for tokNumber
	pos  int    // byte offset in the source
}

// wordOps are the operators spelled as words.
var wordOps = map[string]bool{"and": true, "or": true, "not": true, "in": true, "mod": true}

// symbolOps are the punctuation operators, longest first.
var symbolOps = []string{"=>", "->", "?.", "=~", "!~", ">=", "<=", "!=",
	".", "[", "]", "{", "}", "(", ")", ",", "+", "-", "*", "/", ">", "<", "="}

// isWordStart and isWord are yaql's [^\W\d] and \w in Python's re: a
// word holds letters, numbers and _, and starts with anything of them but
// a decimal digit (so ¼ and ² are words, as Mistral reads them).
func isWordStart(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || (unicode.IsNumber(r) && !unicode.IsDigit(r))
}
func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// lex splits src into tokens. Errors are *SyntaxError.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		}
		start := i
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case c == '$':
			i++
			for i < len(src) {
				r, n := utf8.DecodeRuneInString(src[i:])
				if !isWord(r) {
					break
				}
				i += n
			}
			toks = append(toks, token{kind: tokDollar, text: src[start+1 : i], pos: start})
		case c >= '0' && c <= '9':
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			isFloat := false
			if i+1 < len(src) && src[i] == '.' && src[i+1] >= '0' && src[i+1] <= '9' {
				isFloat = true
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			if i < len(src) {
				if r, _ := utf8.DecodeRuneInString(src[i:]); isWord(r) {
					return nil, &SyntaxError{Src: src, Pos: start, Msg: fmt.Sprintf("illegal character %q", src[start:start+1])}
				}
			}
			t := token{kind: tokNumber, text: src[start:i], pos: start}
			if isFloat {
				f, err := strconv.ParseFloat(t.text, 64)
				if err != nil {
					return nil, &SyntaxError{Src: src, Pos: start, Msg: "number " + t.text + " is out of range"}
				}
				t.num = f
			} else {
				n, err := strconv.ParseInt(t.text, 10, 64)
				if err != nil {
					return nil, &SyntaxError{Src: src, Pos: start, Msg: "integer " + t.text + " does not fit in 64 bits"}
				}
				t.num = n
			}
			toks = append(toks, t)
		case isWordStart(r):
			i += size
			for i < len(src) {
				r, n := utf8.DecodeRuneInString(src[i:])
				if !isWord(r) {
					break
				}
				i += n
			}
			name := src[start:i]
			if i < len(src) && src[i] == '(' {
				i++
				toks = append(toks, token{kind: tokFunc, text: name, pos: start})
				continue
			}
			switch {
			case name == "true":
				toks = append(toks, token{kind: tokTrue, text: name, pos: start})
			case name == "false":
				toks = append(toks, token{kind: tokFalse, text: name, pos: start})
			case name == "null":
				toks = append(toks, token{kind: tokNull, text: name, pos: start})
			case wordOps[name]:
				toks = append(toks, token{kind: tokOp, text: name, pos: start})
			case strings.HasPrefix(name, "__"):
				return nil, &SyntaxError{Src: src, Pos: start, Msg: "illegal character '_'"}
			default:
				toks = append(toks, token{kind: tokIdent, text: name, pos: start})
			}
		case c == '\'' || c == '"' || c == '`':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, &SyntaxError{Src: src, Pos: start, Msg: err.Error()}
			}
			i += n
			toks = append(toks, token{kind: tokString, text: s, pos: start})
		default:
			op := ""
			for _, o := range symbolOps {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &SyntaxError{Src: src, Pos: start, Msg: fmt.Sprintf("illegal character %q", string(r))}
			}
			i += len(op)
			toks = append(toks, token{kind: tokOp, text: op, pos: start})
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src)})
	return toks, nil
}

// lexString reads a quoted string at the start of s and returns its value
// and its length in bytes. Single and double quotes decode Python escape
// sequences; backquotes are verbatim except for \`.
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		if q == '`' {
			if s[i+1] == '`' {
				b.WriteByte('`')
			} else {
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
			}
			i += 2
			continue
		}
		n := decodeEscape(&b, s[i:])
		i += n
	}
	return "", 0, fmt.Errorf("illegal character %q", string(q))
}

// decodeEscape writes the value of the escape sequence at the start of s
// (which begins with a backslash) and returns how many bytes it used. An
// unknown escape is kept as written, as Python does.
func decodeEscape(b *strings.Builder, s string) int {
	c := s[1]
	switch c {
	case '\\', '\'', '"':
		b.WriteByte(c)
		return 2
	case 'a':
		b.WriteByte('\a')
		return 2
	case 'b':
		b.WriteByte('\b')
		return 2
	case 'f':
		b.WriteByte('\f')
		return 2
	case 'n':
		b.WriteByte('\n')
		return 2
	case 'r':
		b.WriteByte('\r')
		return 2
	case 't':
		b.WriteByte('\t')
		return 2
	case 'v':
		b.WriteByte('\v')
		return 2
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if len(s) >= 2+n {
			if v, err := strconv.ParseUint(s[2:2+n], 16, 32); err == nil && v <= unicode.MaxRune {
				b.WriteRune(rune(v))
				return 2 + n
			}
		}
	case '0', '1', '2', '3', '4', '5', '6', '7':
		j := 1
		for j < 4 && j < len(s) && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(s[1:j], 8, 32)
		b.WriteRune(rune(v))
		return j
	}
	b.WriteByte('\\')
	return 1
}
