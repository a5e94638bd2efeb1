package expr

import (
	"math"
	"reflect"
	"testing"
)

// TestPythonJSONSentinel checks that json_parse's NaN/Infinity sentinel is
// never a string of the text: a text holding the first noncharacters, raw
// and escaped, still reads them as strings.
func TestPythonJSONSentinel(t *testing.T) {
	tests := []struct {
		name, in string
		want     []any
	}{
		{"plain", `[NaN, "NaN", Infinity, -Infinity]`, []any{math.NaN(), "NaN", math.Inf(1), math.Inf(-1)}},
		{"raw mark", "[\"\uFDD00\", NaN]", []any{"\uFDD00", math.NaN()}},
		{"escaped mark", `["\uFDD02", "\ufdd12", NaN]`, []any{"\uFDD02", "\uFDD12", math.NaN()}},
		{"escape before word", `["\\", NaN]`, []any{`\`, math.NaN()}},
		{"quote in string", `["a\"NaN", -Infinity]`, []any{`a"NaN`, math.Inf(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := unmarshalPythonJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !sameFloats(got, tt.want) {
				t.Errorf("unmarshalPythonJSON(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`{NaN: 1}`, `nan`, `- Infinity`, `NaNa`, `[Infinity,]`} {
		if v, err := unmarshalPythonJSON([]byte(bad)); err == nil {
			t.Errorf("unmarshalPythonJSON(%s) = %#v, want an error as Python's json.loads", bad, v)
		}
	}
}

func sameFloats(a any, b []any) bool {
	l, ok := a.([]any)
	if !ok || len(l) != len(b) {
		return false
	}
	for i := range l {
		x, xf := l[i].(float64)
		y, yf := b[i].(float64)
		if xf && yf && math.IsNaN(x) && math.IsNaN(y) {
			continue
		}
		if !reflect.DeepEqual(l[i], b[i]) {
			return false
		}
	}
	return true
}

// FuzzPythonJSON checks that unmarshalPythonJSON reads what encoding/json
// reads exactly as UnmarshalJSON does, and never panics on the rest.
func FuzzPythonJSON(f *testing.F) {
	for _, s := range []string{`[NaN, "NaN", Infinity]`, `{"a": -Infinity}`, "[\"\uFDD0\", NaN]", `"\\"`, `{NaN: 1}`, `1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := unmarshalPythonJSON([]byte(s))
		want, werr := UnmarshalJSON([]byte(s))
		if werr != nil {
			return
		}
		if err != nil {
			t.Fatalf("UnmarshalJSON reads %q, unmarshalPythonJSON refuses it: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("unmarshalPythonJSON(%q) = %#v, UnmarshalJSON %#v", s, got, want)
		}
	})
}
