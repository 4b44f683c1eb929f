package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// TestManagedPasswordIsStable: 20 spec changes, each reconciled, and 20
// reconciles of a fresh reconciler (an operator restart: no state but the
// cluster's) leave the generated password and the Secret untouched.
func TestManagedPasswordIsStable(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	managedCreate(t, managedServer(ns, "stable", mcpv1alpha1.BackendPostgres, 1))
	managedWaitFor(t, ns, "stable", "first reconcile", func(*mcpv1alpha1.MemoryServer) error { return nil })
	ctx := context.Background()
	pw, rv, err := managedPassword(ctx, ns, "stable-postgres-credentials")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		managedPatch(t, ns, "stable", func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Pool.MaxConnections = managedI32(int32(i))
		})
		managedWaitFor(t, ns, "stable", fmt.Sprintf("reconcile %d", i), func(ms *mcpv1alpha1.MemoryServer) error {
			if p := ms.Status.Pool; p == nil || p.MaxConnectionsPerReplica != int32(i) {
				return fmt.Errorf("status.pool %+v", ms.Status.Pool)
			}
			return nil
		})
		got, gotRV, err := managedPassword(ctx, ns, "stable-postgres-credentials")
		if err != nil {
			t.Fatal(err)
		}
		if got != pw || gotRV != rv {
			t.Fatalf("after spec change %d the credentials Secret changed (resourceVersion %s -> %s)", i, rv, gotRV)
		}
	}

	// An operator restart: a new reconciler that reads the API server
	// directly, with nothing cached or remembered.
	fresh := &controllers.MemoryServerReconciler{
		Client: suite.k8s, Scheme: suite.scheme, Recorder: events.NewFakeRecorder(1000), DefaultImage: testImage,
	}
	for i := 0; i < 20; i++ {
		if _, err := fresh.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "stable"}}); err != nil {
			t.Fatalf("fresh reconcile %d: %v", i, err)
		}
	}
	got, gotRV, err := managedPassword(ctx, ns, "stable-postgres-credentials")
	if err != nil {
		t.Fatal(err)
	}
	if got != pw || gotRV != rv {
		t.Fatalf("after the restart the credentials Secret changed (resourceVersion %s -> %s)", rv, gotRV)
	}
	// And the server still points at the same Secret key.
	dep := &appsv1.Deployment{}
	if err := managedGet(ctx, ns, "stable", dep); err != nil {
		t.Fatal(err)
	}
	if ref := managedEnvFrom(dep.Spec.Template.Spec.Containers[0], controllers.EnvPostgresDSN); ref == nil || ref.Name != "stable-postgres-credentials" {
		t.Errorf("server DSN from %+v", ref)
	}
}

// TestManagedCredentialsLost: a deleted credentials Secret is recreated
// only once the database that was initialised with it is gone.
func TestManagedCredentialsLost(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	managedCreate(t, managedServer(ns, "lost", mcpv1alpha1.BackendPostgres, 1))
	managedWaitFor(t, ns, "lost", "first reconcile", func(*mcpv1alpha1.MemoryServer) error { return nil })
	ctx := context.Background()
	const secret = "lost-postgres-credentials"
	oldPW, _, err := managedPassword(ctx, ns, secret)
	if err != nil {
		t.Fatal(err)
	}
	managedSetReady(t, ns, "lost-postgres", 1)
	managedWaitFor(t, ns, "lost", "BackendReady", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})

	// 1. The Secret goes while the StatefulSet stays: CredentialsLost, and
	// no new password.
	if err := suite.k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}}); err != nil {
		t.Fatal(err)
	}
	got := managedWaitFor(t, ns, "lost", "CredentialsLost", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonCredentialsLost)
	})
	msg := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionBackendReady).Message
	if !strings.Contains(msg, "StatefulSet lost-postgres") || strings.Contains(msg, oldPW) {
		t.Errorf("message %q should name the StatefulSet (and never the password)", msg)
	}
	if got.Status.Phase != mcpv1alpha1.PhaseFailed {
		t.Errorf("phase %s, want Failed", got.Status.Phase)
	}
	managedEvent(t, ns, "lost", corev1.EventTypeWarning, mcpv1alpha1.ReasonCredentialsLost, "lost-postgres")
	// The condition was written by a reconcile that saw the Secret gone;
	// a few more (spec touches) still create nothing.
	for i := 0; i < 3; i++ {
		managedPatch(t, ns, "lost", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MinConnections = managedI32(int32(i)) })
		managedWaitFor(t, ns, "lost", "still lost", func(ms *mcpv1alpha1.MemoryServer) error {
			return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonCredentialsLost)
		})
	}
	if err := managedGet(ctx, ns, secret, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a new credentials Secret was generated while the database still exists (err %v)", err)
	}

	// The recovery the message suggests: the Secret recreated by hand with
	// the old password. A key short first (SecretKeyMissing), then whole.
	partial := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret},
		StringData: map[string]string{"username": "memory", "password": oldPW, "database": "memory"}}
	managedCreate(t, partial)
	managedWaitFor(t, ns, "lost", "SecretKeyMissing", func(ms *mcpv1alpha1.MemoryServer) error {
		c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
		if c == nil || c.Reason != mcpv1alpha1.ReasonSecretKeyMissing || !strings.Contains(c.Message, `no key "dsn"`) {
			return fmt.Errorf("BackendReady %+v", c)
		}
		return nil
	})
	if err := suite.k8s.Delete(ctx, partial); err != nil {
		t.Fatal(err)
	}
	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}, StringData: map[string]string{
		"username": "memory", "password": oldPW, "database": "memory",
		"dsn": "postgres://memory:" + oldPW + "@lost-postgres." + ns + ".svc:5432/memory?sslmode=disable",
	}}
	managedCreate(t, restored)
	managedWaitFor(t, ns, "lost", "restored", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	if pw, _, err := managedPassword(ctx, ns, secret); err != nil || pw != oldPW {
		t.Fatalf("the restored Secret was rewritten (err %v)", err)
	}
	if err := suite.k8s.Delete(ctx, restored); err != nil {
		t.Fatal(err)
	}
	managedWaitFor(t, ns, "lost", "lost again", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonCredentialsLost)
	})

	// 2. The StatefulSet goes too, but its claim (the data) stays: still
	// lost, naming the claim.
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data-lost-postgres-0", Labels: map[string]string{
			mcpv1alpha1.LabelName: mcpv1alpha1.LabelNameValue, mcpv1alpha1.LabelInstance: "lost",
			mcpv1alpha1.LabelComponent: mcpv1alpha1.ComponentDatabase, mcpv1alpha1.LabelManagedBy: mcpv1alpha1.LabelManagedByValue,
		}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	managedCreate(t, claim)
	if err := suite.k8s.Delete(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lost-postgres"}}); err != nil {
		t.Fatal(err)
	}
	managedWaitFor(t, ns, "lost", "lost, by the claim", func(ms *mcpv1alpha1.MemoryServer) error {
		c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
		if c == nil || c.Reason != mcpv1alpha1.ReasonCredentialsLost || !strings.Contains(c.Message, "PersistentVolumeClaim data-lost-postgres-0") {
			return fmt.Errorf("BackendReady %+v", c)
		}
		return nil
	})
	if err := managedGet(ctx, ns, "lost-postgres", &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the StatefulSet came back without credentials (err %v)", err)
	}

	// 3. Both gone: a new Secret with a new password, and a new StatefulSet.
	if err := suite.k8s.Delete(ctx, claim); err != nil {
		t.Fatal(err)
	}
	managedForget(t, claim) // envtest has no pvc-protection controller
	managedPatch(t, ns, "lost", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MinConnections = nil })
	managedWaitFor(t, ns, "lost", "recreated", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady)
	})
	newPW, _, err := managedPassword(ctx, ns, secret)
	if err != nil {
		t.Fatal(err)
	}
	if newPW == oldPW {
		t.Error("the recreated Secret reuses the old password")
	}
	if err := managedGet(ctx, ns, "lost-postgres", &appsv1.StatefulSet{}); err != nil {
		t.Errorf("StatefulSet not recreated: %v", err)
	}
}

// managedForget drops the finalizers envtest leaves on a deleted claim
// (kubernetes.io/pvc-protection, which a controller would remove) and
// waits for it to be gone.
func managedForget(tb testing.TB, pvc *corev1.PersistentVolumeClaim) {
	tb.Helper()
	eventually(tb, "claim "+pvc.Name+" gone", func(ctx context.Context) error {
		cur := &corev1.PersistentVolumeClaim{}
		if err := managedGet(ctx, pvc.Namespace, pvc.Name, cur); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if len(cur.Finalizers) > 0 {
			cur.Finalizers = nil
			if err := suite.k8s.Update(ctx, cur); err != nil {
				return err
			}
		}
		return errors.New("still there")
	})
}

// TestManagedDeleteOnRemoval: with deleteOnRemoval the finalizer deletes
// the database's claims, and only them; without it they are kept.
func TestManagedDeleteOnRemoval(t *testing.T) {
	requireEnvtest(t)
	for _, tt := range []struct {
		name    string
		backend mcpv1alpha1.BackendType
		del     bool
	}{
		{"delete-pg", mcpv1alpha1.BackendPostgres, true},
		{"keep-pg", mcpv1alpha1.BackendPostgres, false},
		{"delete-n4j", mcpv1alpha1.BackendNeo4j, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			ctx := context.Background()
			ms := managedServer(ns, "db", tt.backend, 1)
			if tt.backend == mcpv1alpha1.BackendNeo4j {
				ms.Spec.Backend.Neo4j.Managed.Storage.DeleteOnRemoval = tt.del
			} else {
				ms.Spec.Backend.Postgres.Managed.Storage.DeleteOnRemoval = tt.del
			}
			managedCreate(t, ms)
			got := managedWaitFor(t, ns, "db", "reconciled", func(ms *mcpv1alpha1.MemoryServer) error {
				has := false
				for _, f := range ms.Finalizers {
					has = has || f == controllers.ManagedStorageFinalizer
				}
				if has != tt.del {
					return fmt.Errorf("finalizers %v (deleteOnRemoval %v)", ms.Finalizers, tt.del)
				}
				return nil
			})
			dbLabels := map[string]string{
				mcpv1alpha1.LabelName: mcpv1alpha1.LabelNameValue, mcpv1alpha1.LabelInstance: "db",
				mcpv1alpha1.LabelComponent: mcpv1alpha1.ComponentDatabase, mcpv1alpha1.LabelManagedBy: mcpv1alpha1.LabelManagedByValue,
			}
			mk := func(name string, labels map[string]string) *corev1.PersistentVolumeClaim {
				p := &corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					},
				}
				managedCreate(t, p)
				return p
			}
			db := string(tt.backend)
			// What the StatefulSet controller makes from the claim template...
			ours := []*corev1.PersistentVolumeClaim{mk("data-db-"+db+"-0", dbLabels), mk("data-db-"+db+"-1", dbLabels)}
			// ...and claims that must survive: the same labels but another
			// name, a look-alike name without the labels, another app's.
			others := []*corev1.PersistentVolumeClaim{
				mk("db-data", dbLabels),
				mk("data-db-"+db+"-backup", dbLabels),
				mk("data-db-"+db+"-2", nil),
				mk("unrelated", map[string]string{"app": "x"}),
			}
			if err := suite.k8s.Delete(ctx, got); err != nil {
				t.Fatal(err)
			}
			eventually(t, "MemoryServer gone", func(ctx context.Context) error {
				err := managedGet(ctx, ns, "db", &mcpv1alpha1.MemoryServer{})
				if apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("still there (err %v)", err)
			})
			for _, p := range ours {
				cur := &corev1.PersistentVolumeClaim{}
				err := managedGet(ctx, ns, p.Name, cur)
				deleted := apierrors.IsNotFound(err) || (err == nil && !cur.DeletionTimestamp.IsZero())
				if deleted != tt.del {
					t.Errorf("claim %s deleted=%v, want %v (err %v)", p.Name, deleted, tt.del, err)
				}
			}
			for _, p := range others {
				cur := &corev1.PersistentVolumeClaim{}
				if err := managedGet(ctx, ns, p.Name, cur); err != nil || !cur.DeletionTimestamp.IsZero() {
					t.Errorf("claim %s, which is not the database's, was deleted (err %v)", p.Name, err)
				}
			}
		})
	}

	// Turning deleteOnRemoval off drops the finalizer again.
	ns := newNamespace(t)
	ms := managedServer(ns, "flip", mcpv1alpha1.BackendPostgres, 1)
	ms.Spec.Backend.Postgres.Managed.Storage.DeleteOnRemoval = true
	managedCreate(t, ms)
	managedWaitFor(t, ns, "flip", "finalizer added", func(ms *mcpv1alpha1.MemoryServer) error {
		if len(ms.Finalizers) != 1 || ms.Finalizers[0] != controllers.ManagedStorageFinalizer {
			return fmt.Errorf("finalizers %v", ms.Finalizers)
		}
		return nil
	})
	managedPatch(t, ns, "flip", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Backend.Postgres.Managed.Storage.DeleteOnRemoval = false })
	managedWaitFor(t, ns, "flip", "finalizer removed", func(ms *mcpv1alpha1.MemoryServer) error {
		if len(ms.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v", ms.Finalizers)
		}
		return nil
	})
}

// TestManagedSamplesBudget applies the managed samples and checks the
// budget figures their comments promise.
func TestManagedSamplesBudget(t *testing.T) {
	requireEnvtest(t)
	for _, tt := range []struct {
		file, name              string
		perReplica, total, budg int32
	}{
		{"mcp_v1alpha1_memoryserver_managed_postgres.yaml", "agent-memory", 64, 195, 195},
		{"mcp_v1alpha1_memoryserver_managed_neo4j.yaml", "graph-store", 20, 84, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			data, err := os.ReadFile(filepath.Join("..", "config", "samples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ms := &mcpv1alpha1.MemoryServer{}
			if err := yaml.UnmarshalStrict(data, ms); err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			ms.Namespace = ns
			managedCreate(t, ms)
			managedWaitFor(t, ns, tt.name, "budget", func(ms *mcpv1alpha1.MemoryServer) error {
				p := ms.Status.Pool
				if p == nil || p.MaxConnectionsPerReplica != tt.perReplica || p.MaxTotalConnections != tt.total ||
					p.ConnectionBudget == nil || *p.ConnectionBudget != tt.budg {
					return fmt.Errorf("status.pool %+v", p)
				}
				return managedCond(ms, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget)
			})
		})
	}
}

// managedStaleCache is a client whose cache has not seen any Secret yet,
// as the manager's cache right after the operator created one.
type managedStaleCache struct{ client.Client }

func (c managedStaleCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// TestManagedStaleCacheIsNotCredentialsLost: a credentials Secret the cache
// misses is confirmed with the API server, so a lagging cache neither
// reports CredentialsLost nor generates a new password.
func TestManagedStaleCacheIsNotCredentialsLost(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	managedCreate(t, managedServer(ns, "lag", mcpv1alpha1.BackendPostgres, 1))
	managedWaitFor(t, ns, "lag", "first reconcile", func(*mcpv1alpha1.MemoryServer) error { return nil })
	managedSetReady(t, ns, "lag-postgres", 1)
	managedWaitFor(t, ns, "lag", "BackendReady", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	ctx := context.Background()
	pw, rv, err := managedPassword(ctx, ns, "lag-postgres-credentials")
	if err != nil {
		t.Fatal(err)
	}
	recorder := events.NewFakeRecorder(1000)
	stale := &controllers.MemoryServerReconciler{
		Client: managedStaleCache{suite.k8s}, APIReader: suite.k8s, Scheme: suite.scheme, Recorder: recorder, DefaultImage: testImage,
	}
	for i := 0; i < 5; i++ {
		if _, err := stale.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "lag"}}); err != nil {
			t.Fatalf("reconcile %d: %v", i, err)
		}
	}
	ms := &mcpv1alpha1.MemoryServer{}
	if err := managedGet(ctx, ns, "lag", ms); err != nil {
		t.Fatal(err)
	}
	if err := managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
		t.Errorf("a stale cache changed BackendReady: %v", err)
	}
	close(recorder.Events)
	for e := range recorder.Events {
		if strings.Contains(e, mcpv1alpha1.ReasonCredentialsLost) {
			t.Errorf("a stale cache produced the event %q", e)
		}
	}
	if got, gotRV, err := managedPassword(ctx, ns, "lag-postgres-credentials"); err != nil || got != pw || gotRV != rv {
		t.Errorf("the credentials Secret changed (err %v, resourceVersion %s -> %s)", err, rv, gotRV)
	}
}
