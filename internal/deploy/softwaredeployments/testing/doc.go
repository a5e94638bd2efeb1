// Package testing holds the softwaredeployments unit tests, on gophercloud's
// testhelper fake server.
package testing
