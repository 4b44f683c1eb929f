package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// The rollout hold. Pods rolled out while the backend is unusable (a
// missing or malformed Secret, lost managed credentials) or while the fleet
// would exceed the connection budget would fail, or exhaust the database,
// while the old ones keep serving. So in either case the server Deployment
// and ConfigMap keep their last good spec, Progressing is False with reason
// RolloutHeld naming the cause, and an event says so; once the cause is
// gone the held changes roll out.

// reconcileRolloutHold reports a rollout hold caused by the backend with a
// Warning event when it starts or its cause changes, and its end with a
// Normal event (the budget step reports its own hold and resumption). It
// runs after the backend and budget steps, which decide the hold.
func (r *MemoryServerReconciler) reconcileRolloutHold(_ context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	prev := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionProgressing)
	wasHeld := prev != nil && prev.Reason == mcpv1alpha1.ReasonRolloutHeld
	msg := obs.holdMessage()
	switch {
	case obs.backendHold() != "" && (!wasHeld || prev.Message != msg):
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, mcpv1alpha1.ReasonRolloutHeld, "HoldRollout", "%s", msg)
	case wasHeld && msg == "" && !r.budgetWasExceeded(ms):
		r.Recorder.Eventf(ms, nil, corev1.EventTypeNormal, mcpv1alpha1.ReasonRolloutInProgress, "ResumeRollout",
			"the backend is usable again, rolling out the held changes")
	}
	return ctrl.Result{}, nil
}

// budgetWasExceeded reports whether ms's status last said BudgetExceeded.
func (r *MemoryServerReconciler) budgetWasExceeded(ms *mcpv1alpha1.MemoryServer) bool {
	c := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget)
	return c != nil && c.Reason == mcpv1alpha1.ReasonBudgetExceeded
}

// backendHold is why a rollout would fail with the backend as it is, "" when
// it would not: BackendReady is False for a reason only the user can fix and
// that new pods cannot survive (a missing or malformed Secret, lost managed
// credentials), or the bearer-token Secret is missing. A managed database
// that is not ready yet holds nothing: it is starting, and the pods retry.
func (o *observed) backendHold() string {
	if o.backend.status == metav1.ConditionFalse {
		switch o.backend.reason {
		case mcpv1alpha1.ReasonInvalidDSN, mcpv1alpha1.ReasonCredentialsLost,
			mcpv1alpha1.ReasonSecretNotFound, mcpv1alpha1.ReasonSecretKeyMissing:
			return fmt.Sprintf("the backend is not usable (%s): %s", o.backend.reason, o.backend.message)
		}
	}
	return o.authMissing
}

// holdRollout reports whether the server Deployment and ConfigMap keep
// their last good spec: the backend is unusable (backendHold) or the fleet
// would exceed the connection budget.
func (o *observed) holdRollout() bool {
	return o.budget.holdRollout || o.backendHold() != ""
}

// holdMessage is the Progressing condition's message while the rollout is
// held, naming every cause; "" when it is not held.
func (o *observed) holdMessage() string {
	var causes []string
	if h := o.backendHold(); h != "" {
		causes = append(causes, h)
	}
	if o.budget.holdRollout {
		causes = append(causes, o.budget.message)
	}
	if len(causes) == 0 {
		return ""
	}
	return "the rollout is held: " + strings.Join(causes, "; ")
}
