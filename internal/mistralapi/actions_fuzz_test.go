package mistralapi

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fernetflow/fernetflow/workflow"
)

// FuzzParseActionList: POST /v2/actions' parser never panics, and what it
// accepts is a list of named actions with a known base.
func FuzzParseActionList(f *testing.F) {
	f.Add(readFuzzSeed(f, "action_v2.yaml"))
	f.Add(readFuzzSeed(f, "wb_actions.yaml"))
	f.Add("version: '2.0'\na:\n  base: std.echo\n  input: [x, {y: 1}]\n")
	f.Add("version: 2\n")
	reg := workflow.StdRegistry()
	f.Fuzz(func(t *testing.T, src string) {
		specs, err := parseActionList(src, reg)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, sp := range specs {
			if sp.name == "" && sp.a.Base == "" || seen[sp.name] {
				t.Fatalf("accepted %q: %+v", src, specs)
			}
			if _, ok := reg.Lookup(sp.a.Base); !ok {
				t.Fatalf("accepted unknown base %q", sp.a.Base)
			}
			seen[sp.name] = true
			_ = paramsSignature(sp.a.Params)
		}
	})
}

// FuzzCutWorkbookItem: the cut never panics and is the definition itself
// or a text ending in one newline; ownDefinition's dump parses again.
func FuzzCutWorkbookItem(f *testing.F) {
	f.Add(readFuzzSeed(f, "wb_actions.yaml"), "say")
	f.Add("workflows:\n  a:\n\tb\n  # c\n", "a")
	f.Fuzz(func(t *testing.T, def, item string) {
		got := cutWorkbookItem(def, "workflows:", item)
		if got != def && !strings.HasSuffix(got, "\n") {
			t.Fatalf("cut %q of %q: %q", item, def, got)
		}
		// ownDefinition: "" or YAML that parses again.
		two := &workflow.File{Workflows: []*workflow.Workflow{{}, {}}}
		if own := ownDefinition(two, def, item); own != "" {
			var v any
			if err := yaml.Unmarshal([]byte(own), &v); err != nil {
				t.Fatalf("own definition of %q in %q does not parse: %v\n%s", item, def, err, own)
			}
		}
	})
}

func readFuzzSeed(f *testing.F, name string) string {
	f.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}
