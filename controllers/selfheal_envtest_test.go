package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// Envtest: deleted or edited children come back; nothing is written at
// steady state; a child someone else controls is reported, not taken.

func TestDeletedAndEditedChildrenComeBack(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := sqliteServer(ns, "heal")
	create(t, ms)
	waitDeployment(t, ns, "heal")

	children := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "heal-config"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "heal"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "heal"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "heal-data"}},
	}
	for _, child := range children {
		key := client.ObjectKeyFromObject(child)
		eventually(t, "child "+key.String(), func(ctx context.Context) error { return suite.k8s.Get(ctx, key, child) })
		uid := child.GetUID()
		// envtest runs no controllers: drop finalizers (pvc-protection)
		// that only kube-controller-manager would remove.
		if len(child.GetFinalizers()) > 0 {
			child.SetFinalizers(nil)
			if err := suite.k8s.Update(context.Background(), child); err != nil {
				t.Fatal(err)
			}
		}
		if err := suite.k8s.Delete(context.Background(), child); err != nil {
			t.Fatalf("deleting %T %s: %v", child, key, err)
		}
		eventually(t, fmt.Sprintf("%T %s recreated", child, key), func(ctx context.Context) error {
			if err := suite.k8s.Get(ctx, key, child); err != nil {
				return err
			}
			if child.GetUID() == uid {
				return fmt.Errorf("still the old object")
			}
			return nil
		})
	}

	// A hand edit of the Deployment is put back.
	dep := waitDeployment(t, ns, "heal")
	dep.Spec.Template.Spec.Containers[0].Image = "evil.example/other:1"
	dep.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if err := suite.k8s.Update(context.Background(), dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edit reverted", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "heal")
		if img := d.Spec.Template.Spec.Containers[0].Image; img != testImage || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			return fmt.Errorf("image %s strategy %s", img, d.Spec.Strategy.Type)
		}
		return nil
	})
	// A hand edit of the ConfigMap is put back.
	cm := &corev1.ConfigMap{}
	if err := suite.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "heal-config"}, cm); err != nil {
		t.Fatal(err)
	}
	want := cm.Data[controllers.ConfigFileKey]
	cm.Data[controllers.ConfigFileKey] = "backend: postgres\n"
	if err := suite.k8s.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ConfigMap reverted", func(ctx context.Context) error {
		if err := suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "heal-config"}, cm); err != nil {
			return err
		}
		if cm.Data[controllers.ConfigFileKey] != want {
			return fmt.Errorf("config %q", cm.Data[controllers.ConfigFileKey])
		}
		return nil
	})
}

func TestSteadyStateWritesNothing(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	createSecret(t, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
	ms := externalPostgresServer(ns, "calm", "pg")
	ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MaxReplicas: 4}
	ms.Spec.Pool.MaxConnections = ptr(int32(5))
	ms.Spec.Backend.Postgres.External.MaxConnections = ptr(int32(100))
	ms.Spec.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	ms.Spec.PodTemplate = &mcpv1alpha1.PodTemplateOverrides{ServiceAccountName: "sa", Affinity: &corev1.Affinity{}}
	create(t, ms)
	waitBudget := func(want int32) {
		t.Helper()
		eventually(t, fmt.Sprintf("status.pool.connectionBudget %d", want), func(ctx context.Context) error {
			got, err := getMS(ctx, ns, "calm")
			if err != nil {
				return err
			}
			if got.Status.ObservedGeneration != got.Generation || got.Status.Pool == nil ||
				got.Status.Pool.ConnectionBudget == nil || *got.Status.Pool.ConnectionBudget != want {
				return fmt.Errorf("not reconciled yet: %+v", got.Status.Pool)
			}
			return nil
		})
	}
	waitBudget(95)
	// Changing only the database's declared size changes the status (the
	// budget) but no child: the reconcile that writes it must write no
	// child. Other tests' objects share the counter, so one clean attempt
	// of three is proof enough: a builder that leaves a field to API-server
	// defaulting writes on every reconcile.
	var deltas []float64
	for attempt, size := range []int32{200, 300, 400} {
		writes := childWrites(t)
		patchMS(t, ns, "calm", func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Backend.Postgres.External.MaxConnections = ptr(size)
		})
		waitBudget(size - 5)
		d := childWrites(t) - writes
		if d == 0 {
			return
		}
		deltas = append(deltas, d)
		t.Logf("attempt %d: %v child writes (maybe other tests' objects)", attempt+1, d)
	}
	t.Errorf("every reconcile with no child to change wrote children (%v): a builder leaves a field to API-server defaulting", deltas)
}

func TestChildOwnedByAnotherControllerIsReported(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	// A ConfigMap of the child's name that another controller owns: the
	// operator must not take it over.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: "clash-config",
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "example.test/v1", Kind: "Other", Name: "someone", UID: "0b5e7a3c-0000-4000-8000-000000000001",
			Controller: ptr(true),
		}},
	}, Data: map[string]string{"theirs": "yes"}}
	create(t, foreign)
	create(t, sqliteServer(ns, "clash"))
	eventually(t, "reconcile error reported", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "clash")
		if err != nil {
			return err
		}
		c := condition(got, mcpv1alpha1.ConditionReady)
		if got.Status.Phase != mcpv1alpha1.PhaseDegraded || c == nil || c.Reason != mcpv1alpha1.ReasonReconcileError ||
			!strings.Contains(c.Message, "ConfigMap clash-config") {
			return fmt.Errorf("phase %s, Ready %+v", got.Status.Phase, c)
		}
		if got.Status.ObservedGeneration == got.Generation {
			return fmt.Errorf("observedGeneration set although the reconcile failed")
		}
		return nil
	})
	cm := &corev1.ConfigMap{}
	if err := suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(foreign), cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["theirs"] != "yes" || len(cm.OwnerReferences) != 1 {
		t.Errorf("the operator changed a ConfigMap it does not own: %+v", cm)
	}
	// Once the other controller's object is gone, the operator recovers
	// (the deletion is an event on a ConfigMap it watches only by owner,
	// so the retry with backoff does it).
	if err := suite.k8s.Delete(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "recovered", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "clash")
		if err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation || got.Status.Phase != mcpv1alpha1.PhasePending {
			return fmt.Errorf("phase %s observedGeneration %d", got.Status.Phase, got.Status.ObservedGeneration)
		}
		return nil
	})
}
