/*
Package softwaredeployments manages Heat software deployments (the
/software_deployments API of Heat's orchestration service v1), which
gophercloud lacks. It follows gophercloud's shape so that it could be sent
upstream.

A deployment binds a software config to a server id. Heat publishes every
deployment of a server in the server's metadata (see Metadata), which
os-collect-config polls. The agent on the server signals its outputs back;
whoever receives the signal marks the deployment COMPLETE or FAILED with
Update.

Heat does not check server_id: any string is accepted, and a deployment
whose server_id is the physical resource id of a resource in a stack is
pushed into that resource's metadata.

Example to Create a Deployment

	d, err := softwaredeployments.Create(ctx, client, softwaredeployments.CreateOpts{
		ConfigID:     derivedConfigID,
		ServerID:     serverID,
		Action:       "UPDATE",
		Status:       "IN_PROGRESS",
		StatusReason: "Deploy data available",
	}).Extract()

Example to Mark a Deployment Complete

	d, err := softwaredeployments.Update(ctx, client, id, softwaredeployments.UpdateOpts{
		Status:       "COMPLETE",
		StatusReason: "Outputs received",
		OutputValues: map[string]any{"deploy_status_code": 0},
	}).Extract()

Example to List the Deployments of a Server

	pages, err := softwaredeployments.List(client, softwaredeployments.ListOpts{ServerID: serverID}).AllPages(ctx)
	ds, err := softwaredeployments.ExtractSoftwareDeployments(pages)
*/
package softwaredeployments
