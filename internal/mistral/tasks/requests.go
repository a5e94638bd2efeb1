package tasks

import (
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// List pages through the tasks of one workflow execution.
func List(client *gophercloud.ServiceClient, executionID string) pagination.Pager {
	return pagination.NewPager(client, listURL(client, executionID), func(r pagination.PageResult) pagination.Page {
		return TaskPage{pagination.LinkedPageBase{PageResult: r}}
	})
}
