package expr

import (
	"encoding/json"
	"os"
	"testing"
)

// TestTripleOExpressionsParse parses every expression of TripleO's
// Mistral workbooks (testdata/tripleo_expressions.json), all of which
// Mistral 15 accepts: a real workflow must not fail to load here.
func TestTripleOExpressionsParse(t *testing.T) {
	raw, err := os.ReadFile("testdata/tripleo_expressions.json")
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		Expressions map[string][]string `json:"expressions"`
	}
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatal(err)
	}
	n := 0
	for file, exprs := range tab.Expressions {
		for _, s := range exprs {
			n++
			if _, err := ParseTemplate(s); err != nil {
				t.Errorf("%s: %q: %v", file, s, err)
			}
		}
	}
	if n < 1000 {
		t.Errorf("%d expressions, want the 1,019 of the workbooks", n)
	}
}
