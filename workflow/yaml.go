package workflow

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Pos is a 1-based line and column in a workflow file.
type Pos struct {
	Line, Column int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// posIndex maps a path in the document ("/wf/tasks/t1/action") to where
// its key starts (keys) and where its value starts (vals).
type posIndex struct {
	keys map[string]Pos
	vals map[string]Pos
	// dups are keys written twice in one mapping: PyYAML (so Mistral)
	// keeps the last value; fernetflow does too and reports each
	// (Error.Stricter).
	dups ErrorList
	// stamps are the paths of plain scalars YAML 1.1 reads as dates:
	// PyYAML makes them datetimes, which Mistral refuses (schemaCheck).
	stamps []string
}

func (ix *posIndex) key(path string) Pos {
	if p, ok := ix.keys[path]; ok {
		return p
	}
	return ix.val(path)
}

// val returns the value's position, or the nearest enclosing one.
func (ix *posIndex) val(path string) Pos {
	for {
		if p, ok := ix.vals[path]; ok {
			return p
		}
		if p, ok := ix.keys[path]; ok {
			return p
		}
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			return Pos{1, 1}
		}
		path = path[:i]
	}
}

// decodeYAML parses src into the data model (nil, bool, int64, float64,
// string, []any, map[string]any) and records the position of every node.
// A file must hold exactly one YAML document.
func decodeYAML(file string, src []byte) (any, *posIndex, error) {
	f, err := parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, nil, yamlError(file, err)
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, nil, &Error{File: file, Pos: Pos{1, 1}, Msg: "the file is empty: a workflow file starts with version: '2.0'"}
	}
	if len(docs) > 1 {
		return nil, nil, &Error{File: file, Pos: nodePos(docs[1].Body), Msg: "a second YAML document: a workflow file holds one document (put every workflow under the same version: '2.0')"}
	}
	ix := &posIndex{keys: map[string]Pos{}, vals: map[string]Pos{}}
	d := &decoder{file: file, ix: ix, anchors: map[string]ast.Node{}}
	v, err := d.node(docs[0].Body, "", 0)
	if err != nil {
		return nil, nil, err
	}
	return v, ix, nil
}

func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tk := ye.GetToken()
		return &Error{File: file, Pos: Pos{tk.Position.Line, tk.Position.Column}, Msg: "YAML: " + ye.GetMessage()}
	}
	return &Error{File: file, Pos: Pos{1, 1}, Msg: "YAML: " + err.Error()}
}

func nodePos(n ast.Node) Pos {
	if n == nil || n.GetToken() == nil {
		return Pos{1, 1}
	}
	p := n.GetToken().Position
	return Pos{p.Line, p.Column}
}

type decoder struct {
	file    string
	ix      *posIndex
	anchors map[string]ast.Node
}

// escapeKey makes a mapping key safe inside a path (JSON pointer style).
// pointerEscaper escapes a key as a JSON Pointer (RFC 6901) token.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapeKey(k string) string { return pointerEscaper.Replace(k) }

// unescapeKey undoes escapeKey.
func unescapeKey(k string) string { return pointerUnescaper.Replace(k) }

var pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

func (d *decoder) errf(n ast.Node, format string, args ...any) error {
	return &Error{File: d.file, Pos: nodePos(n), Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) node(n ast.Node, path string, depth int) (any, error) {
	if depth > 100 {
		return nil, d.errf(n, "YAML nested more than 100 levels deep")
	}
	if _, seen := d.ix.vals[path]; !seen {
		d.ix.vals[path] = nodePos(n)
	}
	if text, ok := plainScalar(n); ok {
		v, kind, err := resolveYAML11(text)
		switch {
		case err != nil:
			return nil, d.errf(n, "%v", err)
		case kind == unreadable:
			return nil, d.errf(n, "a plain %s is a YAML 1.1 key type that the YAML parser Mistral uses (PyYAML) cannot read as a value: quote it ('%s')", text, text)
		case kind == timestampValue:
			d.ix.stamps = append(d.ix.stamps, path)
		}
		return v, nil
	}
	switch x := n.(type) {
	case nil:
		return nil, nil
	case *ast.NullNode:
		return nil, nil
	case *ast.BoolNode:
		return x.Value, nil
	case *ast.IntegerNode:
		switch v := x.Value.(type) {
		case int64:
			return v, nil
		case uint64:
			if v > math.MaxInt64 {
				return nil, d.errf(n, "integer %d is out of range", v)
			}
			return int64(v), nil
		case int:
			return int64(v), nil
		}
		i, err := strconv.ParseInt(x.GetToken().Value, 0, 64)
		if err != nil {
			return nil, d.errf(n, "integer %s is out of range", x.GetToken().Value)
		}
		return i, nil
	case *ast.FloatNode:
		return x.Value, nil
	case *ast.InfinityNode:
		return x.Value, nil
	case *ast.NanNode:
		return math.NaN(), nil
	case *ast.StringNode:
		return x.Value, nil
	case *ast.LiteralNode:
		return x.Value.Value, nil
	case *ast.TagNode:
		switch x.Start.Value {
		case "!!str":
			if s, ok := x.Value.(ast.ScalarNode); ok {
				return fmt.Sprint(s.GetValue()), nil
			}
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
			return d.node(x.Value, path, depth+1)
		}
		return nil, d.errf(n, "YAML tag %s is not supported in a workflow file", x.Start.Value)
	case *ast.AnchorNode:
		if x.Name != nil {
			d.anchors[x.Name.GetToken().Value] = x.Value
		}
		return d.node(x.Value, path, depth+1)
	case *ast.AliasNode:
		name := x.Value.GetToken().Value
		target, ok := d.anchors[name]
		if !ok {
			return nil, d.errf(n, "alias *%s names no anchor defined above it", name)
		}
		return d.node(target, path, depth+1)
	case *ast.MappingNode:
		return d.mapping(x.Values, path, depth)
	case *ast.MappingValueNode:
		return d.mapping([]*ast.MappingValueNode{x}, path, depth)
	case *ast.SequenceNode:
		out := make([]any, 0, len(x.Values))
		for i, e := range x.Values {
			v, err := d.node(e, path+"/"+strconv.Itoa(i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ast.CommentNode, *ast.CommentGroupNode:
		return nil, nil
	}
	return nil, d.errf(n, "unsupported YAML node %s", n.Type())
}

func (d *decoder) mapping(values []*ast.MappingValueNode, path string, depth int) (any, error) {
	out := make(map[string]any, len(values))
	for _, mv := range values {
		if mv.Key == nil {
			continue
		}
		if mv.Key.Type() == ast.MergeKeyType {
			return nil, d.errf(mv.Key, "merge keys (<<) are not supported in a workflow file")
		}
		kv, err := d.node(mv.Key, path+"/\x00key", depth+1)
		if err != nil {
			return nil, err
		}
		var k string
		switch kk := kv.(type) {
		case string:
			k = kk
		case nil:
			k = "null"
		case bool:
			word := mv.Key.GetToken().Value
			return nil, d.errf(mv.Key, "key %s is a boolean (%v) for the YAML 1.1 parser Mistral uses, not a name: quote it ('%s') or rename it", word, map[bool]string{true: "True", false: "False"}[kk], word)
		default:
			k = fmt.Sprint(kk)
		}
		if _, dup := out[k]; dup {
			e := d.errf(mv.Key, "key %q appears twice in the same mapping: Mistral keeps this last one, the first is lost", k).(*Error)
			e.Stricter = true
			d.ix.dups = append(d.ix.dups, e)
		}
		p := path + "/" + escapeKey(k)
		d.ix.keys[p] = nodePos(mv.Key)
		v, err := d.node(mv.Value, p, depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	delete(d.ix.vals, path+"/\x00key")
	return out, nil
}

// plainScalar gives the text of a scalar written without quotes, whose
// type YAML 1.1 decides (resolveYAML11).
func plainScalar(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.NullNode, *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		tk := n.GetToken()
		if tk == nil {
			return "", false
		}
		return tk.Value, true
	case *ast.StringNode:
		if tk := x.GetToken(); tk != nil && tk.Type == token.StringType {
			return x.Value, true
		}
	}
	return "", false
}
