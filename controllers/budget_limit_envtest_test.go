package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// managedSetRolledOut plays the StatefulSet controller once the template
// carries limitArg (e.g. "max_connections=200"): every replica updated
// and ready, for the current generation.
func managedSetRolledOut(tb testing.TB, ns, name, limitArg string) {
	tb.Helper()
	eventually(tb, "StatefulSet rolled out "+name, func(ctx context.Context) error {
		sts := &appsv1.StatefulSet{}
		if err := managedGet(ctx, ns, name, sts); err != nil {
			return err
		}
		if !strings.Contains(strings.Join(sts.Spec.Template.Spec.Containers[0].Args, " "), limitArg) {
			return fmt.Errorf("template args %v lack %s", sts.Spec.Template.Spec.Containers[0].Args, limitArg)
		}
		n := *sts.Spec.Replicas
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n,
			AvailableReplicas: n, CurrentReplicas: n, UpdatedReplicas: n, CurrentRevision: "r", UpdateRevision: "r"}
		return suite.k8s.Status().Update(ctx, sts)
	})
}

// setDeploymentStatus plays the deployment controller: status of the
// Deployment's current generation with the given replica counts.
func setDeploymentStatus(tb testing.TB, ns, name string, replicas, updated int32) {
	tb.Helper()
	eventually(tb, "Deployment status "+name, func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := managedGet(ctx, ns, name, d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: updated,
			ReadyReplicas: replicas, AvailableReplicas: replicas}
		return suite.k8s.Status().Update(ctx, d)
	})
}

// waitReconciles waits until the operator reconciled n more times than
// before (it is woken by touching ns/name).
func waitReconciles(tb testing.TB, ns, name string, n float64) {
	tb.Helper()
	before := reconciles(tb)
	touch(tb, ns, name)
	eventually(tb, "reconciled", func(context.Context) error {
		if reconciles(tb) < before+n {
			return errors.New("not reconciled yet")
		}
		return nil
	})
}

// runningManagedFleet creates a managed-PostgreSQL MemoryServer of
// max_connections 100 whose database and Deployment are rolled out (status
// set by hand: envtest has no controllers) within the budget.
func runningManagedFleet(t *testing.T, ns, name string, replicas, pool int32) {
	t.Helper()
	ms := managedServer(ns, name, mcpv1alpha1.BackendPostgres, replicas)
	ms.Spec.Pool.MaxConnections = managedI32(pool)
	ms.Spec.Backend.Postgres.Managed.MaxConnections = 100
	managedCreate(t, ms)
	managedSetRolledOut(t, ns, name+"-postgres", "max_connections=100")
	managedWaitFor(t, ns, name, "within budget", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	waitDeployment(t, ns, name)
	setDeploymentStatus(t, ns, name, replicas, replicas)
}

// TestBudgetKeepsTheLimitUntilTheRolloutCompletes: lowering
// max_connections together with a smaller pool and fewer replicas fits the
// lower limit as the ConfigMap and replica count say, but while the
// Deployment's rollout is incomplete old pods still hold the old, larger
// pools: the StatefulSet keeps its limit until the rollout is complete.
func TestBudgetKeepsTheLimitUntilTheRolloutCompletes(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	runningManagedFleet(t, ns, "roll", 6, 12) // 7 x 13 = 91 <= 95

	// One edit: 50 (budget 45), pool 5, 4 replicas: 5 x 6 = 30 fits.
	managedPatch(t, ns, "roll", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Backend.Postgres.Managed.MaxConnections = 50
		ms.Spec.Pool.MaxConnections = managedI32(5)
		ms.Spec.Replicas = managedI32(4)
	})
	eventually(t, "new fleet written", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "roll")
		if *d.Spec.Replicas != 4 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		return nil
	})
	if got := managedPool(t, ns, "roll"); got != 5 {
		t.Fatalf("ConfigMap pool %d, want 5", got)
	}
	// Mid-rollout: 5 pods, only 1 of the new template; 4 old ones hold 13
	// connections each (52 > 45).
	setDeploymentStatus(t, ns, "roll", 5, 1)
	waitReconciles(t, ns, "roll", 2)
	if a, err := managedStsLimit(ctx, ns, "roll-postgres"); err != nil || a != "max_connections=100" {
		t.Errorf("StatefulSet %q %v: the limit was lowered while old pods with larger pools still run", a, err)
	}
	got := managedWaitFor(t, ns, "roll", "limit held", func(ms *mcpv1alpha1.MemoryServer) error {
		c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
		if c == nil || !strings.Contains(c.Message, "keeps its limit of 100") || !strings.Contains(c.Message, "rollout is complete") {
			return fmt.Errorf("BackendReady %+v should say the limit waits for the rollout", c)
		}
		return nil
	})
	if a, err := managedStsLimit(ctx, ns, "roll-postgres"); err != nil || a != "max_connections=100" {
		t.Errorf("StatefulSet %q %v after %s", a, err, got.Status.Phase)
	}

	// The rollout completes: the lower limit applies.
	setDeploymentStatus(t, ns, "roll", 4, 4)
	eventually(t, "lower limit applied", func(ctx context.Context) error {
		a, err := managedStsLimit(ctx, ns, "roll-postgres")
		if err != nil {
			return err
		}
		if a != "max_connections=50" {
			return fmt.Errorf("StatefulSet %q", a)
		}
		return nil
	})
}

// TestBudgetWaitsForTheRaisedLimit: raising max_connections and growing
// the fleet in one edit does not roll out the larger fleet until the
// database runs with the new limit (the StatefulSet's pods updated and
// ready): until then the budget counts against the running limit.
func TestBudgetWaitsForTheRaisedLimit(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	runningManagedFleet(t, ns, "grow", 2, 10) // 3 x 11 = 33 <= 95

	// One edit: 200 (budget 195) and 10 replicas: 11 x 11 = 121, which
	// fits 195 but not the running 95.
	managedPatch(t, ns, "grow", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Backend.Postgres.Managed.MaxConnections = 200
		ms.Spec.Replicas = managedI32(10)
	})
	got := managedWaitFor(t, ns, "grow", "waits for the database", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	c := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget)
	if !strings.Contains(c.Message, "121 connections exceeds the budget of 95") || !strings.Contains(c.Message, "waits for the database to take the new limit") {
		t.Errorf("ConnectionBudget message %q should say the fleet waits for the database's new limit", c.Message)
	}
	if a, err := managedStsLimit(ctx, ns, "grow-postgres"); err != nil || a != "max_connections=200" {
		t.Errorf("StatefulSet %q %v: the raised limit must reach the database", a, err)
	}
	waitReconciles(t, ns, "grow", 1)
	if d := waitDeployment(t, ns, "grow"); *d.Spec.Replicas != 2 {
		t.Errorf("Deployment replicas %d before the database runs the new limit, want the held 2", *d.Spec.Replicas)
	}
	if p := got.Status.Pool; p == nil || p.MaxTotalConnections != 33 || p.ConnectionBudget == nil || *p.ConnectionBudget != 95 {
		t.Errorf("status.pool %+v, want the running fleet's 33 against the running database's 95", got.Status.Pool)
	}

	// The database's pods run the new limit: the fleet grows.
	managedSetRolledOut(t, ns, "grow-postgres", "max_connections=200")
	managedWaitFor(t, ns, "grow", "within the new budget", func(ms *mcpv1alpha1.MemoryServer) error {
		if p := ms.Status.Pool; p == nil || p.ConnectionBudget == nil || *p.ConnectionBudget != 195 {
			return fmt.Errorf("status.pool %+v", p)
		}
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	eventually(t, "rolled out at 10", func(ctx context.Context) error {
		if d := waitDeployment(t, ns, "grow"); *d.Spec.Replicas != 10 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		return nil
	})
}

// TestBackendHoldConfigMapRecreated: a ConfigMap deleted while the rollout
// is held for the backend only (a malformed DSN) comes back with the
// configuration the running pods were rolled out with, not the refused
// spec's, and records the running fleet's size.
func TestBackendHoldConfigMapRecreated(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	managedCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg"},
		StringData: map[string]string{"url": "postgres://app:first-pass@db.example:5432/memory"}})
	managedCreate(t, holdServer(ns, "bk", "pg"))
	managedWaitFor(t, ns, "bk", "backend ready", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	good := waitDeployment(t, ns, "bk")
	goodHash := good.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
	cm := &corev1.ConfigMap{}
	if err := managedGet(ctx, ns, "bk-config", cm); err != nil {
		t.Fatal(err)
	}
	goodData, oldUID := cm.Data[controllers.ConfigFileKey], cm.UID
	goodPool := managedPool(t, ns, "bk")

	// Held for the backend, then a refused pool and replica change.
	holdSetSecret(t, ns, "pg", "mysql://app:HIDDEN-PASS@db.example/memory")
	managedPatch(t, ns, "bk", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Pool.MaxConnections = managedI32(goodPool + 3)
		ms.Spec.Replicas = managedI32(5)
	})
	managedWaitFor(t, ns, "bk", "held by InvalidDSN", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonInvalidDSN); err != nil {
			return err
		}
		return managedCond(ms, mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutHeld)
	})
	if err := suite.k8s.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ConfigMap recreated", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "bk-config", cm); err != nil {
			return err
		}
		if cm.UID == oldUID {
			return errors.New("not deleted yet")
		}
		return nil
	})
	if got := managedPool(t, ns, "bk"); got != goodPool {
		t.Errorf("recreated ConfigMap pool.maxConnections %d, want the running pods' %d, not the refused %d", got, goodPool, goodPool+3)
	}
	if cm.Data[controllers.ConfigFileKey] != goodData {
		t.Errorf("recreated ConfigMap:\n%s\nwant what the running pods read:\n%s", cm.Data[controllers.ConfigFileKey], goodData)
	}
	if got := cm.Annotations[mcpv1alpha1.AnnotationAppliedReplicas]; got != "2" {
		t.Errorf("recreated ConfigMap records %q replicas, want the running 2", got)
	}
	if d := waitDeployment(t, ns, "bk"); d.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] != goodHash || *d.Spec.Replicas != 2 {
		t.Errorf("the held Deployment changed: hash %q (was %q), replicas %d", d.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash], goodHash, *d.Spec.Replicas)
	}

	// Fixed: the held changes roll out.
	holdSetSecret(t, ns, "pg", "postgres://app:second-pass@db.example:5432/memory")
	eventually(t, "held changes rolled out", func(ctx context.Context) error {
		if got := managedPool(t, ns, "bk"); got != goodPool+3 {
			return fmt.Errorf("pool %d", got)
		}
		if d := waitDeployment(t, ns, "bk"); *d.Spec.Replicas != 5 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		return nil
	})
}
