package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clkTck is USER_HZ, the unit of /proc's CPU times on Linux.
const clkTck = 100

// cpuSeconds reads utime+stime of a process from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, f := statFields(b)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clkTck
}

// statFields splits a /proc/<pid>/stat line into the command name and the
// fields after it (the name may hold spaces and parentheses).
func statFields(b []byte) (string, []string) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 > len(b) {
		return "", nil
	}
	return string(b[open+1 : end]), strings.Fields(string(b[end+2:]))
}

// commCPUSeconds sums the CPU time of every process named comm (for
// PostgreSQL: the postmaster and all its backends), with the time of their
// children that have exited and been waited for (a backend's time moves to
// the postmaster's when it ends).
func commCPUSeconds(comm string) float64 {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	total := 0.0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		name, f := statFields(b)
		if name != comm || len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] { // utime, stime, cutime, cstime
			x, _ := strconv.ParseFloat(v, 64)
			total += x / clkTck
		}
	}
	return total
}

// machineCPU is the first line of /proc/stat: all cores' time in ticks.
type machineCPU struct{ total, idle, iowait float64 }

func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest and guest_nice are already counted in user
			break
		}
		m.total += x
		switch i {
		case 3:
			m.idle = x
		case 4:
			m.iowait = x
		}
	}
	return m
}

// idleShare returns the share of the machine's CPU time that was idle and
// waiting for I/O between two readings.
func idleShare(a, b machineCPU) (idle, iowait float64) {
	d := b.total - a.total
	if d <= 0 {
		return 0, 0
	}
	return (b.idle - a.idle) / d, (b.iowait - a.iowait) / d
}
