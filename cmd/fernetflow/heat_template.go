package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/heat"
)

func (a *app) heatTemplateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Generate heat/templates/fernet-rotation.yaml from the embedded workflow",
		Long: `Generate the HOT template that deploys rotate_fernet_keys with the overcloud
(an OS::Mistral::Workflow and the OS::Mistral::CronTrigger that runs it)
from the workflow definitions built into this binary. With --output -
(the default) the template is printed; with --output DIR it is written to
DIR/fernet-rotation.yaml, which is how heat/templates/ is refreshed after a
change to workflow/definitions/. Nothing is sent to Heat.

Heat's OS::Mistral::Workflow takes the workflow as properties; where its
schema cannot carry the definition as written (integer timeout and
concurrency, input defaults) the template says so in its header comment.`,
		Example: `  # refresh the checked-in template after changing workflow/definitions/
  fernetflow heat template --output heat/templates

  # look at it, or give it to Heat directly
  fernetflow heat template > fernet-rotation.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := heat.Files()
			if err != nil {
				return err
			}
			names := make([]string, 0, len(files))
			for name := range files {
				names = append(names, name)
			}
			sort.Strings(names)
			if output == "-" {
				for _, name := range names {
					if _, err := a.stdout.Write(files[name]); err != nil {
						return err
					}
				}
				return nil
			}
			for _, name := range names {
				path := filepath.Join(output, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return fmt.Errorf("heat template: %w", err)
				}
				if err := os.WriteFile(path, files[name], 0o644); err != nil {
					return fmt.Errorf("heat template: %w", err)
				}
				a.log.Info("wrote template", "path", path)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "-", "directory to write the templates to (heat/templates), or - for stdout")
	return cmd
}
