package expr

import (
	"context"
	"testing"
	"unicode/utf8"
)

// FuzzYAMLDump checks that what yaml_dump writes, yaml_parse reads back
// as the same data: a string alone, as a value, as a key, in a list.
// (Both follow PyYAML; the conformance table checks them against it.)
func FuzzYAMLDump(f *testing.F) {
	for _, s := range []string{"x", "yes", "é  b  é", "a\nb", "x \ny", "x\n y", "", "key: v", "\x00\a\u2028\u0085\u00a0\ufeff",
		"word word word word word word word word word word word word word word word word word word word word",
		"café café café café café café café café café café café café café café café café café café café café "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 4096 {
			t.Skip()
		}
		values := []any{s, map[string]any{"k": s}, []any{s, map[string]any{"a": s}}, map[string]any{s: []any{s, int64(1)}}}
		for _, v := range values {
			dumped, err := Eval(context.Background(), "yaml_dump($)", v, Funcs{})
			if err != nil {
				t.Fatalf("yaml_dump(%q): %v", s, err)
			}
			got, err := Eval(context.Background(), "yaml_parse($)", dumped, Funcs{})
			if err != nil {
				t.Fatalf("yaml_parse of yaml_dump(%#v) = %q: %v", v, dumped, err)
			}
			if canonical(t, got) != canonical(t, v) {
				t.Fatalf("yaml_parse(yaml_dump(%#v)) = %#v\nthe dump: %q", v, got, dumped)
			}
		}
	})
}
