package controllers

import (
	"testing"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// TestManagedLimitToKeep: a managed database's lower connection limit
// waits until the applied fleet fits it; a higher one, or one the fleet
// fits, applies at once. PostgreSQL's budget is the limit - 5, Neo4j's the
// Bolt thread pool itself.
func TestManagedLimitToKeep(t *testing.T) {
	fleet := func(total int32) appliedFleet { return appliedFleet{exists: true, total: total} }
	cases := []struct {
		name    string
		backend mcpv1alpha1.BackendType
		spec    int32 // the spec's limit
		running int32 // the StatefulSet's
		applied appliedFleet
		keep    int32
	}{
		{"postgres lower, fleet does not fit", mcpv1alpha1.BackendPostgres, 50, 100, fleet(77), 100},
		{"postgres lower, fleet fits exactly", mcpv1alpha1.BackendPostgres, 50, 100, fleet(45), 0},
		{"postgres lower by one too many", mcpv1alpha1.BackendPostgres, 50, 100, fleet(46), 100},
		{"postgres higher", mcpv1alpha1.BackendPostgres, 200, 100, fleet(500), 0},
		{"postgres unchanged", mcpv1alpha1.BackendPostgres, 100, 100, fleet(500), 0},
		{"postgres lower, nothing rolled out", mcpv1alpha1.BackendPostgres, 50, 100, appliedFleet{}, 0},
		{"postgres limit unreadable", mcpv1alpha1.BackendPostgres, 50, 0, fleet(77), 0},
		{"neo4j lower, fleet does not fit", mcpv1alpha1.BackendNeo4j, 100, 400, fleet(101), 400},
		{"neo4j lower, fleet fits", mcpv1alpha1.BackendNeo4j, 100, 400, fleet(100), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := managedTestMS(tc.backend)
			if tc.backend == mcpv1alpha1.BackendNeo4j {
				ms.Spec.Backend.Neo4j.Managed.BoltThreadPoolMaxSize = tc.spec
			} else {
				ms.Spec.Backend.Postgres.Managed.MaxConnections = tc.spec
			}
			if got := managedLimitToKeep(ms, tc.running, tc.applied); got != tc.keep {
				t.Errorf("keep %d, want %d", got, tc.keep)
			}
		})
	}
}

// TestManagedRunningLimit reads the limit back from the StatefulSet that
// managedWithLimit renders, for both databases.
func TestManagedRunningLimit(t *testing.T) {
	for _, backend := range []mcpv1alpha1.BackendType{mcpv1alpha1.BackendPostgres, mcpv1alpha1.BackendNeo4j} {
		ms := managedTestMS(backend)
		sts := managedDesiredStatefulSet(managedWithLimit(ms, 123))
		if got := managedRunningLimit(ms, &sts.Spec.Template); got != 123 {
			t.Errorf("%s: running limit %d, want 123", backend, got)
		}
		if got := managedSpecLimit(ms); got == 123 {
			t.Errorf("%s: managedWithLimit changed the original spec", backend)
		}
		if got := managedRunningLimit(ms, &managedDesiredStatefulSet(ms).Spec.Template); got != managedSpecLimit(ms) {
			t.Errorf("%s: default limit %d, want %d", backend, got, managedSpecLimit(ms))
		}
	}
}
