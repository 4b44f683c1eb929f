package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// Envtest: the SQLite volume and its MemoryServer.

func TestSQLiteVolumeOutlivesItsMemoryServer(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pvcKey := types.NamespacedName{Namespace: ns, Name: "keep-data"}

	ms := sqliteServer(ns, "keep")
	create(t, ms)
	eventually(t, "finalizer", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "keep")
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(got.Finalizers, ","), controllers.SQLiteStorageFinalizer) {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return suite.k8s.Get(ctx, pvcKey, &corev1.PersistentVolumeClaim{})
	})
	if err := suite.k8s.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, "MemoryServer gone, claim released", func(ctx context.Context) error {
		if _, err := getMS(ctx, ns, "keep"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MemoryServer still there: %v", err)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if len(pvc.OwnerReferences) != 0 {
			return fmt.Errorf("claim still owned (garbage collection would delete it): %+v", pvc.OwnerReferences)
		}
		return nil
	})

	// A new MemoryServer of the same name adopts the kept claim.
	again := sqliteServer(ns, "keep")
	create(t, again)
	eventually(t, "claim adopted", func(ctx context.Context) error {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if !isControlledBy(pvc, again) {
			return fmt.Errorf("claim owners %+v", pvc.OwnerReferences)
		}
		return nil
	})

	// With deleteOnRemoval the claim stays owned, for garbage collection.
	patchMS(t, ns, "keep", func(ms *mcpv1alpha1.MemoryServer) {
		ms.Spec.Backend.SQLite = &mcpv1alpha1.SQLiteBackend{Storage: mcpv1alpha1.StorageSpec{DeleteOnRemoval: true}}
	})
	eventually(t, "finalizer removed", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "keep")
		if err != nil {
			return err
		}
		if len(got.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return nil
	})
	if err := suite.k8s.Delete(ctx, again); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted, claim left to garbage collection", func(ctx context.Context) error {
		if _, err := getMS(ctx, ns, "keep"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MemoryServer still there: %v", err)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := suite.k8s.Get(ctx, pvcKey, pvc); err != nil {
			return err
		}
		if !isControlledBy(pvc, again) {
			return fmt.Errorf("claim released although deleteOnRemoval is set: %+v", pvc.OwnerReferences)
		}
		return nil
	})
}
