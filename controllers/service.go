package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// desiredService is the ClusterIP Service <name> in front of the server
// pods, port "http". Its session affinity is ClientIP: the server keeps MCP
// sessions in its process, so a client's later connections must reach the
// pod that holds its session (streamable HTTP's Mcp-Session-Id, and the
// legacy SSE transport's GET stream and POSTs, which cannot work across
// pods otherwise). The timeout is the API server's default, written out so
// the object read back equals the desired one.
func desiredService(ms *mcpv1alpha1.MemoryServer) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServerName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(ms, mcpv1alpha1.ComponentServer),
			Ports: []corev1.ServicePort{{
				Name:       PortName,
				Port:       portOf(ms),
				TargetPort: intstr.FromString(PortName),
				Protocol:   corev1.ProtocolTCP,
			}},
			SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptrTo(corev1.DefaultClientIPServiceAffinitySeconds)},
			},
		},
	}
}

// reconcileService writes the server Service. Fields the API server
// assigns (clusterIP, IP families) are kept.
func (r *MemoryServerReconciler) reconcileService(ctx context.Context, ms *mcpv1alpha1.MemoryServer, _ *observed) (ctrl.Result, error) {
	desired := desiredService(ms)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	return ctrl.Result{}, r.apply(ctx, ms, svc, func() {
		mergeLabels(&svc.ObjectMeta, desired.Labels)
		svc.Spec.Type = desired.Spec.Type
		svc.Spec.Selector = desired.Spec.Selector
		svc.Spec.Ports = desired.Spec.Ports
		svc.Spec.SessionAffinity = desired.Spec.SessionAffinity
		svc.Spec.SessionAffinityConfig = desired.Spec.SessionAffinityConfig
	})
}
