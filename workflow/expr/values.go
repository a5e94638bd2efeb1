package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// typeName names a value's type in error messages, in yaql's terms.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case *letContext:
		return "context"
	case *setValue:
		return "set"
	case *regexValue:
		return "regex"
	case *yaqlIter:
		return "iterator"
	}
	return fmt.Sprintf("%T", v)
}

// Truthy is Python's truth value, which YAQL conditions and Mistral's
// transitions use: null, false, 0, 0.0, "", [] and {} are false.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case *setValue:
		return len(x.elems) > 0
	case *yaqlIter:
		return !x.rng || len(x.items) > 0 // Python: an iterator is true, a range by its length
	}
	return true
}

// number reports v as a float when it is an integer or a float (Python's
// == treats booleans as 0 and 1 too, so equal passes bools explicitly).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// equalB is Python's == on JSON-like values (1 = 1.0 and true = 1). It
// gives up, with false and *budget < 0, after visiting *budget nodes.
func equalB(a, b any, budget *int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if x, ok := a.(bool); ok {
		if _, isBool := b.(bool); !isBool {
			if _, isNum := number(b); !isNum {
				return false
			}
			a = boolInt(x)
		}
	}
	if y, ok := b.(bool); ok {
		if _, isBool := a.(bool); !isBool {
			if _, isNum := number(a); !isNum {
				return false
			}
			b = boolInt(y)
		}
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		f, ok := number(b)
		return ok && x == f
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalB(x[i], y[i], budget) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalB(v, w, budget) {
				return false
			}
		}
		return true
	case *setValue:
		y, ok := b.(*setValue)
		return ok && x.subset(y, budget) && y.subset(x, budget)
	}
	return false
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// sortedKeys returns a dict's keys in order: the data model has no
// insertion order, so every walk over a dict is by sorted key.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pyNonFinite is how Python writes an infinity or NaN, in repr and in
// every format: inf, -inf, nan.
func pyNonFinite(f float64) (string, bool) {
	switch {
	case math.IsInf(f, 1):
		return "inf", true
	case math.IsInf(f, -1):
		return "-inf", true
	case math.IsNaN(f):
		return "nan", true
	}
	return "", false
}

// pyFloat formats f as Python's repr does: 1.0, 0.1, 1e+16, 1e-05.
func pyFloat(f float64) string {
	if s, ok := pyNonFinite(f); ok {
		return s
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		if len(exp) < 2 {
			exp = strings.Repeat("0", 2-len(exp)) + exp
		}
		return mant + "e" + string(sign) + exp
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyRepr writes v as Python's repr() would show the value Mistral holds.
// In tuple mode lists print as tuples, as yaql's str() shows input data.
func pyRepr(v any, tuples bool) string {
	var b strings.Builder
	writeRepr(&b, v, tuples)
	return b.String()
}

func writeRepr(b *strings.Builder, v any, tuples bool) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(pyFloat(x))
	case string:
		writeStrRepr(b, x)
	case []any:
		open, close := "[", "]"
		if tuples {
			open, close = "(", ")"
		}
		b.WriteString(open)
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, tuples)
		}
		if tuples && len(x) == 1 {
			b.WriteString(",")
		}
		b.WriteString(close)
	case map[string]any:
		b.WriteString("{")
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStrRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, x[k], tuples)
		}
		b.WriteString("}")
	case *setValue:
		if x.view != nil { // Python's repr of collections.abc.ItemsView
			b.WriteString("ItemsView(")
			writeRepr(b, x.view, tuples)
			b.WriteString(")")
			return
		}
		// yaql's sets are frozensets: str(set(1)) is "frozenset({1})".
		if len(x.elems) == 0 {
			b.WriteString("frozenset()")
			return
		}
		b.WriteString("frozenset({")
		for i, e := range x.elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, tuples)
		}
		b.WriteString("})")
	case *regexValue:
		b.WriteString("re.compile(")
		writeStrRepr(b, x.src)
		b.WriteString(")")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

func writeStrRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, "\"") {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
}

// yaqlStr is yaql's str(): strings as they are, null as "null", booleans
// as "true"/"false", collections as Python shows yaql's frozen input data.
func yaqlStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return x
	}
	return pyRepr(v, true)
}

// pyStr is Python's str() on a result, as Mistral uses it to splice an
// expression's value into the surrounding text.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v, false)
}

// MarshalJSON encodes a value of the data model as JSON, keeping integers
// and floats apart the way Python's json module does (1 and 1.0). Dict keys
// are sorted. indent "" gives compact output.
func MarshalJSON(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v, indent, "", ", ", ": ", false); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSON writes v. With an indent, items are separated by itemSep with
// its trailing space dropped, as Python does.
func writeJSON(b *bytes.Buffer, v any, indent, prefix, itemSep, keySep string, ascii bool) error {
	nl := func(p string) {
		if indent != "" {
			b.WriteByte('\n')
			b.WriteString(p)
		}
	}
	sep := itemSep
	if indent != "" {
		sep = strings.TrimRight(itemSep, " ")
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		case math.IsNaN(x):
			b.WriteString("NaN")
		default:
			b.WriteString(pyFloat(x))
		}
	case string:
		writeJSONString(b, x, ascii)
	case *setValue: // Mistral's JSON encoder writes a set as a list
		return writeJSON(b, x.elems, indent, prefix, itemSep, keySep, ascii)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(prefix + indent)
			if err := writeJSON(b, e, indent, prefix+indent, itemSep, keySep, ascii); err != nil {
				return err
			}
		}
		nl(prefix)
		b.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(prefix + indent)
			writeJSONString(b, k, ascii)
			b.WriteString(keySep)
			if err := writeJSON(b, x[k], indent, prefix+indent, itemSep, keySep, ascii); err != nil {
				return err
			}
		}
		nl(prefix)
		b.WriteByte('}')
	default:
		return fmt.Errorf("expr: a %s is not JSON", typeName(v))
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string, ascii bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (ascii && r > 0x7e):
				if r > 0xffff {
					r1, r2 := utf16Pair(r)
					fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			case r == utf8.RuneError:
				b.WriteString(`\ufffd`)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// UnmarshalJSON decodes JSON into the data model: integers become int64,
// numbers with a fraction or an exponent float64.
func UnmarshalJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("expr: decode JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("expr: decode JSON: more than one value")
	}
	return Normalize(v)
}

// Normalize converts Go values into the data model: nil, bool, int64,
// float64, string, []any and map[string]any. It accepts the other integer
// and float types, json.Number, typed slices and maps with string keys.
func Normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("expr: integer %d does not fit in 64 bits", x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("expr: integer %d does not fit in 64 bits", x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			return nil, fmt.Errorf("expr: integer %s does not fit in 64 bits", s)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("expr: number %s: %w", s, err)
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out, nil
	}
	// Anything else goes through encoding/json (structs with json tags).
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("expr: value of type %T: %w", v, err)
	}
	return UnmarshalJSON(data)
}

// valueSize counts the nodes of v plus the bytes of its strings, stopping
// as soon as the count passes limit: values may share structure, so that
// a small expression can build a value whose full size is enormous.
func valueSize(v any, limit int) int {
	n := 0
	var walk func(any) bool
	walk = func(v any) bool {
		n++
		switch x := v.(type) {
		case string:
			n += len(x)
		case []any:
			for _, e := range x {
				if n > limit || !walk(e) {
					return false
				}
			}
		case *setValue:
			return walk(x.elems)
		case *lazySeq:
			n = limit + 1 // endless: Mistral lists it until memory runs out
			return false
		case map[string]any:
			for k, e := range x {
				n += len(k)
				if n > limit || !walk(e) {
					return false
				}
			}
		}
		return n <= limit
	}
	walk(v)
	return n
}

// shortRepr is pyRepr for error messages: a big value is named by its type.
func shortRepr(v any) string {
	if valueSize(v, 200) > 200 {
		return article(v)
	}
	return pyRepr(v, false)
}

// unmarshalPythonJSON is UnmarshalJSON with the extensions of Python's
// json.loads, which Mistral's json_parse() calls: the bare words NaN,
// Infinity and -Infinity are floats. encoding/json refuses them, so each
// is replaced by a sentinel string before decoding and by its float after:
// the sentinel starts with a Unicode noncharacter the text does not hold
// (neither raw nor as a \u escape), so no string of the text can equal it.
func unmarshalPythonJSON(data []byte) (any, error) {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return UnmarshalJSON(data)
	}
	mark := rune(-1)
	lower := bytes.ToLower(data)
	for r := rune(0xFDD0); r <= 0xFDEF; r++ {
		if !bytes.ContainsRune(data, r) && !bytes.Contains(lower, fmt.Appendf(nil, `\u%04x`, r)) {
			mark = r
			break
		}
	}
	if mark < 0 {
		return UnmarshalJSON(data)
	}
	words := []string{"-Infinity", "Infinity", "NaN"}
	floats := map[string]float64{}
	var out bytes.Buffer
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out.WriteByte(c)
			switch c {
			case '\\':
				if i+1 < len(data) {
					i++
					out.WriteByte(data[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			out.WriteByte(c)
			continue
		}
		replaced := false
		for k, w := range words {
			if bytes.HasPrefix(data[i:], []byte(w)) {
				s := fmt.Sprintf("%c%d", mark, k)
				floats[s] = [...]float64{math.Inf(-1), math.Inf(1), math.NaN()}[k]
				out.WriteString(strconv.Quote(s))
				i += len(w) - 1
				replaced = true
				break
			}
		}
		if !replaced {
			out.WriteByte(c)
		}
	}
	v, err := UnmarshalJSON(out.Bytes())
	if err != nil || len(floats) == 0 {
		return v, err
	}
	var put func(any) any
	put = func(v any) any {
		switch x := v.(type) {
		case string:
			if f, ok := floats[x]; ok {
				return f
			}
		case []any:
			for i, e := range x {
				x[i] = put(e)
			}
		case map[string]any:
			for k, e := range x {
				if _, ok := floats[k]; ok {
					err = errors.New("expr: decode JSON: a key is not a string (Python: Expecting property name enclosed in double quotes)")
				}
				x[k] = put(e)
			}
		}
		return v
	}
	v = put(v)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// pyFloatMod is Python's float %: the sign of the divisor, and a zero
// result signed as the divisor (0.0 % -1.5 is -0.0).
func pyFloatMod(a, b float64) float64 {
	m := math.Mod(a, b)
	if m == 0 {
		return math.Copysign(0, b)
	}
	if (m < 0) != (b < 0) {
		m += b
	}
	return m
}
