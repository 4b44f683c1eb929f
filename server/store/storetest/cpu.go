package storetest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	measureCPU(b, "", fn)
}

// measureCPU is MeasureCPU that also reports, as "db-cpu-ns/op", the CPU
// time of the processes named dbProcess (a local database server's), when
// it is not empty.
func measureCPU(b *testing.B, dbProcess string, fn func()) {
	b.Helper()
	start, db := processCPU(), commCPU(dbProcess)
	fn()
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	if dbProcess != "" {
		b.ReportMetric(float64(commCPU(dbProcess)-db)/float64(b.N), "db-cpu-ns/op")
	}
}

// commCPU is the CPU time of the processes named comm, with their exited
// children's (PostgreSQL: the postmaster, its backends and the backends that
// ended); 0 for an empty name. Resolution: one clock tick (10 ms).
func commCPU(comm string) time.Duration {
	if comm == "" {
		return 0
	}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != comm || end+2 > len(s) {
			continue
		}
		f := strings.Fields(s[end+2:])
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] { // utime, stime, cutime, cstime
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	const clkTck = 100 // USER_HZ
	return time.Duration(ticks) * time.Second / clkTck
}
