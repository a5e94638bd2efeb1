package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/internal/output"
	"github.com/fernetflow/fernetflow/workflow/expr"
)

// workflowCmd groups the commands that work on Mistral workflows.
func (a *app) workflowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Work with Mistral DSL v2 workflows and their YAQL expressions",
	}
	cmd.AddCommand(a.workflowEvalCmd())
	cmd.AddCommand(a.workflowEngineCmds()...)
	return cmd
}

func (a *app) workflowEvalCmd() *cobra.Command {
	var contextFile, envFile string
	cmd := &cobra.Command{
		Use:   "eval EXPR",
		Short: "Evaluate a YAQL expression as Mistral would, and print the result as JSON",
		Long: `Evaluate a YAQL expression the way Mistral evaluates <% %> in a workflow,
with the JSON (or YAML) document in --context as $, and print the result
as JSON. EXPR is either a bare expression ($.servers.len()) or a string
holding <% %> expressions: a string that is exactly one <% %> keeps the
value's type, others are spliced in as text, as Mistral does.

Integers and floats stay apart (3 / 2 is 1, 3.0 / 2 is 1.5). env()
returns the document in --env; task() and execution() exist only while
a workflow runs. An error goes to stderr and the exit code is 1.`,
		Example: `  # Names of the controllers in an inventory
  echo '{"servers": [{"name": "ctl1", "role": "Controller"}, {"name": "cmp1", "role": "Compute"}]}' > inv.json
  fernetflow workflow eval '$.servers.where($.role = "Controller").select($.name)' --context inv.json
  [
    "ctl1"
  ]

  # A string with an embedded expression, as in a task's input
  fernetflow workflow eval 'rotating <% len($.servers) %> nodes' --context inv.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("workflow eval takes one expression, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readDocument(a.stdin, contextFile, "--context")
			if err != nil {
				return err
			}
			var funcs expr.Funcs
			if envFile != "" {
				env, err := readDocument(a.stdin, envFile, "--env")
				if err != nil {
					return err
				}
				funcs.Env = func(context.Context) (any, error) { return env, nil }
			}
			src := args[0]
			var v any
			if expr.IsExpression(src) {
				v, err = expr.EvalString(cmd.Context(), src, data, funcs)
			} else {
				v, err = expr.Eval(cmd.Context(), src, data, funcs)
			}
			if err != nil {
				return err
			}
			if f, _ := output.ParseFormat(a.format); f == output.YAML && cmd.Flags().Changed("format") {
				return output.Write(a.stdout, output.YAML, v)
			}
			out, err := expr.MarshalJSON(v, "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%s\n", out)
			return err
		},
	}
	cmd.Flags().StringVar(&contextFile, "context", "", "JSON or YAML file to use as $ (- for stdin); $ is null without it")
	cmd.Flags().StringVar(&envFile, "env", "", "JSON or YAML file that env() returns")
	return cmd
}

// readDocument reads a JSON or YAML file ("-" is stdin) into the data
// model; "" gives null.
func readDocument(stdin io.Reader, name, flag string) (any, error) {
	if name == "" {
		return nil, nil
	}
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	v, jsonErr := expr.UnmarshalJSON(raw)
	if jsonErr == nil {
		return v, nil
	}
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".json" {
		return nil, fmt.Errorf("%s %s: %w", flag, name, jsonErr)
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("%s %s: neither JSON nor YAML: %w", flag, name, err)
	}
	if v, err = expr.Normalize(yamlToJSON(y)); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	return v, nil
}

// yamlToJSON turns the maps YAML decodes (keys of any type) into
// map[string]any.
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSON(e)
		}
		return x
	}
	return v
}
