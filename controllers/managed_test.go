package controllers

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// managedTestMS is a MemoryServer team-memory/agents with a managed
// database of the given type and no optional fields set.
func managedTestMS(backend mcpv1alpha1.BackendType) *mcpv1alpha1.MemoryServer {
	ms := &mcpv1alpha1.MemoryServer{ObjectMeta: metav1.ObjectMeta{Name: "team-memory", Namespace: "agents"}}
	ms.Spec.Backend.Type = backend
	switch backend {
	case mcpv1alpha1.BackendPostgres:
		ms.Spec.Backend.Postgres = &mcpv1alpha1.PostgresBackend{Managed: &mcpv1alpha1.ManagedPostgres{}}
	case mcpv1alpha1.BackendNeo4j:
		ms.Spec.Backend.Neo4j = &mcpv1alpha1.Neo4jBackend{Managed: &mcpv1alpha1.ManagedNeo4j{}}
	}
	return ms
}

func managedEnv(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// managedCheckCommon checks what both managed StatefulSets share.
func managedCheckCommon(t *testing.T, ms *mcpv1alpha1.MemoryServer, sts *appsv1.StatefulSet, name string, uid int64) corev1.Container {
	t.Helper()
	if sts.Name != name || sts.Namespace != "agents" {
		t.Errorf("StatefulSet %s/%s, want agents/%s", sts.Namespace, sts.Name, name)
	}
	if ptr.Deref(sts.Spec.Replicas, 0) != 1 {
		t.Errorf("replicas %v, want 1", sts.Spec.Replicas)
	}
	if sts.Spec.ServiceName != name+"-headless" {
		t.Errorf("serviceName %s", sts.Spec.ServiceName)
	}
	sel := sts.Spec.Selector.MatchLabels
	for k, v := range sel {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s=%q does not match selector %q", k, sts.Spec.Template.Labels[k], v)
		}
	}
	if sel[mcpv1alpha1.LabelComponent] != mcpv1alpha1.ComponentDatabase || sel[mcpv1alpha1.LabelInstance] != ms.Name {
		t.Errorf("selector %v", sel)
	}
	for _, l := range []map[string]string{sts.Labels, sts.Spec.Template.Labels, sts.Spec.VolumeClaimTemplates[0].Labels} {
		if l[mcpv1alpha1.LabelManagedBy] != mcpv1alpha1.LabelManagedByValue || l[mcpv1alpha1.LabelComponent] != mcpv1alpha1.ComponentDatabase {
			t.Errorf("labels %v", l)
		}
	}
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("claims must be retained by the StatefulSet controller: %+v", p)
	}
	ps := sts.Spec.Template.Spec
	psc := ps.SecurityContext
	if psc == nil || ptr.Deref(psc.RunAsUser, 0) != uid || ptr.Deref(psc.FSGroup, 0) != uid || !ptr.Deref(psc.RunAsNonRoot, false) ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", psc)
	}
	if ptr.Deref(ps.AutomountServiceAccountToken, true) || ptr.Deref(ps.EnableServiceLinks, true) {
		t.Error("the database pod needs no service account token and no service links")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || ptr.Deref(sc.Privileged, true) || !ptr.Deref(sc.RunAsNonRoot, false) ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container security context %+v", sc)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.StartupProbe == nil {
		t.Error("startup, readiness and liveness probes are required")
	}
	// Default storage: one 10Gi ReadWriteOnce claim named data, mounted.
	vct := sts.Spec.VolumeClaimTemplates
	if len(vct) != 1 || vct[0].Name != ManagedDataVolume {
		t.Fatalf("volumeClaimTemplates %+v", vct)
	}
	if q := vct[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("10Gi")) != 0 {
		t.Errorf("default size %s", q.String())
	}
	if vct[0].Spec.StorageClassName != nil {
		t.Errorf("storageClassName %v, want the cluster default", *vct[0].Spec.StorageClassName)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || m.Name == ManagedDataVolume
	}
	if !mounted {
		t.Error("the data claim is not mounted")
	}
	return c
}

func TestDesiredPostgresStatefulSet(t *testing.T) {
	ms := managedTestMS(mcpv1alpha1.BackendPostgres)
	sts := desiredPostgresStatefulSet(ms)
	c := managedCheckCommon(t, ms, sts, "team-memory-postgres", 999)
	if c.Image != "postgres:17" {
		t.Errorf("default image %s", c.Image)
	}
	if strings.Join(c.Args, " ") != "-c max_connections=100" {
		t.Errorf("args %q", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 5432 {
		t.Errorf("ports %+v", c.Ports)
	}
	env := managedEnv(c)
	for name, key := range map[string]string{"POSTGRES_USER": "username", "POSTGRES_PASSWORD": "password", "POSTGRES_DB": "database"} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != "team-memory-postgres-credentials" || e.ValueFrom.SecretKeyRef.Key != key {
			t.Errorf("%s must come from the credentials Secret key %s: %+v", name, key, e)
		}
	}
	if pg := env["PGDATA"].Value; pg != "/var/lib/postgresql/data/pgdata" {
		t.Errorf("PGDATA %q", pg)
	}
	var dataMount string
	for _, m := range c.VolumeMounts {
		if m.Name == ManagedDataVolume {
			dataMount = m.MountPath
		}
	}
	if !strings.HasPrefix(env["PGDATA"].Value, dataMount+"/") {
		t.Errorf("PGDATA %q must be a subdirectory of the volume at %q (lost+found)", env["PGDATA"].Value, dataMount)
	}
	rp := c.ReadinessProbe
	if rp.Exec == nil || !strings.Contains(strings.Join(rp.Exec.Command, " "), "pg_isready -h 127.0.0.1 -p 5432") {
		t.Errorf("readiness probe %+v", rp.ProbeHandler)
	}

	// Every spec field reaches the StatefulSet.
	class := "fast"
	ms.Spec.Backend.Postgres.Managed = &mcpv1alpha1.ManagedPostgres{
		Image:          "postgres:16.4",
		MaxConnections: 250,
		Storage:        mcpv1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("50Gi")), StorageClassName: &class},
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
		},
	}
	sts = desiredPostgresStatefulSet(ms)
	c = sts.Spec.Template.Spec.Containers[0]
	if c.Image != "postgres:16.4" || strings.Join(c.Args, " ") != "-c max_connections=250" {
		t.Errorf("image %s args %q", c.Image, c.Args)
	}
	vct := sts.Spec.VolumeClaimTemplates[0]
	if q := vct.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("50Gi")) != 0 || ptr.Deref(vct.Spec.StorageClassName, "") != "fast" {
		t.Errorf("claim %s %v", q.String(), vct.Spec.StorageClassName)
	}
	if q := c.Resources.Limits[corev1.ResourceMemory]; q.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("resources %+v", c.Resources)
	}
	// The builder copies: editing the result leaves the spec alone.
	c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Mi")
	if q := ms.Spec.Backend.Postgres.Managed.Resources.Limits[corev1.ResourceMemory]; q.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Error("the StatefulSet aliases the spec's resources")
	}
}

func TestDesiredNeo4jStatefulSet(t *testing.T) {
	ms := managedTestMS(mcpv1alpha1.BackendNeo4j)
	sts := desiredNeo4jStatefulSet(ms)
	c := managedCheckCommon(t, ms, sts, "team-memory-neo4j", 7474)
	if c.Image != "neo4j:5-community" {
		t.Errorf("default image %s", c.Image)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["bolt"] != 7687 || ports["http"] != 7474 {
		t.Errorf("ports %v", ports)
	}
	env := managedEnv(c)
	auth := env["NEO4J_AUTH"]
	if auth.Value != "" || auth.ValueFrom == nil || auth.ValueFrom.SecretKeyRef == nil ||
		auth.ValueFrom.SecretKeyRef.Name != "team-memory-neo4j-credentials" || auth.ValueFrom.SecretKeyRef.Key != "auth" {
		t.Errorf("NEO4J_AUTH %+v", auth)
	}
	if v := env["NEO4J_server_bolt_thread__pool__max__size"].Value; v != "400" {
		t.Errorf("bolt thread pool %q, want the default 400", v)
	}
	rp := c.ReadinessProbe
	if rp.TCPSocket == nil || rp.TCPSocket.Port != intstr.FromString("bolt") {
		t.Errorf("readiness probe must dial Bolt: %+v", rp.ProbeHandler)
	}
	var data string
	for _, m := range c.VolumeMounts {
		if m.Name == ManagedDataVolume {
			data = m.MountPath
		}
	}
	if data != "/data" {
		t.Errorf("data mounted at %q", data)
	}

	ms.Spec.Backend.Neo4j.Managed = &mcpv1alpha1.ManagedNeo4j{Image: "neo4j:5.26-community", BoltThreadPoolMaxSize: 120,
		Storage: mcpv1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("3Gi"))}}
	sts = desiredNeo4jStatefulSet(ms)
	c = sts.Spec.Template.Spec.Containers[0]
	if c.Image != "neo4j:5.26-community" || managedEnv(c)["NEO4J_server_bolt_thread__pool__max__size"].Value != "120" {
		t.Errorf("image %s env %v", c.Image, c.Env)
	}
	if q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("3Gi")) != 0 {
		t.Errorf("size %s", q.String())
	}
	if got := ManagedNeo4jURI(ms); got != "bolt://team-memory-neo4j.agents.svc:7687" {
		t.Errorf("URI %s", got)
	}
}

func TestManagedNeo4jConfigEnv(t *testing.T) {
	for setting, want := range map[string]string{
		"server.bolt.thread_pool_max_size": "NEO4J_server_bolt_thread__pool__max__size",
		"server.default_listen_address":    "NEO4J_server_default__listen__address",
		"db.tx_log.rotation.size":          "NEO4J_db_tx__log_rotation_size",
		"browser.post_connect_cmd":         "NEO4J_browser_post__connect__cmd",
		"dbms.memory.heap.max_size":        "NEO4J_dbms_memory_heap_max__size",
	} {
		if got := managedNeo4jConfigEnv(setting); got != want {
			t.Errorf("%s -> %s, want %s", setting, got, want)
		}
	}
}

func TestManagedServices(t *testing.T) {
	for _, tt := range []struct {
		backend mcpv1alpha1.BackendType
		name    string
		ports   map[string]int32
	}{
		{mcpv1alpha1.BackendPostgres, "team-memory-postgres", map[string]int32{"postgres": 5432}},
		{mcpv1alpha1.BackendNeo4j, "team-memory-neo4j", map[string]int32{"bolt": 7687, "http": 7474}},
	} {
		ms := managedTestMS(tt.backend)
		headless, client := managedDesiredServices(ms)
		sts := managedDesiredStatefulSet(ms)
		if client.Name != tt.name || headless.Name != tt.name+"-headless" || sts.Spec.ServiceName != headless.Name {
			t.Errorf("%s: names %s %s (sts serviceName %s)", tt.backend, client.Name, headless.Name, sts.Spec.ServiceName)
		}
		if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
			t.Errorf("%s: headless Service %+v", tt.backend, headless.Spec)
		}
		if client.Spec.ClusterIP != "" || client.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("%s: client Service must get a cluster IP: %+v", tt.backend, client.Spec)
		}
		containerPorts := map[string]bool{}
		for _, p := range sts.Spec.Template.Spec.Containers[0].Ports {
			containerPorts[p.Name] = true
		}
		for _, svc := range []*corev1.Service{headless, client} {
			for k, v := range svc.Spec.Selector {
				if sts.Spec.Template.Labels[k] != v {
					t.Errorf("%s: Service %s selects %s=%s, which the pods lack", tt.backend, svc.Name, k, v)
				}
			}
			if len(svc.Spec.Ports) != len(tt.ports) {
				t.Errorf("%s: %s ports %+v", tt.backend, svc.Name, svc.Spec.Ports)
			}
			for _, p := range svc.Spec.Ports {
				if tt.ports[p.Name] != p.Port || p.Protocol != corev1.ProtocolTCP || !containerPorts[p.TargetPort.StrVal] {
					t.Errorf("%s: %s port %+v", tt.backend, svc.Name, p)
				}
			}
		}
	}
	if ManagedIsManaged(budgetMS{backend: "external-postgres"}.build()) || managedDesiredStatefulSet(budgetMS{backend: "sqlite"}.build()) != nil {
		t.Error("only managed backends have a StatefulSet")
	}
}

// TestManagedPasswordStaysInTheSecret renders every managed child with a
// known password and checks it appears in the Secret and nowhere else.
func TestManagedPasswordStaysInTheSecret(t *testing.T) {
	for _, backend := range []mcpv1alpha1.BackendType{mcpv1alpha1.BackendPostgres, mcpv1alpha1.BackendNeo4j} {
		ms := managedTestMS(backend)
		pw, err := generatePassword()
		if err != nil {
			t.Fatal(err)
		}
		secret := credentialsDesired(ms, pw)
		headless, client := managedDesiredServices(ms)
		others := map[string]any{
			"StatefulSet":      managedDesiredStatefulSet(ms),
			"headless":         headless,
			"client":           client,
			"server env":       ManagedServerEnv(ms),
			"budget":           BudgetFor(ms),
			"budget status":    BudgetFor(ms).PoolStatus(),
			"budget condition": BudgetFor(ms).Condition(1),
		}
		for what, obj := range others {
			b, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), pw) {
				t.Errorf("%s: the password leaks into the %s", backend, what)
			}
		}
		b, _ := json.Marshal(secret)
		if !strings.Contains(string(b), "stringData") && !strings.Contains(string(b), "data") {
			t.Errorf("%s: the Secret carries no data", backend)
		}
		if string(secret.Data[CredentialsKeyPassword]) != pw {
			t.Errorf("%s: the Secret does not hold the password", backend)
		}
	}
}

func TestManagedStorageDrift(t *testing.T) {
	ms := managedTestMS(mcpv1alpha1.BackendPostgres)
	have := desiredPostgresStatefulSet(ms)
	if d := managedStorageDrift(have, desiredPostgresStatefulSet(ms)); d != "" {
		t.Errorf("no change, drift %q", d)
	}
	class := "fast"
	ms.Spec.Backend.Postgres.Managed.Storage = mcpv1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("20Gi")), StorageClassName: &class}
	d := managedStorageDrift(have, desiredPostgresStatefulSet(ms))
	for _, want := range []string{`size 10Gi (spec 20Gi)`, `storageClassName "" (spec "fast")`, "resize the PersistentVolumeClaim"} {
		if !strings.Contains(d, want) {
			t.Errorf("drift %q lacks %q", d, want)
		}
	}
	// A semantically equal quantity is no drift.
	ms.Spec.Backend.Postgres.Managed.Storage = mcpv1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("10240Mi"))}
	if d := managedStorageDrift(have, desiredPostgresStatefulSet(ms)); d != "" {
		t.Errorf("10240Mi equals 10Gi, drift %q", d)
	}
}
