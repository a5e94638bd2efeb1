/*
Package workflows adds to gophercloud's openstack/workflow/v2/workflows
what it lacks: Update, which replaces the workflows of a definition (PUT
text/plain). Create, Get, List and Delete are gophercloud's, and Update's
result is gophercloud's Workflow.

Example to replace the workflows of a definition

	wfs, err := workflows.Update(ctx, client, workflows.UpdateOpts{
		Definition: strings.NewReader(yamlText),
	}).Extract()
*/
package workflows
