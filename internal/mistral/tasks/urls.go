package tasks

import (
	"net/url"

	"github.com/gophercloud/gophercloud/v2"
)

func listURL(client *gophercloud.ServiceClient, executionID string) string {
	return client.ServiceURL("executions", url.PathEscape(executionID), "tasks")
}
