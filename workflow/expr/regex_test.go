package expr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCompilePy pins the translation of Python's syntax to .NET's where
// they differ; the conformance table checks the behaviour against Mistral.
func TestCompilePy(t *testing.T) {
	for _, c := range []struct{ name, py, net string }{
		{"named group", `(?P<x>a)(?P=x)`, `(?<x>a)\k<x>`},
		{"numbered backreference", `(a)\1`, `(a)\k<1>`},
		{"end of text", `a\Z`, `a\z`},
		{"no minimum", `a{,2}`, `a{0,2}`},
		{"literal brace", `a{x}`, `a\{x\}`},
		{"possessive", `a*+b`, `(?>a*)b`},
		{"possessive group", `(ab)++`, `(?>(ab)+)`},
		{"digit", `\d`, `[\p{Nd}]`},
		{"word", `\w`, `[\p{L}\p{N}_]`},
		{"octal", `\101`, `A`},
		{"hex", `\x2e`, `\.`},
		{"verbose", "(?x) a b # c\n", `ab`},
		{"class with a negated class", `[a\W]`, `(?:[a]|[^\p{L}\p{N}_])`},
		{"negated class with a negated class", `[^a\W]`, `(?:(?![a])[\p{L}\p{N}_])`},
		{"dotnet subtraction is literal", `[a-z-[b]]`, `[a-z\-\[b]\]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			re, err := compilePy(c.py, "")
			if err != nil {
				t.Fatal(err)
			}
			if re.net != c.net {
				t.Errorf("compilePy(%q) = %q, want %q", c.py, re.net, c.net)
			}
		})
	}
}

// TestRegexTimeout: a pattern that backtracks catastrophically fails the
// evaluation after RegexTimeout with an error that names it, and does not
// hang the engine.
func TestRegexTimeout(t *testing.T) {
	text := strings.Repeat("ab", 20) + "!"
	src := `$.s =~ '^(\\w+\\s?)*$'`
	start := time.Now()
	_, err := Eval(context.Background(), src, map[string]any{"s": text}, Funcs{})
	if d := time.Since(start); d > 3*RegexTimeout {
		t.Errorf("the match took %v, want about %v", d, RegexTimeout)
	}
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("%s: error %v, want one wrapping ErrLimit", src, err)
	}
	if want := `expr: regex "^(\\w+\\s?)*$": the match takes more than 1s`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

// FuzzCompilePy checks that the translation of a Python pattern never
// panics, that what it lets through regexp2 compiles, and that matches
// and replacement templates give offsets inside the text on character
// boundaries.
func FuzzCompilePy(f *testing.F) {
	for _, p := range []string{
		`(?P<x>a)(?P=x)`, `(a)\1`, `a\Z`, `a{,2}`, `a{x}`, `a*+b`, `(ab)++`, `[a\W]`, `[^a\W\d]`,
		`(?x) a b # c` + "\n", `(?i:a)b`, `(?i)a(?-i:b)`, `(?<=\$)\d+`, `(?<!-)\b\d+`, `(?<=a+)b`,
		`^(<)?\w+(?(1)>)$`, `\101\x41\u00e9\U0001F600\0`, `[\w-z]`, `(?P<1x>a)`, `(?'x'a)`, `a\`,
		`x*`, `|a`, `(?=[A-Z])`, `(-)|(\+)`, `\B`, `[]a]`, `[^]a]`, `(?#c)a*`, `(?s).`, `a{3,2}`,
	} {
		f.Add(p, "aé b\n", `\1\g<0>`)
	}
	f.Fuzz(func(t *testing.T, pat, s, repl string) {
		re, err := compilePy(pat, "i")
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("compilePy(%q): an empty error", pat)
			}
			return
		}
		if _, err := re.search(context.Background(), s); err != nil && !errors.Is(err, ErrLimit) {
			t.Fatalf("%q search %q: %v", pat, s, err)
		}
		locs, err := re.findAll(context.Background(), s, 10)
		if err != nil {
			return
		}
		boundary := map[int]bool{len(s): true} // where characters start, as range reads s
		for i := range s {
			boundary[i] = true
		}
		for _, loc := range locs {
			if len(loc) != 2*(re.groups+1) {
				t.Fatalf("%q in %q: %d offsets for %d groups", pat, s, len(loc), re.groups)
			}
			for i := 0; i < len(loc); i += 2 {
				a, b := loc[i], loc[i+1]
				if a == -1 && b == -1 {
					continue
				}
				if a < 0 || a > b || !boundary[a] || !boundary[b] {
					t.Fatalf("%q in %q: group %d at [%d, %d]", pat, s, i/2, a, b)
				}
			}
		}
		if tmpl, err := re.template(repl); err == nil {
			var b strings.Builder
			for _, loc := range locs {
				tmpl.expand(&b, s, loc)
			}
		}
	})
}

// TestCompilePyErrors: what Python refuses is an error with Python's
// message, never a panic (the conformance table checks more through
// expressions).
func TestCompilePyErrors(t *testing.T) {
	for _, c := range []struct{ py, err string }{
		{`(?P`, "unexpected end of pattern at position 3"},
		{`(?<`, "unexpected end of pattern at position 3"},
		{`(?`, "unexpected end of pattern at position 2"},
		{`(?:`, "missing ), unterminated subpattern at position 0"},
		{`(?P<`, "missing group name at position 4"},
		{`(?P<ab`, "missing >, unterminated name at position 4"},
		{`(?P=`, "missing group name at position 4"},
		{`(?<=a|bc)`, "look-behind requires fixed-width pattern"},
		{`(?P<a>x)(?P<a>y)`, "redefinition of group name 'a' as group 2; was group 1 at position 12"},
	} {
		_, err := compilePy(c.py, "")
		if err == nil || err.Error() != c.err {
			t.Errorf("compilePy(%q): error %v, want %q", c.py, err, c.err)
		}
	}
}
