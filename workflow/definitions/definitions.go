// Package definitions embeds fernetflow's Mistral DSL v2 workflows:
// rotate_fernet_keys (the rotation protocol, described at the top of its
// file), distribute_fernet_keys (push the current generation: repair, new
// nodes), check_fernet_keys (a report round and the probe; changes
// nothing) and enroll_nodes. The same files run on the embedded engine
// (package rotation binds them to fernetflow's actions) and on OpenStack
// Mistral.
package definitions

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/fernetflow/fernetflow/workflow"
)

//go:embed *.yaml
var files embed.FS

// Names lists the embedded files, sorted.
func Names() []string {
	names, _ := fs.Glob(files, "*.yaml")
	sort.Strings(names)
	return names
}

// Source returns one embedded file.
func Source(name string) ([]byte, error) { return files.ReadFile(name) }

// Load parses and checks every embedded file against reg and returns the
// workflows by name.
func Load(reg workflow.Registry) (map[string]*workflow.File, error) {
	out := map[string]*workflow.File{}
	for _, name := range Names() {
		src, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := workflow.Load(name, src, reg)
		if err != nil {
			return nil, err
		}
		for _, w := range f.Workflows {
			if _, dup := out[w.Name]; dup {
				return nil, fmt.Errorf("definitions: workflow %s is defined twice", w.Name)
			}
			out[w.Name] = f
		}
	}
	return out, nil
}
