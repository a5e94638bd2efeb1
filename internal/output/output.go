// Package output prints command results for people (aligned tables) and for
// scripts (JSON or YAML), the `-f table|json|yaml` contract every fernetflow
// command that prints data follows.
//
// A value prints as a table when it implements [Tabler]; any other value is
// shown as FIELD/VALUE rows taken from its JSON form, so a command never has
// to write a printer twice.
package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
)

// Format is an output format named by the -f flag.
type Format string

// The formats every command accepts.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// Formats lists the accepted values of -f, for help texts.
const Formats = "table|json|yaml"

// ParseFormat checks a -f value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Table, JSON, YAML:
		return f, nil
	}
	return "", fmt.Errorf("output format %q is not known: use one of %s", s, Formats)
}

// Tabler is implemented by results that know their table form: a header and
// one row per item, each row as long as the header.
type Tabler interface {
	Table() (header []string, rows [][]string)
}

// Write prints v to w in format f. JSON is indented and ends with a newline.
func Write(w io.Writer, f Format, v any) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case YAML:
		// Go through JSON so json tags and MarshalJSON decide the field names
		// and shapes in both formats.
		generic, err := toGeneric(v)
		if err != nil {
			return err
		}
		out, err := yaml.MarshalWithOptions(generic, yaml.IndentSequence(true))
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	case Table, "":
		if t, ok := v.(Tabler); ok {
			h, rows := t.Table()
			return writeTable(w, h, rows)
		}
		h, rows, err := fieldRows(v)
		if err != nil {
			return err
		}
		return writeTable(w, h, rows)
	}
	return fmt.Errorf("output format %q is not known: use one of %s", f, Formats)
}

func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(header) > 0 {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fieldRows renders any JSON-able value as FIELD/VALUE rows (objects), one
// VALUE column (lists of scalars) or a single cell.
func fieldRows(v any) ([]string, [][]string, error) {
	generic, err := toGeneric(v)
	if err != nil {
		return nil, nil, err
	}
	switch g := generic.(type) {
	case map[string]any:
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rows := make([][]string, 0, len(keys))
		for _, k := range keys {
			rows = append(rows, []string{k, Cell(g[k])})
		}
		return []string{"FIELD", "VALUE"}, rows, nil
	case []any:
		rows := make([][]string, 0, len(g))
		for _, item := range g {
			rows = append(rows, []string{Cell(item)})
		}
		return []string{"VALUE"}, rows, nil
	default:
		return nil, [][]string{{Cell(g)}}, nil
	}
}

// Cell renders one value for a table cell: strings as they are, anything
// else as compact JSON.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// toGeneric converts v to maps, slices and scalars through its JSON form,
// keeping integers as integers.
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return numbers(generic), nil
}

// numbers replaces json.Number with int64 or float64, which YAML prints
// as plain numbers.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
