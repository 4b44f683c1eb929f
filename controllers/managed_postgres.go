package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Managed PostgreSQL: a one-replica StatefulSet <name>-postgres, its
// governing headless Service <name>-postgres-headless and the client
// Service <name>-postgres. The builders are pure: the reconciler sets the
// owner references and writes them.

const (
	// ManagedPostgresDefaultImage is the image when spec...managed.image is empty.
	ManagedPostgresDefaultImage = "postgres:17"
	// ManagedPostgresDefaultMaxConnections is max_connections when the spec
	// leaves it at zero (the CRD defaults it to the same value).
	ManagedPostgresDefaultMaxConnections int32 = 100
	// ManagedPostgresPort is the PostgreSQL port of the pod and both Services.
	ManagedPostgresPort int32 = 5432
	// ManagedPostgresUser is the role the image creates (POSTGRES_USER).
	ManagedPostgresUser = "memory"
	// ManagedPostgresDatabase is the database the image creates (POSTGRES_DB).
	ManagedPostgresDatabase = "memory"
	// ManagedPostgresUID is the postgres user of the official image.
	ManagedPostgresUID int64 = 999

	// ManagedDefaultStorageSize is a managed database's volume size when
	// storage.size is unset.
	ManagedDefaultStorageSize = "10Gi"
	// ManagedDataVolume names the volumeClaimTemplate; the StatefulSet
	// controller names the claims data-<statefulset>-<ordinal>.
	ManagedDataVolume = "data"

	managedPostgresDataDir  = "/var/lib/postgresql/data"
	managedPostgresPGDATA   = managedPostgresDataDir + "/pgdata"
	managedPostgresPortName = "postgres"
)

// managedPostgresMaxConnections is max_connections with the API default.
func managedPostgresMaxConnections(m *mcpv1alpha1.ManagedPostgres) int32 {
	if m == nil || m.MaxConnections == 0 {
		return ManagedPostgresDefaultMaxConnections
	}
	return m.MaxConnections
}

// managedPostgresSpec is the managed block of ms, or an empty one.
func managedPostgresSpec(ms *mcpv1alpha1.MemoryServer) *mcpv1alpha1.ManagedPostgres {
	if p := ms.Spec.Backend.Postgres; p != nil && p.Managed != nil {
		return p.Managed
	}
	return &mcpv1alpha1.ManagedPostgres{}
}

// ManagedIsManaged reports whether ms runs a managed database.
func ManagedIsManaged(ms *mcpv1alpha1.MemoryServer) bool {
	b := ms.Spec.Backend
	switch b.Type {
	case mcpv1alpha1.BackendPostgres:
		return b.Postgres != nil && b.Postgres.Managed != nil
	case mcpv1alpha1.BackendNeo4j:
		return b.Neo4j != nil && b.Neo4j.Managed != nil
	}
	return false
}

// ManagedHost is the in-cluster DNS name of the managed database's client
// Service, e.g. team-memory-postgres.agents.svc.
func ManagedHost(ms *mcpv1alpha1.MemoryServer) string {
	return fmt.Sprintf("%s.%s.svc", DatabaseName(ms), ms.Namespace)
}

// managedStorage returns the claim template of a managed database.
func managedStorage(ms *mcpv1alpha1.MemoryServer, st mcpv1alpha1.StorageSpec) corev1.PersistentVolumeClaim {
	size := resource.MustParse(ManagedDefaultStorageSize)
	if st.Size != nil {
		size = st.Size.DeepCopy()
	}
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ManagedDataVolume,
			Labels: Labels(ms, mcpv1alpha1.ComponentDatabase),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
			StorageClassName: st.StorageClassName,
			VolumeMode:       ptr.To(corev1.PersistentVolumeFilesystem),
		},
	}
}

// managedPodSecurityContext runs the database as the image's own non-root
// user, with the volume group-owned by it.
func managedPodSecurityContext(uid int64) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsUser:           ptr.To(uid),
		RunAsGroup:          ptr.To(uid),
		FSGroup:             ptr.To(uid),
		RunAsNonRoot:        ptr.To(true),
		FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// managedContainerSecurityContext drops every privilege the database does
// not need. The root filesystem stays writable: both images write their
// configuration and sockets outside the data volume at start.
func managedContainerSecurityContext(uid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsUser:                ptr.To(uid),
		RunAsGroup:               ptr.To(uid),
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		Privileged:               ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// managedSecretEnv is an env var read from a key of the credentials Secret.
func managedSecretEnv(ms *mcpv1alpha1.MemoryServer, name, key string) corev1.EnvVar {
	return corev1.EnvVar{
		Name: name,
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: CredentialsSecretName(ms)},
			Key:                  key,
		}},
	}
}

// managedProbe fills in every field the API server would default, so the
// desired object compares equal to the stored one and a steady-state
// reconcile writes nothing.
func managedProbe(h corev1.ProbeHandler, period, timeout, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     h,
		PeriodSeconds:    period,
		TimeoutSeconds:   timeout,
		SuccessThreshold: 1,
		FailureThreshold: failures,
	}
}

// managedStatefulSet is the StatefulSet shell both managed databases share:
// one replica, the headless Service, the data claim and a pod with one
// container, with every defaulted field spelled out.
func managedStatefulSet(ms *mcpv1alpha1.MemoryServer, c corev1.Container, uid int64, volumes []corev1.Volume, st mcpv1alpha1.StorageSpec, grace int64) *appsv1.StatefulSet {
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	c.SecurityContext = managedContainerSecurityContext(uid)
	for i := range c.Ports {
		c.Ports[i].Protocol = corev1.ProtocolTCP
	}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      DatabaseName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentDatabase),
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To[int32](1),
			ServiceName:          DatabaseHeadlessName(ms),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(ms, mcpv1alpha1.ComponentDatabase)},
			PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
			RevisionHistoryLimit: ptr.To[int32](10),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
			},
			// The operator's finalizer, not the StatefulSet controller,
			// removes the claims (only with storage.deleteOnRemoval).
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(ms, mcpv1alpha1.ComponentDatabase)},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{c},
					Volumes:                       volumes,
					SecurityContext:               managedPodSecurityContext(uid),
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					RestartPolicy:                 corev1.RestartPolicyAlways,
					DNSPolicy:                     corev1.DNSClusterFirst,
					SchedulerName:                 corev1.DefaultSchedulerName,
					TerminationGracePeriodSeconds: ptr.To(grace),
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{managedStorage(ms, st)},
		},
	}
}

// desiredPostgresStatefulSet is the managed PostgreSQL StatefulSet. The
// credentials reach the container only through secretKeyRef env vars.
func desiredPostgresStatefulSet(ms *mcpv1alpha1.MemoryServer) *appsv1.StatefulSet {
	m := managedPostgresSpec(ms)
	image := m.Image
	if image == "" {
		image = ManagedPostgresDefaultImage
	}
	// pg_isready only asks whether the server accepts connections; it needs
	// no password. TCP to 127.0.0.1 keeps it unready while the image's
	// initdb runs its socket-only temporary server.
	isReady := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{
		"sh", "-c", fmt.Sprintf(`exec pg_isready -h 127.0.0.1 -p %d -U "$POSTGRES_USER" -d "$POSTGRES_DB"`, ManagedPostgresPort),
	}}}
	c := corev1.Container{
		Name:  "postgres",
		Image: image,
		Args:  []string{"-c", fmt.Sprintf("max_connections=%d", managedPostgresMaxConnections(m))},
		Ports: []corev1.ContainerPort{{Name: managedPostgresPortName, ContainerPort: ManagedPostgresPort}},
		Env: []corev1.EnvVar{
			managedSecretEnv(ms, "POSTGRES_USER", CredentialsKeyUsername),
			managedSecretEnv(ms, "POSTGRES_PASSWORD", CredentialsKeyPassword),
			managedSecretEnv(ms, "POSTGRES_DB", CredentialsKeyDatabase),
			{Name: "PGDATA", Value: managedPostgresPGDATA},
		},
		Resources: *m.Resources.DeepCopy(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: ManagedDataVolume, MountPath: managedPostgresDataDir},
			{Name: "dshm", MountPath: "/dev/shm"},
		},
		StartupProbe:   managedProbe(isReady, 10, 5, 30),
		ReadinessProbe: managedProbe(isReady, 10, 5, 3),
		LivenessProbe:  managedProbe(isReady, 10, 5, 6),
	}
	volumes := []corev1.Volume{{
		// PostgreSQL's shared memory; the runtime's default /dev/shm is 64 MiB.
		Name:         "dshm",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
	}}
	return managedStatefulSet(ms, c, ManagedPostgresUID, volumes, m.Storage, 60)
}

// managedServices are the headless and client Services of a managed
// database with the given ports.
func managedServices(ms *mcpv1alpha1.MemoryServer, ports []corev1.ServicePort) (headless, client *corev1.Service) {
	for i := range ports {
		ports[i].Protocol = corev1.ProtocolTCP
		ports[i].TargetPort = intstr.FromString(ports[i].Name)
	}
	mk := func(name string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: ms.Namespace,
				Labels:    Labels(ms, mcpv1alpha1.ComponentDatabase),
			},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeClusterIP,
				Selector: SelectorLabels(ms, mcpv1alpha1.ComponentDatabase),
				Ports:    append([]corev1.ServicePort(nil), ports...),
			},
		}
	}
	headless = mk(DatabaseHeadlessName(ms))
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	// Stable pod DNS before the database is ready (StatefulSet convention).
	headless.Spec.PublishNotReadyAddresses = true
	return headless, mk(DatabaseName(ms))
}

// desiredPostgresServices are the headless and client Services of the
// managed PostgreSQL, both on 5432.
func desiredPostgresServices(ms *mcpv1alpha1.MemoryServer) (headless, client *corev1.Service) {
	return managedServices(ms, []corev1.ServicePort{{Name: managedPostgresPortName, Port: ManagedPostgresPort}})
}
