package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// Envtest: the children each backend gets, and their key fields.

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
		svc.Spec.Selector[mcpv1alpha1.LabelInstance] != "notes" || svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
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
	ms.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
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
