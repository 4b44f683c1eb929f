package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// BenchmarkManagedPostgresFleet creates 200 MemoryServers with managed
// PostgreSQL at once and reports the time until every one has its
// credentials Secret, StatefulSet, Services and Deployment and a status for
// its generation, then the reconciles and child writes over the next 30 s
// of steady state (both should be zero; it starts after 2 s without a
// reconcile, once the creation's trailing requeues are done), and the test
// process's peak RSS
// (operator, cache and client; the API server and etcd run apart). Run:
//
//	KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh) go test ./controllers/ -run '^$' -bench BenchmarkManagedPostgresFleet -benchtime 1x
func BenchmarkManagedPostgresFleet(b *testing.B) {
	requireEnvtest(b)
	n := 200
	if v, err := strconv.Atoi(os.Getenv("MANAGED_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v // a smaller fleet while profiling
	}
	for range b.N {
		ns := newNamespace(b)
		ctx := context.Background()
		reconcilesStart, writesStart := reconciles(b), childWrites(b)
		b.ResetTimer()
		start := time.Now()
		for i := range n {
			ms := managedServer(ns, fmt.Sprintf("m%03d", i), mcpv1alpha1.BackendPostgres, 1)
			if err := suite.k8s.Create(ctx, ms); err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(start)
		pending := map[string]bool{}
		for i := range n {
			pending[fmt.Sprintf("m%03d", i)] = true
		}
		for len(pending) > 0 {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("%d MemoryServers still not reconciled after 10 minutes", len(pending))
			}
			var list mcpv1alpha1.MemoryServerList
			if err := suite.k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			for i := range list.Items {
				ms := &list.Items[i]
				if !pending[ms.Name] || ms.Status.ObservedGeneration != ms.Generation || ms.Status.Backend == nil || !ms.Status.Backend.Managed {
					continue
				}
				if managedChildrenExist(ctx, ns, ms.Name) == nil {
					delete(pending, ms.Name)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()

		// Steady state starts once the trailing reconciles of the creation
		// (a status patch that lost the race with its own cache, requeued
		// after 200 ms) are over: 2 s without any reconcile.
		settledReconciles := reconciles(b)
		quiet, last, lastChange := time.Now(), settledReconciles, time.Now()
		for time.Since(lastChange) < 2*time.Second {
			time.Sleep(100 * time.Millisecond)
			if cur := reconciles(b); cur != last {
				last, lastChange = cur, time.Now()
			}
		}
		b.ReportMetric(lastChange.Sub(quiet).Seconds(), "s-trailing")
		b.ReportMetric(last-settledReconciles, "reconciles-trailing")
		reconciles0, writes0 := reconciles(b), childWrites(b)
		b.ReportMetric(created.Seconds(), "s-creates-only")
		b.ReportMetric((reconciles0-reconcilesStart)/float64(n), "reconciles/object-to-settle")
		b.ReportMetric((writes0-writesStart)/float64(n), "writes/object-to-settle")
		time.Sleep(managedSteadyWindow())
		b.ReportMetric(elapsed.Seconds(), fmt.Sprintf("s/%d-created", n))
		b.ReportMetric(reconciles(b)-reconciles0, "reconciles/30s-steady")
		b.ReportMetric(childWrites(b)-writes0, "writes/30s-steady")
		b.ReportMetric(float64(managedPeakRSS(b))/(1<<20), "MiB-peak-RSS")
	}
}

// managedSteadyWindow is 30 s, or MANAGED_BENCH_STEADY (a Go duration).
func managedSteadyWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("MANAGED_BENCH_STEADY")); err == nil {
		return d
	}
	return 30 * time.Second
}

// managedChildrenExist checks the managed children and the Deployment of one
// MemoryServer.
func managedChildrenExist(ctx context.Context, ns, name string) error {
	for child, obj := range map[string]client.Object{
		name + "-postgres-credentials": &corev1.Secret{},
		name + "-postgres":             &appsv1.StatefulSet{},
		name + "-postgres-headless":    &corev1.Service{},
		name:                           &appsv1.Deployment{},
	} {
		if err := managedGet(ctx, ns, child, obj); err != nil {
			return err
		}
	}
	return nil
}

// managedPeakRSS is this process's peak resident set (VmHWM), in bytes.
func managedPeakRSS(tb testing.TB) int64 {
	tb.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}
