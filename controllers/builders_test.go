package controllers

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/server/config"
)

func testMS(mutate func(*mcpv1alpha1.MemoryServer)) *mcpv1alpha1.MemoryServer {
	ms := &mcpv1alpha1.MemoryServer{
		ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "ns", Generation: 2},
		Spec: mcpv1alpha1.MemoryServerSpec{Backend: mcpv1alpha1.BackendSpec{
			Type: mcpv1alpha1.BackendPostgres,
			Postgres: &mcpv1alpha1.PostgresBackend{External: &mcpv1alpha1.ExternalPostgres{
				DSNSecretRef: mcpv1alpha1.SecretKeyRef{Name: "pg", Key: "dsn"},
			}},
		}},
	}
	if mutate != nil {
		mutate(ms)
	}
	return ms
}

func sqlite(ms *mcpv1alpha1.MemoryServer) {
	ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendSQLite}
}

func TestDesiredServerConfig(t *testing.T) {
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	cases := []struct {
		name  string
		ms    *mcpv1alpha1.MemoryServer
		in    serverConfigInput
		check func(config.Config) bool
	}{
		{"sqlite defaults", testMS(sqlite), serverConfigInput{}, func(c config.Config) bool {
			return c.Backend == "sqlite" && c.SQLite.Path == "/var/lib/memory-server/memory.db" && c.Listen == ":8080" &&
				c.Transport == "streamable-http" && c.Pool.MaxConnections == 10 && c.Pool.MinConnections == 2 && c.Pool.QueryTimeout.Duration == 30*time.Second && c.Auth.TokensFile == ""
		}},
		{"port and sse", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Port = 9000; ms.Spec.Transport = mcpv1alpha1.TransportSSE }),
			serverConfigInput{}, func(c config.Config) bool {
				return c.Listen == ":9000" && c.Transport == "sse" && c.Backend == "postgres"
			}},
		{"spec pool size", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MaxConnections = ptrTo(int32(6)) }),
			serverConfigInput{}, func(c config.Config) bool { return c.Pool.MaxConnections == 6 }},
		{"budget-derived pool size wins", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MaxConnections = ptrTo(int32(6)) }),
			serverConfigInput{maxConnections: 3}, func(c config.Config) bool { return c.Pool.MaxConnections == 3 }},
		{"minConnections capped at the pool size", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MinConnections = ptrTo(int32(8)) }),
			serverConfigInput{maxConnections: 4}, func(c config.Config) bool { return c.Pool.MinConnections == 4 }},
		{"explicit minConnections 0 kept", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Pool.MinConnections = ptrTo(int32(0)) }),
			serverConfigInput{}, func(c config.Config) bool { return c.Pool.MinConnections == 0 && c.Pool.MaxConnections == 10 }},
		{"durations", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Pool.MaxConnectionLifetime, ms.Spec.Pool.MaxConnectionIdleTime = d("2h"), d("5m")
			ms.Spec.Pool.HealthCheckPeriod, ms.Spec.Pool.AcquireTimeout, ms.Spec.Pool.QueryTimeout = d("3s"), d("1s"), d("9s")
		}), serverConfigInput{}, func(c config.Config) bool {
			p := c.Pool
			return p.MaxConnectionLifetime.Duration == 2*time.Hour && p.MaxConnectionIdleTime.Duration == 5*time.Minute &&
				p.HealthCheckPeriod.Duration == 3*time.Second && p.AcquireTimeout.Duration == time.Second && p.QueryTimeout.Duration == 9*time.Second
		}},
		{"neo4j URI and database", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Backend.Type = mcpv1alpha1.BackendNeo4j }),
			serverConfigInput{neo4jURI: "neo4j://g:7687", neo4jDatabase: "mem"}, func(c config.Config) bool {
				return c.Neo4j.URI == "neo4j://g:7687" && c.Neo4j.Database == "mem" && c.Backend == "neo4j"
			}},
		{"auth tokens file", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "t", Key: "k"}}
		}), serverConfigInput{}, func(c config.Config) bool { return c.Auth.TokensFile == "/etc/memory-server/auth/tokens" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := desiredServerConfig(tc.ms, tc.in)
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
			// What the operator renders, the server parses and accepts.
			cm, err := desiredConfigMap(tc.ms, c)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := config.Parse([]byte(cm.Data[ConfigFileKey]))
			if err != nil {
				t.Fatalf("rendered config does not parse: %v", err)
			}
			parsed.SetDefaults()
			parsed.Postgres.DSN = "postgres://from-env"
			var fe *config.FieldError
			if err := parsed.Validate(); err != nil && (!errors.As(err, &fe) || fe.Key != "neo4j.uri") {
				t.Errorf("rendered config is invalid for the server: %v", err)
			}
		})
	}
}

func TestDesiredDeployment(t *testing.T) {
	limit := func(q string) func(*mcpv1alpha1.MemoryServer) {
		return func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}
		}
	}
	env := func(dep *appsv1.Deployment, name string) *corev1.EnvVar {
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == name {
				return &e
			}
		}
		return nil
	}
	cases := []struct {
		name  string
		ms    *mcpv1alpha1.MemoryServer
		in    deploymentInput
		check func(*appsv1.Deployment) bool
	}{
		{"sqlite: Recreate, PVC, one replica", testMS(sqlite), deploymentInput{}, func(d *appsv1.Deployment) bool {
			vols := d.Spec.Template.Spec.Volumes
			return d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate == nil &&
				*d.Spec.Replicas == 1 && len(vols) == 3 && vols[2].PersistentVolumeClaim.ClaimName == "m-data"
		}},
		{"postgres: rolling, surge 1, no PVC", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = ptrTo(int32(4)) }), deploymentInput{},
			func(d *appsv1.Deployment) bool {
				ru := d.Spec.Strategy.RollingUpdate
				return ru.MaxSurge.IntValue() == 1 && ru.MaxUnavailable.IntValue() == 0 && *d.Spec.Replicas == 4 && len(d.Spec.Template.Spec.Volumes) == 2
			}},
		{"autoscaled starts at minReplicas", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Replicas = ptrTo(int32(9))
			ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MinReplicas: ptrTo(int32(2)), MaxReplicas: 5}
		}), deploymentInput{}, func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == 2 }},
		{"image: operator default", testMS(nil), deploymentInput{defaultImage: "op/img:1"},
			func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.Containers[0].Image == "op/img:1" }},
		{"image: spec wins", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Image = "mine:2" }), deploymentInput{defaultImage: "op/img:1"},
			func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.Containers[0].Image == "mine:2" }},
		{"image: built-in fallback", testMS(nil), deploymentInput{},
			func(d *appsv1.Deployment) bool {
				return d.Spec.Template.Spec.Containers[0].Image == DefaultMemoryServerImage
			}},
		{"GOMEMLIMIT 90% of 1Gi", testMS(limit("1Gi")), deploymentInput{},
			func(d *appsv1.Deployment) bool { e := env(d, EnvGoMemLimit); return e != nil && e.Value == "966367641" }},
		{"GOMEMLIMIT 90% of 500M", testMS(limit("500M")), deploymentInput{},
			func(d *appsv1.Deployment) bool { e := env(d, EnvGoMemLimit); return e != nil && e.Value == "450000000" }},
		{"no GOMEMLIMIT without a limit", testMS(nil), deploymentInput{},
			func(d *appsv1.Deployment) bool { return env(d, EnvGoMemLimit) == nil }},
		{"config hash and backend env", testMS(nil), deploymentInput{configHash: "abc", env: []corev1.EnvVar{secretEnv(EnvPostgresDSN, "pg", "dsn")}},
			func(d *appsv1.Deployment) bool {
				e := env(d, EnvPostgresDSN)
				return d.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash] == "abc" && e != nil &&
					e.Value == "" && e.ValueFrom.SecretKeyRef.Name == "pg"
			}},
		{"overrides pass through, operator labels win", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.PodTemplate = &mcpv1alpha1.PodTemplateOverrides{
				Labels:       map[string]string{"a": "1", mcpv1alpha1.LabelComponent: "x"},
				Annotations:  map[string]string{mcpv1alpha1.AnnotationConfigHash: "forged", "b": "2"},
				NodeSelector: map[string]string{"n": "1"}, ServiceAccountName: "sa", PriorityClassName: "p",
			}
		}), deploymentInput{configHash: "real"}, func(d *appsv1.Deployment) bool {
			p := d.Spec.Template
			return p.Labels["a"] == "1" && p.Labels[mcpv1alpha1.LabelComponent] == "server" && p.Annotations["b"] == "2" &&
				p.Annotations[mcpv1alpha1.AnnotationConfigHash] == "real" && p.Spec.NodeSelector["n"] == "1" &&
				p.Spec.ServiceAccountName == "sa" && p.Spec.DeprecatedServiceAccount == "sa" && p.Spec.PriorityClassName == "p"
		}},
		{"auth tokens mounted from the Secret", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "tok", Key: "list"}}
		}), deploymentInput{}, func(d *appsv1.Deployment) bool {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Secret != nil && v.Secret.SecretName == "tok" && v.Secret.Items[0].Key == "list" && v.Secret.Items[0].Path == AuthTokensFile {
					return true
				}
			}
			return false
		}},
		{"hardened pod", testMS(nil), deploymentInput{}, func(d *appsv1.Deployment) bool {
			ps := d.Spec.Template.Spec
			c := ps.Containers[0].SecurityContext
			return *ps.SecurityContext.RunAsNonRoot && ps.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault &&
				!*ps.AutomountServiceAccountToken && *c.ReadOnlyRootFilesystem && !*c.AllowPrivilegeEscalation &&
				c.Capabilities.Drop[0] == "ALL" && *c.RunAsUser == RunAsUser
		}},
		// Graceful rollouts: the pod leaves the endpoints before SIGTERM,
		// and the grace period covers that sleep plus the server's 25 s.
		{"graceful termination", testMS(nil), deploymentInput{}, func(d *appsv1.Deployment) bool {
			c := d.Spec.Template.Spec.Containers[0]
			return c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil &&
				c.Lifecycle.PreStop.Sleep.Seconds == 5 && c.Lifecycle.PreStop.Exec == nil &&
				*d.Spec.Template.Spec.TerminationGracePeriodSeconds >= 5+25
		}},
		// One slow /readyz must not drop a busy pod from the Service.
		{"tolerant probes", testMS(nil), deploymentInput{}, func(d *appsv1.Deployment) bool {
			c := d.Spec.Template.Spec.Containers[0]
			return c.ReadinessProbe.FailureThreshold == 3 && c.ReadinessProbe.TimeoutSeconds == 5 &&
				c.LivenessProbe.TimeoutSeconds == 5 && c.LivenessProbe.FailureThreshold == 3
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := desiredDeployment(tc.ms, tc.in)
			if !tc.check(d) {
				t.Errorf("deployment spec %+v", d.Spec)
			}
			if d.Name != "m" || d.Spec.Selector.MatchLabels[mcpv1alpha1.LabelInstance] != "m" {
				t.Errorf("name %s selector %v", d.Name, d.Spec.Selector)
			}
		})
	}
}

func TestDesiredOptionalChildren(t *testing.T) {
	cases := []struct {
		name          string
		ms            *mcpv1alpha1.MemoryServer
		pdb, hpa, pvc bool
	}{
		{"sqlite single", testMS(sqlite), false, false, true},
		{"postgres default replicas", testMS(nil), false, false, false},
		{"postgres 1 replica", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = ptrTo(int32(1)) }), false, false, false},
		{"postgres 2 replicas", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Replicas = ptrTo(int32(2)) }), true, false, false},
		{"autoscaled 1..3", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MaxReplicas: 3} }), true, true, false},
		{"autoscaled 1..1", testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Autoscaling = &mcpv1alpha1.AutoscalingSpec{MaxReplicas: 1} }), false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pdb, hpa, pvc := desiredPodDisruptionBudget(tc.ms), desiredAutoscaler(tc.ms), desiredSQLitePVC(tc.ms)
			if (pdb != nil) != tc.pdb || (hpa != nil) != tc.hpa || (pvc != nil) != tc.pvc {
				t.Fatalf("pdb %v hpa %v pvc %v, want %v %v %v", pdb != nil, hpa != nil, pvc != nil, tc.pdb, tc.hpa, tc.pvc)
			}
			if pdb != nil && pdb.Spec.MaxUnavailable.IntValue() != 1 {
				t.Errorf("PDB maxUnavailable %v", pdb.Spec.MaxUnavailable)
			}
			if hpa != nil && (*hpa.Spec.MinReplicas != 1 || *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != DefaultTargetCPUUtilization) {
				t.Errorf("HPA defaults %+v", hpa.Spec)
			}
			if pvc != nil {
				if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "1Gi" {
					t.Errorf("PVC size %s", q.String())
				}
			}
		})
	}
	ms := testMS(func(ms *mcpv1alpha1.MemoryServer) {
		sqlite(ms)
		ms.Spec.Backend.SQLite = &mcpv1alpha1.SQLiteBackend{Storage: mcpv1alpha1.StorageSpec{
			Size: ptrTo(resource.MustParse("5Gi")), StorageClassName: ptrTo("fast"),
		}}
	})
	pvc := desiredSQLitePVC(ms)
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" || *pvc.Spec.StorageClassName != "fast" {
		t.Errorf("PVC %+v", pvc.Spec)
	}
	svc := desiredService(testMS(func(ms *mcpv1alpha1.MemoryServer) { ms.Spec.Port = 7000 }))
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 7000 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("Service %+v", svc.Spec)
	}
	// MCP sessions live in one pod: a client must keep reaching it.
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP || svc.Spec.SessionAffinityConfig == nil ||
		svc.Spec.SessionAffinityConfig.ClientIP == nil || *svc.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != corev1.DefaultClientIPServiceAffinitySeconds {
		t.Errorf("Service session affinity %q %+v, want ClientIP with the default timeout", svc.Spec.SessionAffinity, svc.Spec.SessionAffinityConfig)
	}
}

func TestConfigHash(t *testing.T) {
	base := configHash(map[string]string{"config.yaml": "a: 1\n"}, map[string]string{"pg/dsn": "d1"})
	cases := []struct {
		name   string
		data   map[string]string
		digest map[string]string
		same   bool
	}{
		{"identical", map[string]string{"config.yaml": "a: 1\n"}, map[string]string{"pg/dsn": "d1"}, true},
		{"config changed", map[string]string{"config.yaml": "a: 2\n"}, map[string]string{"pg/dsn": "d1"}, false},
		{"secret changed", map[string]string{"config.yaml": "a: 1\n"}, map[string]string{"pg/dsn": "d2"}, false},
		{"secret missing", map[string]string{"config.yaml": "a: 1\n"}, map[string]string{"pg/dsn": "missing"}, false},
		{"another secret", map[string]string{"config.yaml": "a: 1\n"}, map[string]string{"pg/dsn": "d1", "t/k": "x"}, false},
		{"key moved between maps", map[string]string{"config.yaml": "a: 1\n", "pg/dsn": "d1"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := configHash(tc.data, tc.digest)
			if (h == base) != tc.same || len(h) != 16 {
				t.Errorf("hash %s vs %s, want same=%v", h, base, tc.same)
			}
		})
	}
}

func TestDesiredStatus(t *testing.T) {
	dep := func(replicas, ready, available, updated int32, observed int64) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "m", Generation: 3},
			Spec: appsv1.DeploymentSpec{Replicas: ptrTo(replicas), Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{mcpv1alpha1.AnnotationConfigHash: "h1"}},
			}},
			Status: appsv1.DeploymentStatus{Replicas: replicas, ReadyReplicas: ready, AvailableReplicas: available, UpdatedReplicas: updated, ObservedGeneration: observed},
		}
	}
	okBackend := func(o *observed) {
		o.backend.status, o.backend.reason = metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady
	}
	cases := []struct {
		name   string
		obs    func(*observed)
		phase  mcpv1alpha1.Phase
		ready  metav1.ConditionStatus
		reason string
	}{
		{"ready", func(o *observed) { okBackend(o); o.deployment = dep(2, 2, 2, 2, 3) }, mcpv1alpha1.PhaseReady, metav1.ConditionTrue, mcpv1alpha1.ReasonReady},
		{"no deployment yet", okBackend, mcpv1alpha1.PhasePending, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady},
		{"no pod ready", func(o *observed) { okBackend(o); o.deployment = dep(2, 0, 0, 2, 3) }, mcpv1alpha1.PhasePending, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady},
		{"lost a pod", func(o *observed) { okBackend(o); o.deployment = dep(2, 1, 1, 2, 3) }, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady},
		{"rolling out", func(o *observed) { okBackend(o); o.deployment = dep(2, 2, 2, 1, 3) }, mcpv1alpha1.PhaseProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutInProgress},
		{"stale deployment status", func(o *observed) { okBackend(o); o.deployment = dep(2, 2, 2, 2, 2) }, mcpv1alpha1.PhaseProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady},
		// A held rollout while the last good fleet serves is Degraded;
		// Failed only when nothing serves.
		{"secret missing, old fleet serving", func(o *observed) {
			o.backend.status, o.backend.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound
			o.deployment = dep(2, 2, 2, 2, 3)
		}, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound},
		{"secret missing, nothing serving", func(o *observed) {
			o.backend.status, o.backend.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound
			o.deployment = dep(2, 0, 0, 2, 3)
		}, mcpv1alpha1.PhaseFailed, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound},
		{"managed database starting, nothing serving yet", func(o *observed) {
			o.backend.status, o.backend.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady
			o.deployment = dep(2, 0, 0, 2, 3)
		}, mcpv1alpha1.PhasePending, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady},
		{"managed database restarting, fleet serving", func(o *observed) {
			o.backend.status, o.backend.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady
			o.deployment = dep(2, 2, 2, 2, 3)
		}, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady},
		{"over budget, old fleet serving", func(o *observed) {
			okBackend(o)
			o.budget.status, o.budget.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded
			o.budget.holdRollout = true
			o.deployment = dep(2, 2, 2, 2, 3)
		}, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded},
		{"over budget, no deployment", func(o *observed) {
			okBackend(o)
			o.budget.status, o.budget.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded
			o.budget.holdRollout = true
		}, mcpv1alpha1.PhaseFailed, metav1.ConditionFalse, mcpv1alpha1.ReasonBudgetExceeded},
		{"reconcile error", func(o *observed) { okBackend(o); o.reconcileErr = errors.New("boom") }, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonReconcileError},
		{"auth secret missing", func(o *observed) { okBackend(o); o.authMissing = "x"; o.deployment = dep(1, 1, 1, 1, 3) }, mcpv1alpha1.PhaseDegraded, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := testMS(func(ms *mcpv1alpha1.MemoryServer) {
				ms.Spec.Replicas = ptrTo(int32(2))
				ms.Status.ObservedGeneration = 1
			})
			obs := newObserved(ms)
			tc.obs(obs)
			st := desiredStatus(ms, obs)
			c := findCondition(st.Conditions, mcpv1alpha1.ConditionReady)
			if st.Phase != tc.phase || c == nil || c.Status != tc.ready || c.Reason != tc.reason {
				t.Errorf("phase %s, Ready %+v; want %s %s/%s", st.Phase, c, tc.phase, tc.ready, tc.reason)
			}
			wantGen := int64(2)
			if obs.reconcileErr != nil {
				wantGen = 1
			}
			if st.ObservedGeneration != wantGen {
				t.Errorf("observedGeneration %d, want %d", st.ObservedGeneration, wantGen)
			}
			if len(st.Conditions) != 5 || st.Endpoint != "http://m.ns.svc:8080/mcp" {
				t.Errorf("conditions %d endpoint %s", len(st.Conditions), st.Endpoint)
			}
			if obs.deployment != nil && (st.ConfigHash != "h1" || st.Ready != "2/2" && st.ReadyReplicas == 2) {
				t.Errorf("configHash %s ready %s", st.ConfigHash, st.Ready)
			}
		})
	}
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func TestReferencedSecretNames(t *testing.T) {
	auth := &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "tok", Key: "k"}}
	cases := []struct {
		name string
		ms   *mcpv1alpha1.MemoryServer
		want []string
	}{
		{"external postgres", testMS(nil), []string{"pg"}},
		{"sqlite", testMS(sqlite), nil},
		{"sqlite with auth", testMS(func(ms *mcpv1alpha1.MemoryServer) { sqlite(ms); ms.Spec.Auth = auth }), []string{"tok"}},
		{"neo4j with auth, deduplicated", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Backend = mcpv1alpha1.BackendSpec{Type: mcpv1alpha1.BackendNeo4j, Neo4j: &mcpv1alpha1.Neo4jBackend{
				External: &mcpv1alpha1.ExternalNeo4j{URI: "neo4j://g", AuthSecretRef: mcpv1alpha1.SecretRef{Name: "tok"}},
			}}
			ms.Spec.Auth = auth
		}), []string{"tok"}},
		{"managed", testMS(func(ms *mcpv1alpha1.MemoryServer) {
			ms.Spec.Backend.Postgres = &mcpv1alpha1.PostgresBackend{Managed: &mcpv1alpha1.ManagedPostgres{}}
		}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ReferencedSecretNames(tc.ms)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
