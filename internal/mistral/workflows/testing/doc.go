// Package testing holds the workflows package's tests, against fixtures
// served by a fake HTTP server.
package testing
