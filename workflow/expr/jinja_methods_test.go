package expr

import (
	"context"
	"strings"
	"testing"
)

// TestJinjaDictMethodAttributes: in Mistral's Jinja, _.items on a dict is
// the dict's method (getattr before the key), which Mistral then fails to
// store or prints as "<built-in method ...>"; here it is an error that
// says how to read the key. Calls of the methods work as in Python.
func TestJinjaDictMethodAttributes(t *testing.T) {
	data := map[string]any{"items": []any{int64(1)}, "get": int64(2), "x": map[string]any{"a": int64(1)}}
	for _, tc := range []struct {
		src    string
		want   string // JSON of the result, when no error
		errHas string
	}{
		{"{{ _.items }}", "", `write ['items'] for the key`},
		{"{{ _.x.keys }}", "", "keys is a method of the dict"},
		{"x {{ _.get }}", "", "get is a method of the dict"},
		{"{{ [1].items }}", "", "'list' object has no attribute 'items'"},
		{"{{ _['items'] }}", "[1]", ""},
		{"{{ _.get('get') }}", "2", ""},
		{"{{ _.x.items() | list }}", `[["a", 1]]`, ""},
		{"{% for k, v in _.x.items() %}{{ k }}{{ v }}{% endfor %}", `"a1"`, ""},
		{"{{ _.x.a }}", "1", ""},
	} {
		t.Run(tc.src, func(t *testing.T) {
			v, err := EvalString(context.Background(), tc.src, data, Funcs{})
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("got %v, %v; want an error with %q", v, err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := MarshalJSON(v, "")
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPyComparisons checks the source pyComparisons hands gonja's parser.
func TestPyComparisons(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{{ 1 < 2 }}", "{{ 1 < 2 }}"},
		{"{{ x in l }}", "{{ x in l }}"},
		{"{{ 3 in [1] + [3] }}", "{{ ((3 ) in ([1] + [3] ))}}"},
		{"{{ 3 not in l | list }}", "{{ ((3 ) not in (l | list ))}}"},
		{"{{ 1 < x < 10 }}", "{{ ((1 ) < (x ) and (x ) < (10 ))}}"},
		{"{{ not a == b == c or d }}", "{{ not ((a ) == (b ) and (b ) == (c ))or d }}"},
		{"{{ [1 < 2 < 3, (a < b)] }}", "{{ [((1 ) < (2 ) and (2 ) < (3)), (a < b)] }}"},
		{"{% for x in a + b if x in c ~ d %}{{ x }}{% endfor %}", "{% for x in a + b if ((x ) in (c ~ d ))%}{{ x }}{% endfor %}"},
		{"text 1 < 2 < 3 {{ 'in' }}", "text 1 < 2 < 3 {{ 'in' }}"},
		{"{{ 1 < 2 < }}", "error"},
	}
	for _, tt := range tests {
		got, err := pyComparisons(tt.in)
		if err != nil {
			got = "error"
		}
		if got != tt.want {
			t.Errorf("pyComparisons(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// FuzzPyComparisons checks that mayNeedCmpRewrite never skips a template
// that rewriteComparisons would change, and that the rewrite never panics.
func FuzzPyComparisons(f *testing.F) {
	for _, s := range []string{"{{ '}}' if 1 < 2 < 3 else 'b' }}", "{{ 1 < x < 10 }}", "{{ 3 in [1] + [3] }}", "{% for x in a if x in b ~ c %}{% endfor %}", "{{ a\t in\tb | c }}", "x {{ 'in ' }}", "{{ [1 < 2 < 3] }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// As parseJinja does: the prescan first (it refuses what gonja's
		// lexer mishandles: unknown characters, invalid UTF-8 in a tag).
		s, err := jinjaPrescan(s)
		if err != nil {
			return
		}
		norm := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		if got, err := rewriteComparisons(s); (err != nil || got != norm && got != s) && !mayNeedCmpRewrite(s) {
			t.Fatalf("mayNeedCmpRewrite(%q) = false, but it is rewritten to %q", s, got)
		}
	})
}
