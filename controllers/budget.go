package controllers

import (
	"fmt"
	"math"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// The connection budget (DESIGN section 5). The worst case of a fleet is
// every pod of the largest allowed fleet, plus the rollout surge, holding a
// full pool plus one prober connection each:
//
//	pods       = max(replicas, autoscaling.maxReplicas) + maxSurge
//	perReplica = spec.pool.maxConnections, or floor(budget/pods) - 1 (at least 1)
//	total      = pods * (perReplica + 1)
//
// The budget is spec.pool.connectionBudget, else the PostgreSQL
// max_connections (managed, or external when given) minus the superuser
// reserved connections and the operator's margin, else the Bolt thread pool
// of a managed Neo4j, else there is none.

const (
	// BudgetMaxSurge is the surge of the server Deployment's rolling update:
	// one extra pod during a rollout. SQLite deployments use Recreate (0).
	BudgetMaxSurge int32 = 1
	// BudgetProberConnections is the connection each pod's readiness prober
	// holds beside its pool.
	BudgetProberConnections int32 = 1
	// BudgetSuperuserReserved is PostgreSQL's superuser_reserved_connections
	// default.
	BudgetSuperuserReserved int32 = 3
	// BudgetOperatorMargin is kept free for the operator's and humans' own
	// connections (psql, migrations).
	BudgetOperatorMargin int32 = 2
	// BudgetDefaultPerReplica is the pool size per replica when neither
	// spec.pool.maxConnections nor a budget says otherwise.
	BudgetDefaultPerReplica int32 = 10
)

// BudgetSource says where a connection budget comes from.
type BudgetSource string

// Budget sources.
const (
	// BudgetSourceNone: no budget is known.
	BudgetSourceNone BudgetSource = ""
	// BudgetSourceExplicit: spec.pool.connectionBudget.
	BudgetSourceExplicit BudgetSource = "connectionBudget"
	// BudgetSourceManagedPostgres: the managed PostgreSQL's max_connections.
	BudgetSourceManagedPostgres BudgetSource = "managedPostgres"
	// BudgetSourceExternalPostgres: the maxConnections declared for an
	// external PostgreSQL.
	BudgetSourceExternalPostgres BudgetSource = "externalPostgres"
	// BudgetSourceManagedNeo4j: the managed Neo4j's Bolt thread pool.
	BudgetSourceManagedNeo4j BudgetSource = "managedNeo4j"
)

// BudgetInput is the budget computation's input in plain numbers.
type BudgetInput struct {
	// Replicas is spec.replicas (already defaulted).
	Replicas int32
	// MaxReplicas is autoscaling.maxReplicas, 0 without autoscaling.
	MaxReplicas int32
	// MaxSurge is the rollout surge (BudgetMaxSurge, 0 for sqlite).
	MaxSurge int32
	// PoolMaxConnections is spec.pool.maxConnections, nil when unset.
	PoolMaxConnections *int32
	// ConnectionBudget is spec.pool.connectionBudget, nil when unset.
	ConnectionBudget *int32
	// DatabaseLimit is the database's own limit: PostgreSQL max_connections
	// or Neo4j's Bolt thread pool size, per Source. Ignored when Source is
	// BudgetSourceNone or BudgetSourceExplicit.
	DatabaseLimit int32
	// Source is where the database limit comes from; BudgetSourceNone when
	// the database's limit is unknown.
	Source BudgetSource
}

// BudgetResult is the outcome of the budget computation.
type BudgetResult struct {
	// Pods is the largest fleet the budget must hold, surge included.
	Pods int32
	// PerReplica is the pool size each replica gets.
	PerReplica int32
	// Derived is true when PerReplica was derived from the budget because
	// spec.pool.maxConnections is unset.
	Derived bool
	// Total is the fleet's worst case: Pods x (PerReplica + prober).
	Total int32
	// Budget is the connection budget, nil when none is known.
	Budget *int32
	// Source says where Budget comes from.
	Source BudgetSource
	// Fits is true when Total <= Budget, and when there is no budget
	// (nothing to hold the rollout for).
	Fits bool
	// Message explains the numbers, for the ConnectionBudget condition and
	// events.
	Message string
}

// BudgetFor computes the connection budget of a MemoryServer's fleet.
func BudgetFor(ms *mcpv1alpha1.MemoryServer) BudgetResult {
	return budgetCompute(budgetInputFor(ms))
}

// budgetInputFor reduces a MemoryServer to the budget's plain numbers,
// applying the API defaults so an object that skipped defaulting (a unit
// test, an old object) gets the same answer as a defaulted one.
func budgetInputFor(ms *mcpv1alpha1.MemoryServer) BudgetInput {
	in := BudgetInput{
		Replicas:           1,
		MaxSurge:           BudgetMaxSurge,
		PoolMaxConnections: ms.Spec.Pool.MaxConnections,
		ConnectionBudget:   ms.Spec.Pool.ConnectionBudget,
	}
	if ms.Spec.Replicas != nil {
		in.Replicas = *ms.Spec.Replicas
	}
	if ms.Spec.Autoscaling != nil {
		in.MaxReplicas = ms.Spec.Autoscaling.MaxReplicas
	}
	b := ms.Spec.Backend
	switch b.Type {
	case mcpv1alpha1.BackendSQLite:
		in.MaxSurge = 0
	case mcpv1alpha1.BackendPostgres:
		switch {
		case b.Postgres == nil:
		case b.Postgres.Managed != nil:
			in.Source = BudgetSourceManagedPostgres
			in.DatabaseLimit = managedPostgresMaxConnections(b.Postgres.Managed)
		case b.Postgres.External != nil && b.Postgres.External.MaxConnections != nil:
			in.Source = BudgetSourceExternalPostgres
			in.DatabaseLimit = *b.Postgres.External.MaxConnections
		}
	case mcpv1alpha1.BackendNeo4j:
		if b.Neo4j != nil && b.Neo4j.Managed != nil {
			in.Source = BudgetSourceManagedNeo4j
			in.DatabaseLimit = managedNeo4jBoltThreadPool(b.Neo4j.Managed)
		}
	}
	return in
}

// budgetCompute is DESIGN section 5 over plain numbers.
func budgetCompute(in BudgetInput) BudgetResult {
	replicas := max(in.Replicas, in.MaxReplicas, 0)
	pods := int64(replicas) + int64(max(in.MaxSurge, 0))

	var r BudgetResult
	r.Pods = budgetClamp(pods)

	// The budget and a description of where it comes from.
	var budget int64
	var origin string
	hasBudget := true
	switch {
	case in.ConnectionBudget != nil:
		r.Source = BudgetSourceExplicit
		budget = int64(*in.ConnectionBudget)
		origin = "spec.pool.connectionBudget"
	case in.Source == BudgetSourceManagedPostgres || in.Source == BudgetSourceExternalPostgres:
		r.Source = in.Source
		budget = int64(in.DatabaseLimit) - int64(BudgetSuperuserReserved) - int64(BudgetOperatorMargin)
		kind := "max_connections"
		if in.Source == BudgetSourceExternalPostgres {
			kind = "external max_connections"
		}
		origin = fmt.Sprintf("%s %d - %d reserved - %d margin", kind, in.DatabaseLimit, BudgetSuperuserReserved, BudgetOperatorMargin)
	case in.Source == BudgetSourceManagedNeo4j:
		r.Source = in.Source
		budget = int64(in.DatabaseLimit)
		origin = fmt.Sprintf("server.bolt.thread_pool_max_size %d", in.DatabaseLimit)
	default:
		hasBudget = false
	}
	budget = max(budget, 0)

	// The pool per replica.
	var per int64
	var derivation string
	switch {
	case in.PoolMaxConnections != nil:
		per = int64(*in.PoolMaxConnections)
	case hasBudget:
		r.Derived = true
		per = budget/max(pods, 1) - int64(BudgetProberConnections)
		derivation = fmt.Sprintf("; pool.maxConnections derived as floor(%d / %d) - %d", budget, max(pods, 1), BudgetProberConnections)
		if per < 1 {
			per = 1
			derivation += ", raised to the minimum of 1"
		}
		derivation += fmt.Sprintf(" = %d", per)
	default:
		per = int64(BudgetDefaultPerReplica)
	}
	per = max(per, 1)
	r.PerReplica = budgetClamp(per)

	total := pods * (per + int64(BudgetProberConnections))
	r.Total = budgetClamp(total)

	fleet := fmt.Sprintf("fleet of %d pods (%s) x (%d pool + %d prober) = %d connections",
		pods, budgetPodsText(in, replicas), per, BudgetProberConnections, total)
	if !hasBudget {
		r.Fits = true
		r.Message = "no connection budget known: " + fleet +
			"; set spec.pool.connectionBudget (or maxConnections of the external database) to check it"
		return r
	}
	b := budgetClamp(budget)
	r.Budget = &b
	r.Fits = total <= budget
	verb := "fits"
	if !r.Fits {
		verb = "exceeds"
	}
	r.Message = fmt.Sprintf("%s %s the budget of %d (%s)%s", fleet, verb, budget, origin, derivation)
	return r
}

// budgetPodsText explains the pod count, e.g. "max 10 replicas + 1 surge".
func budgetPodsText(in BudgetInput, replicas int32) string {
	var s string
	if in.MaxReplicas > 0 && in.MaxReplicas >= in.Replicas {
		s = fmt.Sprintf("autoscaling max %d replicas", replicas)
	} else {
		s = fmt.Sprintf("%d replicas", replicas)
	}
	if in.MaxSurge > 0 {
		s += fmt.Sprintf(" + %d surge", in.MaxSurge)
	}
	return s
}

// budgetClamp fits v into an int32.
func budgetClamp(v int64) int32 {
	return int32(min(max(v, 0), math.MaxInt32))
}

// PoolStatus is the result as it goes into status.pool.
func (r BudgetResult) PoolStatus() *mcpv1alpha1.PoolStatus {
	ps := &mcpv1alpha1.PoolStatus{
		MaxConnectionsPerReplica: r.PerReplica,
		MaxTotalConnections:      r.Total,
	}
	if r.Budget != nil {
		b := *r.Budget
		ps.ConnectionBudget = &b
	}
	return ps
}

// Condition is the ConnectionBudget condition for the result: True
// WithinBudget, False BudgetExceeded, or Unknown NoBudget.
func (r BudgetResult) Condition(generation int64) metav1.Condition {
	c := metav1.Condition{
		Type:               mcpv1alpha1.ConditionConnectionBudget,
		ObservedGeneration: generation,
		Message:            r.Message,
	}
	switch {
	case r.Budget == nil:
		c.Status, c.Reason = metav1.ConditionUnknown, mcpv1alpha1.ReasonNoBudget
	case r.Fits:
		c.Status, c.Reason = metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget
	default:
		c.Status, c.Reason = metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded
	}
	return c
}
