package register

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fernetflow/fernetflow/workflow/definitions"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

// TestTagWorkflowsGolden: testdata/tag/NAME.yaml (copies of the embedded
// definitions) tag into NAME.yaml.golden, which the regex rewrite
// TagWorkflows replaced made byte for byte.
func TestTagWorkflowsGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "tag", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/tag/*.yaml: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, names, err := TagWorkflows(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); len(names) != 1 || names[0] != want {
			t.Errorf("%s: names %v, want [%s]", f, names, want)
		}
		golden(t, filepath.Join("tag", filepath.Base(f)+".golden"), out)
	}
}

// Every embedded definition tags (its golden twin is above).
func TestTagEmbedded(t *testing.T) {
	for _, f := range definitions.Names() {
		src, err := definitions.Source(f)
		if err != nil {
			t.Fatal(err)
		}
		out, names, err := TagWorkflows(src)
		if err != nil || len(names) == 0 {
			t.Fatalf("%s: %v %v", f, names, err)
		}
		if got := strings.ReplaceAll(string(out), "\n  tags: [fernetflow]", ""); got != string(src) {
			t.Errorf("%s: changed more than the tags", f)
		}
	}
}

func TestTagWorkflows(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
		names           []string
		err             string
	}{
		{name: "two workflows, four spaces", src: "version: '2.0'\na:\n    tasks: {}\nb:  # second\n    type: direct\n",
			want: "version: '2.0'\na:\n    tags: [fernetflow]\n    tasks: {}\nb:  # second\n    tags: [fernetflow]\n    type: direct\n", names: []string{"a", "b"}},
		{name: "no final newline", src: "wf:\n  tasks: {}", want: "wf:\n  tags: [fernetflow]\n  tasks: {}", names: []string{"wf"}},
		{name: "version only", src: "version: '2.0'\n", want: "version: '2.0'\n"},
		{name: "flow workflow", src: "wf: {tasks: {}}\n", err: "not a block mapping"},
		{name: "flow root", src: "{wf: {tasks: {}}}\n", err: "flow mapping"},
		{name: "empty workflow", src: "wf:\n", err: "not a block mapping"},
		{name: "tagged already", src: "wf:\n  tags: [x]\n", err: "has tags already"},
		{name: "list", src: "- a\n", err: "not a mapping"},
		{name: "broken", src: "wf: [\n", err: "workflow definition"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, names, err := TagWorkflows([]byte(c.src))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || string(out) != c.want || strings.Join(names, ",") != strings.Join(c.names, ",") {
				t.Fatalf("= %q %v %v, want %q %v", out, names, err, c.want, c.names)
			}
		})
	}
}

// FuzzTagWorkflows: whatever TagWorkflows accepts comes back as valid
// YAML whose every workflow carries the tag, and is src again once the
// inserted lines are taken out.
func FuzzTagWorkflows(f *testing.F) {
	for _, n := range definitions.Names() {
		src, _ := definitions.Source(n)
		f.Add(src)
	}
	f.Add([]byte("version: '2.0'\na:\n    tasks: {}\nb:  # x\n    type: direct\n"))
	f.Add([]byte("wf:\n  tasks: {}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		out, names, err := TagWorkflows(src)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not YAML: %v\n%q", err, out)
		}
		for _, n := range names {
			// A workflow whose own keys are not all strings (fuzzed
			// "rrr:\n 0 \t:") decodes as map[any]any.
			var tags any
			switch wf := doc[n].(type) {
			case map[string]any:
				tags = wf["tags"]
			case map[any]any:
				tags = wf["tags"]
			default:
				t.Fatalf("workflow %q is gone: %q", n, out)
			}
			if l, _ := tags.([]any); len(l) != 1 || l[0] != Tag {
				t.Fatalf("workflow %q: tags %v", n, tags)
			}
		}
		var back []byte
		for line := range bytes.Lines(out) {
			if strings.TrimSpace(string(line)) != "tags: ["+Tag+"]" {
				back = append(back, line...)
			}
		}
		var srcBack []byte
		for line := range bytes.Lines(src) {
			if strings.TrimSpace(string(line)) != "tags: ["+Tag+"]" {
				srcBack = append(srcBack, line...)
			}
		}
		if !bytes.Equal(bytes.TrimSuffix(back, []byte("\n")), bytes.TrimSuffix(srcBack, []byte("\n"))) {
			t.Fatalf("changed more than the tags:\n%q\n%q", src, out)
		}
	})
}

// TestTaggedWorkflows (moved from cmd/fernetflow): the tag follows the
// workflow's key, and nothing else changes.
func TestTaggedWorkflows(t *testing.T) {
	src, err := definitions.Source("rotate_fernet_keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, names, err := TagWorkflows(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "rotate_fernet_keys" {
		t.Fatalf("names = %v", names)
	}
	if !strings.Contains(string(out), "\nrotate_fernet_keys:\n  tags: [fernetflow]\n  description:") {
		t.Errorf("no tag after the workflow's key:\n%s", out[:400])
	}
	if strings.Replace(string(out), "\n  tags: [fernetflow]", "", 1) != string(src) {
		t.Error("taggedWorkflows changed more than the tag")
	}
}
