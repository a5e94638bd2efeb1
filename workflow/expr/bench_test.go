package expr

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// serversData is an inventory of n servers, every third a Controller.
func serversData(n int) map[string]any {
	servers := make([]any, n)
	for i := range servers {
		role := "Compute"
		if i%3 == 0 {
			role = "Controller"
		}
		servers[i] = map[string]any{
			"name": fmt.Sprintf("overcloud-%d", i),
			"role": role,
			"ip":   fmt.Sprintf("192.0.2.%d", i%250),
			"id":   fmt.Sprintf("0b4c6f1e-%04d", i),
		}
	}
	return map[string]any{"servers": servers}
}

const benchExpr = "$.servers.where($.role = 'Controller').select($.name)"

// BenchmarkWhereSelect1000 parses and evaluates the expression
// over 1,000 servers: the figure BENCHMARKS.md records.
func BenchmarkWhereSelect1000(b *testing.B) {
	data := serversData(1000)
	ctx := context.Background()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		p, err := Parse(benchExpr)
		if err != nil {
			b.Fatal(err)
		}
		v, err := p.Eval(ctx, data, Funcs{})
		if err != nil {
			b.Fatal(err)
		}
		if len(v.([]any)) != 334 {
			b.Fatalf("got %d names", len(v.([]any)))
		}
	}
}

// BenchmarkParse is the parse alone.
func BenchmarkParse(b *testing.B) {
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if _, err := Parse(benchExpr); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// The same queries in YAQL and in Jinja, parsed once and evaluated over
// serversData(1000): BenchmarkJinja/yaql/* against BenchmarkJinja/jinja/*.
var jinjaVsYaql = []struct{ name, yaql, jinja string }{
	{"where_select", "<% $.servers.where($.role = 'Controller').select($.name) %>", "{{ _.servers | selectattr('role', 'equalto', 'Controller') | map(attribute='name') | list }}"},
	{"arith", "<% $.servers[0].name + '-' + str(len($.servers) * 2) %>", "{{ _.servers[0].name ~ '-' ~ (_.servers | length) * 2 }}"},
	{"render", "n=<% len($.servers) %> first=<% $.servers[0].name %>", "n={{ _.servers | length }} first={{ _.servers[0].name }}"},
}

func BenchmarkJinja(b *testing.B) {
	data := serversData(1000)
	ctx := context.Background()
	for _, c := range jinjaVsYaql {
		for _, lang := range []string{"yaql", "jinja"} {
			src := c.yaql
			if lang == "jinja" {
				src = c.jinja
			}
			b.Run(lang+"/"+c.name, func(b *testing.B) {
				t, err := ParseTemplate(src)
				if err != nil {
					b.Fatal(err)
				}
				want, err := EvalString(ctx, c.yaql, data, Funcs{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					v, err := t.Eval(ctx, data, Funcs{})
					if err != nil {
						b.Fatal(err)
					}
					if canonical(b, v) != canonical(b, want) {
						b.Fatalf("%s = %v, want %v", src, v, want)
					}
				}
			})
		}
	}
}

// regexBench is a regex-heavy query over serversData(1000): a string
// pattern per element (=~), a compiled regex() with groups (replace), a
// search with a selector and a split.
var regexBench = []struct{ name, src string }{
	{"match_op", `$.servers.where($.name =~ '^overcloud-\d*[05]$').len()`},
	{"regex_replace", `let(re => regex('^(\d+)\.(\d+)\.(\d+)\.(\d+)$')) -> $.servers.select($re.replace($.ip, '\\4.\\3.\\2.\\1')).len()`},
	{"search_split", `$.servers.select(regex('(\w+)-(\d+)').search($.name, $2.value) + regex('-').split($.id)[1]).len()`},
}

// BenchmarkRegex parses and evaluates each of regexBench on every
// iteration: the figures BENCHMARKS.md records.
func BenchmarkRegex(b *testing.B) {
	data := serversData(1000)
	ctx := context.Background()
	for _, c := range regexBench {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := Eval(ctx, c.src, data, Funcs{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseJinja parses Jinja templates as the engine does on every
// evaluation (EvalString): the jinjaVsYaql templates, and one with a
// chained comparison and an in over an expression, which pyComparisons
// rewrites before gonja parses it.
func BenchmarkParseJinja(b *testing.B) {
	srcs := map[string]string{"compare": "{{ 0 < _.servers | length < 100 and 'c-1' in _.names + ['x'] }}"}
	for _, c := range jinjaVsYaql {
		srcs[c.name] = c.jinja
	}
	for _, name := range []string{"where_select", "arith", "render", "compare"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseTemplate(srcs[name]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
