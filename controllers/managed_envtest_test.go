package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	// The budget counts the new limit once the database's pods run it.
	managedSetRolledOut(t, ns, "pg-postgres", "max_connections=200")
	got = managedWaitFor(t, ns, "pg", "new budget", func(ms *mcpv1alpha1.MemoryServer) error {
		if p := ms.Status.Pool; p == nil || p.ConnectionBudget == nil || *p.ConnectionBudget != 195 || p.MaxConnectionsPerReplica != 64 {
			return fmt.Errorf("status.pool %+v", ms.Status.Pool)
		}
		return nil
	})
	if c := meta.FindStatusCondition(got.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget); c == nil || !strings.Contains(c.Message, "the budget of 195 (max_connections 200") {
		t.Errorf("ConnectionBudget after the change: %+v", c)
	}
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
