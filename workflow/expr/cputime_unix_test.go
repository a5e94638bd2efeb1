//go:build unix

package expr

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system, every
// thread). Benchmarks report it per operation as cpu-ns/op, which, unlike
// ns/op, does not grow when other processes load the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
