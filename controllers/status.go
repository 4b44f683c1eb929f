package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// desiredStatus rebuilds ms's status from what one reconcile observed. It
// is pure: the previous status only contributes the conditions'
// lastTransitionTime (kept while a condition's status does not change) and
// the observedGeneration when the reconcile failed.
func desiredStatus(ms *mcpv1alpha1.MemoryServer, obs *observed) mcpv1alpha1.MemoryServerStatus {
	st := mcpv1alpha1.MemoryServerStatus{
		ObservedGeneration: ms.Status.ObservedGeneration,
		Conditions:         append([]metav1.Condition(nil), ms.Status.Conditions...),
		Selector:           labels.SelectorFromSet(SelectorLabels(ms, mcpv1alpha1.ComponentServer)).String(),
		Endpoint:           Endpoint(ms),
		ConfigHash:         ms.Status.ConfigHash,
		Pool:               obs.budget.pool,
		Backend: &mcpv1alpha1.BackendStatus{
			Type:    ms.Spec.Backend.Type,
			Managed: obs.backend.managed,
			Host:    obs.backend.host,
			Ready:   obs.backend.status == metav1.ConditionTrue,
		},
	}
	gen := ms.Generation
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen,
		})
	}

	set(mcpv1alpha1.ConditionBackendReady, obs.backend.status, obs.backend.reason, obs.backend.message)
	set(mcpv1alpha1.ConditionConnectionBudget, obs.budget.status, obs.budget.reason, obs.budget.message)

	want := desiredReplicas(ms)
	available, progressing := false, false
	if d := obs.deployment; d != nil {
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		st.Replicas = d.Status.Replicas
		st.ReadyReplicas = d.Status.ReadyReplicas
		st.ConfigHash = d.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
		available, progressing = deploymentState(d, want)
		switch {
		case available:
			set(mcpv1alpha1.ConditionServerAvailable, metav1.ConditionTrue, mcpv1alpha1.ReasonDeploymentAvailable,
				fmt.Sprintf("%d/%d replicas available", d.Status.AvailableReplicas, want))
		default:
			set(mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady,
				fmt.Sprintf("%d/%d replicas available", d.Status.AvailableReplicas, want))
		}
		if progressing {
			set(mcpv1alpha1.ConditionProgressing, metav1.ConditionTrue, mcpv1alpha1.ReasonRolloutInProgress,
				fmt.Sprintf("rollout of Deployment %s: %d/%d replicas updated", d.Name, d.Status.UpdatedReplicas, want))
		} else {
			set(mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutComplete,
				fmt.Sprintf("Deployment %s is up to date", d.Name))
		}
	} else {
		set(mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady,
			fmt.Sprintf("Deployment %s does not exist yet", ServerName(ms)))
		set(mcpv1alpha1.ConditionProgressing, metav1.ConditionTrue, mcpv1alpha1.ReasonReconciling,
			fmt.Sprintf("creating Deployment %s", ServerName(ms)))
	}
	if msg := obs.holdMessage(); msg != "" {
		set(mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutHeld, msg)
	}
	st.Ready = fmt.Sprintf("%d/%d", st.ReadyReplicas, want)

	// Ready: everything else holds. A ConnectionBudget of Unknown (no
	// budget known) does not block readiness; False does.
	readyStatus, readyReason, readyMsg := metav1.ConditionTrue, mcpv1alpha1.ReasonReady, "the memory server is ready"
	switch {
	case obs.reconcileErr != nil:
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, mcpv1alpha1.ReasonReconcileError, obs.reconcileErr.Error()
	case obs.backend.status != metav1.ConditionTrue:
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, obs.backend.reason, "backend: "+obs.backend.message
	case obs.authMissing != "":
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound, obs.authMissing
	case obs.budget.status == metav1.ConditionFalse:
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, obs.budget.reason, "connection budget: "+obs.budget.message
	case !available:
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady,
			fmt.Sprintf("%d/%d server replicas ready", st.ReadyReplicas, want)
	case progressing:
		readyStatus, readyReason, readyMsg = metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutInProgress, "a rollout is under way"
	}
	set(mcpv1alpha1.ConditionReady, readyStatus, readyReason, readyMsg)
	st.Phase = phaseOf(obs, readyStatus == metav1.ConditionTrue, available, progressing, st.ReadyReplicas)
	if obs.reconcileErr == nil {
		st.ObservedGeneration = gen
	}
	return st
}

// deploymentState says whether d has its replicas available and whether a
// rollout is under way. Without a deployment controller's report for the
// current generation, the rollout is under way.
func deploymentState(d *appsv1.Deployment, want int32) (available, progressing bool) {
	current := d.Status.ObservedGeneration >= d.Generation
	available = current && d.Status.AvailableReplicas >= want
	progressing = !current || d.Status.UpdatedReplicas < want || d.Status.Replicas > d.Status.UpdatedReplicas
	return available, progressing
}

// phaseOf summarises the conditions: Failed when the user must act (a
// missing or malformed Secret, an over-budget fleet) and nothing serves,
// Degraded when a reconcile failed, a running fleet lost pods, or a
// rollout is held while the last good fleet still serves (the Ready and
// Progressing conditions say why), Pending while no pod is ready,
// Progressing during a rollout of a serving fleet.
func phaseOf(obs *observed, ready, available, progressing bool, readyReplicas int32) mcpv1alpha1.Phase {
	switch {
	case ready:
		return mcpv1alpha1.PhaseReady
	case obs.holdRollout() && available && obs.reconcileErr == nil:
		return mcpv1alpha1.PhaseDegraded
	case obs.backend.status == metav1.ConditionFalse && obs.backend.reason == mcpv1alpha1.ReasonStatefulSetNotReady:
		// A managed database that is not ready (yet, or again) is not a
		// configuration failure: Pending while no server pod serves (as on
		// first install), Degraded while the fleet still serves.
		if readyReplicas == 0 && !available {
			return mcpv1alpha1.PhasePending
		}
		return mcpv1alpha1.PhaseDegraded
	case obs.backend.status == metav1.ConditionFalse, obs.budget.status == metav1.ConditionFalse, obs.authMissing != "":
		return mcpv1alpha1.PhaseFailed
	case obs.reconcileErr != nil:
		return mcpv1alpha1.PhaseDegraded
	case readyReplicas == 0 && !available:
		return mcpv1alpha1.PhasePending
	case progressing:
		return mcpv1alpha1.PhaseProgressing
	default:
		return mcpv1alpha1.PhaseDegraded
	}
}

// updateStatus writes the rebuilt status with one merge patch guarded by
// the object's resourceVersion, only when it changed. A conflict (the
// object changed since it was read) requeues instead of failing.
func (r *MemoryServerReconciler) updateStatus(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	st := desiredStatus(ms, obs)
	if equality.Semantic.DeepEqual(ms.Status, st) {
		return ctrl.Result{}, nil
	}
	orig := ms.DeepCopy()
	ms.Status = st
	if err := r.Status().Patch(ctx, ms, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("status conflict, requeueing")
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("while patching the status of MemoryServer %s: %w", ms.Name, err)
	}
	return ctrl.Result{}, nil
}
