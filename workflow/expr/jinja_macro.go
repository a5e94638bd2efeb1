package expr

import (
	"fmt"

	gbuiltins "github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	gparser "github.com/nikolalohinski/gonja/v2/parser"
)

// maxMacroDepth bounds macro recursion. Mistral's Jinja stops a runaway
// recursive macro at Python's recursion limit (RecursionError): measured
// on Mistral 15, f(190), 191 nested calls, renders and f(200)
// fails (conformance cases jinja_macro_depth_*). gonja's would exhaust the
// Go stack, which kills the whole process.
const maxMacroDepth = 195

// jinjaControlStructures are gonja's, with {% macro %} bounded: each call
// of a macro costs a step of the evaluation's budget, and a macro may not
// be more than maxMacroDepth calls deep in itself.
var jinjaControlStructures = func() *exec.ControlStructureSet {
	cs := exec.NewControlStructureSet(map[string]gparser.ControlStructureParser{}).Update(gbuiltins.ControlStructures)
	parse, ok := cs.Get("macro")
	if !ok {
		panic("expr: gonja has no macro control structure") // caught by every test
	}
	_ = cs.Replace("macro", func(p, args *gparser.Parser) (nodes.ControlStructure, error) {
		n, err := parse(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := n.(*controlStructures.MacroControlStructure)
		if !ok {
			return nil, fmt.Errorf("expr: gonja's macro is a %T", n)
		}
		return boundedMacro{m}, nil
	})
	return cs
}()

type boundedMacro struct {
	*controlStructures.MacroControlStructure
}

func (m boundedMacro) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	macro, err := exec.MacroNodeToFunc(m.Macro, r)
	if err != nil {
		return fmt.Errorf("unable to parse macro '%s': %w", m.Name, err)
	}
	var run *jinjaRun
	if v, ok := r.Environment.Context.Get(jinjaRunKey); ok {
		run, _ = v.(*jinjaRun)
	}
	depth := 0
	r.Environment.Context.Set(m.Name, exec.Macro(func(params *exec.VarArgs) *exec.Value {
		fail := func(err error) *exec.Value {
			if run != nil {
				err = run.hitLimit(err)
			}
			return exec.AsValue(err)
		}
		if depth >= maxMacroDepth {
			return fail(fmt.Errorf("macro %s is more than %d calls deep (Mistral's Python stops at its recursion limit): %w", m.Name, maxMacroDepth, ErrLimit))
		}
		if run != nil {
			if err := run.step(1); err != nil {
				return fail(err)
			}
		}
		depth++
		defer func() { depth-- }()
		return macro(params)
	}))
	return nil
}
