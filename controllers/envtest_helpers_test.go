package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
	"github.com/memory-operator/memory-operator/server/config"
)

// Helpers of the MemoryServer envtest suites: objects, reads and waits.

func ptr[T any](v T) *T { return &v }

func sqliteServer(ns, name string) *mcpv1alpha1.MemoryServer {
	return &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: mcpv1alpha1.MemoryServerSpec{
			Backend: mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendSQLite},
		},
	}
}

func externalPostgresServer(ns, name, secret string) *mcpv1alpha1.MemoryServer {
	return &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: mcpv1alpha1.MemoryServerSpec{
			Replicas: ptr(int32(3)),
			Backend: mcpv1alpha1.BackendSpec{
				Type: mcpv1alpha1.BackendPostgres,
				Postgres: &mcpv1alpha1.PostgresBackend{External: &mcpv1alpha1.ExternalPostgres{
					DSNSecretRef: mcpv1alpha1.SecretKeyRef{Name: secret, Key: "dsn"},
				}},
			},
		},
	}
}

func createSecret(tb testing.TB, ns, name string, data map[string]string) *corev1.Secret {
	tb.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if err := suite.k8s.Create(context.Background(), s); err != nil {
		tb.Fatalf("creating Secret %s: %v", name, err)
	}
	return s
}

func create(tb testing.TB, obj client.Object) {
	tb.Helper()
	if err := suite.k8s.Create(context.Background(), obj); err != nil {
		tb.Fatalf("creating %s: %v", obj.GetName(), err)
	}
}

// getMS reads the MemoryServer afresh.
func getMS(ctx context.Context, ns, name string) (*mcpv1alpha1.MemoryServer, error) {
	ms := &mcpv1alpha1.MemoryServer{}
	return ms, suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ms)
}

// waitDeployment waits for the server Deployment and returns it.
func waitDeployment(tb testing.TB, ns, name string) *appsv1.Deployment {
	tb.Helper()
	dep := &appsv1.Deployment{}
	eventually(tb, "Deployment "+name, func(ctx context.Context) error {
		return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, dep)
	})
	return dep
}

func condition(ms *mcpv1alpha1.MemoryServer, t string) *metav1.Condition {
	return meta.FindStatusCondition(ms.Status.Conditions, t)
}

// expectCondition checks one condition's status and reason.
func expectCondition(ms *mcpv1alpha1.MemoryServer, t string, s metav1.ConditionStatus, reason string) error {
	c := condition(ms, t)
	if c == nil {
		return fmt.Errorf("condition %s missing (conditions %+v)", t, ms.Status.Conditions)
	}
	if c.Status != s || c.Reason != reason {
		return fmt.Errorf("condition %s = %s/%s (%s), want %s/%s", t, c.Status, c.Reason, c.Message, s, reason)
	}
	if c.ObservedGeneration != ms.Generation {
		return fmt.Errorf("condition %s observedGeneration %d, want %d", t, c.ObservedGeneration, ms.Generation)
	}
	return nil
}

// expectNoPart fails when the JSON of v holds any 4-character piece of
// secret (a password must not appear in status, even in part).
func expectNoPart(v any, secret string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(string(b), secret[i:i+4]) {
			return fmt.Errorf("%q, a piece of the password, is in %s", secret[i:i+4], b)
		}
	}
	return nil
}

func isControlledBy(obj client.Object, ms *mcpv1alpha1.MemoryServer) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == ms.UID && ref.Kind == "MemoryServer"
}

func serverContainer(tb testing.TB, dep *appsv1.Deployment) corev1.Container {
	tb.Helper()
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == controllers.ContainerName {
			return c
		}
	}
	tb.Fatalf("Deployment %s has no container %s", dep.Name, controllers.ContainerName)
	return corev1.Container{}
}

func parseConfigMap(tb testing.TB, ns, name string) (config.Config, *corev1.ConfigMap) {
	tb.Helper()
	cm := &corev1.ConfigMap{}
	if err := suite.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name + "-config"}, cm); err != nil {
		tb.Fatalf("getting ConfigMap: %v", err)
	}
	cfg, err := config.Parse([]byte(cm.Data[controllers.ConfigFileKey]))
	if err != nil {
		tb.Fatalf("the rendered config does not parse with server/config: %v\n%s", err, cm.Data[controllers.ConfigFileKey])
	}
	return cfg, cm
}

// touch annotates a MemoryServer, which makes the operator reconcile it.
func touch(tb testing.TB, ns, name string) {
	tb.Helper()
	patchMS(tb, ns, name, func(ms *mcpv1alpha1.MemoryServer) {
		if ms.Annotations == nil {
			ms.Annotations = map[string]string{}
		}
		ms.Annotations["example.test/touched"] = time.Now().Format(time.RFC3339Nano)
	})
}

func patchMS(tb testing.TB, ns, name string, mutate func(*mcpv1alpha1.MemoryServer)) {
	tb.Helper()
	eventually(tb, "patching "+name, func(ctx context.Context) error {
		ms, err := getMS(ctx, ns, name)
		if err != nil {
			return err
		}
		mutate(ms)
		return suite.k8s.Update(ctx, ms)
	})
}
