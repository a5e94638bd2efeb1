package workflow

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// YAML 1.1's implicit types, as PyYAML's SafeLoader (and so Mistral)
// resolves a plain scalar: goccy/go-yaml follows YAML 1.2, where 1e3 is a
// float, 0o17 an integer and 12:30 a string; in YAML 1.1 they are a
// string, a string and 750. The patterns are YAML 1.1's type definitions
// (yaml.org/type/{bool,int,float,null,timestamp,value}.html), tried in
// PyYAML's order: bool, float, int, merge, null, timestamp, value.
var (
	yaml11Bool      = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yaml11Float     = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yaml11Int       = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Null      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	yaml11Timestamp = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// scalarKind is what a plain scalar is to YAML 1.1 beyond the data model.
type scalarKind int

const (
	plainValue scalarKind = iota
	// timestampValue is a date or a date and time: PyYAML makes it a
	// datetime, which Mistral's DSL schema refuses wherever it checks a
	// type and its API cannot store anywhere else (HTTP 500).
	timestampValue
	// unreadable is "=" (YAML 1.1's value key) or "<<" (its merge key)
	// written as a value: PyYAML's SafeLoader has no constructor for
	// them there and refuses the file.
	unreadable
)

// resolveYAML11 gives the value of the plain (unquoted) scalar text as
// PyYAML reads it. An integer beyond 64 bits is an error: the data model
// has no bigger one.
func resolveYAML11(text string) (any, scalarKind, error) {
	if text == "" {
		return nil, plainValue, nil
	}
	switch {
	case yaml11Bool.MatchString(text):
		return text[0] == 'y' || text[0] == 'Y' || text[0] == 't' || text[0] == 'T' || text == "on" || text == "On" || text == "ON", plainValue, nil
	case yaml11Float.MatchString(text):
		return yaml11ParseFloat(text), plainValue, nil
	case yaml11Int.MatchString(text):
		i, err := yaml11ParseInt(text)
		return i, plainValue, err
	case yaml11Null.MatchString(text):
		return nil, plainValue, nil
	case yaml11Timestamp.MatchString(text):
		return text, timestampValue, nil
	case text == "=" || text == "<<":
		return text, unreadable, nil
	}
	return text, plainValue, nil
}

// sign splits a leading + or - off s.
func sign(s string) (neg bool, rest string) {
	switch {
	case strings.HasPrefix(s, "-"):
		return true, s[1:]
	case strings.HasPrefix(s, "+"):
		return false, s[1:]
	}
	return false, s
}

// yaml11ParseInt is PyYAML's construct_yaml_int: underscores dropped,
// 0b binary, 0x hexadecimal, a leading 0 octal, a:b:c base 60.
func yaml11ParseInt(text string) (int64, error) {
	neg, s := sign(strings.ReplaceAll(text, "_", ""))
	n := new(big.Int)
	switch {
	case s == "0":
	case strings.HasPrefix(s, "0b"):
		n.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		n.SetString(s[2:], 16)
	case strings.Contains(s, ":"):
		d := new(big.Int)
		for _, part := range strings.Split(s, ":") {
			d.SetString(part, 10)
			n.Mul(n, big.NewInt(60)).Add(n, d)
		}
	case s[0] == '0':
		n.SetString(s, 8)
	default:
		n.SetString(s, 10)
	}
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("integer %s is out of range (fernetflow's integers are 64-bit; quote it to keep it as text)", text)
	}
	return n.Int64(), nil
}

// yaml11ParseFloat is PyYAML's construct_yaml_float.
func yaml11ParseFloat(text string) float64 {
	neg, s := sign(strings.ToLower(strings.ReplaceAll(text, "_", "")))
	var f float64
	switch {
	case s == ".inf":
		f = math.Inf(1)
	case s == ".nan":
		return math.NaN()
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, _ := strconv.ParseFloat(part, 64)
			f = f*60 + d
		}
	default:
		f, _ = strconv.ParseFloat(s, 64) // the pattern admits only what Python's float() reads
	}
	if neg {
		f = -f
	}
	return f
}
