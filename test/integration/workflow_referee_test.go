//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

var versionLine = regexp.MustCompile(`(?m)^version:`)

// workflowFiles lists every workflow file of the repository that the
// referee checks: the shipped definitions, the examples and the engine's
// test data. Outside workflow/testdata (where broken files live), a YAML
// file is a workflow file when it has a top-level version: key (examples/
// also holds clouds.yaml and the like).
func workflowFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"workflow/definitions", "examples", "workflow/testdata"} {
		root := filepath.Join(repoRoot, dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return nil
			}
			if dir != "workflow/testdata" {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if !versionLine.Match(b) {
					return nil
				}
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	if len(files) == 0 {
		t.Fatal("no workflow files found")
	}
	return files
}

type verdict struct {
	File      string `json:"file"`
	Valid     bool   `json:"valid"`
	ErrorType string `json:"error_type"`
	Error     string `json:"error"`
}

// mistralVerdicts runs python3-mistral's own parser over files.
func mistralVerdicts(t *testing.T, files []string) map[string]verdict {
	t.Helper()
	args := append([]string{"testdata/mistral/mistral_validate.py"}, files...)
	out, err := exec.Command(debianPython, args...).Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("mistral_validate.py: %v", err)
		}
	}
	m := map[string]verdict{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("mistral_validate.py printed %q: %v", sc.Text(), err)
		}
		m[v.File] = v
	}
	if len(m) != len(files) {
		t.Fatalf("mistral_validate.py judged %d of %d files:\n%s", len(m), len(files), out)
	}
	return m
}

// TestWorkflowReferee checks every workflow file of the repository with
// both fernetflow workflow validate and Mistral 15's parser: they must
// agree on accept/reject for every file. The valid files pass both,
// testdata/bad fails both, and testdata/stricter (what fernetflow's engine
// refuses on purpose) passes both, with a warning from fernetflow.
func TestWorkflowReferee(t *testing.T) {
	requirePythonModule(t, "mistral.lang.parser", "python3-mistral")
	files := workflowFiles(t)
	mistral := mistralVerdicts(t, files)

	args := append([]string{"workflow", "validate", "-f", "json"}, files...)
	out, err := exec.Command(fernetflowBin, args...).Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("fernetflow workflow validate: %v", err)
		}
	}
	var ours []struct {
		File     string   `json:"file"`
		Valid    bool     `json:"valid"`
		Errors   []string `json:"errors"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(out, &ours); err != nil {
		t.Fatalf("fernetflow workflow validate -f json: %v\n%s", err, out)
	}
	if len(ours) != len(files) {
		t.Fatalf("fernetflow judged %d of %d files", len(ours), len(files))
	}
	for _, o := range ours {
		m := mistral[o.File]
		dir := filepath.Base(filepath.Dir(o.File))
		switch dir {
		case "bad":
			if o.Valid || m.Valid {
				t.Errorf("%s: broken file accepted (fernetflow valid=%v, Mistral valid=%v)", o.File, o.Valid, m.Valid)
			}
		case "stricter":
			if !o.Valid || len(o.Warnings) == 0 {
				t.Errorf("%s: want valid with a warning (Mistral's parser accepts it; fernetflow's engine refuses it), got valid=%v errors %q warnings %q", o.File, o.Valid, o.Errors, o.Warnings)
			}
			if !m.Valid {
				t.Errorf("%s: Mistral now rejects it too (%s: %s): move it to testdata/bad", o.File, m.ErrorType, m.Error)
			}
		default:
			if len(o.Warnings) > 0 {
				t.Errorf("%s: fernetflow warns: %s", o.File, strings.Join(o.Warnings, "; "))
			}
			if !o.Valid {
				t.Errorf("%s: fernetflow rejects it: %s", o.File, strings.Join(o.Errors, "; "))
			}
			if !m.Valid {
				t.Errorf("%s: Mistral rejects it: %s: %s", o.File, m.ErrorType, m.Error)
			}
		}
	}
	t.Logf("%d workflow files judged by fernetflow and python3-mistral", len(files))
}

// TestYAML11Referee runs PyYAML (the YAML parser of Mistral 15) over the
// plain scalars of workflow/testdata/yaml11_scalars.json: what it reads
// must be what the file says, which the engine's TestYAML11Scalars holds
// fernetflow's decoder to.
func TestYAML11Referee(t *testing.T) {
	requirePythonModule(t, "yaml", "python3-yaml")
	file := filepath.Join(repoRoot, "workflow/testdata/yaml11_scalars.json")
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, filepath.Join(repoRoot, "workflow/testdata/yaml11_scalars.py"))
	cmd.Stdin = strings.NewReader(string(want))
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("yaml11_scalars.py: %v", err)
	}
	var g, w []map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("yaml11_scalars.py printed %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if len(g) != len(w) {
		t.Fatalf("PyYAML judged %d of %d scalars", len(g), len(w))
	}
	for i := range w {
		if !jsonEqual(g[i], w[i]) {
			t.Errorf("PyYAML reads %v, %s says %v: regenerate it with yaml11_scalars.py and look at the engine's TestYAML11Scalars", g[i], file, w[i])
		}
	}
	t.Logf("%d plain scalars read alike by PyYAML and the file", len(w))
}
