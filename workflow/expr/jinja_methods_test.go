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
