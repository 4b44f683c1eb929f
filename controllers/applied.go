package controllers

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/server/config"
)

// The applied fleet is the server fleet as it runs: the Deployment, its
// ConfigMap and its autoscaler as they are in the cluster (the last good
// spec while a rollout is held), not as the spec asks. Two decisions rest on
// it: a managed database's connection limit is lowered only once the applied
// fleet fits the lower limit (else the database would restart with fewer
// slots than the running pods hold), and status.pool reports what runs.

// appliedFleet is the connection demand of the running fleet.
type appliedFleet struct {
	// exists is false when no fleet was ever rolled out: no server
	// Deployment, and no ConfigMap recording one.
	exists bool
	// replicas is the Deployment's replica count, or, when it is gone, the
	// one its held ConfigMap records.
	replicas int32
	// pods is the largest number of pods the fleet may run as applied:
	// max(Deployment replicas + surge, pods that exist, autoscaler max + surge).
	pods int32
	// perReplica is pool.maxConnections in the applied ConfigMap.
	perReplica int32
	// total is pods x (perReplica + prober).
	total int32
	// rolling is true while the Deployment's rollout is not complete (or
	// the Deployment is gone while a fleet was rolled out): old pods may
	// still run with an older, larger pool than the ConfigMap and the
	// replica count say, so total may be too low.
	rolling bool
	// config is the configuration file the Deployment was last rolled out
	// with (AnnotationAppliedConfig), "" when it records none.
	config string
}

// observeApplied is the first step: it reads the applied fleet into
// obs.applied before any step changes it. Without a Deployment (deleted
// while the rollout is held), the applied fleet is the one the held
// ConfigMap records (AnnotationAppliedReplicas), which reconcileDeployment
// recreates.
func (r *MemoryServerReconciler) observeApplied(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	key := client.ObjectKey{Namespace: ms.Namespace, Name: ServerName(ms)}
	per := int32(config.DefaultMaxConnections)
	var recorded int32
	cm := &corev1.ConfigMap{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: ConfigMapName(ms)}, cm); {
	case err == nil:
		if cfg, err := config.Parse([]byte(cm.Data[ConfigFileKey])); err == nil && cfg.Pool.MaxConnections > 0 {
			per = cfg.Pool.MaxConnections
		}
		if n, err := strconv.ParseInt(cm.Annotations[mcpv1alpha1.AnnotationAppliedReplicas], 10, 32); err == nil && n >= 0 {
			recorded = int32(n)
		}
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("while reading ConfigMap %s: %w", ConfigMapName(ms), err)
	}

	var replicas, existing int32
	surge := BudgetMaxSurge
	dep := &appsv1.Deployment{}
	switch err := r.Get(ctx, key, dep); {
	case err == nil:
		replicas, existing = managedDeref(dep.Spec.Replicas, 1), dep.Status.Replicas
		obs.applied.rolling = !deploymentRolledOut(dep)
		obs.applied.config = dep.Annotations[AnnotationAppliedConfig]
		if dep.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			surge = 0
		}
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("while reading Deployment %s: %w", key.Name, err)
	case cm.Annotations[mcpv1alpha1.AnnotationAppliedReplicas] == "":
		return ctrl.Result{}, nil // nothing was ever rolled out
	default:
		replicas = recorded
		obs.applied.rolling = true
		if ms.Spec.Backend.Type == mcpv1alpha1.BackendSQLite {
			surge = 0
		}
	}
	obs.applied.exists, obs.applied.replicas = true, replicas
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	switch err := r.Get(ctx, key, hpa); {
	case err == nil:
		replicas = max(replicas, hpa.Spec.MaxReplicas)
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("while reading HorizontalPodAutoscaler %s: %w", key.Name, err)
	}
	pods := max(int64(replicas)+int64(surge), int64(existing))
	obs.applied.pods, obs.applied.perReplica = budgetClamp(pods), per
	obs.applied.total = budgetClamp(pods * (int64(per) + int64(BudgetProberConnections)))
	return ctrl.Result{}, nil
}

// deploymentRolledOut reports whether dep's rollout is complete: the
// deployment controller has seen its latest spec and every pod it runs is
// of the current template (no old pod, with an older pool, is left).
func deploymentRolledOut(dep *appsv1.Deployment) bool {
	want := managedDeref(dep.Spec.Replicas, 1)
	st := dep.Status
	return st.ObservedGeneration >= dep.Generation && st.UpdatedReplicas == want && st.Replicas == want
}

// appliedPool is status.pool while the rollout is held: the applied
// fleet's numbers against the budget of the database as it runs (heldLimit
// when the managed database keeps its old limit). The refused fleet's
// numbers are only in the ConnectionBudget condition's message.
func appliedPool(ms *mcpv1alpha1.MemoryServer, obs *observed) *mcpv1alpha1.PoolStatus {
	in := budgetInputFor(ms)
	switch {
	case obs.backend.heldLimit > 0:
		in.DatabaseLimit = obs.backend.heldLimit
	case budgetLimitPending(in, obs):
		in.DatabaseLimit = obs.backend.runningLimit
	}
	ps := &mcpv1alpha1.PoolStatus{}
	if obs.applied.exists {
		ps.MaxConnectionsPerReplica, ps.MaxTotalConnections = obs.applied.perReplica, obs.applied.total
	}
	if b := budgetCompute(in).Budget; b != nil {
		v := *b
		ps.ConnectionBudget = &v
	}
	return ps
}

// heldPoolSize is the largest pool per replica with which the running
// fleet (or, when none runs, the spec's) fits the budget of the database as
// it runs: floor(budget / pods) - prober, at least 1. It bounds the pool of
// a ConfigMap recreated while the rollout is held over budget.
func heldPoolSize(ms *mcpv1alpha1.MemoryServer, obs *observed) int32 {
	b := appliedPool(ms, obs).ConnectionBudget
	if b == nil {
		return math.MaxInt32
	}
	pods := BudgetFor(ms).Pods
	if obs.applied.exists {
		pods = obs.applied.pods
	}
	return budgetClamp(max(int64(*b)/max(int64(pods), 1)-int64(BudgetProberConnections), 1))
}

// managedLimitBudget is the connections a managed database with the given
// limit (PostgreSQL max_connections, Neo4j Bolt thread pool) can give the
// fleet: the same formula as the connection budget's.
func managedLimitBudget(ms *mcpv1alpha1.MemoryServer, limit int32) int64 {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return int64(limit)
	}
	return int64(limit) - int64(BudgetSuperuserReserved) - int64(BudgetOperatorMargin)
}

// managedSpecLimit is the limit ms's spec asks of its managed database.
func managedSpecLimit(ms *mcpv1alpha1.MemoryServer) int32 {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return managedNeo4jBoltThreadPool(managedNeo4jSpec(ms))
	}
	return managedPostgresMaxConnections(managedPostgresSpec(ms))
}

// managedRunningLimit is the limit in a database StatefulSet's pod
// template (the -c max_connections=N argument, or the Bolt thread pool
// environment variable); 0 when it cannot be read.
func managedRunningLimit(ms *mcpv1alpha1.MemoryServer, tpl *corev1.PodTemplateSpec) int32 {
	for _, c := range tpl.Spec.Containers {
		var raw string
		if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
			for _, e := range c.Env {
				if e.Name == managedNeo4jConfigEnv("server.bolt.thread_pool_max_size") {
					raw = e.Value
				}
			}
		} else {
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "max_connections="); ok {
					raw = v
				}
			}
		}
		if n, err := strconv.ParseInt(raw, 10, 32); err == nil && n > 0 {
			return int32(n)
		}
	}
	return 0
}

// managedLimitToKeep is the limit the database StatefulSet must keep
// instead of the spec's lower one, or 0 to apply the spec: a lower limit
// waits until the applied fleet fits it and its rollout is complete (old
// pods may still hold the older, larger pools the applied numbers no
// longer show).
func managedLimitToKeep(ms *mcpv1alpha1.MemoryServer, running int32, applied appliedFleet) int32 {
	want := managedSpecLimit(ms)
	if running <= want || !applied.exists {
		return 0
	}
	if !applied.rolling && int64(applied.total) <= managedLimitBudget(ms, want) {
		return 0
	}
	return running
}

// managedWithLimit is a copy of ms whose managed database has the given
// limit.
func managedWithLimit(ms *mcpv1alpha1.MemoryServer, limit int32) *mcpv1alpha1.MemoryServer {
	c := ms.DeepCopy()
	if c.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		c.Spec.Backend.Neo4j.Managed.BoltThreadPoolMaxSize = limit
	} else {
		c.Spec.Backend.Postgres.Managed.MaxConnections = limit
	}
	return c
}

// AnnotationDatabaseLimit on the managed database's StatefulSet is the
// connection limit (max_connections, Bolt thread pool) all its pods last
// ran with: while a changed limit rolls through them, the budget counts
// against the smaller of it and the spec's.
const AnnotationDatabaseLimit = "mcp.memory.dev/database-limit"

// managedStatefulSetRolledOut reports whether every pod of sts runs its
// current template and is ready: the StatefulSet controller has seen the
// latest spec, updated every replica, and the revisions agree.
func managedStatefulSetRolledOut(sts *appsv1.StatefulSet) bool {
	want := managedDeref(sts.Spec.Replicas, 1)
	st := sts.Status
	return st.ObservedGeneration >= sts.Generation && st.Replicas == want && st.UpdatedReplicas == want &&
		st.ReadyReplicas == want && st.CurrentRevision == st.UpdateRevision
}

// managedPodsLimit is the limit the pods of sts (as read, before this
// reconcile writes it) run with: current, the template's, once they are all
// updated and ready; else the limit recorded when they last were
// (AnnotationDatabaseLimit), or current when none is recorded.
func managedPodsLimit(sts *appsv1.StatefulSet, current int32) int32 {
	if managedStatefulSetRolledOut(sts) {
		return current
	}
	if n, err := strconv.ParseInt(sts.Annotations[AnnotationDatabaseLimit], 10, 32); err == nil && n > 0 {
		return int32(n)
	}
	return current
}

// managedRecordLimit records limit on sts (AnnotationDatabaseLimit); 0
// records nothing.
func managedRecordLimit(sts *appsv1.StatefulSet, limit int32) {
	if limit <= 0 {
		return
	}
	if sts.Annotations == nil {
		sts.Annotations = map[string]string{}
	}
	sts.Annotations[AnnotationDatabaseLimit] = strconv.Itoa(int(limit))
}

// budgetLimitPending reports whether the managed database still runs a
// lower limit than the spec's (a raised limit not yet rolled through its
// pods) and the budget comes from that limit.
func budgetLimitPending(in BudgetInput, obs *observed) bool {
	switch in.Source {
	case BudgetSourceManagedPostgres, BudgetSourceManagedNeo4j:
	default:
		return false
	}
	return in.ConnectionBudget == nil && obs.backend.runningLimit > 0 && obs.backend.runningLimit < in.DatabaseLimit
}
