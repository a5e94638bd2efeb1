package expr

import (
	"fmt"
	"unicode/utf8"
)

// SyntaxError is returned by Parse for an expression that yaql would not
// accept. Column counts characters from 1.
type SyntaxError struct {
	Src      string // the expression
	Pos      int    // byte offset of the offending token
	Msg      string // what is wrong, e.g. `unexpected ")"`
	Expected string // what the parser wanted there, if known
}

// Column is the 1-based character column of the error.
func (e *SyntaxError) Column() int { return utf8.RuneCountInString(e.Src[:min(e.Pos, len(e.Src))]) + 1 }

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("expr: column %d: %s", e.Column(), e.Msg)
	if e.Expected != "" {
		s += ", expected " + e.Expected
	}
	return s
}

// Node kinds of the syntax tree.
type node interface{ pos() int }

type (
	constNode struct {
		v any
		p int
	}
	identNode struct {
		name string
		p    int
	} // a bare name: evaluates to the name itself
	dollarNode struct {
		name string
		p    int
	} // $ or $name
	listNode struct {
		items []node
		p     int
	}
	mapNode struct {
		entries []*mappingNode
		p       int
	}
	mappingNode struct {
		key, value node
		p          int
	} // key => value, only as an argument or map entry
	callNode struct {
		name string
		args []node
		p    int
	}
	dotNode struct {
		recv node
		name string    // property access when call is nil
		call *callNode // method call
		safe bool      // ?.
		p    int
	}
	indexNode struct {
		recv node
		args []node
		p    int
	}
	binaryNode struct {
		op   string
		l, r node
		p    int
	}
	unaryNode struct {
		op string
		x  node
		p  int
	}
)

func (n *constNode) pos() int   { return n.p }
func (n *identNode) pos() int   { return n.p }
func (n *dollarNode) pos() int  { return n.p }
func (n *listNode) pos() int    { return n.p }
func (n *mapNode) pos() int     { return n.p }
func (n *mappingNode) pos() int { return n.p }
func (n *callNode) pos() int    { return n.p }
func (n *dotNode) pos() int     { return n.p }
func (n *indexNode) pos() int   { return n.p }
func (n *binaryNode) pos() int  { return n.p }
func (n *unaryNode) pos() int   { return n.p }

// Binding powers, from yaql's operator table (higher binds tighter).
const (
	bpArrow = 1 + iota // -> (right associative)
	bpOr
	bpAnd
	bpNot // prefix not
	bpCmp // = != < > <= >= in
	bpAdd // + -
	bpMul // * / mod
	bpRegex
	bpUnary // prefix + -
	bpIndex // [ ]
	bpDot   // . ?.
)

var infixBP = map[string]int{
	"->": bpArrow, "or": bpOr, "and": bpAnd,
	"=": bpCmp, "!=": bpCmp, "<": bpCmp, ">": bpCmp, "<=": bpCmp, ">=": bpCmp, "in": bpCmp,
	"+": bpAdd, "-": bpAdd, "*": bpMul, "/": bpMul, "mod": bpMul, "=~": bpRegex, "!~": bpRegex,
	"[": bpIndex, ".": bpDot, "?.": bpDot,
}

// maxNesting bounds how deeply expressions may nest, so that parsing and
// evaluation never exhaust the stack.
const maxNesting = 200

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return "string " + pyRepr(t.text, false)
	case tokDollar:
		return fmt.Sprintf("%q", "$"+t.text)
	case tokFunc:
		return fmt.Sprintf("%q", t.text+"(")
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) errorf(t token, expected string) error {
	return &SyntaxError{Src: p.src, Pos: t.pos, Msg: "unexpected " + describe(t), Expected: expected}
}

func (p *parser) isOp(s string) bool { t := p.peek(); return t.kind == tokOp && t.text == s }

func (p *parser) expect(s string) error {
	if !p.isOp(s) {
		return p.errorf(p.peek(), fmt.Sprintf("%q", s))
	}
	p.i++
	return nil
}

func (p *parser) expr(minBP int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, &SyntaxError{Src: p.src, Pos: p.peek().pos, Msg: fmt.Sprintf("expression nests more than %d levels deep", maxNesting)}
	}
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp {
			return left, nil
		}
		bp, ok := infixBP[t.text]
		if !ok || bp < minBP {
			return left, nil
		}
		p.i++
		switch t.text {
		case "[":
			args, err := p.args("]")
			if err != nil {
				return nil, err
			}
			left = &indexNode{recv: left, args: args, p: t.pos}
		case ".", "?.":
			d := &dotNode{recv: left, safe: t.text == "?.", p: t.pos}
			rt := p.peek()
			rhs, err := p.expr(bpDot + 1)
			if err != nil {
				return nil, err
			}
			switch r := rhs.(type) {
			case *identNode:
				d.name = r.name
			case *callNode:
				d.call = r
			default:
				return nil, p.errorf(rt, "a name or a method call")
			}
			left = d
		case "->":
			r, err := p.expr(bp) // right associative
			if err != nil {
				return nil, err
			}
			left = &binaryNode{op: t.text, l: left, r: r, p: t.pos}
		default:
			r, err := p.expr(bp + 1)
			if err != nil {
				return nil, err
			}
			left = &binaryNode{op: t.text, l: left, r: r, p: t.pos}
		}
	}
}

func (p *parser) prefix() (node, error) {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return &constNode{v: t.num, p: t.pos}, nil
	case tokString:
		return &constNode{v: t.text, p: t.pos}, nil
	case tokTrue:
		return &constNode{v: true, p: t.pos}, nil
	case tokFalse:
		return &constNode{v: false, p: t.pos}, nil
	case tokNull:
		return &constNode{v: nil, p: t.pos}, nil
	case tokIdent:
		return &identNode{name: t.text, p: t.pos}, nil
	case tokDollar:
		return &dollarNode{name: t.text, p: t.pos}, nil
	case tokFunc:
		args, err := p.args(")")
		if err != nil {
			return nil, err
		}
		return &callNode{name: t.text, args: args, p: t.pos}, nil
	case tokOp:
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return n, nil
		case "[":
			args, err := p.args("]")
			if err != nil {
				return nil, err
			}
			for _, a := range args {
				if _, ok := a.(*mappingNode); ok {
					return nil, &SyntaxError{Src: p.src, Pos: a.pos(), Msg: "unexpected \"=>\" in a list"}
				}
			}
			return &listNode{items: args, p: t.pos}, nil
		case "{":
			args, err := p.args("}")
			if err != nil {
				return nil, err
			}
			m := &mapNode{p: t.pos}
			for _, a := range args {
				e, ok := a.(*mappingNode)
				if !ok {
					return nil, &SyntaxError{Src: p.src, Pos: a.pos(), Msg: "a dict entry must be key => value"}
				}
				m.entries = append(m.entries, e)
			}
			return m, nil
		case "-", "+":
			x, err := p.expr(bpUnary)
			if err != nil {
				return nil, err
			}
			return &unaryNode{op: t.text, x: x, p: t.pos}, nil
		case "not":
			x, err := p.expr(bpNot)
			if err != nil {
				return nil, err
			}
			return &unaryNode{op: t.text, x: x, p: t.pos}, nil
		}
	}
	p.i--
	return nil, p.errorf(t, "an expression")
}

// args parses a comma-separated argument list up to and including the
// closing token: positional arguments first, then name => value pairs.
func (p *parser) args(closing string) ([]node, error) {
	var args []node
	if p.isOp(closing) {
		p.i++
		return args, nil
	}
	named := false
	for {
		a, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if p.isOp("=>") {
			at := p.next()
			v, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			a = &mappingNode{key: a, value: v, p: at.pos}
			named = true
		} else if named {
			return nil, p.errorf(p.peek(), "\"=>\" (positional arguments come before name => value pairs)")
		}
		args = append(args, a)
		if p.isOp(",") {
			p.i++
			continue
		}
		if err := p.expect(closing); err != nil {
			if p.peek().kind == tokEOF {
				return nil, p.errorf(p.peek(), fmt.Sprintf("\",\" or %q", closing))
			}
			return nil, p.errorf(p.peek(), fmt.Sprintf("\",\" or %q", closing))
		}
		return args, nil
	}
}
