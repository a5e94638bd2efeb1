package output

import (
	"bytes"
	"strings"
	"testing"
)

type tabled struct{ Name string }

func (t tabled) Table() ([]string, [][]string) {
	return []string{"NAME"}, [][]string{{t.Name}}
}

func TestWrite(t *testing.T) {
	type plain struct {
		Generation int    `json:"generation"`
		Primary    string `json:"primary"`
	}
	tests := []struct {
		name   string
		format Format
		v      any
		want   string
	}{
		{"json", JSON, plain{3, "4"}, "{\n  \"generation\": 3,\n  \"primary\": \"4\"\n}\n"},
		{"yaml", YAML, plain{3, "4"}, "generation: 3\nprimary: \"4\"\n"},
		{"table from fields", Table, plain{3, "4"}, "FIELD       VALUE\ngeneration  3\nprimary     4\n"},
		{"table from Tabler", Table, tabled{"ctl-0"}, "NAME\nctl-0\n"},
		{"table of a list", Table, []int{1, 2}, "VALUE\n1\n2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tt.format, tt.v); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, ok := range []string{"table", "json", "YAML"} {
		if _, err := ParseFormat(ok); err != nil {
			t.Errorf("ParseFormat(%q): %v", ok, err)
		}
	}
	_, err := ParseFormat("xml")
	if err == nil || !strings.Contains(err.Error(), Formats) {
		t.Errorf("ParseFormat(xml) = %v, want an error naming %s", err, Formats)
	}
}
