package workflows

import "github.com/gophercloud/gophercloud/v2"

func updateURL(client *gophercloud.ServiceClient) string {
	return client.ServiceURL("workflows")
}
