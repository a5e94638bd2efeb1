package expr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src      string
		col      int
		msg      string // substring of the message
		expected string // substring of Expected
	}{
		{src: "1 +", col: 4, msg: "unexpected end of expression", expected: "an expression"},
		{src: "$.l.where($ > )", col: 15, msg: `unexpected ")"`, expected: "an expression"},
		{src: "1 1", col: 3, msg: `unexpected "1"`, expected: "an operator"},
		{src: "(1", col: 3, msg: "end of expression", expected: `")"`},
		{src: "f(1", col: 4, msg: "end of expression", expected: `"," or ")"`},
		{src: "[1, 2", col: 6, msg: "end of expression", expected: `"," or "]"`},
		{src: "'abc", col: 1, msg: "illegal character"},
		{src: "1e3", col: 1, msg: "illegal character"},
		{src: "2 ** 3", col: 4, msg: `unexpected "*"`},
		{src: "a # b", col: 3, msg: `illegal character "#"`},
		{src: "héllo + ", col: 9, msg: "end of expression"},
		{src: "switch(a => 1, 2)", col: 17, msg: `unexpected ")"`, expected: "positional arguments come before"},
		{src: "$.", col: 3, msg: "end of expression"},
		{src: "99999999999999999999", col: 1, msg: "does not fit in 64 bits"},
		{src: strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), col: 201, msg: "nests more than"},
	}
	for _, tt := range tests {
		t.Run(tt.src[:min(len(tt.src), 20)], func(t *testing.T) {
			_, err := Parse(tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tt.src, err)
			}
			if se.Column() != tt.col {
				t.Errorf("column %d, want %d (%v)", se.Column(), tt.col, err)
			}
			if !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", se.Msg, tt.msg)
			}
			if !strings.Contains(se.Expected, tt.expected) {
				t.Errorf("expected %q, want it to contain %q", se.Expected, tt.expected)
			}
			if !strings.HasPrefix(err.Error(), "expr: column ") {
				t.Errorf("error %q does not start with \"expr: column \"", err)
			}
		})
	}
}

func TestEvalErrorsNameFunctionAndArgument(t *testing.T) {
	data := map[string]any{"l": []any{int64(1)}, "a": map[string]any{"b": int64(1)}}
	tests := []struct{ src, want string }{
		{"len(null)", "len(): argument 1 is null, want a string, list or dict"},
		{"$.a.where($)", "where(): the receiver is a dict, want a list"},
		{"'x'.replace(1, 'y')", "replace(): argument 1 is an integer, want a string"},
		{"range('a')", "range(): argument 1 is a string, want an integer"},
		{"$.l.first(1, 2)", "first(): takes 1 to 2 arguments, got 3"},
		{"keys($.a)", "keys() is a method, not a function"},
		{"$.a.json_dump()", "json_dump() is a function, not a method"},
		{"$.a.nope", `key "nope" not found`},
		{"$.l.nope()", `unknown method "nope" for a list`},
		{"nope()", `unknown function "nope"`},
		{"1 + 'a'", "operator + does not apply to an integer and a string"},
		{"execution()", "execution(): no workflow execution here"},
		{"let(x => 1)", "let() must be followed by ->"},
		{"9223372036854775807 + 1", "integer overflow"},
	}
	for _, tt := range tests {
		_, err := Eval(context.Background(), tt.src, data, Funcs{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Eval(%q) error = %v, want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("[", 150) + strings.Repeat("]", 150)
	tests := []struct {
		name string
		src  string
		lim  Limits
	}{
		{"huge range", "range(1000000000)", Limits{}},
		{"range over MaxItems", "range(11)", Limits{MaxItems: 10}},
		{"string repeat", "'x' * 100000000000", Limits{}},
		{"list repeat", "[1, 2] * 1000000000", Limits{}},
		{"string growth", "'abcdefghij' * 10 + 'x'", Limits{MaxBytes: 50}},
		{"deep evaluation", big, Limits{MaxDepth: 50}},
		{"steps", "range(1000).select(range(1000).sum())", Limits{MaxSteps: 10000}},
		{"allocation", "let(x => range(100000)) -> range(100000).select($x + $x)", Limits{}},
		{"string allocation", "let(s => 'x' * 100000) -> range(100000).select($s.toUpper())", Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.EvalLimits(context.Background(), nil, Funcs{}, tt.lim)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("error %v, want ErrLimit", err)
			}
		})
	}
}

func TestEvalHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := Parse("range(100000).select($ * 2).where($ > 5).len()")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(ctx, nil, Funcs{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Eval(ctx, "range(3000).select(range(3000).sum()).len()", nil, Funcs{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

func TestProgramIsReusableConcurrently(t *testing.T) {
	p, err := Parse("$.servers.where($.role = $role_unused or $.role = 'Controller').select($.name).join(',')")
	if err != nil {
		t.Fatal(err)
	}
	data := serversData(50)
	want, err := p.Eval(context.Background(), data, Funcs{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := p.Eval(context.Background(), data, Funcs{})
				if err != nil || got != want {
					t.Errorf("got %v, %v; want %v", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestEvalValue(t *testing.T) {
	data := map[string]any{"nodes": []any{"ctl1", "ctl2"}, "n": int64(2)}
	in := map[string]any{
		"url":   "http://<% $.nodes[0] %>:5000",
		"count": "<% $.n %>",
		"body": map[string]any{
			"nodes":     "<% $.nodes %>",
			"list":      []any{"<% $.n * 2 %>", "plain", int64(7), nil},
			"<% $.n %>": "keys are not evaluated",
		},
		"multi": "<% $.n %>\n<% $.n %>",
	}
	got, err := EvalValue(context.Background(), in, data, Funcs{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MarshalJSON(got, "")
	want := `{"body": {"<% $.n %>": "keys are not evaluated", "list": [4, "plain", 7, null], "nodes": ["ctl1", "ctl2"]}, "count": 2, "multi": "2\n2", "url": "http://ctl1:5000"}`
	if string(b) != want {
		t.Errorf("EvalValue =\n%s\nwant\n%s", b, want)
	}
	if in["count"] != "<% $.n %>" {
		t.Error("EvalValue modified its input")
	}
	_, err = EvalValue(context.Background(), map[string]any{"x": []any{"<% $.missing %>"}}, data, Funcs{})
	if err == nil || !strings.Contains(err.Error(), "x: [0]: expr: ") {
		t.Errorf("error %v, want it to name the path x: [0]", err)
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		src  string
		want string // canonical JSON
	}{
		{"plain", `"plain"`},
		{"<% [1, 'a'] %>", `[1, "a"]`},
		{"x=<% [1, 'a', null, true, 2.0, {k => 'it''s'}] %>", `"x=[1, 'a', None, True, 2.0, {'k': \"it's\"}]"`},
		{"<% 1 %>\n<% 2 %>", `"1\n2"`},
		{"<% 'multi\nline' %>", `"<% 'multi\nline' %>"`},
	}
	for _, tt := range tests {
		got, err := EvalString(context.Background(), tt.src, nil, Funcs{})
		if err != nil {
			if strings.Contains(tt.src, "'it''s'") {
				continue // yaql has no '' escape: covered by the conformance table instead
			}
			t.Errorf("EvalString(%q): %v", tt.src, err)
			continue
		}
		b, _ := MarshalJSON(got, "")
		if string(b) != tt.want {
			t.Errorf("EvalString(%q) = %s, want %s", tt.src, b, tt.want)
		}
	}
	if _, err := ParseTemplate("a <% 1 + %> b"); err == nil || !strings.Contains(err.Error(), "in <% 1 + %>") {
		t.Errorf("ParseTemplate error %v, want it to quote the expression", err)
	}
	if IsExpression("no expression") || !IsExpression("<% $ %>") {
		t.Error("IsExpression is wrong")
	}
}

func TestMarshalJSON(t *testing.T) {
	v := map[string]any{"i": int64(1), "f": 1.0, "big": 1e16, "small": 1e-5, "s": "é\n", "l": []any{}, "m": map[string]any{}}
	b, err := MarshalJSON(v, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"big": 1e+16, "f": 1.0, "i": 1, "l": [], "m": {}, "s": "é\n", "small": 1e-05}`
	if string(b) != want {
		t.Errorf("MarshalJSON = %s, want %s", b, want)
	}
	if _, err := MarshalJSON(struct{}{}, ""); err == nil {
		t.Error("MarshalJSON accepted a struct")
	}
}

func TestNormalize(t *testing.T) {
	type server struct {
		Name string `json:"name"`
		CPUs int    `json:"cpus"`
	}
	in := map[string]any{"a": 1, "b": []string{"x"}, "c": float32(0.5), "d": map[string]string{"k": "v"}, "e": []server{{"ctl1", 4}}}
	got, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MarshalJSON(got, "")
	if want := `{"a": 1, "b": ["x"], "c": 0.5, "d": {"k": "v"}, "e": [{"cpus": 4, "name": "ctl1"}]}`; string(b) != want {
		t.Errorf("Normalize = %s, want %s", b, want)
	}
}

// TestTemplateConcurrentEval evaluates the same parsed templates (what
// EvalString's cache shares) from many goroutines: each gets what one
// evaluation alone gives (go test -race checks the sharing).
func TestTemplateConcurrentEval(t *testing.T) {
	srcs := []string{
		"{% macro f(n) %}{% if n > 0 %}{{ n }},{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(_.n) }}",
		"{% set total = namespace(v=0) %}{% for x in _.l %}{% set total.v = total.v + x %}{% endfor %}{{ total.v }}",
		"{{ _.l | select('odd') | map('string') | join('-') }} {{ _.l[::-1] }} {{ _.s | wordwrap(3) }}",
		"{{ _.g | groupby(0) | map(attribute='list') | list }}",
		"<% $.l.where($ > 1).select($ * 2) %> and <% $.s.toUpper() %>",
		"{{ _.n * 2 }}",
	}
	data := func(i int) map[string]any {
		return map[string]any{"n": int64(i % 7), "l": []any{int64(i), int64(1), int64(2), int64(3)}, "s": fmt.Sprintf("abc def %d", i),
			"g": []any{[]any{int64(i % 2), "a"}, []any{int64(1), "b"}, []any{int64(0), "c"}}}
	}
	for _, src := range srcs {
		tmpl, err := ParseTemplate(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		want := make([]any, 20)
		for i := range want {
			if want[i], err = tmpl.Eval(context.Background(), data(i), Funcs{}); err != nil {
				t.Fatalf("%s on %d: %v", src, i, err)
			}
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range want {
					got, err := tmpl.Eval(context.Background(), data(i), Funcs{})
					if err != nil {
						got = err.Error()
					}
					if !reflect.DeepEqual(got, want[i]) {
						t.Errorf("%s on %d: %#v, alone %#v", src, i, got, want[i])
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
