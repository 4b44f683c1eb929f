package controllers

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// conflictRequeue is how soon a reconcile that lost an optimistic-lock race
// runs again (the watch event of the winner usually comes first).
const conflictRequeue = 200 * time.Millisecond

// observed is what one reconcile learns, step by step; updateStatus turns it
// into the MemoryServer's status. Every step reads what earlier steps wrote:
// observeApplied fills applied, reconcileBackend fills backend, reconcileConnectionBudget fills budget,
// reconcileConfigMap fills configData and configHash, reconcileDeployment
// fills deployment.
type observed struct {
	backend backendObservation
	budget  budgetObservation
	// applied is the fleet as it runs, read before any step writes
	// (observeApplied).
	applied appliedFleet

	// secretDigests are the content digests of every referenced Secret key,
	// keyed by "secret/key" (never the value). They go into the config hash.
	secretDigests map[string]string
	// authMissing is set when auth.tokenSecretRef names a Secret or key that
	// does not exist; it makes Ready False.
	authMissing string

	// configHash is the hash on the pod template (ConfigMap plus Secrets).
	configHash string
	// configData is the server's configuration file behind configHash;
	// reconcileDeployment records it on the Deployment
	// (AnnotationAppliedConfig).
	configData string
	// deployment is the server Deployment as last read or written; nil when
	// it does not exist (yet).
	deployment *appsv1.Deployment

	// reconcileErr is the error of the step that failed, if any.
	reconcileErr error
}

// backendObservation is the BackendReady condition's input and the
// status.backend block.
type backendObservation struct {
	// status, reason and message of the BackendReady condition.
	status  metav1.ConditionStatus
	reason  string
	message string
	// managed is true when the operator runs the database.
	managed bool
	// host is status.backend.host: the host name only, never credentials.
	host string
	// env are the server container's Secret-backed environment variables
	// (DSN, Neo4j credentials). Only references, never values.
	env []corev1.EnvVar
	// neo4jURI is rendered into the ConfigMap for the neo4j backend.
	neo4jURI string
	// neo4jDatabase is rendered into the ConfigMap for the neo4j backend.
	neo4jDatabase string
	// heldLimit, when > 0, is the connection limit the managed database
	// keeps instead of the spec's lower one, until the applied fleet fits.
	heldLimit int32
	// runningLimit, when > 0, is the connection limit the managed
	// database's pods run with: the StatefulSet's limit once its pods are
	// all updated and ready, else the last limit they all ran
	// (AnnotationDatabaseLimit). The budget counts against
	// min(spec limit, runningLimit), so a raised limit is used only once
	// the database has it.
	runningLimit int32
}

// budgetObservation is the ConnectionBudget condition's input and the
// status.pool block.
type budgetObservation struct {
	// status, reason and message of the ConnectionBudget condition.
	status  metav1.ConditionStatus
	reason  string
	message string
	// maxConnectionsPerReplica, when > 0, is the pool size rendered into the
	// ConfigMap (derived from the budget when spec.pool.maxConnections is
	// unset). 0 means spec.pool.maxConnections or the server default.
	maxConnectionsPerReplica int32
	// pool is status.pool; nil when not computed.
	pool *mcpv1alpha1.PoolStatus
	// holdRollout keeps the existing Deployment as it is (over budget): it
	// is neither created nor updated.
	holdRollout bool
}

func newObserved(ms *mcpv1alpha1.MemoryServer) *observed {
	return &observed{
		backend: backendObservation{
			status:  metav1.ConditionUnknown,
			reason:  mcpv1alpha1.ReasonReconciling,
			message: "the backend has not been checked yet",
			managed: ManagedIsManaged(ms),
		},
		budget: budgetObservation{
			status:  metav1.ConditionUnknown,
			reason:  mcpv1alpha1.ReasonNoBudget,
			message: "no connection budget is known",
		},
		secretDigests: map[string]string{},
	}
}
