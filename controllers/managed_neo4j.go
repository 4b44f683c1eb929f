package controllers

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Managed Neo4j: the same shape as managed PostgreSQL, a one-replica
// StatefulSet <name>-neo4j with a headless and a client Service, Bolt on
// 7687 and HTTP on 7474.

const (
	// ManagedNeo4jDefaultImage is the image when spec...managed.image is empty.
	ManagedNeo4jDefaultImage = "neo4j:5-community"
	// ManagedNeo4jDefaultBoltThreadPool is server.bolt.thread_pool_max_size
	// when the spec leaves it at zero (Neo4j's and the CRD's default).
	ManagedNeo4jDefaultBoltThreadPool int32 = 400
	// ManagedNeo4jBoltPort is the Bolt port of the pod and Services.
	ManagedNeo4jBoltPort int32 = 7687
	// ManagedNeo4jHTTPPort is the HTTP (browser, HTTP API) port.
	ManagedNeo4jHTTPPort int32 = 7474
	// ManagedNeo4jUser is the built-in administrator NEO4J_AUTH sets.
	ManagedNeo4jUser = "neo4j"
	// ManagedNeo4jUID is the neo4j user of the official image.
	ManagedNeo4jUID int64 = 7474

	managedNeo4jDataDir = "/data"
	managedNeo4jLogsDir = "/logs"
)

// managedNeo4jBoltThreadPool is the Bolt thread pool with the API default.
func managedNeo4jBoltThreadPool(m *mcpv1alpha1.ManagedNeo4j) int32 {
	if m == nil || m.BoltThreadPoolMaxSize == 0 {
		return ManagedNeo4jDefaultBoltThreadPool
	}
	return m.BoltThreadPoolMaxSize
}

// managedNeo4jSpec is the managed block of ms, or an empty one.
func managedNeo4jSpec(ms *mcpv1alpha1.MemoryServer) *mcpv1alpha1.ManagedNeo4j {
	if n := ms.Spec.Backend.Neo4j; n != nil && n.Managed != nil {
		return n.Managed
	}
	return &mcpv1alpha1.ManagedNeo4j{}
}

// ManagedNeo4jURI is the Bolt URI the server pods use for a managed Neo4j.
// bolt:// (direct), not neo4j:// (routing): a single community server's
// routing table would advertise its own default address, not the Service.
func ManagedNeo4jURI(ms *mcpv1alpha1.MemoryServer) string {
	return fmt.Sprintf("bolt://%s:%d", ManagedHost(ms), ManagedNeo4jBoltPort)
}

// managedNeo4jConfigEnv is the environment name of a Neo4j setting in the
// official image's scheme: prefix NEO4J_, "_" doubled, "." becomes "_";
// server.bolt.thread_pool_max_size is NEO4J_server_bolt_thread__pool__max__size.
func managedNeo4jConfigEnv(setting string) string {
	out := []byte("NEO4J_")
	for i := 0; i < len(setting); i++ {
		switch setting[i] {
		case '_':
			out = append(out, '_', '_')
		case '.':
			out = append(out, '_')
		default:
			out = append(out, setting[i])
		}
	}
	return string(out)
}

// desiredNeo4jStatefulSet is the managed Neo4j StatefulSet. NEO4J_AUTH
// comes from the credentials Secret; the Bolt thread pool, the fleet's
// connection budget, is rendered into Neo4j's configuration through the
// image's environment mapping.
func desiredNeo4jStatefulSet(ms *mcpv1alpha1.MemoryServer) *appsv1.StatefulSet {
	m := managedNeo4jSpec(ms)
	image := m.Image
	if image == "" {
		image = ManagedNeo4jDefaultImage
	}
	bolt := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("bolt")}}
	c := corev1.Container{
		Name:  "neo4j",
		Image: image,
		Ports: []corev1.ContainerPort{
			{Name: "bolt", ContainerPort: ManagedNeo4jBoltPort},
			{Name: "http", ContainerPort: ManagedNeo4jHTTPPort},
		},
		Env: []corev1.EnvVar{
			managedSecretEnv(ms, "NEO4J_AUTH", CredentialsKeyAuth),
			{Name: managedNeo4jConfigEnv("server.bolt.thread_pool_max_size"), Value: strconv.Itoa(int(managedNeo4jBoltThreadPool(m)))},
			{Name: managedNeo4jConfigEnv("server.default_listen_address"), Value: "0.0.0.0"},
		},
		Resources: *m.Resources.DeepCopy(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: ManagedDataVolume, MountPath: managedNeo4jDataDir},
			{Name: "logs", MountPath: managedNeo4jLogsDir},
		},
		// Neo4j can take minutes to start (store recovery): up to 10.
		StartupProbe:   managedProbe(bolt, 10, 5, 60),
		ReadinessProbe: managedProbe(bolt, 10, 5, 3),
		LivenessProbe:  managedProbe(bolt, 10, 5, 6),
	}
	volumes := []corev1.Volume{{
		Name:         "logs",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
	}}
	return managedStatefulSet(ms, c, ManagedNeo4jUID, volumes, m.Storage, 120)
}

// desiredNeo4jServices are the headless and client Services of the managed
// Neo4j: bolt 7687 and http 7474.
func desiredNeo4jServices(ms *mcpv1alpha1.MemoryServer) (headless, client *corev1.Service) {
	return managedServices(ms, []corev1.ServicePort{
		{Name: "bolt", Port: ManagedNeo4jBoltPort},
		{Name: "http", Port: ManagedNeo4jHTTPPort},
	})
}

// managedDesiredStatefulSet is the StatefulSet of ms's managed database,
// nil when ms has none.
func managedDesiredStatefulSet(ms *mcpv1alpha1.MemoryServer) *appsv1.StatefulSet {
	if !ManagedIsManaged(ms) {
		return nil
	}
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return desiredNeo4jStatefulSet(ms)
	}
	return desiredPostgresStatefulSet(ms)
}

// managedDesiredServices are the Services of ms's managed database.
func managedDesiredServices(ms *mcpv1alpha1.MemoryServer) (headless, client *corev1.Service) {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return desiredNeo4jServices(ms)
	}
	return desiredPostgresServices(ms)
}
