package fleet_test

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fernetflow/fernetflow"

// moduleDeps lists the packages of this module that pkg imports, directly
// or not, in its non-test files for this platform (pkg excluded). A
// package of another module cannot import one of this module's internal
// packages, so walking this module's imports finds every path to them.
func moduleDeps(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// via records, for each package reached, the import chain from pkg.
	via := map[string][]string{pkg: {pkg}}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		bp, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(p, module)), 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			if _, seen := via[imp]; seen || (imp != module && !strings.HasPrefix(imp, module+"/")) {
				continue
			}
			via[imp] = append(slices.Clone(via[p]), imp)
			queue = append(queue, imp)
		}
	}
	delete(via, pkg)
	return via
}

// TestUndercloudDoesNotImportNodeAgent: the undercloud side of a Heat
// cloud (fleet, the Heat target in deploy, and the wire types they read
// nodes' reports with) compiles no part of the node agent. Only the local
// target (internal/fleet/local), which runs nodes in the same process,
// may import it.
func TestUndercloudDoesNotImportNodeAgent(t *testing.T) {
	for _, pkg := range []string{module + "/internal/fleet", module + "/internal/deploy", module + "/internal/wire"} {
		deps := moduleDeps(t, pkg)
		for dep, chain := range deps {
			if dep == module+"/internal/node" || strings.HasPrefix(dep, module+"/internal/node/") {
				t.Errorf("%s imports the node agent: %s", pkg, strings.Join(chain, " -> "))
			}
		}
		if pkg == module+"/internal/fleet" && deps[module+"/internal/wire"] == nil {
			t.Errorf("%s no longer imports %s/internal/wire: is this test still looking at the right packages?", pkg, module)
		}
	}
	// The check itself works: the local target does reach the node agent.
	if deps := moduleDeps(t, module+"/internal/fleet/local"); deps[module+"/internal/node"] == nil {
		t.Errorf("internal/fleet/local does not import internal/node: the walk finds nothing")
	}
}
