package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MemoryServerSpec is the desired state of a MemoryServer: an MCP memory
// server fleet and its database backend.
// +kubebuilder:validation:XValidation:rule="self.backend.type != 'sqlite' || !has(self.replicas) || self.replicas <= 1",message="spec.replicas must be 0 or 1 when backend.type is sqlite (one SQLite file cannot be shared by several pods)",fieldPath=".replicas"
// +kubebuilder:validation:XValidation:rule="self.backend.type != 'sqlite' || !has(self.autoscaling)",message="spec.autoscaling must not be set when backend.type is sqlite (one SQLite file cannot be shared by several pods)",fieldPath=".autoscaling"
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || (has(self.resources) && ((has(self.resources.requests) && 'cpu' in self.resources.requests) || (has(self.resources.limits) && 'cpu' in self.resources.limits)))",message="spec.autoscaling requires spec.resources.requests.cpu (or limits.cpu, which the request defaults to): the HorizontalPodAutoscaler's target is a percentage of the CPU request",fieldPath=".autoscaling"
type MemoryServerSpec struct {
	// image is the memory-server container image. Empty means the image the
	// operator was started with (its --memory-server-image flag).
	// +optional
	Image string `json:"image,omitempty"`

	// replicas is the number of server pods. Ignored when autoscaling is set.
	// Must be at most 1 with the sqlite backend.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling, when set, creates a HorizontalPodAutoscaler that scales
	// the server between minReplicas and maxReplicas on CPU. The connection
	// budget is checked against maxReplicas. Requires
	// resources.requests.cpu (the CPU target is a percentage of it).
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// transport is the MCP transport the server speaks: streamable-http
	// (endpoint /mcp) or the legacy sse (endpoint /sse).
	// +kubebuilder:default=streamable-http
	// +optional
	Transport Transport `json:"transport,omitempty"`

	// port is the container and Service port of the MCP endpoint, probes and
	// metrics.
	// +kubebuilder:default=8080
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// auth, when set, requires a bearer token on every MCP request.
	// +optional
	Auth *AuthSpec `json:"auth,omitempty"`

	// backend is the database that holds the knowledge graph.
	// +required
	Backend BackendSpec `json:"backend"`

	// pool sizes and tunes each replica's connection pool. Every field is
	// optional; maxConnections, when unset, is derived from the connection
	// budget so the whole fleet fits the database.
	// +optional
	Pool PoolSpec `json:"pool,omitempty"`

	// resources of the server container. A memory limit also sets GOMEMLIMIT
	// to 90% of it. With the sqlite backend the server holds a copy of the
	// whole graph in memory (about 76 MiB of heap for 100,000 entities with
	// three short observations and two relations each).
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// podTemplate passes scheduling and metadata settings through to the
	// server pods.
	// +optional
	PodTemplate *PodTemplateOverrides `json:"podTemplate,omitempty"`
}

// Transport is an MCP transport served over HTTP.
// +kubebuilder:validation:Enum=streamable-http;sse
type Transport string

// Transports.
const (
	TransportStreamableHTTP Transport = "streamable-http"
	TransportSSE            Transport = "sse"
)

// AutoscalingSpec configures a HorizontalPodAutoscaler for the server.
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
type AutoscalingSpec struct {
	// minReplicas is the lower bound of the autoscaler.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the upper bound of the autoscaler, and the fleet size the
	// connection budget is checked against.
	// +kubebuilder:validation:Minimum=1
	// +required
	MaxReplicas int32 `json:"maxReplicas"`

	// targetCPUUtilizationPercentage is the average CPU utilization the
	// autoscaler aims for.
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// AuthSpec configures bearer-token authentication of the MCP endpoint.
type AuthSpec struct {
	// tokenSecretRef names a Secret key holding the accepted bearer tokens,
	// one per line.
	// +required
	TokenSecretRef SecretKeyRef `json:"tokenSecretRef"`
}

// SecretKeyRef selects a key of a Secret in the MemoryServer's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Key string `json:"key"`
}

// SecretRef names a Secret in the MemoryServer's namespace.
type SecretRef struct {
	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// BackendType names a database backend.
// +kubebuilder:validation:Enum=postgres;neo4j;sqlite
type BackendType string

// Backend types.
const (
	BackendPostgres BackendType = "postgres"
	BackendNeo4j    BackendType = "neo4j"
	BackendSQLite   BackendType = "sqlite"
)

// BackendSpec selects and configures the database. Exactly the block that
// type names must be set.
// +kubebuilder:validation:XValidation:rule="self.type != 'postgres' || (has(self.postgres) && !has(self.neo4j) && !has(self.sqlite))",message="backend.type postgres requires backend.postgres and no other backend block",fieldPath=".postgres"
// +kubebuilder:validation:XValidation:rule="self.type != 'neo4j' || (has(self.neo4j) && !has(self.postgres) && !has(self.sqlite))",message="backend.type neo4j requires backend.neo4j and no other backend block",fieldPath=".neo4j"
// +kubebuilder:validation:XValidation:rule="self.type != 'sqlite' || (!has(self.postgres) && !has(self.neo4j))",message="backend.type sqlite allows only the backend.sqlite block",fieldPath=".sqlite"
type BackendSpec struct {
	// type of the backend: postgres, neo4j or sqlite. Immutable after
	// creation: moving a graph between databases is an export and import.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="backend.type is immutable"
	// +required
	Type BackendType `json:"type"`

	// postgres configures a PostgreSQL backend, managed or external.
	// +optional
	Postgres *PostgresBackend `json:"postgres,omitempty"`

	// neo4j configures a Neo4j backend, managed or external.
	// +optional
	Neo4j *Neo4jBackend `json:"neo4j,omitempty"`

	// sqlite configures the embedded SQLite backend: one file on a
	// PersistentVolumeClaim, so at most one replica. When type is sqlite and
	// this block is absent, the defaults apply.
	// +optional
	SQLite *SQLiteBackend `json:"sqlite,omitempty"`
}

// PostgresBackend is either a PostgreSQL the operator runs (managed) or one
// it only connects to (external).
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="backend.postgres needs exactly one of managed or external"
// +kubebuilder:validation:XValidation:rule="has(self.managed) == has(oldSelf.managed)",message="backend.postgres cannot switch between managed and external: moving the data to another database is an export and import (memory-server export / import) into a new MemoryServer"
type PostgresBackend struct {
	// managed makes the operator run PostgreSQL as a StatefulSet.
	// +optional
	Managed *ManagedPostgres `json:"managed,omitempty"`

	// external connects to an existing PostgreSQL through a DSN in a Secret.
	// +optional
	External *ExternalPostgres `json:"external,omitempty"`
}

// ManagedPostgres is a single-instance PostgreSQL StatefulSet.
type ManagedPostgres struct {
	// image of PostgreSQL.
	// +kubebuilder:default="postgres:17"
	// +optional
	Image string `json:"image,omitempty"`

	// storage of the database volume.
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// maxConnections is rendered as postgres -c max_connections. The
	// connection budget is maxConnections - 3 (superuser reserved) - 2.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// resources of the PostgreSQL container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalPostgres is a PostgreSQL the operator does not run.
type ExternalPostgres struct {
	// dsnSecretRef names the Secret key holding the connection URL,
	// postgres://user:pass@host:5432/db?sslmode=require. Changing the Secret
	// rolls the server pods.
	// +required
	DSNSecretRef SecretKeyRef `json:"dsnSecretRef"`

	// maxConnections of the external server, if known. It enables the
	// connection budget check (maxConnections - 5).
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxConnections *int32 `json:"maxConnections,omitempty"`
}

// Neo4jBackend is either a Neo4j the operator runs (managed) or one it only
// connects to (external).
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="backend.neo4j needs exactly one of managed or external"
// +kubebuilder:validation:XValidation:rule="has(self.managed) == has(oldSelf.managed)",message="backend.neo4j cannot switch between managed and external: moving the data to another database is an export and import (memory-server export / import) into a new MemoryServer"
type Neo4jBackend struct {
	// managed makes the operator run Neo4j as a StatefulSet.
	// +optional
	Managed *ManagedNeo4j `json:"managed,omitempty"`

	// external connects to an existing Neo4j.
	// +optional
	External *ExternalNeo4j `json:"external,omitempty"`
}

// ManagedNeo4j is a single-instance Neo4j StatefulSet.
type ManagedNeo4j struct {
	// image of Neo4j.
	// +kubebuilder:default="neo4j:5-community"
	// +optional
	Image string `json:"image,omitempty"`

	// storage of the database volume.
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// boltThreadPoolMaxSize is rendered as server.bolt.thread_pool_max_size;
	// it is the connection budget of a managed Neo4j.
	// +kubebuilder:default=400
	// +kubebuilder:validation:Minimum=10
	// +optional
	BoltThreadPoolMaxSize int32 `json:"boltThreadPoolMaxSize,omitempty"`

	// resources of the Neo4j container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalNeo4j is a Neo4j the operator does not run.
type ExternalNeo4j struct {
	// uri of the server, e.g. neo4j://graph:7687 or neo4j+s://host.
	// +kubebuilder:validation:Pattern=`^(neo4j|neo4j\+s|neo4j\+ssc|bolt|bolt\+s|bolt\+ssc)://.+`
	// +required
	URI string `json:"uri"`

	// database to use; empty means the server's default database.
	// +optional
	Database string `json:"database,omitempty"`

	// authSecretRef names a Secret with the keys username and password.
	// +required
	AuthSecretRef SecretRef `json:"authSecretRef"`
}

// SQLiteBackend is an SQLite file on a PersistentVolumeClaim.
type SQLiteBackend struct {
	// storage of the volume holding the file (default size 1Gi).
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`
}

// StorageSpec describes a PersistentVolumeClaim.
type StorageSpec struct {
	// size of the volume. Default: 10Gi for a managed database, 1Gi for sqlite.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName of the claim; empty means the cluster's default class.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// deleteOnRemoval deletes the volume when the MemoryServer is deleted.
	// By default the volume (a managed database's, or the SQLite file's) is
	// kept, and a MemoryServer of the same name created later uses it again.
	// +optional
	DeleteOnRemoval bool `json:"deleteOnRemoval,omitempty"`
}

// PoolSpec tunes each replica's database connection pool. Durations are Go
// durations such as 30s, 5m or 1h.
// +kubebuilder:validation:XValidation:rule="!has(self.minConnections) || !has(self.maxConnections) || self.minConnections <= self.maxConnections",message="pool.minConnections must be less than or equal to pool.maxConnections"
type PoolSpec struct {
	// maxConnections per replica. When unset it is derived from the
	// connection budget (floor(budget / pods) - 1), or 10 without a budget.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// minConnections each replica keeps open (default 2, at most
	// maxConnections).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MinConnections *int32 `json:"minConnections,omitempty"`

	// maxConnectionLifetime after which a connection is recycled (default 1h).
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="pool.maxConnectionLifetime must be a positive duration"
	// +optional
	MaxConnectionLifetime *metav1.Duration `json:"maxConnectionLifetime,omitempty"`

	// maxConnectionIdleTime after which an idle connection is closed
	// (default 30m).
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="pool.maxConnectionIdleTime must be a positive duration"
	// +optional
	MaxConnectionIdleTime *metav1.Duration `json:"maxConnectionIdleTime,omitempty"`

	// healthCheckPeriod is how often the server probes its backend for
	// readiness (default 10s).
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="pool.healthCheckPeriod must be a positive duration"
	// +optional
	HealthCheckPeriod *metav1.Duration `json:"healthCheckPeriod,omitempty"`

	// acquireTimeout bounds the wait for a free connection; a tool call that
	// cannot get one fails with a "database busy" error (default 5s).
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="pool.acquireTimeout must be a positive duration"
	// +optional
	AcquireTimeout *metav1.Duration `json:"acquireTimeout,omitempty"`

	// queryTimeout bounds one tool call's transaction (default 30s).
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="pool.queryTimeout must be a positive duration"
	// +optional
	QueryTimeout *metav1.Duration `json:"queryTimeout,omitempty"`

	// connectionBudget is the total number of connections the whole fleet
	// may open, overriding the budget derived from the database.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ConnectionBudget *int32 `json:"connectionBudget,omitempty"`
}

// PodTemplateOverrides are passed through to the server pods.
type PodTemplateOverrides struct {
	// labels added to the pods (the operator's own labels win).
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations added to the pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// nodeSelector of the pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// tolerations of the pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// affinity of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// serviceAccountName the pods run as.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// priorityClassName of the pods.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// Phase summarises a MemoryServer's state.
// +kubebuilder:validation:Enum=Pending;Progressing;Ready;Degraded;Failed
type Phase string

// Phases.
const (
	PhasePending     Phase = "Pending"
	PhaseProgressing Phase = "Progressing"
	PhaseReady       Phase = "Ready"
	PhaseDegraded    Phase = "Degraded"
	PhaseFailed      Phase = "Failed"
)

// MemoryServerStatus is the observed state of a MemoryServer.
type MemoryServerStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// phase summarises the conditions.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// replicas is the number of server pods (scale subresource).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// readyReplicas is the number of ready server pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// ready is readyReplicas/replicas for display, e.g. 2/2.
	// +optional
	Ready string `json:"ready,omitempty"`
	// selector of the server pods (scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`
	// endpoint is the in-cluster URL of the MCP endpoint.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// backend reports the database.
	// +optional
	Backend *BackendStatus `json:"backend,omitempty"`
	// pool reports the connection sizing.
	// +optional
	Pool *PoolStatus `json:"pool,omitempty"`
	// configHash is the hash of the rendered configuration and referenced
	// Secrets that is on the current pod template.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`
	// conditions: Ready, BackendReady, ServerAvailable, ConnectionBudget,
	// Progressing.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackendStatus reports the database backend.
type BackendStatus struct {
	// type of the backend.
	Type BackendType `json:"type"`
	// managed is true when the operator runs the database.
	// +optional
	Managed bool `json:"managed,omitempty"`
	// host is the database host name the server connects to: the managed
	// database's Service, or the host of the external DSN or Neo4j URI. It
	// never holds a user, password or port.
	// +optional
	Host string `json:"host,omitempty"`
	// ready is true when the backend is ready to serve.
	// +optional
	Ready bool `json:"ready,omitempty"`
}

// PoolStatus reports the connection sizing of the fleet.
type PoolStatus struct {
	// maxConnectionsPerReplica is the pool size of each replica.
	MaxConnectionsPerReplica int32 `json:"maxConnectionsPerReplica"`
	// maxTotalConnections is the fleet's worst case: pods x (pool + prober).
	MaxTotalConnections int32 `json:"maxTotalConnections"`
	// connectionBudget the fleet must fit in, when known.
	// +optional
	ConnectionBudget *int32 `json:"connectionBudget,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=memsrv,categories=mcp
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.spec.backend.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MemoryServer runs an MCP memory server fleet and its database backend.
//
// Its name must be a DNS-1035 label (it is the name of the Service and a
// label value) of at most 43 characters: the longest name derived from it
// is the managed PostgreSQL StatefulSet's ControllerRevision,
// <name>-postgres-<hash of up to 10 characters>, which the StatefulSet
// controller also puts on its pods as the controller-revision-hash label,
// whose value may not exceed 63 characters: 63 - len("-postgres-") - 10 = 43.
// (<name>-postgres-headless, at 45, is next.)
// The name rules are checked on create only (oldSelf has no value then), so
// an object stored before they existed can still be updated and deleted.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",optionalOldSelf=true,message="metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (it names the server's Service)"
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.size() <= 43",optionalOldSelf=true,message="metadata.name must be at most 43 characters: the managed database's StatefulSet revision label <name>-postgres-<10-character hash> must fit in 63"
type MemoryServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec MemoryServerSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status MemoryServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MemoryServerList is a list of MemoryServers.
type MemoryServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MemoryServer `json:"items"`
}
