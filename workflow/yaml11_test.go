package workflow

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestYAML11Scalars decodes every plain scalar of
// testdata/yaml11_scalars.json and compares with what PyYAML (Mistral's
// YAML parser) read there; TestYAML11Referee in the integration suite
// checks the file against PyYAML itself.
func TestYAML11Scalars(t *testing.T) {
	raw, err := os.ReadFile("testdata/yaml11_scalars.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Src  string `json:"src"`
		Kind string `json:"kind"`
		Want any    `json:"want"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		v, ix, err := decodeYAML("t.yaml", []byte("v: "+c.Src+"\n"))
		switch c.Kind {
		case "error", "bigint":
			if err == nil {
				t.Errorf("%q: decoded as %#v, want an error (PyYAML: %s)", c.Src, v.(map[string]any)["v"], c.Kind)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.Src, err)
			continue
		}
		got := v.(map[string]any)["v"]
		if c.Kind == "date" {
			if len(ix.stamps) != 1 || ix.stamps[0] != "/v" || got != c.Src {
				t.Errorf("%q: %#v (dates %q), want the date recorded at /v", c.Src, got, ix.stamps)
			}
			continue
		}
		if len(ix.stamps) != 0 {
			t.Errorf("%q: taken for a date", c.Src)
		}
		ok := false
		switch c.Kind {
		case "NoneType":
			ok = got == nil
		case "bool", "str":
			ok = got == c.Want
		case "int":
			i, isInt := got.(int64)
			ok = isInt && float64(i) == c.Want.(float64)
		case "float":
			f, isFloat := got.(float64)
			switch w := c.Want.(type) {
			case string: // repr: inf, -inf, nan
				ok = isFloat && (w == "nan" && math.IsNaN(f) || w == "inf" && math.IsInf(f, 1) || w == "-inf" && math.IsInf(f, -1))
			case float64:
				ok = isFloat && f == w
			}
		default:
			t.Fatalf("%q: unknown kind %q", c.Src, c.Kind)
		}
		if !ok {
			t.Errorf("%q: decoded as %#v, PyYAML reads %s %v", c.Src, got, c.Kind, c.Want)
		}
	}
}
