package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

func TestRolloutHold(t *testing.T) {
	tests := []struct {
		name         string
		status       metav1.ConditionStatus
		reason       string
		authMissing  string
		overBudget   bool
		wantHold     bool
		wantInMsg    []string
		wantNotInMsg []string
	}{
		{name: "ready backend", status: metav1.ConditionTrue, reason: mcpv1alpha1.ReasonBackendReady},
		{name: "managed database starting", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonStatefulSetNotReady},
		{name: "not checked yet", status: metav1.ConditionUnknown, reason: mcpv1alpha1.ReasonReconciling},
		{name: "invalid DSN", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonInvalidDSN,
			wantHold: true, wantInMsg: []string{"the rollout is held: the backend is not usable (InvalidDSN): cause"}},
		{name: "credentials lost", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonCredentialsLost,
			wantHold: true, wantInMsg: []string{"(CredentialsLost)"}},
		{name: "Secret not found", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonSecretNotFound,
			wantHold: true, wantInMsg: []string{"(SecretNotFound)"}},
		{name: "Secret key missing", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonSecretKeyMissing,
			wantHold: true, wantInMsg: []string{"(SecretKeyMissing)"}},
		{name: "auth Secret missing", status: metav1.ConditionTrue, reason: mcpv1alpha1.ReasonBackendReady,
			authMissing: "auth.tokenSecretRef: gone", wantHold: true, wantInMsg: []string{"auth.tokenSecretRef: gone"}},
		{name: "over budget", status: metav1.ConditionTrue, reason: mcpv1alpha1.ReasonBackendReady, overBudget: true,
			wantHold: true, wantInMsg: []string{"the rollout is held: budget numbers"}, wantNotInMsg: []string{"backend"}},
		{name: "both", status: metav1.ConditionFalse, reason: mcpv1alpha1.ReasonInvalidDSN, overBudget: true,
			wantHold: true, wantInMsg: []string{"(InvalidDSN): cause; budget numbers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &observed{authMissing: tt.authMissing}
			obs.backend.status, obs.backend.reason, obs.backend.message = tt.status, tt.reason, "cause"
			obs.budget.holdRollout, obs.budget.message = tt.overBudget, "budget numbers"
			if got := obs.holdRollout(); got != tt.wantHold {
				t.Fatalf("holdRollout() = %v, want %v", got, tt.wantHold)
			}
			msg := obs.holdMessage()
			if !tt.wantHold && msg != "" {
				t.Errorf("holdMessage() = %q, want none", msg)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(msg, s) {
					t.Errorf("holdMessage() = %q, want it to contain %q", msg, s)
				}
			}
			for _, s := range tt.wantNotInMsg {
				if strings.Contains(msg, s) {
					t.Errorf("holdMessage() = %q, must not contain %q", msg, s)
				}
			}
		})
	}
}
