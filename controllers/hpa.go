package controllers

import (
	"context"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// DefaultTargetCPUUtilization is the autoscaler's CPU target when
// autoscaling.targetCPUUtilizationPercentage is unset.
const DefaultTargetCPUUtilization int32 = 70

// desiredAutoscaler is the HorizontalPodAutoscaler <name> scaling the server
// Deployment on CPU, or nil when spec.autoscaling is unset.
func desiredAutoscaler(ms *mcpv1alpha1.MemoryServer) *autoscalingv2.HorizontalPodAutoscaler {
	a := ms.Spec.Autoscaling
	if a == nil {
		return nil
	}
	minReplicas := int32(1)
	if a.MinReplicas != nil {
		minReplicas = *a.MinReplicas
	}
	target := DefaultTargetCPUUtilization
	if a.TargetCPUUtilizationPercentage != nil {
		target = *a.TargetCPUUtilizationPercentage
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServerName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: "apps/v1", Kind: "Deployment", Name: ServerName(ms),
			},
			MinReplicas: ptrTo(minReplicas),
			MaxReplicas: a.MaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{
						Type:               autoscalingv2.UtilizationMetricType,
						AverageUtilization: ptrTo(target),
					},
				},
			}},
		},
	}
}

// reconcileAutoscaler writes the HorizontalPodAutoscaler, or deletes it
// when autoscaling is unset. Over the connection budget it is left as it is
// (a new one is not created), so it cannot scale past the last good bounds.
func (r *MemoryServerReconciler) reconcileAutoscaler(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	if obs.budget.holdRollout {
		return ctrl.Result{}, nil
	}
	desired := desiredAutoscaler(ms)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: ServerName(ms), Namespace: ms.Namespace}}
	if desired == nil {
		return ctrl.Result{}, r.deleteOwned(ctx, ms, hpa)
	}
	return ctrl.Result{}, r.apply(ctx, ms, hpa, func() {
		mergeLabels(&hpa.ObjectMeta, desired.Labels)
		hpa.Spec.ScaleTargetRef = desired.Spec.ScaleTargetRef
		hpa.Spec.MinReplicas = desired.Spec.MinReplicas
		hpa.Spec.MaxReplicas = desired.Spec.MaxReplicas
		hpa.Spec.Metrics = desired.Spec.Metrics
	})
}
