/*
Package softwareconfigs manages Heat software configs (the
/software_configs API of Heat's orchestration service v1), which
gophercloud lacks. It follows gophercloud's shape so that it could be sent
upstream.

A software config is immutable: to change one, create another and point new
deployments at it. Heat's SoftwareDeployment resource and heatclient create a
"derived" config per deployment whose inputs carry their values; agents such
as heat-config read those values and fail on configs without them (see
package deploy, which builds derived configs).

Example to Create a Software Config

	sc, err := softwareconfigs.Create(ctx, client, softwareconfigs.CreateOpts{
		Name:   "fernetflow-install",
		Group:  "fernetflow",
		Config: "install",
		Inputs: []softwareconfigs.Input{{Name: "envelope", Type: "String", Value: envelope}},
	}).Extract()

Example to Get, List and Delete Software Configs

	sc, err := softwareconfigs.Get(ctx, client, id).Extract()
	pages, err := softwareconfigs.List(client, softwareconfigs.ListOpts{Limit: 50}).AllPages(ctx)
	all, err := softwareconfigs.ExtractSoftwareConfigs(pages)
	err = softwareconfigs.Delete(ctx, client, id).ExtractErr()
*/
package softwareconfigs
