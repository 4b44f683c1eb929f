package controllers_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// BenchmarkFleet200 creates 200 MemoryServers at once (half sqlite, half
// external PostgreSQL sharing one Secret) on envtest and reports the time
// until every one has its Deployment and a reconciled status, then watches a
// quiet steady state for STEADY_SECONDS (default 30) and reports the
// reconciles and child writes per object in it (both should be 0), and the
// test process's peak RSS (operator, its caches and the test client).
//
//	go test ./controllers/ -run '^$' -bench BenchmarkFleet200 -benchtime 1x
func BenchmarkFleet200(b *testing.B) {
	requireEnvtest(b)
	const n = 200
	steady := 30 * time.Second
	if s := os.Getenv("STEADY_SECONDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("STEADY_SECONDS: %v", err)
		}
		steady = time.Duration(v) * time.Second
	}
	ctx := context.Background()
	for iter := 0; iter < b.N; iter++ {
		ns := newNamespace(b)
		createSecret(b, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
		reconcilesBefore := reconciles(b)

		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					name := fmt.Sprintf("ms-%03d", i)
					ms := sqliteServer(ns, name)
					if i%2 == 1 {
						ms = externalPostgresServer(ns, name, "pg")
					}
					if err := suite.k8s.Create(ctx, ms); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatalf("creating MemoryServers: %v", err)
		}
		created := time.Since(start)

		var toDeployments time.Duration
		for {
			var deps appsv1.DeploymentList
			if err := suite.k8s.List(ctx, &deps, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			if len(deps.Items) == n {
				toDeployments = time.Since(start)
				break
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("only %d/%d Deployments after 10 minutes", len(deps.Items), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		var toStatus time.Duration
		for {
			var list mcpv1alpha1.MemoryServerList
			if err := suite.k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			done := 0
			for _, ms := range list.Items {
				if ms.Status.ObservedGeneration == ms.Generation && ms.Status.ConfigHash != "" {
					done++
				}
			}
			if done == n {
				toStatus = time.Since(start)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Let the last watch events drain before measuring the steady state.
		time.Sleep(2 * time.Second)
		reconcilesSettled := reconciles(b)
		writesBefore := childWrites(b)
		time.Sleep(steady)
		steadyReconciles := reconciles(b) - reconcilesSettled
		steadyWrites := childWrites(b) - writesBefore

		b.ReportMetric(created.Seconds(), "s-create")
		b.ReportMetric(toDeployments.Seconds(), "s-to-deployments")
		b.ReportMetric(toStatus.Seconds(), "s-to-status")
		b.ReportMetric((reconcilesSettled-reconcilesBefore)/n, "reconciles/object-to-settle")
		b.ReportMetric(steadyReconciles/n, "steady-reconciles/object")
		b.ReportMetric(steadyWrites/n, "steady-writes/object")
		b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
		b.Logf("%d MemoryServers: created in %s, all Deployments after %s, all statuses after %s; %v reconciles to settle; steady state over %s: %v reconciles, %v child writes",
			n, created.Round(time.Millisecond), toDeployments.Round(time.Millisecond), toStatus.Round(time.Millisecond),
			reconcilesSettled-reconcilesBefore, steady, steadyReconciles, steadyWrites)
	}
}

// peakRSSMiB is this process's peak resident set (VmHWM).
func peakRSSMiB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatalf("reading /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				tb.Fatalf("parsing VmHWM %q: %v", rest, err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}
