package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/workflow"
)

// allActions is every action fernetflow's engine and action server know:
// Mistral's std.* and fernetflow's own. Built only to describe them, so
// the hosts are empty: nothing here runs.
func allActions() (workflow.Registry, error) {
	acts := workflow.StdActions()
	acts = append(acts, actions.KeysStatus(actions.KeysOptions{}), actions.KeysRotate(actions.KeysOptions{}))
	for _, x := range actions.FleetActions(&actions.FleetHost{}) {
		acts = append(acts, x)
	}
	acts = append(acts, actions.HeatActions(&deploy.Host{})...)
	return actions.NewRegistry(acts...)
}

type actionSummary struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Secret      bool   `json:"secret_output"`
}

type actionList []actionSummary

func (l actionList) Table() ([]string, [][]string) {
	var rows [][]string
	for _, a := range l {
		desc := a.Description
		if i := strings.IndexAny(desc, ".:;"); i > 0 && i < 90 {
			desc = desc[:i]
		}
		rows = append(rows, []string{a.Name, desc})
	}
	return []string{"NAME", "DESCRIPTION"}, rows
}

type actionDetail struct {
	actionSummary
	Input  json.RawMessage `json:"input_schema"`
	Output json.RawMessage `json:"output_schema"`
}

func (a *app) actionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "action",
		Short: "Describe the actions workflows can call (std.*, keys.*, fleet.*, node.*, heat.*)",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every action with its description",
		Example: `  fernetflow action list
  fernetflow action list -f json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := allActions()
			if err != nil {
				return err
			}
			out := actionList{}
			for _, n := range reg.Names() {
				x, _ := reg.Lookup(n)
				out = append(out, actionSummary{x.Name(), x.Description(), x.Secret()})
			}
			return a.print(out)
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an action: its description and the JSON Schemas of its input and output",
		Example: `  fernetflow action show keys.rotate
  fernetflow action show fleet.check -f json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := allActions()
			if err != nil {
				return err
			}
			x, ok := reg.Lookup(args[0])
			if !ok {
				return usagef("no action %q: fernetflow action list shows them", args[0])
			}
			d := actionDetail{actionSummary{x.Name(), x.Description(), x.Secret()}, orNull(x.InputSchema()), orNull(x.OutputSchema())}
			if a.format == "table" {
				fmt.Fprintf(a.stdout, "%s\n\n%s\n\nsecret output: %v\n\ninput schema:\n%s\n\noutput schema:\n%s\n", d.Name, d.Description, d.Secret, indentJSON(d.Input), indentJSON(d.Output))
				return nil
			}
			return a.print(d)
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// orNull is a schema to print: JSON null when the action has none (an
// empty json.RawMessage is not JSON and fails to marshal).
func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

func indentJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return "(none)"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}
