package storetest

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// rssBytes reads this process's resident set size from /proc.
func rssBytes() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// Footprint seeds n entities into the store open returns, runs the mixed
// workload for a few thousand calls, and reports the process's resident
// set growth ("rss-MiB"), the Go heap in use ("heap-MiB") and the seeding
// time ("seed-s"). It measures the store's footprint, not a time per op.
func Footprint(b *testing.B, n int, open func(b *testing.B) memory.Store) {
	runtime.GC()
	base := rssBytes()
	s := open(b)
	start := time.Now()
	Seed(b, s, n)
	seed := time.Since(start)
	w := &Workload{N: n}
	r := rand.New(rand.NewPCG(1, 1))
	for range 5000 {
		if err := w.Do(context.Background(), s, r); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for b.Loop() {
		if err := w.Do(context.Background(), s, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((rssBytes()-base)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(seed.Seconds(), "seed-s")
}
