/*
Package tasks reads the task executions of a Mistral workflow execution
(GET /v2/executions/ID/tasks), which gophercloud's workflow v2 packages
lack.

Example to list the tasks of an execution

	pages, err := tasks.List(client, executionID).AllPages(ctx)
	ts, err := tasks.ExtractTasks(pages)
*/
package tasks
