package expr

import (
	"context"
	"testing"
)

func TestReadsView(t *testing.T) {
	for _, c := range []struct {
		src  string
		root byte
		want bool
	}{
		{"$", '$', true},
		{"$.x", '$', false},
		{"$.x.y.len()", '$', false},
		{"$ . x", '$', false},
		{"$.keys()", '$', true},
		{"$.where($.a > 1)", '$', true},
		{"len($)", '$', true},
		{"$[0]", '$', true},
		{"$x + $1", '$', false},
		{"$.get('__env')", '$', true},
		{"'$'", '$', true}, // errs on the side of yes
		{"{{ _ }}", '_', true},
		{"{{ _.x.y }}", '_', false},
		{"{{ my_var + x._ }}", '_', false},
		{"{{ _.items() }}", '_', true},
		{"{{ _ | count }}", '_', true},
		{"{% for k in _ %}{{ k }}{% endfor %}", '_', true},
		{"{{ _['a'] }}", '_', true},
		{"{{ __env }}", '_', true},
		{"{{ x }}", '_', false},
	} {
		if got := readsView(c.src, c.root); got != c.want {
			t.Errorf("readsView(%q, %q) = %v, want %v", c.src, c.root, got, c.want)
		}
	}
}

// TestInternalOnlyWhenRead checks that Funcs.Internal is asked only by
// expressions that may see its keys, and that those see them.
func TestInternalOnlyWhenRead(t *testing.T) {
	for _, c := range []struct {
		src   string
		calls int
		want  any
	}{
		{"<% $.x %>", 0, int64(1)},
		{"{{ _.x }}", 0, int64(1)},
		{"<% $.get('__execution').id %>", 1, "ex-1"},
		{"<% $.keys().len() %>", 1, int64(2)},
		{"{{ _ | count }}", 1, int64(2)},
		{"{{ _.__execution.id }}", 1, "ex-1"},
	} {
		calls := 0
		funcs := Funcs{Internal: func(context.Context) (map[string]any, error) {
			calls++
			return map[string]any{"__execution": map[string]any{"id": "ex-1"}}, nil
		}}
		got, err := EvalString(context.Background(), c.src, map[string]any{"x": int64(1)}, funcs)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got != c.want || calls != c.calls {
			t.Errorf("%s = %#v with %d calls of Internal, want %#v with %d", c.src, got, calls, c.want, c.calls)
		}
	}
}
