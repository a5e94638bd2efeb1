package workflow

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected errors in testdata/bad/*.err")

// TestBadFiles checks that every broken file in testdata/bad and
// testdata/stricter is refused
// with the error written beside it (NAME.err: the first error, without the
// file name, "line:column: ..."). Refresh with go test -run TestBadFiles -update.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	stricter, _ := filepath.Glob("testdata/stricter/*.yaml")
	files = append(files, stricter...)
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/bad/*.yaml: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(name+".yaml", src, StdRegistry())
			if err == nil {
				t.Fatalf("%s was accepted", f)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			errs, warns := list.Split()
			stricter := filepath.Base(filepath.Dir(f)) == "stricter"
			if stricter && len(errs) > 0 {
				t.Errorf("Mistral's parser accepts %s, but fernetflow reports an error (not Error.Stricter): %v", f, errs)
			}
			if !stricter && len(errs) == 0 {
				t.Errorf("Mistral's parser rejects %s, but fernetflow only warns: %v", f, warns)
			}
			_, cerrs, cwarns := Check(name+".yaml", src, StdRegistry())
			if len(cerrs) != len(errs) || (stricter && len(cwarns) == 0) {
				t.Errorf("Check: %d errors, %d warnings; Load: %d errors, %d warnings", len(cerrs), len(cwarns), len(errs), len(warns))
			}
			first := list[0]
			got := strings.TrimPrefix(first.Error(), name+".yaml:")
			if first.Pos.Line < 1 || first.Pos.Column < 1 {
				t.Errorf("no position in %q", got)
			}
			errFile := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(errFile, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errFile)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(want)) != got {
				t.Errorf("error\n got: %s\nwant: %s", got, strings.TrimSpace(string(want)))
			}
		})
	}
}

// TestGoodFiles checks that every file in testdata/good and testdata/conformance loads.
func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	conf, _ := filepath.Glob("testdata/conformance/*.yaml")
	files = append(files, conf...)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f, src, StdRegistry()); err != nil {
			t.Errorf("%v", err)
		}
	}
	// The shipped definitions call package actions, which this package
	// does not import: check all but the action names.
	defs, _ := filepath.Glob("definitions/*.yaml")
	for _, f := range defs {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f, src, nil); err != nil {
			t.Errorf("%v", err)
		}
	}
}
