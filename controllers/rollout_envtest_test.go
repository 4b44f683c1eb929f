package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// holdServer is an external-PostgreSQL MemoryServer whose DSN is key "url"
// of Secret secret.
func holdServer(ns, name, secret string) *mcpv1alpha1.MemoryServer {
	return &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: mcpv1alpha1.MemoryServerSpec{Replicas: managedI32(2), Backend: mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendPostgres,
			Postgres: &mcpv1alpha1.PostgresBackend{External: &mcpv1alpha1.ExternalPostgres{
				DSNSecretRef: mcpv1alpha1.SecretKeyRef{Name: secret, Key: "url"}}}}},
	}
}

// holdSetSecret rewrites the Secret's "url" key.
func holdSetSecret(tb testing.TB, ns, name, value string) {
	tb.Helper()
	eventually(tb, "update Secret "+name, func(ctx context.Context) error {
		s := &corev1.Secret{}
		if err := managedGet(ctx, ns, name, s); err != nil {
			return err
		}
		s.Data = map[string][]byte{"url": []byte(value)}
		return suite.k8s.Update(ctx, s)
	})
}

// TestInvalidDSNHoldsTheRollout: rotating the external DSN to a malformed
// value (or deleting its Secret) does not roll the pods, nor change the
// ConfigMap, even when the spec changes meanwhile; Progressing says
// RolloutHeld with the cause, an event too; fixing the Secret rolls the
// held changes out.
func TestInvalidDSNHoldsTheRollout(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	managedCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg"},
		StringData: map[string]string{"url": "postgres://app:first-pass@db.example:5432/memory"}})
	managedCreate(t, holdServer(ns, "held", "pg"))
	managedWaitFor(t, ns, "held", "backend ready", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	good := waitDeployment(t, ns, "held")
	goodTemplate := good.Spec.Template.DeepCopy()
	goodPool := managedPool(t, ns, "held")

	// A malformed DSN, then a spec change while it is malformed.
	const bad = "mysql://app:HIDDEN-PASS@db.example/memory"
	holdSetSecret(t, ns, "pg", bad)
	managedPatch(t, ns, "held", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MaxConnections = managedI32(goodPool + 3) })
	got := managedWaitFor(t, ns, "held", "held by InvalidDSN", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonInvalidDSN); err != nil {
			return err
		}
		return managedCond(ms, mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutHeld)
	})
	p := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionProgressing)
	if !strings.Contains(p.Message, mcpv1alpha1.ReasonInvalidDSN) || !strings.Contains(p.Message, `key "url" of Secret "pg"`) {
		t.Errorf("Progressing message %q does not name the cause", p.Message)
	}
	for _, leak := range []string{"HIDDEN-PASS", "mysql", "first-pass"} {
		if strings.Contains(managedJSON(t, got.Status), leak) {
			t.Errorf("status holds %q: %s", leak, managedJSON(t, got.Status))
		}
	}
	ev := managedEvent(t, ns, "held", corev1.EventTypeWarning, mcpv1alpha1.ReasonRolloutHeld, mcpv1alpha1.ReasonInvalidDSN)
	if strings.Contains(ev.Note, "HIDDEN-PASS") {
		t.Errorf("the event leaks the DSN: %q", ev.Note)
	}
	if dep := waitDeployment(t, ns, "held"); !equality.Semantic.DeepEqual(&dep.Spec.Template, goodTemplate) {
		t.Errorf("the pod template changed while the DSN was invalid:\nbefore %s\nafter  %s", managedJSON(t, goodTemplate), managedJSON(t, dep.Spec.Template))
	}
	if n := managedPool(t, ns, "held"); n != goodPool {
		t.Errorf("the ConfigMap changed while held: pool %d, last good %d", n, goodPool)
	}
	if got.Status.ConfigHash != goodTemplate.Annotations[mcpv1alpha1.AnnotationConfigHash] {
		t.Errorf("status.configHash %q, the running pods have %q", got.Status.ConfigHash, goodTemplate.Annotations[mcpv1alpha1.AnnotationConfigHash])
	}

	// The Secret deleted: still held, now for SecretNotFound.
	if err := suite.k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg"}}); err != nil {
		t.Fatal(err)
	}
	managedWaitFor(t, ns, "held", "held by SecretNotFound", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionProgressing); c == nil ||
			c.Reason != mcpv1alpha1.ReasonRolloutHeld || !strings.Contains(c.Message, mcpv1alpha1.ReasonSecretNotFound) {
			return fmt.Errorf("Progressing %+v", c)
		}
		return nil
	})
	if dep := waitDeployment(t, ns, "held"); !equality.Semantic.DeepEqual(&dep.Spec.Template, goodTemplate) {
		t.Errorf("the pod template changed while the Secret was missing")
	}

	// Fixed: the held changes roll out (new hash, the new pool size).
	managedCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg"},
		StringData: map[string]string{"url": "postgres://app:second-pass@db.example:5432/memory"}})
	managedWaitFor(t, ns, "held", "released", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionProgressing); c == nil || c.Reason == mcpv1alpha1.ReasonRolloutHeld {
			return fmt.Errorf("Progressing %+v", c)
		}
		return nil
	})
	dep := waitDeployment(t, ns, "held")
	if h := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]; h == "" || h == goodTemplate.Annotations[mcpv1alpha1.AnnotationConfigHash] {
		t.Errorf("pod template hash %q not rolled after the fix", h)
	}
	if n := managedPool(t, ns, "held"); n != goodPool+3 {
		t.Errorf("pool %d after the fix, want the held change %d", n, goodPool+3)
	}
	managedEvent(t, ns, "held", corev1.EventTypeNormal, mcpv1alpha1.ReasonRolloutInProgress, "rolling out the held changes")
}

// TestNewServerWithMissingSecretGetsItsDeployment: a new MemoryServer whose
// Secret does not exist yet still gets its Deployment (its pods report the
// missing Secret; status says ServerAvailable False), and it rolls once the
// Secret appears.
func TestNewServerWithMissingSecretGetsItsDeployment(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	managedCreate(t, holdServer(ns, "early", "pg"))
	managedWaitFor(t, ns, "early", "SecretNotFound", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound); err != nil {
			return err
		}
		return managedCond(ms, mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady)
	})
	first := waitDeployment(t, ns, "early").Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
	managedCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg"},
		StringData: map[string]string{"url": "postgres://app:pass@db.example:5432/memory"}})
	eventually(t, "rolled once the Secret exists", func(ctx context.Context) error {
		dep := &appsv1.Deployment{}
		if err := managedGet(ctx, ns, "early", dep); err != nil {
			return err
		}
		if h := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]; h == first {
			return fmt.Errorf("pod template hash %q unchanged", h)
		}
		return nil
	})
}

func TestPoolChangeRollsThePods(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	create(t, sqliteServer(ns, "roll"))
	dep := waitDeployment(t, ns, "roll")
	before := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
	if before == "" {
		t.Fatal("no config hash on the pod template")
	}
	patchMS(t, ns, "roll", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Pool.MaxConnections = ptr(int32(4))
		ms.Spec.Pool.HealthCheckPeriod = &metav1.Duration{Duration: 3e9}
	})
	eventually(t, "new config hash", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "roll")
		after := d.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
		if after == before {
			return fmt.Errorf("pod template hash unchanged (%s)", after)
		}
		ms, err := getMS(ctx, ns, "roll")
		if err != nil {
			return err
		}
		if ms.Status.ConfigHash != after {
			return fmt.Errorf("status.configHash %s, pod template %s", ms.Status.ConfigHash, after)
		}
		return nil
	})
	cfg, _ := parseConfigMap(t, ns, "roll")
	if cfg.Pool.MaxConnections != 4 || cfg.Pool.HealthCheckPeriod.Duration != 3e9 {
		t.Errorf("config %+v", cfg.Pool)
	}
}

// TestCredentialsLostHoldsTheRollout: a managed database whose credentials
// Secret is deleted keeps the server pods as they are (the pod template
// would otherwise change with the lost digests), and Progressing says why;
// the Secret restored with the old password rolls them.
func TestCredentialsLostHoldsTheRollout(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	managedCreate(t, managedServer(ns, "mg", mcpv1alpha1.BackendPostgres, 1))
	managedSetReady(t, ns, "mg-postgres", 1)
	managedWaitFor(t, ns, "mg", "BackendReady", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	goodTemplate := waitDeployment(t, ns, "mg").Spec.Template.DeepCopy()
	const secret = "mg-postgres-credentials"
	creds := &corev1.Secret{}
	if err := managedGet(ctx, ns, secret, creds); err != nil {
		t.Fatal(err)
	}
	if err := suite.k8s.Delete(ctx, creds); err != nil {
		t.Fatal(err)
	}
	managedWaitFor(t, ns, "mg", "CredentialsLost holds the rollout", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonCredentialsLost); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionProgressing); c == nil ||
			c.Reason != mcpv1alpha1.ReasonRolloutHeld || !strings.Contains(c.Message, mcpv1alpha1.ReasonCredentialsLost) {
			return fmt.Errorf("Progressing %+v", c)
		}
		return nil
	})
	managedEvent(t, ns, "mg", corev1.EventTypeWarning, mcpv1alpha1.ReasonRolloutHeld, mcpv1alpha1.ReasonCredentialsLost)
	if dep := waitDeployment(t, ns, "mg"); !equality.Semantic.DeepEqual(&dep.Spec.Template, goodTemplate) {
		t.Errorf("the pod template changed while the credentials were lost")
	}

	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}, Data: creds.Data}
	managedCreate(t, restored)
	eventually(t, "rolled after the restore", func(ctx context.Context) error {
		dep := &appsv1.Deployment{}
		if err := managedGet(ctx, ns, "mg", dep); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(&dep.Spec.Template, goodTemplate) {
			return fmt.Errorf("pod template unchanged")
		}
		return nil
	})
}
