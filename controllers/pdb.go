package controllers

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// wantsPDB is true when the fleet can have more than one pod: replicas > 1
// or an autoscaler whose maximum is above 1.
func wantsPDB(ms *mcpv1alpha1.MemoryServer) bool {
	if a := ms.Spec.Autoscaling; a != nil {
		return a.MaxReplicas > 1
	}
	return desiredReplicas(ms) > 1
}

// desiredPodDisruptionBudget is the PodDisruptionBudget <name> allowing one
// server pod down at a time, or nil when the fleet is a single pod.
func desiredPodDisruptionBudget(ms *mcpv1alpha1.MemoryServer) *policyv1.PodDisruptionBudget {
	if !wantsPDB(ms) {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServerName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptrTo(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(ms, mcpv1alpha1.ComponentServer)},
		},
	}
}

// reconcilePodDisruptionBudget writes the PodDisruptionBudget, or deletes it
// when the fleet no longer needs one.
func (r *MemoryServerReconciler) reconcilePodDisruptionBudget(ctx context.Context, ms *mcpv1alpha1.MemoryServer, _ *observed) (ctrl.Result, error) {
	desired := desiredPodDisruptionBudget(ms)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: ServerName(ms), Namespace: ms.Namespace}}
	if desired == nil {
		return ctrl.Result{}, r.deleteOwned(ctx, ms, pdb)
	}
	return ctrl.Result{}, r.apply(ctx, ms, pdb, func() {
		mergeLabels(&pdb.ObjectMeta, desired.Labels)
		pdb.Spec.MaxUnavailable = desired.Spec.MaxUnavailable
		pdb.Spec.MinAvailable = nil
		pdb.Spec.Selector = desired.Spec.Selector
	})
}
