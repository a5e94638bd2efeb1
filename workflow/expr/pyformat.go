package expr

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// formatField resolves a str.format replacement field ("0", "name[1]",
// "0!r:>6") against the arguments; auto numbers {} fields.
func formatField(field string, args []any, named map[string]any, auto *int, manual *bool) (string, error) {
	spec, conv := "", ""
	if i := strings.IndexAny(field, "!:"); i >= 0 {
		rest := field[i:]
		field = field[:i]
		if rest[0] == '!' {
			if len(rest) < 2 || (len(rest) > 2 && rest[2] != ':') {
				return "", errors.New("expected ':' after conversion specifier")
			}
			conv = rest[1:2]
			rest = rest[2:]
		}
		if strings.HasPrefix(rest, ":") {
			spec = rest[1:]
		}
	}
	name, index := field, ""
	if i := strings.IndexByte(field, '['); i >= 0 {
		name, index = field[:i], field[i:]
	}
	var v any
	switch n, err := strconv.Atoi(name); {
	case name == "":
		if *manual {
			return "", errors.New("cannot switch from manual field specification to automatic field numbering")
		}
		*auto++
		if *auto > len(args) {
			return "", fmt.Errorf("replacement index %d out of range for positional args tuple", *auto-1)
		}
		v = args[*auto-1]
	case err == nil:
		if *auto > 0 {
			return "", errors.New("cannot switch from automatic field numbering to manual field specification")
		}
		*manual = true
		if n < 0 || n >= len(args) {
			return "", fmt.Errorf("replacement index %d out of range for positional args tuple", n)
		}
		v = args[n]
	default:
		var ok bool
		if v, ok = named[name]; !ok {
			return "", fmt.Errorf("field {%s} has no argument", name)
		}
	}
	for index != "" {
		end := strings.IndexByte(index, ']')
		if index[0] != '[' || end < 0 {
			return "", errors.New("only '[' or '.' may follow ']' in format field specifier")
		}
		key := index[1:end]
		index = index[end+1:]
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				return "", fmt.Errorf("tuple index %s out of range", key)
			}
			v = x[i]
		case map[string]any:
			e, ok := x[key]
			if !ok {
				return "", fmt.Errorf("key %q not found", key)
			}
			v = e
		default:
			return "", fmt.Errorf("%s is not subscriptable", article(v))
		}
	}
	switch conv {
	case "r", "a":
		v = pyRepr(v, true)
	case "s":
		v = pyFormatValue(v)
	case "":
	default:
		return "", fmt.Errorf("unknown conversion specifier %s", conv)
	}
	return pyFormatSpec(v, spec)
}

// pyFormatSpec is Python's format(v, spec) for the format specification
// mini-language: [[fill]align][sign][#][0][width][,|_][.precision][type].
func pyFormatSpec(v any, spec string) (string, error) {
	if spec == "" {
		return pyFormatValue(v), nil
	}
	var fill rune = ' '
	align := byte(0)
	s := spec
	if r, n := utf8.DecodeRuneInString(s); n < len(s) && strings.IndexByte("<>=^", s[n]) >= 0 {
		fill, align, s = r, s[n], s[n+1:]
	} else if s != "" && strings.IndexByte("<>=^", s[0]) >= 0 {
		align, s = s[0], s[1:]
	}
	sign := byte('-')
	if s != "" && strings.IndexByte("+- ", s[0]) >= 0 {
		sign, s = s[0], s[1:]
	}
	alt := false
	if strings.HasPrefix(s, "#") {
		alt, s = true, s[1:]
	}
	if strings.HasPrefix(s, "0") {
		if align == 0 {
			fill, align = '0', '='
		}
		s = s[1:]
	}
	width := 0
	for s != "" && s[0] >= '0' && s[0] <= '9' {
		width = width*10 + int(s[0]-'0')
		s = s[1:]
		if width > 1<<20 {
			return "", errors.New("too many decimal digits in format string")
		}
	}
	group := byte(0)
	if s != "" && (s[0] == ',' || s[0] == '_') {
		group, s = s[0], s[1:]
	}
	prec := -1
	if strings.HasPrefix(s, ".") {
		s = s[1:]
		prec = 0
		if s == "" || s[0] < '0' || s[0] > '9' {
			return "", errors.New("format specifier missing precision")
		}
		for s != "" && s[0] >= '0' && s[0] <= '9' {
			prec = prec*10 + int(s[0]-'0')
			s = s[1:]
			if prec > 1<<16 {
				return "", errors.New("precision too big")
			}
		}
	}
	typ := byte(0)
	if len(s) == 1 {
		typ = s[0]
	} else if s != "" {
		return "", errors.New("invalid format specifier")
	}
	pyType := map[string]string{"null": "NoneType", "boolean": "bool", "integer": "int", "float": "float", "string": "str", "list": "tuple", "dict": "dict"}[typeName(v)]
	if b, ok := v.(bool); ok {
		// bool's __format__ is int's for any spec but "" (handled above):
		// '{0:>6}'.format(true) is "     1".
		if typ == 's' {
			return "", fmt.Errorf("unknown format code 's' for object of type 'bool'")
		}
		v = boolInt(b)
	}
	var body, prefix string
	neg := false
	switch x := v.(type) {
	case string:
		if typ != 0 && typ != 's' {
			return "", fmt.Errorf("unknown format code '%c' for object of type '%s'", typ, pyType)
		}
		if sign != '-' || alt || group != 0 || align == '=' {
			return "", errors.New("sign not allowed in string format specifier")
		}
		body = x
		if prec >= 0 && utf8.RuneCountInString(body) > prec {
			body = string([]rune(body)[:prec])
		}
		if align == 0 {
			align = '<'
		}
	case int64:
		if prec >= 0 && strings.IndexByte("eEfFgGn%", typ) < 0 {
			return "", errors.New("precision not allowed in integer format specifier")
		}
		u := x
		if x < 0 {
			neg, u = true, -x
		}
		switch typ {
		case 0, 'd', 'n':
			body = strconv.FormatUint(uint64(u), 10)
		case 'x', 'X':
			body = strconv.FormatUint(uint64(u), 16)
			if typ == 'X' {
				body = strings.ToUpper(body)
			}
			if alt {
				prefix = "0" + string(typ)
			}
		case 'o':
			body = strconv.FormatUint(uint64(u), 8)
			if alt {
				prefix = "0o"
			}
		case 'b':
			body = strconv.FormatUint(uint64(u), 2)
			if alt {
				prefix = "0b"
			}
		case 'c':
			if x < 0 || x > unicode.MaxRune {
				return "", errors.New("%c arg not in range(0x110000)")
			}
			body, neg = string(rune(x)), false
		case 'e', 'E', 'f', 'F', 'g', 'G', '%':
			return pyFormatSpec(float64(x), spec)
		default:
			return "", fmt.Errorf("unknown format code '%c' for object of type '%s'", typ, pyType)
		}
		if group != 0 {
			step := 3
			if typ == 'x' || typ == 'X' || typ == 'o' || typ == 'b' {
				step = 4
			}
			body = groupDigits(body, group, step)
		}
	case float64:
		if math.Signbit(x) && !math.IsNaN(x) {
			neg, x = true, -x
		}
		p := prec
		switch typ {
		case 'f', 'F', '%':
			if p < 0 {
				p = 6
			}
			if typ == '%' {
				x *= 100
			}
			body = strconv.FormatFloat(x, 'f', p, 64)
		case 'e', 'E':
			if p < 0 {
				p = 6
			}
			body = strconv.FormatFloat(x, 'e', p, 64)
		case 'g', 'G', 'n':
			if p < 0 {
				p = 6
			}
			body = pyGeneral(x, max(p, 1), alt)
		case 0:
			if p < 0 {
				body = pyFloat(x)
			} else {
				body = pyGeneral(x, max(p, 1), true)
				if !strings.ContainsAny(body, ".e") && !math.IsInf(x, 0) && !math.IsNaN(x) {
					body = pyGeneral(x, max(p, 1), false)
				}
			}
		default:
			return "", fmt.Errorf("unknown format code '%c' for object of type '%s'", typ, pyType)
		}
		switch {
		case math.IsInf(x, 0):
			body = "inf"
		case math.IsNaN(x):
			body = "nan"
		}
		if typ == 'E' || typ == 'G' || typ == 'F' {
			body = strings.ToUpper(body)
		}
		if typ == '%' {
			body += "%"
		}
		if group != 0 {
			intPart, frac, _ := strings.Cut(body, ".")
			if strings.Contains(body, ".") {
				frac = "." + frac
			}
			body = groupDigits(intPart, group, 3) + frac
		}
	default:
		return "", fmt.Errorf("unsupported format string passed to %s.__format__", pyType)
	}
	signStr := ""
	switch {
	case neg:
		signStr = "-"
	case sign == '+':
		signStr = "+"
	case sign == ' ':
		signStr = " "
	}
	if _, isStr := v.(string); !isStr && align == 0 {
		align = '>'
	}
	head := signStr + prefix
	n := utf8.RuneCountInString(head + body)
	if n >= width {
		return head + body, nil
	}
	pad := strings.Repeat(string(fill), width-n)
	switch align {
	case '<':
		return head + body + pad, nil
	case '^':
		l := (width - n) / 2
		return strings.Repeat(string(fill), l) + head + body + strings.Repeat(string(fill), width-n-l), nil
	case '=':
		return head + pad + body, nil
	}
	return pad + head + body, nil
}

func groupDigits(s string, sep byte, step int) string {
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%step == 0 {
			b.WriteByte(sep)
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// pyGeneral is Python's 'g' presentation with precision p.
func pyGeneral(x float64, p int, keepZeros bool) string {
	if x == 0 {
		return "0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(x))))
	// Round first: the exponent after rounding decides the notation.
	e := strconv.FormatFloat(x, 'e', p-1, 64)
	if i := strings.IndexByte(e, 'e'); i >= 0 {
		exp, _ = strconv.Atoi(e[i+1:])
	}
	var s string
	if exp < -4 || exp >= p {
		s = e
		mant, ex, _ := strings.Cut(s, "e")
		if !keepZeros && strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		sign := ex[0]
		digits := strings.TrimLeft(ex[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s = strconv.FormatFloat(x, 'f', max(p-1-exp, 0), 64)
	if !keepZeros && strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
