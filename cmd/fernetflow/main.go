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

	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/lockfile"
	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/internal/rotation"
	"github.com/fernetflow/fernetflow/workflow/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(os.Stdin, os.Stdout, os.Stderr)
	err := a.root().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprint(os.Stderr, errorText(err))
	}
	os.Exit(exitCode(err))
}

// Exit codes: one table for every command (README, "Exit codes"). A
// script can tell a failure, a wrong call, a refusal as unsafe (nothing
// changed: fix what the message names), a resumed rotation and a busy
// repository (try later) apart.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitRefused  = 3  // refused as unsafe, or a check found a problem: nothing changed
	exitResumed  = 4  // rotate completed an interrupted rotation and did not rotate again
	exitTempFail = 75 // EX_TEMPFAIL: another process holds the lock; try again
)

// usageError marks errors in how a command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	// A held lock is never how the command was called.
	if errors.Is(err, keys.ErrLocked) || errors.Is(err, node.ErrBusy) || errors.Is(err, lockfile.ErrHeld) ||
		errors.Is(err, rotation.ErrBusy) || errors.Is(err, store.ErrBusy) {
		return exitTempFail
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	if errors.Is(err, rotation.ErrRefused) || errors.Is(err, rotation.ErrNeedsAttention) || errors.Is(err, keys.ErrUnsafePrune) {
		return exitRefused
	}
	return exitFailure
}
