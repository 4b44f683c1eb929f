package controllers_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// secretlessCache is a cached client that holds no Secret: reading one
// through it is an error, as it would be a cluster-wide cache of every
// Secret's data.
type secretlessCache struct{ client.Client }

func (c secretlessCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		return fmt.Errorf("Secret %s read through the cache", key)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c secretlessCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*corev1.SecretList); ok {
		return fmt.Errorf("Secrets listed through the cache")
	}
	return c.Client.List(ctx, list, opts...)
}

// TestSecretsAreReadPastTheCache: the reconciler reads every Secret it
// uses (an external DSN, bearer tokens, managed credentials) through
// APIReader, so the manager can watch Secrets by metadata only.
func TestSecretsAreReadPastTheCache(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	createSecret(t, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
	createSecret(t, ns, "tokens", map[string]string{"list": "t1\n"})
	ext := externalPostgresServer(ns, "ext", "pg")
	ext.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "tokens", Key: "list"}}
	create(t, ext)
	create(t, managedServer(ns, "mgd", mcpv1alpha1.BackendPostgres, 1))

	r := &controllers.MemoryServerReconciler{
		Client: secretlessCache{suite.k8s}, APIReader: suite.k8s, Scheme: suite.scheme,
		Recorder: events.NewFakeRecorder(1000), DefaultImage: testImage,
	}
	for _, name := range []string{"ext", "mgd"} {
		for i := 0; i < 3; i++ {
			if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}); err != nil {
				t.Fatalf("reconcile %s: %v", name, err)
			}
		}
	}
	managedWaitFor(t, ns, "ext", "external backend ready", func(ms *mcpv1alpha1.MemoryServer) error {
		if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		return managedCond(ms, mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady)
	})
	if _, _, err := managedPassword(ctx, ns, "mgd-postgres-credentials"); err != nil {
		t.Errorf("managed credentials: %v", err)
	}
}
