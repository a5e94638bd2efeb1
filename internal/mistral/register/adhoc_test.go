package register

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fakeAction is a workflow.Action with a given input schema.
type fakeAction struct {
	name, desc string
	schema     string
}

func (a fakeAction) Name() string                  { return a.name }
func (a fakeAction) Description() string           { return a.desc }
func (a fakeAction) InputSchema() json.RawMessage  { return json.RawMessage(a.schema) }
func (a fakeAction) OutputSchema() json.RawMessage { return nil }
func (a fakeAction) Secret() bool                  { return false }
func (a fakeAction) Run(context.Context, map[string]any) (any, error) {
	return nil, nil
}

func TestAdhocAction(t *testing.T) {
	o := ActionOptions{Server: "https://uc.example:8990/", Token: KeystoneToken, Timeout: 90 * time.Second}
	for _, c := range []struct {
		name   string
		action fakeAction
		golden string
		err    string
	}{
		{name: "every kind of input", golden: "adhoc_example.golden", action: fakeAction{name: "x.do",
			desc: "Do \"it\": a description with quotes,\nnewlines, # and <% yaql %>, ünïcode.",
			schema: `{"type":"object","required":["z","a"],"properties":{"z":{},"a":{},"n":{"default":3},"s":{"default":"two words"},
			  "b":{"default":false},"nul":{"default":null},"none":{}}}`}},
		{name: "no input", golden: "adhoc_noinput.golden", action: fakeAction{name: "x.none", desc: "none"}},
		{name: "bad name", action: fakeAction{name: "x.bad", schema: `{"properties":{"a-b":{}}}`}, err: `input "a-b" cannot be a Mistral parameter`},
		{name: "object default", golden: "adhoc_object.golden", action: fakeAction{name: "x.obj", desc: "obj", schema: `{"properties":{"o":{"default":{"k":[1,"a"]}}}}`}},
		{name: "bad schema", action: fakeAction{name: "x.broken", schema: `{`}, err: "the input schema of x.broken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := AdhocAction(c.action, o)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.golden, b)
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			def, _ := doc[c.action.name].(map[string]any)
			if def["description"] != c.action.desc {
				t.Errorf("description %q, want %q", def["description"], c.action.desc)
			}
			if u := def["base-input"].(map[string]any)["url"]; u != "https://uc.example:8990/v1/actions/"+c.action.name {
				t.Errorf("url %v", u)
			}
		})
	}
}
