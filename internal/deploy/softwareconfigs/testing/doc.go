// Package testing holds the softwareconfigs unit tests, on gophercloud's
// testhelper fake server.
package testing
