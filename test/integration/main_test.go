//go:build integration

// Package integration holds the suites that check fernetflow against the
// real parts from Debian's packages: keystone-manage, python3-cryptography,
// the age CLI, python3-yaql and Mistral's evaluator, Heat and
// os-collect-config. Run them with `make integration`; each suite starts
// what it needs on 127.0.0.1 and stops it.
//
// A suite skips with a one-line reason when a tool is absent, except under
// CI (CI=true), where .ci/run has installed everything and a missing tool
// is a failure.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// debianPython is Debian's interpreter: the python3 on PATH may be a pyenv
// build that cannot import Debian's keystone, yaql, mistral or cryptography.
const debianPython = "/usr/bin/python3"

// fernetflowBin is the binary built once by TestMain for the suites.
var fernetflowBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fernetflow-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fernetflowBin = filepath.Join(dir, "fernetflow")
	build := exec.Command("go", "build", "-o", fernetflowBin, "github.com/fernetflow/fernetflow/cmd/fernetflow")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fernetflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool skips the test when path is not executable, or fails it under CI.
func requireTool(t testing.TB, path, debianPackage string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: .ci/run must install Debian's %s", path, debianPackage)
	}
	t.Skipf("%s not found: apt-get install %s", path, debianPackage)
}

// requirePythonModule skips (or fails under CI) when Debian's python3 cannot import mod.
func requirePythonModule(t testing.TB, mod, debianPackage string) {
	t.Helper()
	requireTool(t, debianPython, "python3")
	if err := exec.Command(debianPython, "-c", "import "+mod).Run(); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python module %s is missing: .ci/run must install Debian's %s", mod, debianPackage)
	}
	t.Skipf("python module %s not importable by %s: apt-get install %s", mod, debianPython, debianPackage)
}

// run runs a command and fails the test with its output when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
