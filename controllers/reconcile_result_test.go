package controllers_test

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/memory-operator/memory-operator/controllers"
)

// failingClient fails every Deployment read (a step error) and every
// status patch with a conflict (which alone would requeue shortly).
type failingClient struct{ client.Client }

var errDeploymentRead = errors.New("injected Deployment read failure")

func (c failingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*appsv1.Deployment); ok {
		return errDeploymentRead
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c failingClient) Status() client.SubResourceWriter { return conflictingStatus{c.Client.Status()} }

type conflictingStatus struct{ client.SubResourceWriter }

func (conflictingStatus) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return apierrors.NewConflict(schema.GroupResource{Group: "mcp.memory.dev", Resource: "memoryservers"}, "x", errors.New("injected"))
}

// TestReconcileReturnsAnErrorOrAResult: a failed step returns its error
// and an empty Result (controller-runtime ignores a Result returned with
// an error), even when the status patch also asked for a requeue.
func TestReconcileReturnsAnErrorOrAResult(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	create(t, sqliteServer(ns, "err"))
	r := &controllers.MemoryServerReconciler{
		Client: failingClient{suite.k8s}, APIReader: suite.k8s, Scheme: suite.scheme,
		Recorder: events.NewFakeRecorder(100), DefaultImage: testImage,
	}
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "err"}})
	if !errors.Is(err, errDeploymentRead) {
		t.Fatalf("error %v, want the step's", err)
	}
	if !res.IsZero() {
		t.Errorf("Result %+v returned with an error", res)
	}
}
