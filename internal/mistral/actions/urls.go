package actions

import (
	"net/url"

	"github.com/gophercloud/gophercloud/v2"
)

func rootURL(client *gophercloud.ServiceClient) string {
	return client.ServiceURL("actions")
}

func resourceURL(client *gophercloud.ServiceClient, name string) string {
	return client.ServiceURL("actions", url.PathEscape(name))
}
