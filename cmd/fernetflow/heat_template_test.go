package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHeatTemplateMatchesCheckedIn regenerates heat/templates/ with the
// command and compares byte for byte with the checked-in files.
func TestHeatTemplateMatchesCheckedIn(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, "", "heat", "template", "--output", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, "", "heat", "template")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "fernet-rotation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(got) {
		t.Error("--output - and --output DIR differ")
	}
	want, err := os.ReadFile("../../heat/templates/fernet-rotation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("heat/templates/fernet-rotation.yaml is stale: run fernetflow heat template --output heat/templates")
	}
}
