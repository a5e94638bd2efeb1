package expr

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestJinjaMacroBounds: a runaway macro ends with ErrLimit and a short
// message, not a crash of the process (gonja alone overflows the Go
// stack); recursion bounded by the data renders as in Mistral.
func TestJinjaMacroBounds(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      any    // result, when no error
		errHas    string // part of the error, when one is wanted
	}{
		{"bounded by data", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", "54321", ""},
		{"190 deep renders", "{% macro f(n) %}{% if n > 0 %}.{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(190) | length }}", "190", ""},
		{"runaway", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", nil, "macro f is more than 195 calls deep"},
		{"mutual", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", nil, "calls deep"},
		{"fan-out hits the step budget", "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}", nil, "steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := EvalString(context.Background(), tc.src, nil, Funcs{})
			if tc.errHas == "" {
				if err != nil || v != tc.want {
					t.Fatalf("got %#v, %v; want %#v", v, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("got %#v, %v; want ErrLimit with %q", v, err, tc.errHas)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("the error is %d bytes long", len(err.Error()))
			}
		})
	}
}
