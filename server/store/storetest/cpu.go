package storetest

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MeasureCPU runs fn (a benchmark body) and reports the process CPU time per
// operation as "cpu-ns/op": on a machine shared with other work the wall
// time per operation is inflated by waiting for a core, the CPU time much
// less so. For a client/server backend it counts the client side only.
func MeasureCPU(b *testing.B, fn func()) {
	b.Helper()
	start := processCPU()
	fn()
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
