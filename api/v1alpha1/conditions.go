package v1alpha1

// Condition types of a MemoryServer.
const (
	// ConditionReady is True when every other condition is (Progressing False).
	ConditionReady = "Ready"
	// ConditionBackendReady is True when the managed StatefulSet is ready, or
	// the external backend's Secret is present and well-formed.
	ConditionBackendReady = "BackendReady"
	// ConditionServerAvailable is True when the Deployment has its minimum
	// available replicas.
	ConditionServerAvailable = "ServerAvailable"
	// ConditionConnectionBudget is True when the fleet fits the database's
	// connection budget, False when it does not, Unknown without a budget.
	ConditionConnectionBudget = "ConnectionBudget"
	// ConditionProgressing is True while a rollout is under way.
	ConditionProgressing = "Progressing"
)

// Condition reasons.
const (
	ReasonReady               = "Ready"
	ReasonNotReady            = "NotReady"
	ReasonReconciling         = "Reconciling"
	ReasonReconcileError      = "ReconcileError"
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonSecretKeyMissing    = "SecretKeyMissing"
	ReasonInvalidDSN          = "InvalidDSN"
	ReasonCredentialsLost     = "CredentialsLost"
	ReasonStatefulSetNotReady = "StatefulSetNotReady"
	ReasonBackendReady        = "BackendReady"
	ReasonDeploymentAvailable = "DeploymentAvailable"
	ReasonDeploymentNotReady  = "DeploymentUnavailable"
	ReasonRolloutInProgress   = "RolloutInProgress"
	ReasonRolloutComplete     = "RolloutComplete"
	ReasonRolloutHeld         = "RolloutHeld"
	ReasonWithinBudget        = "WithinBudget"
	ReasonBudgetExceeded      = "BudgetExceeded"
	ReasonNoBudget            = "NoBudget"
)

// Annotations and labels the operator sets.
const (
	// AnnotationConfigHash on the pod template changes whenever the rendered
	// configuration or a referenced Secret changes, which rolls the pods.
	AnnotationConfigHash = "mcp.memory.dev/config-hash"
	// AnnotationAppliedReplicas on the server ConfigMap is the replica
	// count of the fleet last rolled out with that configuration. It is
	// held with the ConfigMap while a rollout is held, so a Deployment
	// deleted meanwhile is recreated at the last good size.
	AnnotationAppliedReplicas = "mcp.memory.dev/applied-replicas"

	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"

	// LabelNameValue is the app.kubernetes.io/name of every child.
	LabelNameValue = "memory-server"
	// LabelManagedByValue is the app.kubernetes.io/managed-by of every child.
	LabelManagedByValue = "memory-operator"
	ComponentServer     = "server"
	ComponentDatabase   = "database"
)
