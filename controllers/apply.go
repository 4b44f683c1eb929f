package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// ChildWritesMetric counts the operator's writes of children by kind and
// operation (created, updated, deleted). At steady state it does not move.
const ChildWritesMetric = "memory_operator_child_writes_total"

// newChildWrites creates the child-writes counter and registers it with
// controller-runtime's metrics registry (served on --metrics-bind-address).
// A second reconciler in the same process (tests) shares the first's.
func newChildWrites() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ChildWritesMetric,
		Help: "Writes of MemoryServer children by the operator, by kind and operation.",
	}, []string{"kind", "operation"})
	if err := metrics.Registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}

// apply creates obj or updates it to what mutate sets, with ms as its
// controller, and reports a create or an actual change as an event. obj
// carries the name and namespace; mutate sets only the fields the operator
// owns, so fields the API server defaults or other controllers own (a
// Service's clusterIP, a Deployment's replicas under an HPA) are kept.
func (r *MemoryServerReconciler) apply(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obj client.Object, mutate func()) error {
	kind := r.kindOf(obj)
	res, err := controllerutil.CreateOrUpdate(ctx, r.Client, obj, func() error {
		mutate()
		return controllerutil.SetControllerReference(ms, obj, r.Scheme)
	})
	if err != nil {
		return fmt.Errorf("while writing %s %s: %w", kind, obj.GetName(), err)
	}
	switch res {
	case controllerutil.OperationResultCreated:
		r.recordWrite(ctx, ms, obj, kind, "created")
	case controllerutil.OperationResultUpdated:
		r.recordWrite(ctx, ms, obj, kind, "updated")
	}
	return nil
}

// deleteOwned deletes the child obj (name and namespace set) if it exists
// and ms controls it. A child someone else controls is left alone.
func (r *MemoryServerReconciler) deleteOwned(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obj client.Object) error {
	kind := r.kindOf(obj)
	if err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("while reading %s %s: %w", kind, obj.GetName(), err)
	}
	if !metav1.IsControlledBy(obj, ms) {
		return nil
	}
	if err := r.Delete(ctx, obj, client.Preconditions{UID: ptrTo(obj.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("while deleting %s %s: %w", kind, obj.GetName(), err)
	}
	r.recordWrite(ctx, ms, obj, kind, "deleted")
	return nil
}

func (r *MemoryServerReconciler) recordWrite(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obj client.Object, kind, op string) {
	if r.childWrites != nil {
		r.childWrites.WithLabelValues(kind, op).Inc()
	}
	log.FromContext(ctx).Info("wrote child", "kind", kind, "name", obj.GetName(), "operation", op)
	reason := map[string]string{"created": "Created", "updated": "Updated", "deleted": "Deleted"}[op]
	action := map[string]string{"created": "Create", "updated": "Update", "deleted": "Delete"}[op]
	r.Recorder.Eventf(ms, obj, corev1.EventTypeNormal, reason, action, "%s %s %s", op, kind, obj.GetName())
}

func (r *MemoryServerReconciler) kindOf(obj client.Object) string {
	gvk, err := apiutil.GVKForObject(obj, r.Scheme)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	return gvk.Kind
}

// mergeLabels sets want on m's labels, keeping labels others added.
func mergeLabels(m *metav1.ObjectMeta, want map[string]string) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	for k, v := range want {
		m.Labels[k] = v
	}
}

func ptrTo[T any](v T) *T { return &v }
