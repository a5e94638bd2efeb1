/*
Package actions manages Mistral's ad-hoc actions: actions defined in the
Mistral workflow language on top of a base action (such as std.http), sent
and answered as text/plain YAML. gophercloud's workflow v2 packages have no
such package.

Example to create the actions of a definition

	defs, err := actions.Create(ctx, client, actions.CreateOpts{
		Definition: strings.NewReader(yamlText),
	}).Extract()

Example to replace them (Mistral updates every action of the document)

	defs, err := actions.Update(ctx, client, actions.UpdateOpts{
		Definition: strings.NewReader(yamlText),
	}).Extract()

Example to get one by name, telling a missing one from a failure

	a, err := actions.Get(ctx, client, "fleet.check").Extract()
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		// not there
	}

Example to list every action tagged "fernetflow"

	pages, err := actions.List(client, actions.ListOpts{Tags: []string{"fernetflow"}}).AllPages(ctx)
	all, err := actions.ExtractActions(pages)

Example to delete one

	err := actions.Delete(ctx, client, "fleet.check").ExtractErr()
*/
package actions
