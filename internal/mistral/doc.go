/*
Package mistral holds what fernetflow needs of OpenStack Mistral's v2 API
beyond gophercloud's openstack/workflow/v2 packages (crontriggers,
executions, workflows), in gophercloud's shape so that each could be sent
upstream:

  - actions: ad-hoc actions (create, update, get, list, delete), whose
    definitions travel as text/plain YAML;
  - workflows: Update, the PUT gophercloud's workflows package lacks;
  - tasks: the task executions of one workflow execution;
  - register: fernetflow's own use of them, putting its actions, workflows
    and cron trigger into Mistral and removing them again.

Clients come from package cloud (cloud.NewWorkflowClient).
*/
package mistral
