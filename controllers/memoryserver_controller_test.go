package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
	"github.com/memory-operator/memory-operator/server/config"
)

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

func TestSQLiteMemoryServerChildren(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := sqliteServer(ns, "notes")
	create(t, ms)

	dep := waitDeployment(t, ns, "notes")
	if !isControlledBy(dep, ms) {
		t.Errorf("Deployment not controlled by the MemoryServer: %+v", dep.OwnerReferences)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s, want Recreate for sqlite", dep.Spec.Strategy.Type)
	}
	if *dep.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want the default 1", *dep.Spec.Replicas)
	}
	c := serverContainer(t, dep)
	if c.Image != testImage {
		t.Errorf("image %q, want the operator's default %q", c.Image, testImage)
	}
	if strings.Join(c.Args, " ") != "--config /etc/memory-server/config.yaml" {
		t.Errorf("args %q", c.Args)
	}
	if c.StartupProbe.HTTPGet.Path != "/livez" || c.LivenessProbe.HTTPGet.Path != "/livez" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: startup %s liveness %s readiness %s", c.StartupProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	if c.ReadinessProbe.HTTPGet.Port.StrVal != "http" || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports: probe %v, container %+v", c.ReadinessProbe.HTTPGet.Port, c.Ports)
	}
	sc := c.SecurityContext
	if !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container security context not hardened: %+v", sc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["data"] != "/var/lib/memory-server" || mounts["tmp"] != "/tmp" || mounts["config"] != "/etc/memory-server" {
		t.Errorf("mounts %v", mounts)
	}
	var claim string
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "notes-data" {
		t.Errorf("data volume claim %q, want notes-data", claim)
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			t.Errorf("GOMEMLIMIT set without a memory limit: %s", e.Value)
		}
	}
	if dep.Labels[mcpv1alpha1.LabelInstance] != "notes" || dep.Labels[mcpv1alpha1.LabelComponent] != "server" ||
		dep.Labels[mcpv1alpha1.LabelManagedBy] != "memory-operator" || dep.Labels[mcpv1alpha1.LabelName] != "memory-server" {
		t.Errorf("labels %v", dep.Labels)
	}

	cfg, cm := parseConfigMap(t, ns, "notes")
	if !isControlledBy(cm, ms) {
		t.Error("ConfigMap not controlled by the MemoryServer")
	}
	if cfg.Backend != "sqlite" || cfg.SQLite.Path != "/var/lib/memory-server/memory.db" || cfg.Listen != ":8080" ||
		cfg.Transport != "streamable-http" || cfg.Pool.MaxConnections != 10 {
		t.Errorf("rendered config %+v", cfg)
	}

	pvc := &corev1.PersistentVolumeClaim{}
	eventually(t, "PVC", func(ctx context.Context) error {
		return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "notes-data"}, pvc)
	})
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("1Gi")) != 0 || !isControlledBy(pvc, ms) {
		t.Errorf("PVC size %s, controlled %v", q.String(), isControlledBy(pvc, ms))
	}
	svc := &corev1.Service{}
	eventually(t, "Service", func(ctx context.Context) error {
		return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "notes"}, svc)
	})
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 8080 ||
		svc.Spec.Selector[mcpv1alpha1.LabelInstance] != "notes" {
		t.Errorf("Service spec %+v", svc.Spec)
	}
	// A single replica has no disruption budget and no autoscaler.
	if err := suite.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "notes"}, &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
		t.Errorf("PodDisruptionBudget for one replica: %v", err)
	}
	if err := suite.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "notes"}, &autoscalingv2.HorizontalPodAutoscaler{}); !apierrors.IsNotFound(err) {
		t.Errorf("HPA without autoscaling: %v", err)
	}

	eventually(t, "status", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "notes")
		if err != nil {
			return err
		}
		s := got.Status
		if s.ObservedGeneration != got.Generation || s.Endpoint != "http://notes."+ns+".svc:8080/mcp" ||
			s.Backend == nil || s.Backend.Type != "sqlite" || !s.Backend.Ready || s.Phase != mcpv1alpha1.PhasePending ||
			s.Ready != "0/1" || s.ConfigHash == "" || s.ConfigHash != dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] ||
			s.Selector != "app.kubernetes.io/component=server,app.kubernetes.io/instance=notes,app.kubernetes.io/name=memory-server" {
			return fmt.Errorf("status %+v", s)
		}
		for _, want := range []struct {
			t      string
			s      metav1.ConditionStatus
			reason string
		}{
			{mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady},
			{mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady},
			{mcpv1alpha1.ConditionConnectionBudget, metav1.ConditionUnknown, mcpv1alpha1.ReasonNoBudget},
			{mcpv1alpha1.ConditionProgressing, metav1.ConditionTrue, mcpv1alpha1.ReasonRolloutInProgress},
			{mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady},
		} {
			if err := expectCondition(got, want.t, want.s, want.reason); err != nil {
				return err
			}
		}
		return nil
	})

	// Every child's creation is reported as an event on the MemoryServer.
	eventually(t, "Created events", func(ctx context.Context) error {
		var evs eventsv1.EventList
		if err := suite.k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		kinds := map[string]bool{}
		for _, e := range evs.Items {
			if e.Reason == "Created" && e.Type == corev1.EventTypeNormal && e.Regarding.Name == "notes" && e.Related != nil {
				kinds[e.Related.Kind] = true
			}
		}
		for _, k := range []string{"ConfigMap", "Deployment", "Service", "PersistentVolumeClaim"} {
			if !kinds[k] {
				return fmt.Errorf("no Created event for the %s (have %v)", k, kinds)
			}
		}
		return nil
	})
}

func TestExternalPostgresMemoryServerChildren(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	const dsn = "postgres://memory:s3cr3t-pw@db.example:5432/memory?sslmode=require"
	createSecret(t, ns, "pg", map[string]string{"dsn": dsn})
	ms := externalPostgresServer(ns, "team", "pg")
	ms.Spec.Image = "example.test/custom:1"
	ms.Spec.Port = 9090
	ms.Spec.Transport = mcpv1alpha1.TransportSSE
	ms.Spec.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
	ms.Spec.Pool = mcpv1alpha1.PoolSpec{
		MaxConnections: ptr(int32(7)), MinConnections: ptr(int32(3)),
		QueryTimeout: &metav1.Duration{Duration: 12e9},
	}
	ms.Spec.PodTemplate = &mcpv1alpha1.PodTemplateOverrides{
		Labels:             map[string]string{"team": "agents", mcpv1alpha1.LabelInstance: "hijack"},
		Annotations:        map[string]string{"example.test/note": "kept"},
		NodeSelector:       map[string]string{"disk": "ssd"},
		ServiceAccountName: "memory",
		PriorityClassName:  "high",
		Tolerations:        []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mcp", Effect: corev1.TaintEffectNoSchedule}},
	}
	create(t, ms)

	dep := waitDeployment(t, ns, "team")
	if dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		dep.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() != 1 || dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy %+v", dep.Spec.Strategy)
	}
	if *dep.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *dep.Spec.Replicas)
	}
	c := serverContainer(t, dep)
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if ref := env[controllers.EnvPostgresDSN].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "pg" || ref.SecretKeyRef.Key != "dsn" || env[controllers.EnvPostgresDSN].Value != "" {
		t.Errorf("DSN env %+v", env[controllers.EnvPostgresDSN])
	}
	if got := env["GOMEMLIMIT"].Value; got != "966367641" {
		t.Errorf("GOMEMLIMIT %q, want 90%% of 1Gi = 966367641", got)
	}
	if c.Image != "example.test/custom:1" || c.Ports[0].ContainerPort != 9090 {
		t.Errorf("image %s port %d", c.Image, c.Ports[0].ContainerPort)
	}
	pod := dep.Spec.Template
	if pod.Labels["team"] != "agents" || pod.Labels[mcpv1alpha1.LabelInstance] != "team" || pod.Annotations["example.test/note"] != "kept" ||
		pod.Spec.NodeSelector["disk"] != "ssd" || pod.Spec.ServiceAccountName != "memory" || pod.Spec.PriorityClassName != "high" ||
		len(pod.Spec.Tolerations) != 1 {
		t.Errorf("pod template overrides not passed through (or operator labels lost): %+v %+v", pod.ObjectMeta, pod.Spec)
	}

	cfg, cm := parseConfigMap(t, ns, "team")
	if cfg.Backend != "postgres" || cfg.Pool.MaxConnections != 7 || cfg.Pool.MinConnections != 3 ||
		cfg.Pool.QueryTimeout.Duration != 12e9 || cfg.Listen != ":9090" || cfg.Transport != "sse" {
		t.Errorf("rendered config %+v", cfg)
	}
	if strings.Contains(cm.Data[controllers.ConfigFileKey], "s3cr3t") {
		t.Error("the DSN leaked into the ConfigMap")
	}
	pdb := &policyv1.PodDisruptionBudget{}
	eventually(t, "PDB", func(ctx context.Context) error {
		return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "team"}, pdb)
	})
	if pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels[mcpv1alpha1.LabelInstance] != "team" || !isControlledBy(pdb, ms) {
		t.Errorf("PDB %+v", pdb.Spec)
	}
	if err := suite.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "team-data"}, &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
		t.Errorf("a PVC for a postgres backend: %v", err)
	}
	eventually(t, "status", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "team")
		if err != nil {
			return err
		}
		if got.Status.Endpoint != "http://team."+ns+".svc:9090/sse" || got.Status.Backend == nil || got.Status.Backend.Managed ||
			!got.Status.Backend.Ready || got.Status.Ready != "0/3" {
			return fmt.Errorf("status %+v", got.Status)
		}
		if strings.Contains(fmt.Sprintf("%+v", got.Status), "s3cr3t") {
			return fmt.Errorf("the DSN leaked into the status")
		}
		if got.Status.Backend.Host != "db.example" {
			return fmt.Errorf("status.backend.host %q, want the DSN's host name db.example", got.Status.Backend.Host)
		}
		if err := expectNoPart(got.Status, "s3cr3t-pw"); err != nil {
			return err
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})

	// Scaling through the scale subresource (kubectl scale) reaches the
	// Deployment.
	scale := &autoscalingv1.Scale{}
	if err := suite.k8s.SubResource("scale").Get(context.Background(), ms, scale); err != nil {
		t.Fatalf("getting the scale subresource: %v", err)
	}
	if scale.Spec.Replicas != 3 || !strings.Contains(scale.Status.Selector, "app.kubernetes.io/instance=team") {
		t.Errorf("scale %+v", scale)
	}
	scale.Spec.Replicas = 4
	if err := suite.k8s.SubResource("scale").Update(context.Background(), ms, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("scaling: %v", err)
	}
	eventually(t, "scaled Deployment", func(ctx context.Context) error {
		d := waitDeployment(t, ns, "team")
		if *d.Spec.Replicas != 4 {
			return fmt.Errorf("replicas %d, want 4", *d.Spec.Replicas)
		}
		return nil
	})
}

func TestExternalNeo4jMemoryServerChildren(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	createSecret(t, ns, "n4j", map[string]string{"username": "neo4j", "password": "graph-pw"})
	ms := &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "graph"},
		Spec: mcpv1alpha1.MemoryServerSpec{
			Replicas: ptr(int32(2)),
			Backend: mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendNeo4j, Neo4j: &mcpv1alpha1.Neo4jBackend{
				External: &mcpv1alpha1.ExternalNeo4j{URI: "neo4j+s://graph.example:7687", Database: "memory", AuthSecretRef: mcpv1alpha1.SecretRef{Name: "n4j"}},
			}},
		},
	}
	create(t, ms)
	dep := waitDeployment(t, ns, "graph")
	env := map[string]*corev1.EnvVarSource{}
	for _, e := range serverContainer(t, dep).Env {
		env[e.Name] = e.ValueFrom
	}
	for name, key := range map[string]string{controllers.EnvNeo4jUsername: "username", controllers.EnvNeo4jPassword: "password"} {
		if env[name] == nil || env[name].SecretKeyRef.Name != "n4j" || env[name].SecretKeyRef.Key != key {
			t.Errorf("env %s = %+v, want Secret n4j key %s", name, env[name], key)
		}
	}
	cfg, cm := parseConfigMap(t, ns, "graph")
	if cfg.Backend != "neo4j" || cfg.Neo4j.URI != "neo4j+s://graph.example:7687" || cfg.Neo4j.Database != "memory" {
		t.Errorf("rendered config %+v", cfg)
	}
	if strings.Contains(cm.Data[controllers.ConfigFileKey], "graph-pw") {
		t.Error("the Neo4j password leaked into the ConfigMap")
	}
	eventually(t, "status", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "graph")
		if err != nil {
			return err
		}
		if got.Status.Backend == nil || got.Status.Backend.Host != "graph.example" || got.Status.Backend.Type != "neo4j" {
			return fmt.Errorf("backend status %+v", got.Status.Backend)
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady)
	})
}

func TestManagedBackendDoesNotBreakTheReconciler(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mgd"},
		Spec: mcpv1alpha1.MemoryServerSpec{
			Backend: mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendPostgres, Postgres: &mcpv1alpha1.PostgresBackend{
				Managed: &mcpv1alpha1.ManagedPostgres{},
			}},
		},
	}
	create(t, ms)
	eventually(t, "managed status", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "mgd")
		if err != nil {
			return err
		}
		if got.Status.Backend == nil || !got.Status.Backend.Managed || got.Status.Backend.Host != "mgd-postgres."+ns+".svc" {
			return fmt.Errorf("backend status %+v", got.Status.Backend)
		}
		if condition(got, mcpv1alpha1.ConditionBackendReady) == nil {
			return fmt.Errorf("no BackendReady condition")
		}
		return nil
	})
	// The server reaches the managed database through the credentials
	// Secret (generated by the managed-backend step).
	dep := waitDeployment(t, ns, "mgd")
	var ref *corev1.SecretKeySelector
	for _, e := range serverContainer(t, dep).Env {
		if e.Name == controllers.EnvPostgresDSN && e.ValueFrom != nil {
			ref = e.ValueFrom.SecretKeyRef
		}
	}
	if ref == nil || ref.Name != "mgd-postgres-credentials" || ref.Key != "dsn" {
		t.Errorf("DSN env from %+v, want Secret mgd-postgres-credentials key dsn", ref)
	}
}

func TestAutoscaledFleet(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	createSecret(t, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
	ms := externalPostgresServer(ns, "fleet", "pg")
	ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MinReplicas: ptr(int32(2)), MaxReplicas: 6, TargetCPUUtilizationPercentage: ptr(int32(60))}
	create(t, ms)

	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	eventually(t, "HPA", func(ctx context.Context) error {
		return suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "fleet"}, hpa)
	})
	if *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 6 || hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != "fleet" ||
		*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 || !isControlledBy(hpa, ms) {
		t.Errorf("HPA %+v", hpa.Spec)
	}
	dep := waitDeployment(t, ns, "fleet")
	if *dep.Spec.Replicas != 2 {
		t.Errorf("a new autoscaled Deployment starts at minReplicas: %d", *dep.Spec.Replicas)
	}
	// The HPA scales the Deployment; the operator leaves its replicas alone.
	dep.Spec.Replicas = ptr(int32(5))
	if err := suite.k8s.Update(context.Background(), dep); err != nil {
		t.Fatal(err)
	}
	touch(t, ns, "fleet")
	eventually(t, "touch reconciled", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "fleet")
		if err != nil {
			return err
		}
		if got.Status.Ready != "0/5" {
			return fmt.Errorf("ready %q, want 0/5", got.Status.Ready)
		}
		return nil
	})
	if d := waitDeployment(t, ns, "fleet"); *d.Spec.Replicas != 5 {
		t.Errorf("the operator overrode the autoscaler's replicas: %d", *d.Spec.Replicas)
	}

	// Without autoscaling the HPA goes and spec.replicas (3) rules again.
	patchMS(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling = nil })
	eventually(t, "HPA deleted", func(ctx context.Context) error {
		err := suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "fleet"}, &autoscalingv2.HorizontalPodAutoscaler{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("HPA still there: %v", err)
		}
		if d := waitDeployment(t, ns, "fleet"); *d.Spec.Replicas != 3 {
			return fmt.Errorf("replicas %d, want 3", *d.Spec.Replicas)
		}
		return nil
	})
	// Down to one replica the PDB goes too.
	patchMS(t, ns, "fleet", func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = ptr(int32(1)) })
	eventually(t, "PDB deleted", func(ctx context.Context) error {
		err := suite.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "fleet"}, &policyv1.PodDisruptionBudget{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("PDB still there: %v", err)
		}
		return nil
	})
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

func TestDeploymentStatusDrivesMemoryServerStatus(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	createSecret(t, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
	ms := externalPostgresServer(ns, "live", "pg")
	ms.Spec.Replicas = ptr(int32(2))
	create(t, ms)
	dep := waitDeployment(t, ns, "live")

	// envtest has no deployment controller: play its part.
	setDeploymentStatus := func(ready, available, updated int32) {
		t.Helper()
		eventually(t, "Deployment status", func(ctx context.Context) error {
			d := waitDeployment(t, ns, "live")
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: available,
			}
			return suite.k8s.Status().Update(ctx, d)
		})
	}
	setDeploymentStatus(1, 1, 2)
	eventually(t, "degraded fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 1 || got.Status.Ready != "1/2" || got.Status.Phase != mcpv1alpha1.PhaseDegraded {
			return fmt.Errorf("status %+v", got.Status)
		}
		return expectCondition(got, mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady)
	})
	setDeploymentStatus(2, 2, 2)
	eventually(t, "ready fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 2 || got.Status.Replicas != 2 || got.Status.Ready != "2/2" || got.Status.Phase != mcpv1alpha1.PhaseReady {
			return fmt.Errorf("status %+v", got.Status)
		}
		for t, reason := range map[string]string{
			mcpv1alpha1.ConditionServerAvailable: mcpv1alpha1.ReasonDeploymentAvailable,
			mcpv1alpha1.ConditionReady:           mcpv1alpha1.ReasonReady,
		} {
			if err := expectCondition(got, t, metav1.ConditionTrue, reason); err != nil {
				return err
			}
		}
		return expectCondition(got, mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutComplete)
	})
	// A rollout in progress (old pods not yet replaced) is Progressing.
	setDeploymentStatus(2, 2, 1)
	eventually(t, "progressing fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseProgressing {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return expectCondition(got, mcpv1alpha1.ConditionProgressing, metav1.ConditionTrue, mcpv1alpha1.ReasonRolloutInProgress)
	})
	_ = dep
}

func TestMissingSecretIsReportedAndRecovers(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	create(t, externalPostgresServer(ns, "lost", "later"))
	eventually(t, "SecretNotFound", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseFailed || got.Status.Backend == nil || got.Status.Backend.Ready {
			return fmt.Errorf("status %+v", got.Status)
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound); err != nil {
			return err
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound)
	})
	eventually(t, "Warning event", func(ctx context.Context) error {
		var evs eventsv1.EventList
		if err := suite.k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && e.Reason == mcpv1alpha1.ReasonSecretNotFound && e.Regarding.Name == "lost" &&
				strings.Contains(e.Note, `"later"`) {
				return nil
			}
		}
		return fmt.Errorf("no SecretNotFound Warning among %d events", len(evs.Items))
	})
	hashBefore := waitDeployment(t, ns, "lost").Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]

	// A Secret without the key is still not enough.
	s := createSecret(t, ns, "later", map[string]string{"other": "x"})
	eventually(t, "SecretKeyMissing", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretKeyMissing)
	})
	// The key appears: recovery without touching the MemoryServer.
	s.StringData = map[string]string{"dsn": "postgres://u:first@db:5432/m"}
	if err := suite.k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	var hashReady string
	eventually(t, "BackendReady", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		hashReady = got.Status.ConfigHash
		if hashReady == hashBefore {
			return fmt.Errorf("config hash unchanged when the Secret appeared")
		}
		return nil
	})
	// Rotating the DSN rolls the pods.
	s.StringData = map[string]string{"dsn": "postgres://u:second@db:5432/m"}
	if err := suite.k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rotation rolls the pods", func(ctx context.Context) error {
		h := waitDeployment(t, ns, "lost").Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
		if h == hashReady {
			return fmt.Errorf("pod template hash unchanged after the DSN changed")
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

func TestAuthTokensSecret(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := sqliteServer(ns, "guarded")
	ms.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "tokens", Key: "list"}}
	create(t, ms)
	eventually(t, "auth Secret missing", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "guarded")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseFailed {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		c := condition(got, mcpv1alpha1.ConditionReady)
		if c == nil || c.Reason != mcpv1alpha1.ReasonSecretNotFound || !strings.Contains(c.Message, "auth.tokenSecretRef") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	dep := waitDeployment(t, ns, "guarded")
	before := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
	var mounted bool
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "tokens" && v.Secret.Items[0].Key == "list" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("tokens Secret not mounted: %+v", dep.Spec.Template.Spec.Volumes)
	}
	cfg, _ := parseConfigMap(t, ns, "guarded")
	if cfg.Auth.TokensFile != "/etc/memory-server/auth/tokens" {
		t.Errorf("auth.tokensFile %q", cfg.Auth.TokensFile)
	}

	createSecret(t, ns, "tokens", map[string]string{"list": "t0ken-1\n"})
	eventually(t, "auth Secret found", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "guarded")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhasePending || got.Status.ConfigHash == before {
			return fmt.Errorf("phase %s, hash %s (before %s)", got.Status.Phase, got.Status.ConfigHash, before)
		}
		return expectCondition(got, mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady)
	})
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

func TestSQLiteVolumeOutlivesItsMemoryServer(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pvcKey := types.NamespacedName{Namespace: ns, Name: "keep-data"}

	ms := sqliteServer(ns, "keep")
	create(t, ms)
	eventually(t, "finalizer", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "keep")
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(got.Finalizers, ","), controllers.SQLiteStorageFinalizer) {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return suite.k8s.Get(ctx, pvcKey, &corev1.PersistentVolumeClaim{})
	})
	if err := suite.k8s.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, "MemoryServer gone, claim released", func(ctx context.Context) error {
		if _, err := getMS(ctx, ns, "keep"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MemoryServer still there: %v", err)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if len(pvc.OwnerReferences) != 0 {
			return fmt.Errorf("claim still owned (garbage collection would delete it): %+v", pvc.OwnerReferences)
		}
		return nil
	})

	// A new MemoryServer of the same name adopts the kept claim.
	again := sqliteServer(ns, "keep")
	create(t, again)
	eventually(t, "claim adopted", func(ctx context.Context) error {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if !isControlledBy(pvc, again) {
			return fmt.Errorf("claim owners %+v", pvc.OwnerReferences)
		}
		return nil
	})

	// With deleteOnRemoval the claim stays owned, for garbage collection.
	patchMS(t, ns, "keep", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Backend.SQLite = &mcpv1alpha1.SQLiteBackend{Storage: mcpv1alpha1.StorageSpec{DeleteOnRemoval: true}}
	})
	eventually(t, "finalizer removed", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "keep")
		if err != nil {
			return err
		}
		if len(got.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return nil
	})
	if err := suite.k8s.Delete(ctx, again); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted, claim left to garbage collection", func(ctx context.Context) error {
		if _, err := getMS(ctx, ns, "keep"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MemoryServer still there: %v", err)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if !isControlledBy(pvc, again) {
			return fmt.Errorf("claim released although deleteOnRemoval is set: %+v", pvc.OwnerReferences)
		}
		return nil
	})
}
