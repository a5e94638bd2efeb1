package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow"
)

// compile compiles one embedded schema.
func compile(t *testing.T, name string, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// validate checks v (in the JSON-like model) against a schema.
func validate(t *testing.T, name string, raw json.RawMessage, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := compile(t, name, raw).Validate(doc); err != nil {
		t.Fatalf("%s rejects %s: %v", name, b, err)
	}
}

func TestEverySchemaCompilesAndBelongsToAnAction(t *testing.T) {
	names := map[string]bool{}
	fs.WalkDir(schemaFS, "schemas", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		compile(t, name, schema(name))
		names[strings.TrimSuffix(strings.TrimSuffix(name, ".input"), ".output")] = true
		return nil
	})
	if len(names) == 0 {
		t.Fatal("no schemas embedded")
	}
}

func TestRegistry(t *testing.T) {
	r, err := newRegistry(keysStatus(keysOptions{}), keysRotate(keysOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var _ workflow.Registry = r
	if got := strings.Join(r.Names(), ","); got != "keys.rotate,keys.status" {
		t.Fatalf("names %s", got)
	}
	if _, ok := r.Lookup("keys.nope"); ok {
		t.Fatal("found an unknown action")
	}
	if _, err := newRegistry(keysStatus(keysOptions{}), keysStatus(keysOptions{})); err == nil {
		t.Fatal("two actions with one name were accepted")
	}
}

func TestKeysActions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	rotate := keysRotate(keysOptions{})
	status := keysStatus(keysOptions{})
	ctx := context.Background()

	// Over the action server the error names no CLI command; the CLI adds
	// fernetflow keys setup (cmd/fernetflow's hints).
	if _, err := status.Run(ctx, map[string]any{"key_repository": dir}); !errors.Is(err, keys.ErrNotInitialized) || !strings.Contains(err.Error(), dir+" does not exist") {
		t.Fatalf("status of a missing repository: %v", err)
	}
	if _, err := keys.Setup(ctx, dir, keys.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"key_repository": dir, "max_active_keys": int64(3), "token_expiration": int64(0), "allow_expired_window": int64(0)}
	validate(t, "keys.rotate.input", rotate.InputSchema(), in)
	out, err := rotate.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, "keys.rotate.output", rotate.OutputSchema(), out)
	plan := out.(map[string]any)
	if plan["generation"] != int64(2) || plan["changed"] != true {
		t.Fatalf("plan %v", plan)
	}

	st, err := status.Run(ctx, map[string]any{"key_repository": dir})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, "keys.status.output", status.OutputSchema(), st)
	if st.(map[string]any)["fingerprint"] != plan["fingerprint"] {
		t.Fatal("status and rotate disagree on the fingerprint")
	}

	// Keystone's defaults apply when the input leaves them out: key 1
	// was demoted just now, so pruning it must wait 49 hours.
	if _, err := rotate.Run(ctx, map[string]any{"key_repository": dir}); err == nil || !strings.Contains(err.Error(), "key 1") {
		t.Fatalf("default guard: %v", err)
	}
	dry, err := rotate.Run(ctx, map[string]any{"key_repository": dir, "dry_run": true, "force": true})
	if err != nil || dry.(map[string]any)["changed"] != false {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	// Issue 13: 2,000,000 h each overflowed the prune guard; the schema
	// bounds both.
	for _, name := range []string{"token_expiration", "allow_expired_window"} {
		in := map[string]any{"key_repository": dir, "force": false, name: int64(7200000000)}
		b, _ := json.Marshal(in)
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := compile(t, "keys.rotate.input", rotate.InputSchema()).Validate(doc); err == nil || !strings.Contains(err.Error(), "maximum") {
			t.Fatalf("the schema takes %s of 2,000,000 h: %v", name, err)
		}
		// Run, called without the server or the engine, checks it too.
		if _, err := rotate.Run(ctx, in); err == nil || !strings.Contains(err.Error(), "want 0 to 3153600000") {
			t.Fatalf("%s of 2,000,000 h: %v", name, err)
		}
		in[name] = int64(keys.MaxTokenSeconds)
		if _, err := rotate.Run(ctx, in); !errors.Is(err, keys.ErrUnsafePrune) {
			t.Fatalf("%s of 100 years: %v", name, err)
		}
	}
	if _, err := rotate.Run(ctx, map[string]any{"key_repository": 7}); err == nil || !strings.Contains(err.Error(), "keys.rotate: input") {
		t.Fatalf("bad input type: %v", err)
	}
}
