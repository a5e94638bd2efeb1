package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkflowEval(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.json")
	if err := os.WriteFile(inv, []byte(`{"servers": [{"name": "ctl1", "role": "Controller"}, {"name": "cmp1", "role": "Compute"}], "ratio": 1.0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	invYAML := filepath.Join(dir, "inv.yaml")
	if err := os.WriteFile(invYAML, []byte("servers:\n  - name: ctl1\n    cpus: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "env.json")
	if err := os.WriteFile(env, []byte(`{"region": "RegionOne"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		want     string // stdout
		wantErr  string // substring of the error
		wantCode int
	}{
		{name: "where select", args: []string{"$.servers.where($.role = 'Controller').select($.name)", "--context", inv}, want: "[\n  \"ctl1\"\n]\n"},
		{name: "int division", args: []string{"3 / 2"}, want: "1\n"},
		{name: "float stays float", args: []string{"$.ratio * 2", "--context", inv}, want: "2.0\n"},
		{name: "embedded expression", args: []string{"nodes: <% len($.servers) %>", "--context", inv}, want: "\"nodes: 2\"\n"},
		{name: "whole template keeps type", args: []string{"<% $.servers.len() %>", "--context", inv}, want: "2\n"},
		{name: "yaml context", args: []string{"$.servers[0].cpus + 1", "--context", invYAML}, want: "5\n"},
		{name: "stdin context", args: []string{"$.a", "--context", "-"}, stdin: `{"a": [1, 2.5]}`, want: "[\n  1,\n  2.5\n]\n"},
		{name: "env", args: []string{"env().region", "--env", env}, want: "\"RegionOne\"\n"},
		{name: "table format still prints JSON", args: []string{"-f", "table", "[1]"}, want: "[\n  1\n]\n"},
		{name: "explicit yaml", args: []string{"-f", "yaml", "{a => 1}"}, want: "a: 1\n"},
		{name: "syntax error", args: []string{"$.servers +"}, wantErr: "column 12", wantCode: exitFailure},
		{name: "evaluation error", args: []string{"$.nope", "--context", inv}, wantErr: `key "nope" not found`, wantCode: exitFailure},
		{name: "missing context file", args: []string{"$", "--context", filepath.Join(dir, "nope.json")}, wantErr: "--context", wantCode: exitFailure},
		{name: "no expression", args: []string{}, wantErr: "one expression", wantCode: exitUsage},
		{name: "task outside a workflow", args: []string{"task(a).result"}, wantErr: "task()", wantCode: exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := newApp(strings.NewReader(tt.stdin), &stdout, &stderr).root()
			cmd.SetArgs(append([]string{"workflow", "eval"}, tt.args...))
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, stdout %q", stdout.String())
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
				}
				if code := exitCode(err); code != tt.wantCode {
					t.Errorf("exit code %d, want %d", code, tt.wantCode)
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout %q, want nothing on error", stdout.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := stdout.String(); got != tt.want {
				t.Errorf("stdout %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkflowEvalHelpHasExample(t *testing.T) {
	var stdout bytes.Buffer
	cmd := newApp(strings.NewReader(""), &stdout, &stdout).root()
	cmd.SetArgs([]string{"workflow", "eval", "--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fernetflow workflow eval '$.servers.where(", "--context", "Examples:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}
