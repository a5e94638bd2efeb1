package rotation

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/fleet"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// TestInputsMatchDefinitions checks that every Input gives exactly the
// inputs its workflow declares, and that the Go defaults (zero values,
// DefaultRotateInput) are the defaults the YAML declares, so that a run
// from Go and one from Mistral (which sees only the YAML) agree.
func TestInputsMatchDefinitions(t *testing.T) {
	reg, err := Registry(&actions.FleetHost{Undercloud: &fleet.Undercloud{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := definitions.Load(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []Input{DefaultRotateInput(), DistributeInput{}, CheckInput{}, EnrollInput{}} {
		t.Run(string(in.Workflow()), func(t *testing.T) {
			f := files[string(in.Workflow())]
			if f == nil {
				t.Fatalf("no definition of %s", in.Workflow())
			}
			w := f.Workflow(string(in.Workflow()))
			got := in.Map()
			var declared []string
			for _, p := range w.Input {
				declared = append(declared, p.Name)
				v, ok := got[p.Name]
				if !ok {
					t.Errorf("input %s is declared but not given", p.Name)
					continue
				}
				if p.HasDefault && !reflect.DeepEqual(normal(v), normal(p.Default)) {
					t.Errorf("input %s: Go's default %#v, the definition's %#v", p.Name, v, p.Default)
				}
			}
			for k := range got {
				if !slices.Contains(declared, k) {
					t.Errorf("input %s is given but %s does not declare it", k, in.Workflow())
				}
			}
		})
	}
}

// normal makes numbers and empty lists comparable across Go and YAML.
func normal(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case []any:
		if len(x) == 0 {
			return []any{}
		}
	}
	return v
}

func TestRotateInputValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   RotateInput
		ok   bool
	}{
		{"keystone defaults", DefaultRotateInput(), true},
		{"zero window", RotateInput{MaxActiveKeys: 5, TokenExpiration: time.Hour}, true},
		{"negative keys", RotateInput{MaxActiveKeys: -1}, false},
		{"negative expiration", RotateInput{TokenExpiration: -time.Second}, false},
		{"beyond 100 years", RotateInput{AllowExpiredWindow: 200 * 365 * 24 * time.Hour}, false},
	} {
		if err := tc.in.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
