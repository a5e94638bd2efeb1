package expr

import (
	"fmt"
	"regexp"
	"strings"
)

// regexValue is what regex() returns: a compiled pattern.
type regexValue struct {
	re  *regexp.Regexp
	src string
}

// compilePy compiles a Python re pattern with Go's RE2. Python 3's \d, \w
// and \s match Unicode digits, word characters and spaces, and $ matches
// before a final newline too: the pattern is rewritten so that they do
// here. flags are RE2 flags ("i", "m", "s"). What RE2 lacks (lookaround,
// backreferences such as \1 and (?P=name)) is an error here, where Python
// accepts it ('aa' =~ '(a)\1' is true in Mistral).
func compilePy(pat, flags string) (*regexp.Regexp, error) {
	var b strings.Builder
	if flags != "" {
		b.WriteString("(?" + flags + ")")
	}
	multi := strings.Contains(flags, "m")
	inClass := false
	for i := 0; i < len(pat); i++ {
		ch := pat[i]
		switch {
		case ch == '\\' && i+1 < len(pat):
			n := pat[i+1]
			i++
			switch n {
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 'w':
				if inClass {
					b.WriteString(`\p{L}\p{N}_`)
				} else {
					b.WriteString(`[\p{L}\p{N}_]`)
				}
			case 'W':
				if inClass {
					return nil, fmt.Errorf(`\W inside [] is not supported`)
				}
				b.WriteString(`[^\p{L}\p{N}_]`)
			case 's':
				if inClass {
					b.WriteString(`\s\x{85}\p{Z}`)
				} else {
					b.WriteString(`[\s\x{85}\p{Z}]`)
				}
			case 'Z':
				b.WriteString(`\z`)
			default:
				if n >= '1' && n <= '9' && !inClass {
					return nil, fmt.Errorf("backreference \\%c is not supported (RE2)", n)
				}
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case inClass:
			if ch == ']' {
				inClass = false
			}
			b.WriteByte(ch)
		case ch == '[':
			inClass = true
			b.WriteByte(ch)
			if i+1 < len(pat) && pat[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case ch == '$' && !multi:
			// Python: $ also matches before a newline that ends the text.
			b.WriteString(`(?:\n?\z)`)
		case ch == '(' && strings.HasPrefix(pat[i:], "(?P="):
			return nil, fmt.Errorf("backreference (?P=...) is not supported (RE2)")
		default:
			b.WriteByte(ch)
		}
	}
	return regexp.Compile(b.String())
}
