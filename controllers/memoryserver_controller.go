// Package controllers holds the memory operator's reconcilers: one per Kind.
// The desired child objects are built by pure functions (desired*), so they
// are unit-testable without a cluster; the reconciler only creates, updates
// and observes them.
package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// ControllerName names the MemoryServer controller: its logs, metrics
// (controller_runtime_reconcile_total{controller="memoryserver"}) and the
// reporting controller of its events.
const ControllerName = "memoryserver"

// DefaultMemoryServerImage is the server image used when neither
// spec.image nor the operator's --memory-server-image flag names one.
const DefaultMemoryServerImage = "ghcr.io/memory-operator/memory-operator:dev"

// MemoryServerReconciler reconciles MemoryServer objects: the server's
// ConfigMap, Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler
// and (sqlite) PersistentVolumeClaim, and the database backend.
type MemoryServerReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// Scheme knows the API types; it sets controller references.
	Scheme *runtime.Scheme
	// Recorder emits events about the MemoryServer and its children.
	Recorder events.EventRecorder
	// DefaultImage is the server image for MemoryServers without spec.image
	// (the --memory-server-image flag). Empty means DefaultMemoryServerImage.
	DefaultImage string
	// MaxConcurrentReconciles is how many MemoryServers are reconciled at
	// once (default 1). Each reconcile mostly waits on the API server.
	MaxConcurrentReconciles int
	// APIReader reads the API server directly, bypassing the cache. Every
	// Secret is read through it: the manager watches Secrets by metadata
	// only, so no Secret data is cached, and a credentials Secret is never
	// judged gone (a new password, CredentialsLost) on a stale cache. Nil
	// means Client; SetupWithManager sets the manager's.
	APIReader client.Reader

	// childWrites counts child writes (ChildWritesMetric); set up by
	// SetupWithManager.
	childWrites *prometheus.CounterVec
}

// Least privilege: the MemoryServer and its status are only patched
// (finalizers, status); children are written with CreateOrUpdate, and only
// the autoscaler, disruption budget and volume claims are ever deleted (the
// rest go by garbage collection).
// +kubebuilder:rbac:groups=mcp.memory.dev,resources=memoryservers,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=mcp.memory.dev,resources=memoryservers/status,verbs=get;patch
// +kubebuilder:rbac:groups=mcp.memory.dev,resources=memoryservers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// Leader-election leases are granted by the namespaced Role in
// config/rbac/leader_election_role.yaml, not cluster-wide.

// Reconcile brings the children of one MemoryServer to their desired state
// and rebuilds its status from what it observed. The steps run in order; the
// first that fails stops the others, and the status (written once, at the
// end) says which failed.
func (r *MemoryServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ms := &mcpv1alpha1.MemoryServer{}
	if err := r.Get(ctx, req.NamespacedName, ms); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("while getting MemoryServer %s: %w", req.NamespacedName, err)
	}
	if !ms.DeletionTimestamp.IsZero() {
		// Children go by garbage collection (controller references); the
		// SQLite and managed database's claims only with
		// storage.deleteOnRemoval.
		if err := r.finalizeSQLiteStorage(ctx, ms); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: conflictRequeue}, nil
			}
			return ctrl.Result{}, err
		}
		return r.managedFinalize(ctx, ms)
	}

	obs := newObserved(ms)
	steps := []struct {
		name string
		fn   func(context.Context, *mcpv1alpha1.MemoryServer, *observed) (ctrl.Result, error)
	}{
		{"applied fleet", r.observeApplied},
		{"backend", r.reconcileBackend},
		{"connection budget", r.reconcileConnectionBudget},
		{"rollout hold", r.reconcileRolloutHold},
		{"config map", r.reconcileConfigMap},
		{"storage", r.reconcileStorage},
		{"deployment", r.reconcileDeployment},
		{"service", r.reconcileService},
		{"disruption budget", r.reconcilePodDisruptionBudget},
		{"autoscaler", r.reconcileAutoscaler},
	}
	var result ctrl.Result
	for _, step := range steps {
		res, err := step.fn(ctx, ms, obs)
		result = mergeResults(result, res)
		if err != nil {
			obs.reconcileErr = fmt.Errorf("while reconciling the %s: %w", step.name, err)
			break
		}
	}

	if err := obs.reconcileErr; apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		// A child changed under us, or the cache had not seen it yet: not a
		// failure worth reporting in status; reconcile again shortly.
		log.FromContext(ctx).V(1).Info("lost a race with another writer, requeueing", "error", err.Error())
		return mergeResults(result, ctrl.Result{RequeueAfter: conflictRequeue}), nil
	}
	res, statusErr := r.updateStatus(ctx, ms, obs)
	result = mergeResults(result, res)
	// An error requeues with backoff; controller-runtime ignores a Result
	// returned with one, so return one or the other.
	switch {
	case obs.reconcileErr != nil:
		return ctrl.Result{}, obs.reconcileErr
	case statusErr != nil:
		return ctrl.Result{}, statusErr
	}
	return result, nil
}

// mergeResults keeps the earliest requested requeue.
func mergeResults(a, b ctrl.Result) ctrl.Result {
	if b.RequeueAfter > 0 && (a.RequeueAfter == 0 || b.RequeueAfter < a.RequeueAfter) {
		a.RequeueAfter = b.RequeueAfter
	}
	return a
}

// SetupWithManager registers the reconciler: it watches MemoryServers, the
// children it owns, and the Secrets MemoryServers reference (through the
// secretRefIndex field index).
func (r *MemoryServerReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.childWrites = newChildWrites()
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(ControllerName)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &mcpv1alpha1.MemoryServer{}, SecretRefIndex, func(o client.Object) []string {
		ms, ok := o.(*mcpv1alpha1.MemoryServer)
		if !ok {
			return nil
		}
		return append(ReferencedSecretNames(ms), managedIndexedSecretNames(ms)...)
	}); err != nil {
		return fmt.Errorf("while indexing MemoryServers by referenced Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		For(&mcpv1alpha1.MemoryServer{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&appsv1.StatefulSet{}).
		// Secrets are watched by their metadata only (a change of data
		// changes the resourceVersion, which is enough to reconcile), so the
		// cache holds no Secret's data cluster-wide; the few referenced
		// Secrets are read through APIReader.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.memoryServersForSecret)).
		Complete(r)
}

// memoryServersForSecret maps a Secret to the MemoryServers of its
// namespace that reference it, or are its owners (managed credentials).
func (r *MemoryServerReconciler) memoryServersForSecret(ctx context.Context, o client.Object) []ctrl.Request {
	var list mcpv1alpha1.MemoryServerList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{SecretRefIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "while listing the MemoryServers that reference a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items)+1)
	for i := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	if owner := metav1GetControllerOf(o); owner != "" {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: owner}})
	}
	return reqs
}

// metav1GetControllerOf returns the name of o's MemoryServer controller
// owner, or "".
func metav1GetControllerOf(o client.Object) string {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.Kind == "MemoryServer" &&
			ref.APIVersion == mcpv1alpha1.GroupVersion.String() {
			return ref.Name
		}
	}
	return ""
}

// errSecretMissing marks a referenced Secret or key that does not exist:
// the user must create it, so it is reported in status, not retried as an
// error (the Secret watch reconciles again once it appears).
var errSecretMissing = errors.New("referenced Secret missing")
