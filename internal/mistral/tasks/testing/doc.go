// Package testing holds the tasks package's tests, against fixtures
// served by a fake HTTP server.
package testing
