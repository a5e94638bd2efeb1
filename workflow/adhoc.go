package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// AdhocAction is a workbook's ad-hoc action, as Mistral defines them: a
// Base action run with BaseInput, whose expressions see the ad-hoc
// action's own input (Params) as $; Output, when set, is evaluated over
// the base action's result as $ and becomes the task's result.
type AdhocAction struct {
	ActionName string
	Desc       string
	Base       string
	BaseInput  map[string]any
	Params     []Param
	Output     any
	Pos        Pos
}

// boundAdhoc is an AdhocAction resolved against a registry: an Action.
type boundAdhoc struct {
	a   *AdhocAction
	reg Registry
}

func (b *boundAdhoc) Name() string        { return b.a.ActionName }
func (b *boundAdhoc) Description() string { return b.a.Desc }

// InputSchema derives the schema from the declared input.
func (b *boundAdhoc) InputSchema() json.RawMessage {
	props := map[string]any{}
	var req []string
	for _, p := range b.a.Params {
		props[p.Name] = map[string]any{}
		if !p.HasDefault {
			req = append(req, p.Name)
		}
	}
	sort.Strings(req)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(req) > 0 {
		s["required"] = req
	}
	out, _ := json.Marshal(s)
	return out
}

func (b *boundAdhoc) OutputSchema() json.RawMessage { return nil }

func (b *boundAdhoc) base() (Action, error) {
	if b.reg == nil {
		return nil, fmt.Errorf("ad-hoc action %s: no registry for its base %s", b.a.ActionName, b.a.Base)
	}
	base, ok := b.reg.Lookup(b.a.Base)
	if !ok {
		return nil, fmt.Errorf("ad-hoc action %s: unknown base action %q", b.a.ActionName, b.a.Base)
	}
	return base, nil
}

// Secret is the base action's.
func (b *boundAdhoc) Secret() bool {
	base, err := b.base()
	return err == nil && base.Secret()
}

func (b *boundAdhoc) Run(ctx context.Context, input map[string]any) (any, error) {
	base, err := b.base()
	if err != nil {
		return nil, err
	}
	in := make(map[string]any, len(b.a.Params))
	for _, p := range b.a.Params {
		if v, ok := input[p.Name]; ok {
			in[p.Name] = v
		} else if p.HasDefault {
			in[p.Name] = p.Default
		}
	}
	bi, err := expr.EvalValue(ctx, b.a.BaseInput, in, expr.Funcs{})
	if err != nil {
		return nil, fmt.Errorf("ad-hoc action %s: base-input: %w", b.a.ActionName, err)
	}
	baseIn, _ := bi.(map[string]any)
	if baseIn == nil {
		baseIn = map[string]any{}
	}
	if err := checkInput(base, baseIn); err != nil {
		return nil, fmt.Errorf("ad-hoc action %s: %w", b.a.ActionName, err)
	}
	res, err := base.Run(ctx, baseIn)
	if err != nil {
		return res, err
	}
	if b.a.Output == nil {
		return res, nil
	}
	res, err = expr.Normalize(res)
	if err != nil {
		return nil, err
	}
	out, err := expr.EvalValue(ctx, b.a.Output, res, expr.Funcs{})
	if err != nil {
		return nil, fmt.Errorf("ad-hoc action %s: output: %w", b.a.ActionName, err)
	}
	return out, nil
}

// validateActions checks a workbook's ad-hoc actions: a known base, and
// expressions that parse.
func (v *validator) validateActions() {
	names := make([]string, 0, len(v.f.Actions))
	for n := range v.f.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := v.f.Actions[n]
		add := func(key, format string, args ...any) {
			v.errs = append(v.errs, &Error{File: v.f.Name, Pos: a.Pos, Key: "action " + n + ": " + key, Msg: fmt.Sprintf(format, args...)})
		}
		// Mistral's parser does not look base actions up.
		stricter := func(key, format string, args ...any) {
			add(key, format, args...)
			v.errs[len(v.errs)-1].Stricter = true
		}
		if v.reg != nil {
			if _, ok := v.reg.Lookup(a.Base); !ok {
				if _, adhoc := v.f.Actions[strings.TrimPrefix(a.Base, v.f.Workbook+".")]; adhoc {
					stricter("base", "an ad-hoc action based on another ad-hoc action is not supported by fernetflow's engine")
				} else {
					stricter("base", "unknown base action %q%s", a.Base, suggest(a.Base, v.reg.Names()))
				}
			}
		}
		for _, x := range []struct {
			key string
			val any
		}{{"base-input", a.BaseInput}, {"output", a.Output}} {
			walkStrings(x.val, "", func(_, s string) {
				if expr.IsExpression(s) {
					if _, err := expr.ParseTemplate(s); err != nil {
						add(x.key, "expression %s does not parse: %v", s, err)
					}
				}
			})
		}
	}
}

// BindAdhoc is a as an Action whose base action resolves in reg: the
// ad-hoc actions a server keeps outside any workbook (Mistral's POST
// /v2/actions) run through it.
func BindAdhoc(a *AdhocAction, reg Registry) Action { return &boundAdhoc{a: a, reg: reg} }
