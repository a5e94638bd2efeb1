package register

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// TagWorkflows returns the workflow definition src with the tag Tag
// added to each of its workflows, and their names in document order.
// Nothing else changes, byte for byte: one line "tags: [fernetflow]" is
// inserted after each workflow's key, indented as the workflow's first
// key. Mistral resolves the workflows' actions (fleet.check, ...) to the
// ad-hoc actions of the same names.
//
// Each top-level key but "version" must be a workflow written as a block
// mapping without tags of its own.
func TagWorkflows(src []byte) ([]byte, []string, error) {
	// The tags go in by line, counted at '\n'; YAML also breaks lines at a
	// lone '\r' and at NEL, LS and PS, where the two counts would differ.
	if i := otherLineBreak(src); i >= 0 {
		return nil, nil, fmt.Errorf("mistral: workflow definition, byte %d: a line break other than \\n or \\r\\n (a lone carriage return, NEL, LS or PS) cannot be tagged", i)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("mistral: workflow definition: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("mistral: workflow definition: not a mapping of workflows")
	}
	root := doc.Content[0]
	if root.Style&yaml.FlowStyle != 0 {
		return nil, nil, errors.New("mistral: workflow definition: a flow mapping ({...}) cannot be tagged")
	}
	insert := map[int]string{} // after line -> text
	var names []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return nil, nil, fmt.Errorf("mistral: workflow definition, line %d: a workflow's name must be a string", k.Line)
		}
		if k.Value == "version" {
			continue
		}
		if v.Kind != yaml.MappingNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 || v.Line == k.Line {
			return nil, nil, fmt.Errorf("mistral: workflow %s, line %d: not a block mapping, cannot be tagged", k.Value, k.Line)
		}
		for j := 0; j < len(v.Content); j += 2 {
			if v.Content[j].Value == "tags" {
				return nil, nil, fmt.Errorf("mistral: workflow %s, line %d: has tags already", k.Value, v.Content[j].Line)
			}
		}
		insert[k.Line] = strings.Repeat(" ", v.Content[0].Column-1) + "tags: [" + Tag + "]\n"
		names = append(names, k.Value)
	}
	var out bytes.Buffer
	out.Grow(len(src) + len(insert)*24)
	rest := src
	for line := 1; len(rest) > 0; line++ {
		n := bytes.IndexByte(rest, '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		out.Write(rest[:n])
		rest = rest[n:]
		if text, ok := insert[line]; ok {
			if n == 0 || out.Bytes()[out.Len()-1] != '\n' {
				out.WriteByte('\n')
			}
			out.WriteString(text)
		}
	}
	if err := checkTagged(src, out.Bytes(), names); err != nil {
		return nil, nil, fmt.Errorf("mistral: workflow definition: cannot be tagged safely (%w): write each workflow as a plain block mapping", err)
	}
	return out.Bytes(), names, nil
}

// checkTagged proves the line insertion right for this src: out decodes to
// src's data plus, in each named workflow, tags: [Tag]. YAML a line cannot
// be inserted into (a complex key, say) is refused instead of changed.
func checkTagged(src, out []byte, names []string) error {
	var before, after map[string]any
	if err := yaml.Unmarshal(src, &before); err != nil {
		return err
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		return err
	}
	for _, n := range names {
		var tags any
		switch wf := after[n].(type) {
		case map[string]any:
			tags = wf["tags"]
			delete(wf, "tags")
		case map[any]any:
			tags = wf["tags"]
			delete(wf, "tags")
		}
		if l, _ := tags.([]any); len(l) != 1 || l[0] != Tag {
			return fmt.Errorf("workflow %s did not get the tag", n)
		}
	}
	if !reflect.DeepEqual(before, after) {
		return errors.New("the tag changed more than the tags")
	}
	return nil
}

// otherLineBreak is the offset of the first line break of src that is not
// "\n" or "\r\n", or -1.
func otherLineBreak(src []byte) int {
	for i := 0; i < len(src); i++ {
		switch {
		case src[i] == '\r' && (i+1 == len(src) || src[i+1] != '\n'):
			return i
		case bytes.HasPrefix(src[i:], []byte("\u0085")), bytes.HasPrefix(src[i:], []byte("\u2028")), bytes.HasPrefix(src[i:], []byte("\u2029")):
			return i
		}
	}
	return -1
}
