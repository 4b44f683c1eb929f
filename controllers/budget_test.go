package controllers

import (
	"math"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// budgetMS builds a MemoryServer for the budget table.
type budgetMS struct {
	backend     string // managed-postgres, external-postgres, managed-neo4j, external-neo4j, sqlite
	replicas    *int32
	maxReplicas int32 // 0: no autoscaling
	pool        *int32
	budget      *int32
	dbLimit     int32 // managed maxConnections / boltThreadPoolMaxSize; external postgres maxConnections when > 0
}

func (b budgetMS) build() *mcpv1alpha1.MemoryServer {
	ms := &mcpv1alpha1.MemoryServer{ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "ns"}}
	ms.Spec.Replicas = b.replicas
	if b.maxReplicas > 0 {
		ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MaxReplicas: b.maxReplicas}
	}
	ms.Spec.Pool.MaxConnections = b.pool
	ms.Spec.Pool.ConnectionBudget = b.budget
	switch b.backend {
	case "managed-postgres":
		ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendPostgres, Postgres: &mcpv1alpha1.PostgresBackend{
			Managed: &mcpv1alpha1.ManagedPostgres{MaxConnections: b.dbLimit}}}
	case "external-postgres":
		ext := &mcpv1alpha1.ExternalPostgres{DSNSecretRef: mcpv1alpha1.SecretKeyRef{Name: "pg", Key: "dsn"}}
		if b.dbLimit > 0 {
			ext.MaxConnections = ptr.To(b.dbLimit)
		}
		ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendPostgres, Postgres: &mcpv1alpha1.PostgresBackend{External: ext}}
	case "managed-neo4j":
		ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendNeo4j, Neo4j: &mcpv1alpha1.Neo4jBackend{
			Managed: &mcpv1alpha1.ManagedNeo4j{BoltThreadPoolMaxSize: b.dbLimit}}}
	case "external-neo4j":
		ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendNeo4j, Neo4j: &mcpv1alpha1.Neo4jBackend{
			External: &mcpv1alpha1.ExternalNeo4j{URI: "bolt://g:7687", AuthSecretRef: mcpv1alpha1.SecretRef{Name: "n4j"}}}}
	case "sqlite":
		ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendSQLite}
	default:
		panic("unknown backend " + b.backend)
	}
	return ms
}

func TestBudgetFor(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name       string
		in         budgetMS
		pods       int32
		perReplica int32
		total      int32
		budget     *int32 // nil: no budget
		source     BudgetSource
		fits       bool
		derived    bool
		message    string // substring the message must hold
	}{{
		name: "managed postgres defaults, pool derived",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(2)},
		pods: 3, perReplica: 30, total: 93, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true, derived: true,
		message: "fleet of 3 pods (2 replicas + 1 surge) x (30 pool + 1 prober) = 93 connections fits the budget of 95 (max_connections 100 - 3 reserved - 2 margin); pool.maxConnections derived as floor(95 / 3) - 1 = 30",
	}, {
		name: "managed postgres, explicit pool over budget",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(10), pool: i32(10)},
		pods: 11, perReplica: 10, total: 121, budget: i32(95), source: BudgetSourceManagedPostgres,
		message: "fleet of 11 pods (10 replicas + 1 surge) x (10 pool + 1 prober) = 121 connections exceeds the budget of 95 (max_connections 100 - 3 reserved - 2 margin)",
	}, {
		name: "autoscaling max within budget",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(2), maxReplicas: 6, pool: i32(10)},
		pods: 7, perReplica: 10, total: 77, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true,
		message: "fleet of 7 pods (autoscaling max 6 replicas + 1 surge)",
	}, {
		name: "autoscaling max over budget though replicas fit",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(2), maxReplicas: 9, pool: i32(10)},
		pods: 10, perReplica: 10, total: 110, budget: i32(95), source: BudgetSourceManagedPostgres,
		message: "= 110 connections exceeds the budget of 95",
	}, {
		name: "replicas above autoscaling max count",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(5), maxReplicas: 2, pool: i32(10)},
		pods: 6, perReplica: 10, total: 66, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true,
		message: "fleet of 6 pods (5 replicas + 1 surge)",
	}, {
		name: "autoscaling derivation uses max replicas",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(1), maxReplicas: 4},
		pods: 5, perReplica: 18, total: 95, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true, derived: true,
		message: "floor(95 / 5) - 1 = 18",
	}, {
		name: "sqlite has no surge and no budget",
		in:   budgetMS{backend: "sqlite", replicas: i32(1)},
		pods: 1, perReplica: 10, total: 11, source: BudgetSourceNone, fits: true,
		message: "no connection budget known: fleet of 1 pods (1 replicas) x (10 pool + 1 prober) = 11 connections",
	}, {
		name: "sqlite with an explicit budget, surge 0",
		in:   budgetMS{backend: "sqlite", replicas: i32(1), budget: i32(5)},
		pods: 1, perReplica: 4, total: 5, budget: i32(5), source: BudgetSourceExplicit, fits: true, derived: true,
		message: "fits the budget of 5 (spec.pool.connectionBudget); pool.maxConnections derived as floor(5 / 1) - 1 = 4",
	}, {
		name: "sqlite scaled to zero",
		in:   budgetMS{backend: "sqlite", replicas: i32(0), budget: i32(10)},
		pods: 0, perReplica: 9, total: 0, budget: i32(10), source: BudgetSourceExplicit, fits: true, derived: true,
	}, {
		name: "explicit budget overrides managed max_connections",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(3), budget: i32(40), dbLimit: 1000},
		pods: 4, perReplica: 9, total: 40, budget: i32(40), source: BudgetSourceExplicit, fits: true, derived: true,
		message: "fits the budget of 40 (spec.pool.connectionBudget)",
	}, {
		name: "explicit budget with explicit pool exceeded",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(1), pool: i32(10), budget: i32(20)},
		pods: 2, perReplica: 10, total: 22, budget: i32(20), source: BudgetSourceExplicit,
		message: "= 22 connections exceeds the budget of 20 (spec.pool.connectionBudget)",
	}, {
		name: "derivation exactly fills a larger database",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(4), dbLimit: 500},
		pods: 5, perReplica: 98, total: 495, budget: i32(495), source: BudgetSourceManagedPostgres, fits: true, derived: true,
		message: "(max_connections 500 - 3 reserved - 2 margin); pool.maxConnections derived as floor(495 / 5) - 1 = 98",
	}, {
		name: "derivation floors at the minimum of 1 and still exceeds",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(4), dbLimit: 10},
		pods: 5, perReplica: 1, total: 10, budget: i32(5), source: BudgetSourceManagedPostgres, derived: true,
		message: "exceeds the budget of 5 (max_connections 10 - 3 reserved - 2 margin); pool.maxConnections derived as floor(5 / 5) - 1, raised to the minimum of 1 = 1",
	}, {
		name: "replicas 0 still budgets the surge pod",
		in:   budgetMS{backend: "managed-postgres", replicas: i32(0)},
		pods: 1, perReplica: 94, total: 95, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true, derived: true,
	}, {
		name: "replicas unset defaults to 1",
		in:   budgetMS{backend: "managed-postgres"},
		pods: 2, perReplica: 46, total: 94, budget: i32(95), source: BudgetSourceManagedPostgres, fits: true, derived: true,
	}, {
		name: "external postgres without maxConnections has no budget",
		in:   budgetMS{backend: "external-postgres", replicas: i32(3)},
		pods: 4, perReplica: 10, total: 44, source: BudgetSourceNone, fits: true,
		message: "set spec.pool.connectionBudget",
	}, {
		name: "external postgres with maxConnections",
		in:   budgetMS{backend: "external-postgres", replicas: i32(3), dbLimit: 50},
		pods: 4, perReplica: 10, total: 44, budget: i32(45), source: BudgetSourceExternalPostgres, fits: true, derived: true,
		message: "(external max_connections 50 - 3 reserved - 2 margin)",
	}, {
		name: "external postgres whose maxConnections is below the reserve",
		in:   budgetMS{backend: "external-postgres", replicas: i32(1), dbLimit: 3, pool: i32(1)},
		pods: 2, perReplica: 1, total: 4, budget: i32(0), source: BudgetSourceExternalPostgres,
		message: "exceeds the budget of 0",
	}, {
		name: "managed neo4j default bolt thread pool",
		in:   budgetMS{backend: "managed-neo4j", replicas: i32(3)},
		pods: 4, perReplica: 99, total: 400, budget: i32(400), source: BudgetSourceManagedNeo4j, fits: true, derived: true,
		message: "fits the budget of 400 (server.bolt.thread_pool_max_size 400)",
	}, {
		name: "managed neo4j small thread pool exceeded",
		in:   budgetMS{backend: "managed-neo4j", replicas: i32(10), pool: i32(20), dbLimit: 100},
		pods: 11, perReplica: 20, total: 231, budget: i32(100), source: BudgetSourceManagedNeo4j,
		message: "= 231 connections exceeds the budget of 100 (server.bolt.thread_pool_max_size 100)",
	}, {
		name: "external neo4j has no budget",
		in:   budgetMS{backend: "external-neo4j", replicas: i32(2), pool: i32(5)},
		pods: 3, perReplica: 5, total: 18, source: BudgetSourceNone, fits: true,
	}, {
		name: "external neo4j with an explicit budget",
		in:   budgetMS{backend: "external-neo4j", replicas: i32(2), budget: i32(100)},
		pods: 3, perReplica: 32, total: 99, budget: i32(100), source: BudgetSourceExplicit, fits: true, derived: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BudgetFor(tt.in.build())
			if got.Pods != tt.pods || got.PerReplica != tt.perReplica || got.Total != tt.total {
				t.Errorf("pods/perReplica/total = %d/%d/%d, want %d/%d/%d", got.Pods, got.PerReplica, got.Total, tt.pods, tt.perReplica, tt.total)
			}
			if (got.Budget == nil) != (tt.budget == nil) || (got.Budget != nil && *got.Budget != *tt.budget) {
				t.Errorf("budget = %v, want %v", ptr.Deref(got.Budget, -1), ptr.Deref(tt.budget, -1))
			}
			if got.Source != tt.source {
				t.Errorf("source = %q, want %q", got.Source, tt.source)
			}
			if got.Fits != tt.fits {
				t.Errorf("fits = %v, want %v (%s)", got.Fits, tt.fits, got.Message)
			}
			if got.Derived != tt.derived {
				t.Errorf("derived = %v, want %v", got.Derived, tt.derived)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", got.Message, tt.message)
			}
			// The invariant behind the whole feature: a derived pool never
			// makes a fleet exceed a budget it could fit with pools of 1.
			if got.Derived && got.Budget != nil && int64(got.Pods)*2 <= int64(*got.Budget) && !got.Fits {
				t.Errorf("derived pool %d does not fit budget %d although pools of 1 would", got.PerReplica, *got.Budget)
			}
		})
	}
}

func TestBudgetComputeClampsOverflow(t *testing.T) {
	got := budgetCompute(BudgetInput{
		Replicas: math.MaxInt32, MaxSurge: 1, PoolMaxConnections: ptr.To[int32](10000),
		Source: BudgetSourceManagedPostgres, DatabaseLimit: 10000,
	})
	if got.Total != math.MaxInt32 || got.Pods != math.MaxInt32 {
		t.Errorf("total/pods = %d/%d, want both clamped to MaxInt32", got.Total, got.Pods)
	}
	if got.Fits {
		t.Errorf("an overflowing fleet must not fit: %s", got.Message)
	}
	if !strings.Contains(got.Message, "2147483648 pods") {
		t.Errorf("message should carry the unclamped pod count: %s", got.Message)
	}
}

func TestBudgetResultCondition(t *testing.T) {
	for _, tt := range []struct {
		in     budgetMS
		status metav1.ConditionStatus
		reason string
	}{
		{budgetMS{backend: "managed-postgres", replicas: ptr.To[int32](2)}, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget},
		{budgetMS{backend: "managed-postgres", replicas: ptr.To[int32](20), pool: ptr.To[int32](10)}, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded},
		{budgetMS{backend: "external-postgres", replicas: ptr.To[int32](2)}, metav1.ConditionUnknown, mcpv1alpha1.ReasonNoBudget},
	} {
		r := BudgetFor(tt.in.build())
		c := r.Condition(7)
		if c.Type != mcpv1alpha1.ConditionConnectionBudget || c.Status != tt.status || c.Reason != tt.reason || c.ObservedGeneration != 7 || c.Message != r.Message {
			t.Errorf("%s: condition = %+v, want %s/%s", tt.in.backend, c, tt.status, tt.reason)
		}
		ps := r.PoolStatus()
		if ps.MaxConnectionsPerReplica != r.PerReplica || ps.MaxTotalConnections != r.Total {
			t.Errorf("%s: pool status %+v does not match %+v", tt.in.backend, ps, r)
		}
		if (ps.ConnectionBudget == nil) != (r.Budget == nil) || (r.Budget != nil && *ps.ConnectionBudget != *r.Budget) {
			t.Errorf("%s: pool status budget %v, want %v", tt.in.backend, ps.ConnectionBudget, r.Budget)
		}
		if r.Budget != nil && ps.ConnectionBudget == r.Budget {
			t.Errorf("%s: pool status must not alias the result's budget", tt.in.backend)
		}
	}
}
