// Command fernetflow rotates OpenStack Keystone Fernet keys across every
// Keystone node of a cloud. This package is wiring only: every command's
// logic lives in internal/, actions/ or workflow/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(os.Stdin, os.Stdout, os.Stderr)
	err := a.root().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fernetflow:", err)
	}
	os.Exit(exitCode(err))
}

// Exit codes. A script can tell a refusal to run (usage), a busy repository
// (try later) and a failure apart.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitTempFail = 75 // EX_TEMPFAIL: another process holds the lock; try again
)

// usageError marks errors in how a command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// tempFailer is implemented by errors that mean "try again later".
type tempFailer interface{ TempFail() bool }

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	var t tempFailer
	if errors.As(err, &t) && t.TempFail() {
		return exitTempFail
	}
	return exitFailure
}
