package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// DefaultSQLiteStorage is the size of the SQLite volume when
// backend.sqlite.storage.size is unset.
var DefaultSQLiteStorage = resource.MustParse("1Gi")

// desiredSQLitePVC is the claim <name>-data holding the SQLite file, or nil
// for other backends.
func desiredSQLitePVC(ms *mcpv1alpha1.MemoryServer) *corev1.PersistentVolumeClaim {
	if ms.Spec.Backend.Type != mcpv1alpha1.BackendSQLite {
		return nil
	}
	size := DefaultSQLiteStorage
	var class *string
	if s := ms.Spec.Backend.SQLite; s != nil {
		if s.Storage.Size != nil {
			size = *s.Storage.Size
		}
		class = s.Storage.StorageClassName
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:      SQLitePVCName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
		},
	}
}

// reconcileStorage writes the SQLite claim. A claim's spec is immutable
// but for growing its request, so an existing claim only grows.
func (r *MemoryServerReconciler) reconcileStorage(ctx context.Context, ms *mcpv1alpha1.MemoryServer, _ *observed) (ctrl.Result, error) {
	desired := desiredSQLitePVC(ms)
	if desired == nil {
		return ctrl.Result{}, nil
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	return ctrl.Result{}, r.apply(ctx, ms, pvc, func() {
		mergeLabels(&pvc.ObjectMeta, desired.Labels)
		want := desired.Spec.Resources.Requests[corev1.ResourceStorage]
		if pvc.CreationTimestamp.IsZero() {
			pvc.Spec = desired.Spec
			return
		}
		if have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; want.Cmp(have) > 0 {
			pvc.Spec.Resources.Requests[corev1.ResourceStorage] = want
		}
	})
}
