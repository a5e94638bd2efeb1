//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// yaqlTable is workflow/expr's conformance table; the Go unit test checks
// the Go evaluator against it, this suite checks it against Mistral.
var yaqlTable = filepath.Join("..", "..", "workflow", "expr", "testdata", "conformance.json")

// TestYaqlConformance runs every case of the table through Mistral 15's
// evaluator (mistral.expressions.evaluate on Debian's python3-yaql), in one
// Python process, and fails on any difference from the recorded value or
// error.
func TestYaqlConformance(t *testing.T) {
	requirePythonModule(t, "yaql", "python3-yaql")
	requirePythonModule(t, "mistral.expressions", "python3-mistral")
	table, err := os.ReadFile(yaqlTable)
	if err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join("..", "..", "workflow", "expr", "testdata", "mistral_eval.py")
	cmd := exec.Command(debianPython, driver, "check")
	cmd.Stdin = bytes.NewReader(table)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var report struct {
		Checked  int               `json:"checked"`
		Failures []json.RawMessage `json:"failures"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("%s: %v (%v)\nstdout:\n%s\nstderr:\n%s", driver, err, runErr, stdout.String(), stderr.String())
	}
	for _, f := range report.Failures {
		t.Errorf("Mistral disagrees with the table: %s", f)
	}
	if runErr != nil && len(report.Failures) == 0 {
		t.Fatalf("%s: %v\n%s", driver, runErr, stderr.String())
	}
	var cases struct {
		Cases []json.RawMessage `json:"cases"`
	}
	if err := json.Unmarshal(table, &cases); err != nil {
		t.Fatal(err)
	}
	if report.Checked != len(cases.Cases) || report.Checked < 150 {
		t.Errorf("Mistral checked %d cases, the table has %d (want at least 150)", report.Checked, len(cases.Cases))
	}
	t.Logf("Mistral agrees on %d of %d cases", report.Checked-len(report.Failures), report.Checked)
}

// TestYaqlCLIMatchesMistral evaluates a few expressions end to end with
// the fernetflow binary and with Mistral, and compares the JSON.
func TestYaqlCLIMatchesMistral(t *testing.T) {
	requirePythonModule(t, "mistral.expressions", "python3-mistral")
	dir := t.TempDir()
	ctxFile := filepath.Join(dir, "context.json")
	data := `{"servers": [{"name": "ctl1", "role": "Controller", "cpus": 4}, {"name": "cmp1", "role": "Compute", "cpus": 2.5}], "n": 7}`
	if err := os.WriteFile(ctxFile, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	exprs := []string{
		"$.servers.where($.role = 'Controller').select($.name)",
		"$.n / 2",
		"$.servers.select($.cpus * 2)",
		"<% $.servers.len() %>",
		"nodes: <% $.servers.name %>",
		"json_dump({a => [1, 2.0]})",
	}
	const py = `import json, sys
from mistral import config; config.parse_args([])
from mistral import expressions
src, data = sys.argv[1], json.load(open(sys.argv[2]))
if '<%' not in src: src = '<% ' + src + ' %>'
print(json.dumps(expressions.evaluate(src, data), sort_keys=True))`
	for _, e := range exprs {
		out, err := exec.Command(fernetflowBin, "workflow", "eval", e, "--context", ctxFile).Output()
		if err != nil {
			t.Errorf("fernetflow workflow eval %q: %v", e, err)
			continue
		}
		want := run(t, debianPython, "-c", py, e, ctxFile)
		if got, want := compactJSON(t, out), strings.TrimSpace(want); got != want {
			t.Errorf("%s: fernetflow prints %s, Mistral gives %s", e, got, want)
		}
	}
	// An error goes to stderr with a non-zero exit, as Mistral raises.
	cmd := exec.Command(fernetflowBin, "workflow", "eval", "$.missing", "--context", ctxFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil || len(out) != 0 || !strings.Contains(stderr.String(), `key "missing" not found`) {
		t.Errorf("$.missing: err %v, stdout %q, stderr %q; want a non-zero exit and the error on stderr", err, out, stderr.String())
	}
}

// compactJSON re-prints fernetflow's indented JSON as Python's
// json.dumps(sort_keys=True) does, keeping 1.0 apart from 1.
func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	in := strings.TrimSpace(string(b))
	inString := false
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case inString:
			out.WriteByte(c)
			if c == '\\' && i+1 < len(in) {
				i++
				out.WriteByte(in[i])
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
			out.WriteByte(c)
		case c == '\n' || c == ' ':
		case c == ',':
			out.WriteString(", ")
		case c == ':':
			out.WriteString(": ")
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}
