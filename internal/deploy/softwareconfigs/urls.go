package softwareconfigs

import "github.com/gophercloud/gophercloud/v2"

const resourcePath = "software_configs"

func rootURL(c *gophercloud.ServiceClient) string {
	return c.ServiceURL(resourcePath)
}

func resourceURL(c *gophercloud.ServiceClient, id string) string {
	return c.ServiceURL(resourcePath, id)
}

func createURL(c *gophercloud.ServiceClient) string            { return rootURL(c) }
func listURL(c *gophercloud.ServiceClient) string              { return rootURL(c) }
func getURL(c *gophercloud.ServiceClient, id string) string    { return resourceURL(c, id) }
func deleteURL(c *gophercloud.ServiceClient, id string) string { return resourceURL(c, id) }
