package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// TestBudgetHoldsTheRollout: an over-budget fleet is not rolled out (the
// Deployment keeps its last good spec, or is not created), is reported,
// and rolls out once it fits again, by scaling down or by a larger
// database.
func TestBudgetHoldsTheRollout(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := managedServer(ns, "fleet", mcpv1alpha1.BackendPostgres, 2)
	ms.Spec.Pool.MaxConnections = managedI32(10)
	managedCreate(t, ms)
	managedWaitFor(t, ns, "fleet", "within budget", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	ctx := context.Background()
	dep := &appsv1.Deployment{}
	eventually(t, "Deployment", func(ctx context.Context) error { return managedGet(ctx, ns, "fleet", dep) })
	goodGen, goodHash := dep.Generation, dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]

	// 10 replicas: 11 pods x 11 = 121 > 95. Also a pool change, which must
	// not reach the ConfigMap-hash of the held Deployment either.
	managedPatch(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = managedI32(10) })
	got := managedWaitFor(t, ns, "fleet", "BudgetExceeded", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	msg := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget).Message
	want := "fleet of 11 pods (10 replicas + 1 surge) x (10 pool + 1 prober) = 121 connections exceeds the budget of 95 (max_connections 100 - 3 reserved - 2 margin)"
	if msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	if err := managedCond(got, mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutHeld); err != nil {
		t.Error(err)
	}
	// status.pool is the fleet that runs (2 replicas: 3 x 11 = 33), not
	// the refused one (121: only in the condition's message).
	if p := got.Status.Pool; p == nil || p.MaxConnectionsPerReplica != 10 || p.MaxTotalConnections != 33 || p.ConnectionBudget == nil || *p.ConnectionBudget != 95 {
		t.Errorf("status.pool %+v, want the running fleet's 10/33/95", got.Status.Pool)
	}
	managedEvent(t, ns, "fleet", corev1.EventTypeWarning, mcpv1alpha1.ReasonBudgetExceeded, "121 connections exceeds the budget of 95")
	if err := managedGet(ctx, ns, "fleet", dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 || dep.Generation != goodGen || dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] != goodHash {
		t.Errorf("the over-budget fleet was rolled out: replicas %d generation %d->%d", *dep.Spec.Replicas, goodGen, dep.Generation)
	}

	// A larger pool while held does not reach the ConfigMap either: a pod
	// that restarts keeps the last good pool size.
	managedPatch(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MaxConnections = managedI32(12) })
	managedWaitFor(t, ns, "fleet", "held with pool 12", func(ms *mcpv1alpha1.MemoryServer) error {
		c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget)
		if c == nil || c.Reason != mcpv1alpha1.ReasonBudgetExceeded || !strings.Contains(c.Message, "x (12 pool + 1 prober) = 143 connections") {
			return fmt.Errorf("ConnectionBudget %+v", c)
		}
		return nil
	})
	if got := managedPool(t, ns, "fleet"); got != 10 {
		t.Errorf("held ConfigMap pool.maxConnections %d, want the last good 10", got)
	}
	if err := managedGet(ctx, ns, "fleet", dep); err != nil {
		t.Fatal(err)
	}
	if dep.Generation != goodGen {
		t.Errorf("the held Deployment changed (generation %d -> %d)", goodGen, dep.Generation)
	}

	// Deleted while held: the last good fleet comes back (2 replicas, the
	// held configuration), not the refused one and not nothing.
	oldUID := dep.UID
	if err := suite.k8s.Delete(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Deployment recreated while held", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "fleet", dep); err != nil {
			return err
		}
		if dep.UID == oldUID {
			return fmt.Errorf("not deleted yet")
		}
		return nil
	})
	if *dep.Spec.Replicas != 2 || dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] != goodHash {
		t.Errorf("recreated Deployment: replicas %d hash %s, want the last good 2 and %s", *dep.Spec.Replicas,
			dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash], goodHash)
	}

	// Back into budget: 6 replicas, 7 x 13 = 91.
	managedPatch(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = managedI32(6) })
	managedWaitFor(t, ns, "fleet", "within budget again", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	eventually(t, "rolled out at 6", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "fleet", dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 6 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})
	managedEvent(t, ns, "fleet", corev1.EventTypeNormal, mcpv1alpha1.ReasonWithinBudget, "91 connections fits")
	if got := managedPool(t, ns, "fleet"); got != 12 {
		t.Errorf("ConfigMap pool.maxConnections %d after the hold, want 12", got)
	}
	if dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] == goodHash {
		t.Error("the new pool size did not roll the pods")
	}

	// Over budget again, then a larger database makes it fit.
	managedPatch(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = managedI32(10) })
	managedWaitFor(t, ns, "fleet", "over again", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	managedPatch(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Backend.Postgres.Managed.MaxConnections = 200 })
	// The database's pods take the new limit (the StatefulSet
	// controller's part); only then does the larger fleet fit.
	managedSetRolledOut(t, ns, "fleet-postgres", "max_connections=200")
	managedWaitFor(t, ns, "fleet", "fits the larger database", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	eventually(t, "rolled out at 10", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "fleet", dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 10 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})

	// An autoscaler is held too: its bounds stay those of the last fleet
	// that fit (max 4: 5 x 11 = 55; max 12: 13 x 11 = 143 > 95).
	auto := managedServer(ns, "auto", mcpv1alpha1.BackendPostgres, 1)
	auto.Spec.Pool.MaxConnections = managedI32(10)
	auto.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MaxReplicas: 4}
	auto.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	managedCreate(t, auto)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	eventually(t, "HPA", func(ctx context.Context) error { return managedGet(ctx, ns, "auto", hpa) })
	managedPatch(t, ns, "auto", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling.MaxReplicas = 12 })
	managedWaitFor(t, ns, "auto", "autoscaler over budget", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	if err := managedGet(ctx, ns, "auto", hpa); err != nil {
		t.Fatal(err)
	}
	if hpa.Spec.MaxReplicas != 4 {
		t.Errorf("held HPA maxReplicas %d, want the last good 4", hpa.Spec.MaxReplicas)
	}
	managedPatch(t, ns, "auto", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling.MaxReplicas = 8 }) // 9 x 11 = 99 > 95
	managedWaitFor(t, ns, "auto", "still over", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	managedPatch(t, ns, "auto", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling.MaxReplicas = 7 }) // 8 x 11 = 88
	eventually(t, "HPA at 7", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "auto", hpa); err != nil {
			return err
		}
		if hpa.Spec.MaxReplicas != 7 {
			return fmt.Errorf("maxReplicas %d", hpa.Spec.MaxReplicas)
		}
		return nil
	})

	// A new MemoryServer that is over budget from the start gets no
	// Deployment at all.
	over := managedServer(ns, "toobig", mcpv1alpha1.BackendPostgres, 20)
	over.Spec.Pool.MaxConnections = managedI32(10)
	managedCreate(t, over)
	managedWaitFor(t, ns, "toobig", "over budget from the start", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	if err := managedGet(ctx, ns, "toobig", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("an over-budget fleet got a Deployment (err %v)", err)
	}
}

// managedStsLimit is the max_connections argument of a managed PostgreSQL
// StatefulSet.
func managedStsLimit(ctx context.Context, ns, name string) (string, error) {
	sts := &appsv1.StatefulSet{}
	if err := managedGet(ctx, ns, name, sts); err != nil {
		return "", err
	}
	for _, a := range sts.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "max_connections=") {
			return a, nil
		}
	}
	return "", fmt.Errorf("no max_connections in %v", sts.Spec.Template.Spec.Containers[0].Args)
}

// TestBudgetHoldsTheDatabaseLimit: lowering a managed database's
// max_connections below what the running fleet holds is refused
// (BudgetExceeded) and the StatefulSet keeps its running limit, so
// PostgreSQL does not restart with too few slots; status.pool and the phase
// describe the fleet that still serves; once the fleet is scaled down the
// lower limit applies.
func TestBudgetHoldsTheDatabaseLimit(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	ms := managedServer(ns, "shrink", mcpv1alpha1.BackendPostgres, 6)
	ms.Spec.Pool.MaxConnections = managedI32(10)
	ms.Spec.Backend.Postgres.Managed.MaxConnections = 100
	managedCreate(t, ms)
	managedSetReady(t, ns, "shrink-postgres", 1)
	managedWaitFor(t, ns, "shrink", "within budget", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	dep := waitDeployment(t, ns, "shrink")
	// Play the deployment controller: the 6 pods run and are available.
	eventually(t, "Deployment status", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "shrink")
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 6, UpdatedReplicas: 6, ReadyReplicas: 6, AvailableReplicas: 6}
		return suite.k8s.Status().Update(ctx, d)
	})
	if a, err := managedStsLimit(ctx, ns, "shrink-postgres"); err != nil || a != "max_connections=100" {
		t.Fatalf("StatefulSet %q %v", a, err)
	}

	// 50: budget 45 < 7 x 11 = 77.
	managedPatch(t, ns, "shrink", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Backend.Postgres.Managed.MaxConnections = 50 })
	got := managedWaitFor(t, ns, "shrink", "BudgetExceeded", func(ms *mcpv1alpha1.MemoryServer) error {
		if ms.Status.Phase != mcpv1alpha1.PhaseDegraded {
			return fmt.Errorf("phase %s, want Degraded (the old fleet serves)", ms.Status.Phase)
		}
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	if a, err := managedStsLimit(ctx, ns, "shrink-postgres"); err != nil || a != "max_connections=100" {
		t.Errorf("StatefulSet %q %v: the limit was lowered under the running fleet", a, err)
	}
	if p := got.Status.Pool; p == nil || p.MaxConnectionsPerReplica != 10 || p.MaxTotalConnections != 77 || p.ConnectionBudget == nil || *p.ConnectionBudget != 95 {
		t.Errorf("status.pool %+v, want the running fleet's 10/77 against the running database's 95", got.Status.Pool)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget); !strings.Contains(c.Message, "77 connections exceeds the budget of 45") {
		t.Errorf("ConnectionBudget message %q should carry the refused numbers", c.Message)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionBackendReady); !strings.Contains(c.Message, "keeps its limit of 100") {
		t.Errorf("BackendReady message %q should say the limit is held", c.Message)
	}
	if err := managedGet(ctx, ns, "shrink", dep); err != nil || *dep.Spec.Replicas != 6 {
		t.Errorf("Deployment replicas %d (%v), want the held 6", *dep.Spec.Replicas, err)
	}

	// 2 replicas: 3 x 11 = 33 <= 45: the fleet rolls out, then the
	// database gets its lower limit.
	managedPatch(t, ns, "shrink", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = managedI32(2) })
	eventually(t, "scaled down", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "shrink")
		if *d.Spec.Replicas != 2 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		// While the 6 old pods still exist, the limit stays.
		if a, err := managedStsLimit(ctx, ns, "shrink-postgres"); err != nil || a != "max_connections=100" {
			t.Errorf("StatefulSet %q %v: lowered while 6 pods still run", a, err)
		}
		// The deployment controller's part: the pods are gone.
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
		return suite.k8s.Status().Update(ctx, d)
	})
	eventually(t, "lower limit applied", func(ctx context.Context) error {
		a, err := managedStsLimit(ctx, ns, "shrink-postgres")
		if err != nil {
			return err
		}
		if a != "max_connections=50" {
			return fmt.Errorf("StatefulSet %q", a)
		}
		return nil
	})
	managedWaitFor(t, ns, "shrink", "within the lower budget", func(ms *mcpv1alpha1.MemoryServer) error {
		if p := ms.Status.Pool; p == nil || p.MaxTotalConnections != 33 || p.ConnectionBudget == nil || *p.ConnectionBudget != 45 {
			return fmt.Errorf("status.pool %+v", p)
		}
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
}

// TestBudgetHeldConfigMapRecreated: a ConfigMap deleted while a larger
// pool is held over budget comes back with a pool the running fleet can
// hold, not the refused one (pods that restart read it), and records the
// running fleet's size.
func TestBudgetHeldConfigMapRecreated(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	ms := managedServer(ns, "cm", mcpv1alpha1.BackendPostgres, 6)
	ms.Spec.Pool.MaxConnections = managedI32(10) // 7 x 11 = 77 <= 95
	managedCreate(t, ms)
	waitDeployment(t, ns, "cm")
	managedWaitFor(t, ns, "cm", "within budget", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
	})
	// Pool 20: 7 x 21 = 147 > 95, held.
	managedPatch(t, ns, "cm", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MaxConnections = managedI32(20) })
	managedWaitFor(t, ns, "cm", "BudgetExceeded", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded)
	})
	cm := &corev1.ConfigMap{}
	if err := managedGet(ctx, ns, "cm-config", cm); err != nil {
		t.Fatal(err)
	}
	oldUID := cm.UID
	if err := suite.k8s.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ConfigMap recreated", func(ctx context.Context) error {
		if err := managedGet(ctx, ns, "cm-config", cm); err != nil {
			return err
		}
		if cm.UID == oldUID {
			return fmt.Errorf("not deleted yet")
		}
		return nil
	})
	// floor(95 / 7) - 1 = 12: the 7 running pods fit with 7 x 13 = 91.
	if got := managedPool(t, ns, "cm"); got != 12 {
		t.Errorf("recreated ConfigMap pool.maxConnections %d, want 12 (what the running fleet can hold), not the refused 20", got)
	}
	if got := cm.Annotations[mcpv1alpha1.AnnotationAppliedReplicas]; got != "6" {
		t.Errorf("recreated ConfigMap records %q replicas, want the running 6", got)
	}
}

// TestExternalDSNValidationAndRotation: a malformed DSN is refused with the
// key named and the value hidden; a valid rotation rolls the pods.
func TestExternalDSNValidationAndRotation(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ext"},
		StringData: map[string]string{"url": "postgres://app:first-pass@db.example:5432/memory?sslmode=require"}}
	managedCreate(t, s)
	ms := &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ext"},
		Spec: mcpv1alpha1.MemoryServerSpec{Backend: mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendPostgres,
			Postgres: &mcpv1alpha1.PostgresBackend{External: &mcpv1alpha1.ExternalPostgres{
				DSNSecretRef: mcpv1alpha1.SecretKeyRef{Name: "ext", Key: "url"}, MaxConnections: managedI32(50)}}}},
	}
	managedCreate(t, ms)
	got := managedWaitFor(t, ns, "ext", "external ready", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	// External postgres with maxConnections has a budget: 50 - 5 = 45.
	if p := got.Status.Pool; p == nil || p.ConnectionBudget == nil || *p.ConnectionBudget != 45 {
		t.Errorf("status.pool %+v", got.Status.Pool)
	}
	dep := &appsv1.Deployment{}
	eventually(t, "Deployment", func(ctx context.Context) error { return managedGet(ctx, ns, "ext", dep) })
	hash1 := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]

	const badValue = "mysql://app:SECRET-VALUE@db.example/memory"
	if err := managedGet(ctx, ns, "ext", s); err != nil {
		t.Fatal(err)
	}
	s.Data["url"] = []byte(badValue)
	if err := suite.k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "InvalidDSN", func(ctx context.Context) error {
		cur := &mcpv1alpha1.MemoryServer{}
		if err := managedGet(ctx, ns, "ext", cur); err != nil {
			return err
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
		if c == nil || c.Reason != mcpv1alpha1.ReasonInvalidDSN {
			return fmt.Errorf("BackendReady %+v", c)
		}
		if !strings.Contains(c.Message, `key "url" of Secret "ext"`) || strings.Contains(c.Message, "SECRET-VALUE") || strings.Contains(c.Message, "mysql") {
			return fmt.Errorf("message %q must name the key and hide the value", c.Message)
		}
		return nil
	})
	ev := managedEvent(t, ns, "ext", corev1.EventTypeWarning, mcpv1alpha1.ReasonInvalidDSN, `key "url"`)
	if strings.Contains(ev.Note, "SECRET-VALUE") {
		t.Errorf("the event leaks the DSN: %q", ev.Note)
	}

	// A valid rotation: ready again, and the pods roll (new config hash).
	if err := managedGet(ctx, ns, "ext", s); err != nil {
		t.Fatal(err)
	}
	s.Data["url"] = []byte("postgresql://app:second-pass@db.example:5432/memory?sslmode=verify-full")
	if err := suite.k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rotated", func(ctx context.Context) error {
		cur := &mcpv1alpha1.MemoryServer{}
		if err := managedGet(ctx, ns, "ext", cur); err != nil {
			return err
		}
		if err := managedCond(cur, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		if err := managedGet(ctx, ns, "ext", dep); err != nil {
			return err
		}
		if h := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]; h == hash1 || h == "" {
			return fmt.Errorf("pod template hash %q unchanged by the rotation", h)
		}
		return nil
	})
}
