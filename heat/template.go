// Package heat generates the HOT templates under heat/templates/ that are
// derived from fernetflow's embedded workflow definitions.
//
// fernet-rotation.yaml carries rotate_fernet_keys as an OS::Mistral::Workflow
// and runs it on a schedule with an OS::Mistral::CronTrigger, so that
// creating or updating the overcloud stack deploys or updates the rotation.
// It is written by `fernetflow heat template --output heat/templates` and
// must never be edited by hand: a test fails when the checked-in file and
// the generator's output differ.
//
// Heat's OS::Mistral::Workflow (Heat 19) takes the workflow as properties,
// not as DSL text, and writes the DSL itself. Three differences follow, and
// the generator makes each one explicit instead of silent:
//
//   - A task's timeout and concurrency are integers in Heat's schema, so an
//     expression such as <% $.concurrency %> cannot be carried. The
//     generator replaces <% $.NAME %> by {get_param: NAME} when NAME is a
//     template parameter, and else by NAME's default in the definition.
//   - Heat writes the workflow's input as a list of names without their
//     defaults: every input becomes required. The cron trigger therefore
//     passes every input, the parameters' values and the definition's
//     defaults for the rest.
//   - on-success, on-error and on-complete are lists in Heat: a single task
//     name becomes a one-item list, which Mistral reads the same way.
//
// Anything else Heat's schema cannot carry (a workflow with vars, a task
// with publish-on-error, ...) is an error, never a quiet omission.
package heat

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// RotationTemplate is the file name of the generated rotation template,
// relative to heat/templates/.
const RotationTemplate = "fernet-rotation.yaml"

// RotationWorkflow is the workflow fernet-rotation.yaml carries.
const RotationWorkflow = "rotate_fernet_keys"

// Parameter is one parameter of the rotation template. Parameters that
// share a name with a workflow input take that input's default and are
// passed to it by the cron trigger.
type Parameter struct {
	Name        string
	Type        string // HOT parameter type: string or number
	Description string
	Default     any    // nil: the workflow input's default
	MinValue    *int   // a range constraint, for numbers
	MaxValue    *int   // its upper bound, with MinValue
	Constraint  string // a custom_constraint, for strings
}

func minValue(n int) *int { return &n }

// maxTokenSeconds is keys.MaxTokenSeconds, the bound keys.rotate puts on
// token_expiration and allow_expired_window: the stack refuses more.
var maxTokenSeconds = minValue(keys.MaxTokenSeconds)

// Parameters are the rotation template's parameters, in template order.
var Parameters = []Parameter{
	{Name: "schedule", Type: "string", Default: "0 3 * * 0", Constraint: "cron_expression",
		Description: "When the rotation runs: a cron pattern, evaluated in UTC by Mistral. With the default max_active_keys, token_expiration and allow_expired_window, rotating more often than every 49 hours is refused by keys.rotate."},
	{Name: "max_active_keys", Type: "number", MinValue: minValue(1),
		Description: "Keystone's [fernet_tokens] max_active_keys: keys kept after a rotation."},
	{Name: "token_expiration", Type: "number", MinValue: minValue(1), MaxValue: maxTokenSeconds,
		Description: "Keystone's [token] expiration, in seconds (at most 100 years)."},
	{Name: "allow_expired_window", Type: "number", MinValue: minValue(0), MaxValue: maxTokenSeconds,
		Description: "Keystone's [token] allow_expired_window, in seconds (at most 100 years)."},
	{Name: "stack", Type: "string",
		Description: "The overcloud stack whose servers hold Keystone's keys."},
	{Name: "role", Type: "string",
		Description: "The role of those servers in the stack (Controller: its ControllerServer resources)."},
	{Name: "concurrency", Type: "number", MinValue: minValue(1),
		Description: "Nodes delivered to at once."},
	{Name: "servers", Type: "json", Default: yaml.MapSlice{},
		Description: "Not used: TripleO passes it to OS::TripleO::NodeExtraConfigPost, the resource environments/fernet-rotation.yaml maps this template to."},
}

func parameter(name string) (Parameter, bool) {
	for _, p := range Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

// heatTaskKeys are the task properties of Heat 19's OS::Mistral::Workflow,
// in Mistral's spelling. Heat writes a property x_y back as x-y.
var heatTaskKeys = []string{
	"description", "on-error", "on-complete", "on-success", "action", "workflow",
	"publish", "input", "requires", "retry", "wait-before", "wait-after",
	"pause-before", "timeout", "with-items", "keep-result", "target", "join", "concurrency",
}

// heatIntegerTaskKeys are the task properties Heat types as integers.
var heatIntegerTaskKeys = []string{"timeout", "concurrency", "wait-before", "wait-after"}

// heatWorkflowKeys are the workflow keys Heat's properties can carry.
var heatWorkflowKeys = []string{"description", "type", "input", "output", "tasks", "tags"}

var inputExpr = regexp.MustCompile(`^<%\s*\$\.([A-Za-z_][A-Za-z0-9_]*)\s*%>$`)

// Files returns the generated templates: path relative to heat/templates/
// to content.
func Files() (map[string][]byte, error) {
	b, err := Rotation()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{RotationTemplate: b}, nil
}

const header = `# GENERATED by "fernetflow heat template" from
# workflow/definitions/rotate_fernet_keys.yaml. Do not edit: change the
# definition, then run: fernetflow heat template --output heat/templates
#
# The rotation workflow (OS::Mistral::Workflow) and the cron trigger that
# runs it (OS::Mistral::CronTrigger). Creating or updating the overcloud
# stack with environments/fernet-rotation.yaml deploys or updates both.
#
# What differs from the definition, because Heat's resource schema says so:
# a task's timeout and concurrency are integers in Heat, so <% $.NAME %>
# there is {get_param: NAME} or the input's default; Heat registers the
# workflow's inputs without defaults, so the cron trigger passes them all;
# a single on-success/on-error task name is written as a one-item list.
`

// Rotation generates fernet-rotation.yaml from the embedded
// rotate_fernet_keys definition.
func Rotation() ([]byte, error) {
	src, err := definitions.Source(RotationWorkflow + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("heat: %w", err)
	}
	wf, err := rotationResources(src)
	if err != nil {
		return nil, fmt.Errorf("heat: %s: %w", RotationWorkflow, err)
	}
	var params yaml.MapSlice
	for _, p := range Parameters {
		def := p.Default
		if def == nil {
			def = wf.defaults[p.Name]
		}
		if def == nil {
			return nil, fmt.Errorf("heat: parameter %s has no default and is not an input of %s", p.Name, RotationWorkflow)
		}
		ps := yaml.MapSlice{{Key: "type", Value: p.Type}, {Key: "description", Value: p.Description}, {Key: "default", Value: def}}
		switch {
		case p.MinValue != nil:
			r := yaml.MapSlice{{Key: "min", Value: *p.MinValue}}
			if p.MaxValue != nil {
				r = append(r, yaml.MapItem{Key: "max", Value: *p.MaxValue})
			}
			ps = append(ps, yaml.MapItem{Key: "constraints", Value: []any{yaml.MapSlice{{Key: "range", Value: r}}}})
		case p.Constraint != "":
			ps = append(ps, yaml.MapItem{Key: "constraints", Value: []any{yaml.MapSlice{{Key: "custom_constraint", Value: p.Constraint}}}})
		}
		params = append(params, yaml.MapItem{Key: p.Name, Value: ps})
	}
	tmpl := yaml.MapSlice{
		{Key: "heat_template_version", Value: "wallaby"},
		{Key: "description", Value: "fernetflow: rotate the Keystone Fernet keys of every controller on a schedule (Mistral workflow rotate_fernet_keys and its cron trigger)."},
		{Key: "parameters", Value: params},
		{Key: "resources", Value: yaml.MapSlice{
			{Key: RotationWorkflow, Value: yaml.MapSlice{
				{Key: "type", Value: "OS::Mistral::Workflow"},
				{Key: "properties", Value: wf.properties},
			}},
			{Key: "rotation_schedule", Value: yaml.MapSlice{
				{Key: "type", Value: "OS::Mistral::CronTrigger"},
				{Key: "properties", Value: yaml.MapSlice{
					{Key: "pattern", Value: getParam("schedule")},
					{Key: "workflow", Value: yaml.MapSlice{
						{Key: "name", Value: yaml.MapSlice{{Key: "get_resource", Value: RotationWorkflow}}},
						{Key: "input", Value: wf.input},
					}},
				}},
			}},
		}},
		{Key: "outputs", Value: yaml.MapSlice{
			{Key: "workflow_name", Value: yaml.MapSlice{
				{Key: "description", Value: "The Mistral workflow that rotates the keys (run it by hand with openstack workflow execution create)."},
				{Key: "value", Value: yaml.MapSlice{{Key: "get_resource", Value: RotationWorkflow}}},
			}},
			{Key: "next_rotation", Value: yaml.MapSlice{
				{Key: "description", Value: "When the cron trigger runs the rotation next (UTC)."},
				{Key: "value", Value: yaml.MapSlice{{Key: "get_attr", Value: []any{"rotation_schedule", "next_execution_time"}}}},
			}},
		}},
	}
	body, err := yaml.MarshalWithOptions(tmpl, yaml.Indent(2), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("heat: %w", err)
	}
	var out bytes.Buffer
	out.WriteString(header)
	out.Write(body)
	return out.Bytes(), nil
}

func getParam(name string) yaml.MapSlice {
	return yaml.MapSlice{{Key: "get_param", Value: name}}
}

// rotation is the Heat side of one workflow definition.
type rotation struct {
	properties yaml.MapSlice  // OS::Mistral::Workflow's properties
	input      yaml.MapSlice  // every input, as the cron trigger passes it
	defaults   map[string]any // each input's default in the definition
}

func rotationResources(src []byte) (*rotation, error) {
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(src, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, err
	}
	var def yaml.MapSlice
	for _, it := range doc {
		if it.Key == RotationWorkflow {
			m, ok := it.Value.(yaml.MapSlice)
			if !ok {
				return nil, fmt.Errorf("the workflow is not a mapping")
			}
			def = m
		}
	}
	if def == nil {
		return nil, fmt.Errorf("the file does not define it")
	}
	r := &rotation{defaults: map[string]any{}}
	props := yaml.MapSlice{{Key: "name", Value: RotationWorkflow}}
	wfType := "direct"
	var desc, output, tags any
	var inputs yaml.MapSlice
	var tasks []any
	for _, it := range def {
		key := fmt.Sprint(it.Key)
		if !slices.Contains(heatWorkflowKeys, key) {
			return nil, fmt.Errorf("%s: Heat's OS::Mistral::Workflow has no property for it", key)
		}
		switch key {
		case "type":
			wfType = fmt.Sprint(it.Value)
		case "description":
			desc = it.Value
		case "output":
			output = it.Value
		case "tags":
			tags = it.Value
		case "input":
			list, ok := it.Value.([]any)
			if !ok {
				return nil, fmt.Errorf("input is not a list")
			}
			for _, in := range list {
				switch v := in.(type) {
				case string:
					inputs = append(inputs, yaml.MapItem{Key: v, Value: nil})
				case yaml.MapSlice:
					if len(v) != 1 {
						return nil, fmt.Errorf("input %v: want one name and its default", v)
					}
					name := fmt.Sprint(v[0].Key)
					r.defaults[name] = v[0].Value
					inputs = append(inputs, yaml.MapItem{Key: name, Value: v[0].Value})
				default:
					return nil, fmt.Errorf("input %v: want a name or {name: default}", in)
				}
			}
		case "tasks":
			m, ok := it.Value.(yaml.MapSlice)
			if !ok {
				return nil, fmt.Errorf("tasks is not a mapping")
			}
			for _, t := range m {
				task, err := heatTask(fmt.Sprint(t.Key), t.Value, r.defaults)
				if err != nil {
					return nil, err
				}
				tasks = append(tasks, task)
			}
		}
	}
	// Parameters first take the template's values; the rest are the
	// definition's defaults, since Heat drops them from the workflow.
	for i, in := range inputs {
		name := fmt.Sprint(in.Key)
		if _, ok := parameter(name); ok {
			inputs[i].Value = getParam(name)
		} else if in.Value == nil {
			return nil, fmt.Errorf("input %s is required and no template parameter gives it", name)
		}
	}
	props = append(props, yaml.MapItem{Key: "type", Value: wfType})
	if desc != nil {
		props = append(props, yaml.MapItem{Key: "description", Value: desc})
	}
	if tags != nil {
		props = append(props, yaml.MapItem{Key: "tags", Value: tags})
	}
	if inputs != nil {
		props = append(props, yaml.MapItem{Key: "input", Value: inputs})
	}
	if output != nil {
		props = append(props, yaml.MapItem{Key: "output", Value: output})
	}
	props = append(props, yaml.MapItem{Key: "tasks", Value: tasks})
	r.properties, r.input = props, inputs
	return r, nil
}

// heatTask is one task as an item of Heat's tasks property.
func heatTask(name string, v any, defaults map[string]any) (yaml.MapSlice, error) {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("task %s is not a mapping", name)
	}
	out := yaml.MapSlice{{Key: "name", Value: name}}
	for _, it := range m {
		key := fmt.Sprint(it.Key)
		if !slices.Contains(heatTaskKeys, key) {
			return nil, fmt.Errorf("task %s: %s: Heat's OS::Mistral::Workflow has no task property for it", name, key)
		}
		val := it.Value
		switch {
		case strings.HasPrefix(key, "on-"):
			if _, isList := val.([]any); !isList {
				val = []any{val}
			}
		case slices.Contains(heatIntegerTaskKeys, key):
			s, isString := val.(string)
			if !isString {
				break
			}
			ref := inputExpr.FindStringSubmatch(s)
			if ref == nil {
				return nil, fmt.Errorf("task %s: %s: Heat takes an integer, and %q is neither one nor <%% $.input %%>", name, key, s)
			}
			if _, isParam := parameter(ref[1]); isParam {
				val = getParam(ref[1])
			} else if d, hasDefault := defaults[ref[1]]; hasDefault {
				val = d
			} else {
				return nil, fmt.Errorf("task %s: %s: input %s has no default to give Heat's integer", name, key, ref[1])
			}
		}
		out = append(out, yaml.MapItem{Key: strings.ReplaceAll(key, "-", "_"), Value: val})
	}
	return out, nil
}
