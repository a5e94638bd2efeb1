package expr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// seedExpressions adds every expression of the conformance table.
func seedExpressions(f *testing.F, add func(src string)) {
	raw, err := os.ReadFile("testdata/conformance.json")
	if err != nil {
		f.Fatal(err)
	}
	var tab struct {
		Cases []struct {
			Expr, Template string
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &tab); err != nil {
		f.Fatal(err)
	}
	for _, c := range tab.Cases {
		if c.Template != "" {
			add(c.Template)
		} else {
			add(c.Expr)
		}
	}
}

// FuzzParse checks that Parse never panics, and that every error is a
// *SyntaxError whose column lies inside the expression.
func FuzzParse(f *testing.F) {
	seedExpressions(f, func(src string) { f.Add(src) })
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want a *SyntaxError", src, err, err)
			}
			if c := se.Column(); c < 1 || c > len([]rune(src))+1 {
				t.Fatalf("Parse(%q): column %d outside the expression", src, c)
			}
			return
		}
		if p.String() != src {
			t.Fatalf("String() = %q, want %q", p.String(), src)
		}
		_, _ = ParseTemplate(src)
	})
}

// FuzzEval checks that evaluation never panics, never hangs and never
// runs out of memory: every expression ends with a value or an error
// within small limits.
func FuzzEval(f *testing.F) {
	seedExpressions(f, func(src string) { f.Add(src) })
	f.Add("range(1000000000)")
	f.Add("'x' * 1000000000")
	f.Add("[range(1000)] * 1000")
	f.Add("let(x => range(1000)) -> $x.select($x.sum()).sum()")
	f.Add("let(x => range(100000)) -> range(100000).select($x + $x)")
	f.Add("let(s => 'x' * 100000) -> range(100000).select($s.toUpper())")
	data := map[string]any{
		"servers": serversData(5)["servers"],
		"l":       []any{int64(3), int64(1), 2.5, "a", nil, true},
		"a":       map[string]any{"b": int64(1), "c": "x"},
		"s":       " Abc ",
	}
	lim := Limits{MaxDepth: 100, MaxItems: 100_000, MaxBytes: 1 << 20, MaxSteps: 1_000_000, MaxAlloc: 1_000_000}
	funcs := Funcs{
		Task:      func(context.Context, string) (any, error) { return map[string]any{"result": []any{int64(1)}}, nil },
		Execution: func(context.Context) (any, error) { return map[string]any{"id": "x"}, nil },
		Env:       func(context.Context) (any, error) { return nil, nil },
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		var v any
		done := make(chan struct{})
		go func() {
			defer close(done)
			v, err = p.EvalLimits(ctx, data, funcs, lim)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			panic(fmt.Sprintf("Eval(%q) hangs: it ignores its context", src))
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Eval(%q) took %v", src, d)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Eval(%q) ran into the deadline: limits did not stop it", src)
			}
			return
		}
		if _, err := MarshalJSON(v, ""); err != nil {
			t.Fatalf("Eval(%q) = %#v, not JSON: %v", src, v, err)
		}
		_ = pyStr(v)
	})
}

// FuzzJinja checks that a Jinja string never panics in ParseTemplate or
// Eval, that a parse error names the string, and that evaluation stops.
func FuzzJinja(f *testing.F) {
	seedExpressions(f, func(src string) {
		if IsJinja(src) {
			f.Add(src)
		}
	})
	f.Add("{{ range(100001) | list }}")
	f.Add("{{ 'x' * 1000000000 }}")
	f.Add("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
	f.Add("{% include 'x' %}{{ 1 }}")
	f.Add("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}")
	f.Add("{{ '%-+#08.3f|%5.2s|%x|%c' % (1.5, 'abc', 255, 65) }}")
	f.Add("{{ _.l.index(1) }}{{ 'a b'.split() }}{{ _.a.items }}")
	data := map[string]any{"l": []any{int64(3), int64(1), 2.5, "a", nil, true}, "a": map[string]any{"b": int64(1)}}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := ParseTemplate(src)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		v, err := tm.Eval(ctx, data, Funcs{})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Eval(%q) took %v", src, d)
		}
		if err != nil {
			return
		}
		if _, err := MarshalJSON(v, ""); err != nil {
			t.Fatalf("Eval(%q) = %#v, not JSON: %v", src, v, err)
		}
	})
}
