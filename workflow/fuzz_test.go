package workflow

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser and the semantic checks:
// they must return a file or an ErrorList with positions, never panic.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/bad/*.yaml", "testdata/good/*.yaml", "testdata/conformance/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("version: '2.0'\nwf:\n  tasks:\n    a: {action: std.noop}\n"))
	reg := StdRegistry()
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Load("fuzz.yaml", src, reg)
		if err == nil {
			if file == nil || len(file.Workflows) == 0 {
				t.Fatal("accepted a file without workflows")
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok {
			t.Fatalf("error %T is not an ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("error without a position: %v", e)
			}
		}
	})
}
