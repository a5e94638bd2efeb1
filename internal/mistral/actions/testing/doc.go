// Package testing holds the actions package's tests, against fixtures
// served by a fake HTTP server.
package testing
