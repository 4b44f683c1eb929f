package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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
	"github.com/memory-operator/memory-operator/server/config"
)

// Envtest of the managed backends and the connection budget. Envtest has
// no StatefulSet, Deployment or garbage-collection controllers: tests set
// a StatefulSet's status by hand, create the claims the StatefulSet
// controller would, and assert deletions the finalizer makes.

func managedI32(v int32) *int32 { return &v }

// managedServer is a MemoryServer with a managed database of the given type.
func managedServer(ns, name string, backend mcpv1alpha1.BackendType, replicas int32) *mcpv1alpha1.MemoryServer {
	ms := &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: mcpv1alpha1.MemoryServerSpec{
			Replicas: managedI32(replicas),
			Backend:  mcpv1alpha1.BackendSpec{Type: backend},
		},
	}
	if backend == mcpv1alpha1.BackendNeo4j {
		ms.Spec.Backend.Neo4j = &mcpv1alpha1.Neo4jBackend{Managed: &mcpv1alpha1.ManagedNeo4j{}}
	} else {
		ms.Spec.Backend.Postgres = &mcpv1alpha1.PostgresBackend{Managed: &mcpv1alpha1.ManagedPostgres{}}
	}
	return ms
}

func managedCreate(tb testing.TB, obj client.Object) {
	tb.Helper()
	if err := suite.k8s.Create(context.Background(), obj); err != nil {
		tb.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func managedGet(ctx context.Context, ns, name string, obj client.Object) error {
	return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj)
}

// managedWaitFor waits until the MemoryServer's status is for its current
// generation and check accepts it; it returns that MemoryServer.
func managedWaitFor(tb testing.TB, ns, name, what string, check func(ms *mcpv1alpha1.MemoryServer) error) *mcpv1alpha1.MemoryServer {
	tb.Helper()
	ms := &mcpv1alpha1.MemoryServer{}
	eventually(tb, what, func(ctx context.Context) error {
		if err := managedGet(ctx, ns, name, ms); err != nil {
			return err
		}
		if ms.Status.ObservedGeneration != ms.Generation {
			return fmt.Errorf("status is for generation %d, object is at %d", ms.Status.ObservedGeneration, ms.Generation)
		}
		return check(ms)
	})
	return ms
}

// managedCond checks one condition of the current generation.
func managedCond(ms *mcpv1alpha1.MemoryServer, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(ms.Status.Conditions, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition", typ)
	case c.ObservedGeneration != ms.Generation:
		return fmt.Errorf("%s is for generation %d, not %d", typ, c.ObservedGeneration, ms.Generation)
	case c.Status != status || c.Reason != reason:
		return fmt.Errorf("%s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return nil
}

// managedPatch changes the MemoryServer's spec with a merge patch.
func managedPatch(tb testing.TB, ns, name string, mutate func(ms *mcpv1alpha1.MemoryServer)) {
	tb.Helper()
	ctx := context.Background()
	ms := &mcpv1alpha1.MemoryServer{}
	if err := managedGet(ctx, ns, name, ms); err != nil {
		tb.Fatal(err)
	}
	orig := ms.DeepCopy()
	mutate(ms)
	if err := suite.k8s.Patch(ctx, ms, client.MergeFrom(orig)); err != nil {
		tb.Fatalf("patching MemoryServer %s: %v", name, err)
	}
}

// managedSetReady plays the StatefulSet controller: readyReplicas = ready.
func managedSetReady(tb testing.TB, ns, name string, ready int32) {
	tb.Helper()
	eventually(tb, "StatefulSet status "+name, func(ctx context.Context) error {
		sts := &appsv1.StatefulSet{}
		if err := managedGet(ctx, ns, name, sts); err != nil {
			return err
		}
		sts.Status.ObservedGeneration = sts.Generation
		sts.Status.Replicas, sts.Status.ReadyReplicas, sts.Status.AvailableReplicas = 1, ready, ready
		sts.Status.CurrentReplicas, sts.Status.UpdatedReplicas = 1, 1
		return suite.k8s.Status().Update(ctx, sts)
	})
}

// managedPassword reads the credentials Secret's password and
// resourceVersion.
func managedPassword(ctx context.Context, ns, secret string) (password, resourceVersion string, err error) {
	s := &corev1.Secret{}
	if err := managedGet(ctx, ns, secret, s); err != nil {
		return "", "", err
	}
	if len(s.Data["password"]) == 0 {
		return "", "", fmt.Errorf("Secret %s has no password", secret)
	}
	return string(s.Data["password"]), s.ResourceVersion, nil
}

// managedEvent waits for a Warning/Normal event about the MemoryServer with
// the reason, whose note contains text.
func managedEvent(tb testing.TB, ns, name, typ, reason, text string) eventsv1.Event {
	tb.Helper()
	var found eventsv1.Event
	eventually(tb, reason+" event", func(ctx context.Context) error {
		var evs eventsv1.EventList
		if err := suite.k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Type == typ && e.Reason == reason && e.Regarding.Name == name && strings.Contains(e.Note, text) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s %s event containing %q among %d", typ, reason, text, len(evs.Items))
	})
	return found
}

// managedPool is pool.maxConnections in the rendered server configuration.
func managedPool(tb testing.TB, ns, name string) int32 {
	tb.Helper()
	cm := &corev1.ConfigMap{}
	if err := managedGet(context.Background(), ns, name+"-config", cm); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Parse([]byte(cm.Data[controllers.ConfigFileKey]))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.Pool.MaxConnections
}

func managedJSON(tb testing.TB, obj any) string {
	tb.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func managedEnvFrom(c corev1.Container, name string) *corev1.SecretKeySelector {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil {
			return e.ValueFrom.SecretKeyRef
		}
	}
	return nil
}

func TestManagedPostgresObjects(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := managedServer(ns, "pg", mcpv1alpha1.BackendPostgres, 2)
	ms.Spec.Backend.Postgres.Managed.Storage.Size = func() *resource.Quantity { q := resource.MustParse("20Gi"); return &q }()
	managedCreate(t, ms)

	got := managedWaitFor(t, ns, "pg", "StatefulSetNotReady", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady)
	})
	ctx := context.Background()
	sts := &appsv1.StatefulSet{}
	if err := managedGet(ctx, ns, "pg-postgres", sts); err != nil {
		t.Fatal(err)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "postgres:17" || strings.Join(c.Args, " ") != "-c max_connections=100" {
		t.Errorf("postgres container %s %q", c.Image, c.Args)
	}
	if ref := managedEnvFrom(c, "POSTGRES_PASSWORD"); ref == nil || ref.Name != "pg-postgres-credentials" || ref.Key != "password" {
		t.Errorf("POSTGRES_PASSWORD from %+v", ref)
	}
	if q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("20Gi")) != 0 {
		t.Errorf("claim size %s", q.String())
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.Exec == nil || !strings.Contains(strings.Join(c.ReadinessProbe.Exec.Command, " "), "pg_isready") {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	for _, name := range []string{"pg-postgres", "pg-postgres-headless"} {
		svc := &corev1.Service{}
		if err := managedGet(ctx, ns, name, svc); err != nil {
			t.Fatalf("Service %s: %v", name, err)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 5432 || !metav1.IsControlledBy(svc, got) {
			t.Errorf("Service %s: ports %+v owners %+v", name, svc.Spec.Ports, svc.OwnerReferences)
		}
		if (name == "pg-postgres-headless") != (svc.Spec.ClusterIP == corev1.ClusterIPNone) {
			t.Errorf("Service %s clusterIP %q", name, svc.Spec.ClusterIP)
		}
	}
	secret := &corev1.Secret{}
	if err := managedGet(ctx, ns, "pg-postgres-credentials", secret); err != nil {
		t.Fatal(err)
	}
	pw := string(secret.Data["password"])
	if len(pw) != 43 || !metav1.IsControlledBy(secret, got) || !metav1.IsControlledBy(sts, got) {
		t.Errorf("password length %d, Secret owners %+v, StatefulSet owners %+v", len(pw), secret.OwnerReferences, sts.OwnerReferences)
	}
	if want := "postgres://memory:" + pw + "@pg-postgres." + ns + ".svc:5432/memory?sslmode=disable"; string(secret.Data["dsn"]) != want {
		t.Errorf("dsn does not match the password and Service")
	}

	// The server pods read the DSN from the Secret; the derived pool size
	// goes into their config: floor(95 / (2+1)) - 1 = 30.
	dep := &appsv1.Deployment{}
	if err := managedGet(ctx, ns, "pg", dep); err != nil {
		t.Fatal(err)
	}
	server := dep.Spec.Template.Spec.Containers[0]
	if ref := managedEnvFrom(server, controllers.EnvPostgresDSN); ref == nil || ref.Name != "pg-postgres-credentials" || ref.Key != "dsn" {
		t.Errorf("server DSN from %+v", ref)
	}
	cm := &corev1.ConfigMap{}
	if err := managedGet(ctx, ns, "pg-config", cm); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(cm.Data[controllers.ConfigFileKey]))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pool.MaxConnections != 30 {
		t.Errorf("rendered pool.maxConnections %d, want 30 (derived)", cfg.Pool.MaxConnections)
	}
	if p := got.Status.Pool; p == nil || p.MaxConnectionsPerReplica != 30 || p.MaxTotalConnections != 93 || p.ConnectionBudget == nil || *p.ConnectionBudget != 95 {
		t.Errorf("status.pool %+v", got.Status.Pool)
	}
	if err := managedCond(got, mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionTrue, mcpv1alpha1.ReasonWithinBudget); err != nil {
		t.Error(err)
	}
	if b := got.Status.Backend; b == nil || !b.Managed || b.Host != "pg-postgres."+ns+".svc" || b.Ready {
		t.Errorf("status.backend %+v", got.Status.Backend)
	}
	for _, obj := range []client.Object{sts, secret, cm, dep} {
		if obj != secret && strings.Contains(managedJSON(t, obj), pw) {
			t.Errorf("the password leaks into %T %s", obj, obj.GetName())
		}
	}
	for _, c := range got.Status.Conditions {
		if strings.Contains(c.Message, pw) {
			t.Errorf("the password leaks into condition %s", c.Type)
		}
	}

	// BackendReady follows the StatefulSet's ready replicas.
	managedSetReady(t, ns, "pg-postgres", 1)
	managedWaitFor(t, ns, "pg", "BackendReady", func(ms *mcpv1alpha1.MemoryServer) error {
		if ms.Status.Backend == nil || !ms.Status.Backend.Ready {
			return fmt.Errorf("status.backend %+v", ms.Status.Backend)
		}
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
	managedSetReady(t, ns, "pg-postgres", 0)
	managedWaitFor(t, ns, "pg", "BackendReady False again", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady)
	})

	// Steady state: a reconcile (an annotation wakes it) writes nothing,
	// not even an update the API server would find to be a no-op: the
	// builders spell out every defaulted field.
	writes, before := childWrites(t), reconciles(t)
	managedPatch(t, ns, "pg", func(ms *mcpv1alpha1.MemoryServer) { ms.Annotations = map[string]string{"test/touch": "1"} })
	eventually(t, "reconciled after touch", func(context.Context) error {
		if reconciles(t) <= before {
			return errors.New("no reconcile yet")
		}
		return nil
	})
	if got := childWrites(t); got != writes {
		t.Errorf("a reconcile with nothing to change wrote %v children", got-writes)
	}

	// Changing max_connections reaches the StatefulSet and the budget.
	managedPatch(t, ns, "pg", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Backend.Postgres.Managed.MaxConnections = 200 })
	got = managedWaitFor(t, ns, "pg", "new budget", func(ms *mcpv1alpha1.MemoryServer) error {
		if p := ms.Status.Pool; p == nil || p.ConnectionBudget == nil || *p.ConnectionBudget != 195 || p.MaxConnectionsPerReplica != 64 {
			return fmt.Errorf("status.pool %+v", ms.Status.Pool)
		}
		return nil
	})
	if err := managedGet(ctx, ns, "pg-postgres", sts); err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(sts.Spec.Template.Spec.Containers[0].Args, " "); args != "-c max_connections=200" {
		t.Errorf("args %q after the change", args)
	}

	// A new size cannot change the claim template: reported, not applied.
	managedPatch(t, ns, "pg", func(ms *mcpv1alpha1.MemoryServer) {
		q := resource.MustParse("30Gi")
		ms.Spec.Backend.Postgres.Managed.Storage.Size = &q
	})
	managedWaitFor(t, ns, "pg", "storage drift reported", func(ms *mcpv1alpha1.MemoryServer) error {
		c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
		if c == nil || !strings.Contains(c.Message, "size 20Gi (spec 30Gi)") {
			return fmt.Errorf("BackendReady %+v", c)
		}
		return nil
	})
	if err := managedGet(ctx, ns, "pg-postgres", sts); err != nil {
		t.Fatal(err)
	}
	if q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("20Gi")) != 0 {
		t.Errorf("claim template %s", q.String())
	}
}

func TestManagedNeo4jObjects(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := managedServer(ns, "graph", mcpv1alpha1.BackendNeo4j, 3)
	ms.Spec.Backend.Neo4j.Managed.BoltThreadPoolMaxSize = 200
	managedCreate(t, ms)
	got := managedWaitFor(t, ns, "graph", "neo4j reconciled", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady)
	})
	ctx := context.Background()
	sts := &appsv1.StatefulSet{}
	if err := managedGet(ctx, ns, "graph-neo4j", sts); err != nil {
		t.Fatal(err)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "neo4j:5-community" {
		t.Errorf("image %s", c.Image)
	}
	if ref := managedEnvFrom(c, "NEO4J_AUTH"); ref == nil || ref.Name != "graph-neo4j-credentials" || ref.Key != "auth" {
		t.Errorf("NEO4J_AUTH from %+v", ref)
	}
	var pool string
	for _, e := range c.Env {
		if e.Name == "NEO4J_server_bolt_thread__pool__max__size" {
			pool = e.Value
		}
	}
	if pool != "200" {
		t.Errorf("bolt thread pool %q", pool)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket.Port.StrVal != "bolt" {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	svc := &corev1.Service{}
	if err := managedGet(ctx, ns, "graph-neo4j", svc); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.Port
	}
	if ports["bolt"] != 7687 || ports["http"] != 7474 {
		t.Errorf("Service ports %v", ports)
	}
	secret := &corev1.Secret{}
	if err := managedGet(ctx, ns, "graph-neo4j-credentials", secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["auth"]) != "neo4j/"+string(secret.Data["password"]) || string(secret.Data["username"]) != "neo4j" {
		t.Error("auth key does not match username/password")
	}
	// The server gets the URI in its config and the credentials by env.
	cm := &corev1.ConfigMap{}
	if err := managedGet(ctx, ns, "graph-config", cm); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(cm.Data[controllers.ConfigFileKey]))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Neo4j.URI != "bolt://graph-neo4j."+ns+".svc:7687" {
		t.Errorf("config neo4j.uri %q", cfg.Neo4j.URI)
	}
	dep := &appsv1.Deployment{}
	if err := managedGet(ctx, ns, "graph", dep); err != nil {
		t.Fatal(err)
	}
	if ref := managedEnvFrom(dep.Spec.Template.Spec.Containers[0], controllers.EnvNeo4jPassword); ref == nil || ref.Name != "graph-neo4j-credentials" || ref.Key != "password" {
		t.Errorf("server Neo4j password from %+v", ref)
	}
	// Budget: the Bolt thread pool, 200 over 4 pods: floor(200/4) - 1 = 49.
	if p := got.Status.Pool; p == nil || p.ConnectionBudget == nil || *p.ConnectionBudget != 200 || p.MaxConnectionsPerReplica != 49 || p.MaxTotalConnections != 200 {
		t.Errorf("status.pool %+v", got.Status.Pool)
	}
	managedSetReady(t, ns, "graph-neo4j", 1)
	managedWaitFor(t, ns, "graph", "neo4j BackendReady", func(ms *mcpv1alpha1.MemoryServer) error {
		return managedCond(ms, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
}

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
	if p := got.Status.Pool; p == nil || p.MaxTotalConnections != 121 || *p.ConnectionBudget != 95 {
		t.Errorf("status.pool %+v", got.Status.Pool)
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

// BenchmarkManagedPostgresFleet creates 200 MemoryServers with managed
// PostgreSQL at once and reports the time until every one has its
// credentials Secret, StatefulSet, Services and Deployment and a status for
// its generation, then the reconciles and child writes over the next 30 s
// of steady state (both should be zero), and the test process's peak RSS
// (operator, cache and client; the API server and etcd run apart). Run:
//
//	KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh) go test ./controllers/ -run '^$' -bench BenchmarkManagedPostgresFleet -benchtime 1x
func BenchmarkManagedPostgresFleet(b *testing.B) {
	requireEnvtest(b)
	n := 200
	if v, err := strconv.Atoi(os.Getenv("MANAGED_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v // a smaller fleet while profiling
	}
	for range b.N {
		ns := newNamespace(b)
		ctx := context.Background()
		reconcilesStart, writesStart := reconciles(b), childWrites(b)
		b.ResetTimer()
		start := time.Now()
		for i := range n {
			ms := managedServer(ns, fmt.Sprintf("m%03d", i), mcpv1alpha1.BackendPostgres, 1)
			if err := suite.k8s.Create(ctx, ms); err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(start)
		pending := map[string]bool{}
		for i := range n {
			pending[fmt.Sprintf("m%03d", i)] = true
		}
		for len(pending) > 0 {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("%d MemoryServers still not reconciled after 10 minutes", len(pending))
			}
			var list mcpv1alpha1.MemoryServerList
			if err := suite.k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			for i := range list.Items {
				ms := &list.Items[i]
				if !pending[ms.Name] || ms.Status.ObservedGeneration != ms.Generation || ms.Status.Backend == nil || !ms.Status.Backend.Managed {
					continue
				}
				if managedChildrenExist(ctx, ns, ms.Name) == nil {
					delete(pending, ms.Name)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()

		reconciles0, writes0 := reconciles(b), childWrites(b)
		b.ReportMetric(created.Seconds(), "s-creates-only")
		b.ReportMetric((reconciles0-reconcilesStart)/float64(n), "reconciles/object-to-settle")
		b.ReportMetric((writes0-writesStart)/float64(n), "writes/object-to-settle")
		time.Sleep(managedSteadyWindow())
		b.ReportMetric(elapsed.Seconds(), fmt.Sprintf("s/%d-created", n))
		b.ReportMetric(reconciles(b)-reconciles0, "reconciles/30s-steady")
		b.ReportMetric(childWrites(b)-writes0, "writes/30s-steady")
		b.ReportMetric(float64(managedPeakRSS(b))/(1<<20), "MiB-peak-RSS")
	}
}

// managedSteadyWindow is 30 s, or MANAGED_BENCH_STEADY (a Go duration).
func managedSteadyWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("MANAGED_BENCH_STEADY")); err == nil {
		return d
	}
	return 30 * time.Second
}

// managedChildrenExist checks the managed children and the Deployment of one
// MemoryServer.
func managedChildrenExist(ctx context.Context, ns, name string) error {
	for child, obj := range map[string]client.Object{
		name + "-postgres-credentials": &corev1.Secret{},
		name + "-postgres":             &appsv1.StatefulSet{},
		name + "-postgres-headless":    &corev1.Service{},
		name:                           &appsv1.Deployment{},
	} {
		if err := managedGet(ctx, ns, child, obj); err != nil {
			return err
		}
	}
	return nil
}

// managedPeakRSS is this process's peak resident set (VmHWM), in bytes.
func managedPeakRSS(tb testing.TB) int64 {
	tb.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
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
