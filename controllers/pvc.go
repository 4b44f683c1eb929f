package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

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

// SQLiteStorageFinalizer is on a sqlite MemoryServer whose volume is kept
// when it is deleted (backend.sqlite.storage.deleteOnRemoval unset): before
// the MemoryServer goes, the claim is released from its owner so garbage
// collection leaves it (and the knowledge graph) alone. A MemoryServer of the
// same name created later adopts it again.
const SQLiteStorageFinalizer = "mcp.memory.dev/sqlite-storage"

// sqliteKeepsVolume reports whether ms's SQLite volume outlives it.
func sqliteKeepsVolume(ms *mcpv1alpha1.MemoryServer) bool {
	b := ms.Spec.Backend
	return b.Type == mcpv1alpha1.BackendSQLite && (b.SQLite == nil || !b.SQLite.Storage.DeleteOnRemoval)
}

// reconcileStorage writes the SQLite claim. A claim's spec is immutable
// but for growing its request, so an existing claim only grows. It also
// keeps SQLiteStorageFinalizer in step with deleteOnRemoval.
func (r *MemoryServerReconciler) reconcileStorage(ctx context.Context, ms *mcpv1alpha1.MemoryServer, _ *observed) (ctrl.Result, error) {
	if want := sqliteKeepsVolume(ms); want != controllerutil.ContainsFinalizer(ms, SQLiteStorageFinalizer) {
		orig := ms.DeepCopy()
		if want {
			controllerutil.AddFinalizer(ms, SQLiteStorageFinalizer)
		} else {
			controllerutil.RemoveFinalizer(ms, SQLiteStorageFinalizer)
		}
		if err := r.Patch(ctx, ms, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("while updating the finalizers of MemoryServer %s: %w", ms.Name, err)
		}
	}
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

// finalizeSQLiteStorage runs while a MemoryServer is being deleted: with
// SQLiteStorageFinalizer, it removes the MemoryServer's owner reference from
// the SQLite claim (so garbage collection keeps it), then the finalizer.
func (r *MemoryServerReconciler) finalizeSQLiteStorage(ctx context.Context, ms *mcpv1alpha1.MemoryServer) error {
	if !controllerutil.ContainsFinalizer(ms, SQLiteStorageFinalizer) {
		return nil
	}
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: SQLitePVCName(ms)}, pvc)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("while reading PersistentVolumeClaim %s: %w", SQLitePVCName(ms), err)
	case metav1.IsControlledBy(pvc, ms) || hasOwner(pvc, ms):
		orig := pvc.DeepCopy()
		refs := pvc.OwnerReferences[:0]
		for _, ref := range pvc.OwnerReferences {
			if ref.UID != ms.UID {
				refs = append(refs, ref)
			}
		}
		pvc.OwnerReferences = refs
		if err := r.Patch(ctx, pvc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("while releasing PersistentVolumeClaim %s: %w", pvc.Name, err)
		}
		log.FromContext(ctx).Info("kept the SQLite volume claim of a deleted MemoryServer", "claim", pvc.Name)
		r.Recorder.Eventf(ms, pvc, corev1.EventTypeNormal, "VolumeKept", "Delete",
			"kept PersistentVolumeClaim %s (backend.sqlite.storage.deleteOnRemoval is false)", pvc.Name)
	}
	orig := ms.DeepCopy()
	controllerutil.RemoveFinalizer(ms, SQLiteStorageFinalizer)
	if err := r.Patch(ctx, ms, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("while removing the finalizer of MemoryServer %s: %w", ms.Name, err)
	}
	return nil
}

func hasOwner(obj metav1.Object, owner metav1.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}
