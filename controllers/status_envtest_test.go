package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Envtest: status follows the Deployment and the referenced Secrets.

func TestDeploymentStatusDrivesMemoryServerStatus(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	createSecret(t, ns, "pg", map[string]string{"dsn": "postgres://u:p@db:5432/m"})
	ms := externalPostgresServer(ns, "live", "pg")
	ms.Spec.Replicas = ptr(int32(2))
	create(t, ms)
	dep := waitDeployment(t, ns, "live")

	// envtest has no deployment controller: play its part.
	setDeploymentStatus := func(ready, available, updated int32) {
		t.Helper()
		eventually(t, "Deployment status", func(ctx context.Context) error {
			d := waitDeployment(t, ns, "live")
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: available,
			}
			return suite.k8s.Status().Update(ctx, d)
		})
	}
	setDeploymentStatus(1, 1, 2)
	eventually(t, "degraded fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 1 || got.Status.Ready != "1/2" || got.Status.Phase != mcpv1alpha1.PhaseDegraded {
			return fmt.Errorf("status %+v", got.Status)
		}
		return expectCondition(got, mcpv1alpha1.ConditionServerAvailable, metav1.ConditionFalse, mcpv1alpha1.ReasonDeploymentNotReady)
	})
	setDeploymentStatus(2, 2, 2)
	eventually(t, "ready fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 2 || got.Status.Replicas != 2 || got.Status.Ready != "2/2" || got.Status.Phase != mcpv1alpha1.PhaseReady {
			return fmt.Errorf("status %+v", got.Status)
		}
		for t, reason := range map[string]string{
			mcpv1alpha1.ConditionServerAvailable: mcpv1alpha1.ReasonDeploymentAvailable,
			mcpv1alpha1.ConditionReady:           mcpv1alpha1.ReasonReady,
		} {
			if err := expectCondition(got, t, metav1.ConditionTrue, reason); err != nil {
				return err
			}
		}
		return expectCondition(got, mcpv1alpha1.ConditionProgressing, metav1.ConditionFalse, mcpv1alpha1.ReasonRolloutComplete)
	})
	// A rollout in progress (old pods not yet replaced) is Progressing.
	setDeploymentStatus(2, 2, 1)
	eventually(t, "progressing fleet", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "live")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseProgressing {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return expectCondition(got, mcpv1alpha1.ConditionProgressing, metav1.ConditionTrue, mcpv1alpha1.ReasonRolloutInProgress)
	})
	_ = dep
}

func TestMissingSecretIsReportedAndRecovers(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	create(t, externalPostgresServer(ns, "lost", "later"))
	eventually(t, "SecretNotFound", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseFailed || got.Status.Backend == nil || got.Status.Backend.Ready {
			return fmt.Errorf("status %+v", got.Status)
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound); err != nil {
			return err
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretNotFound)
	})
	eventually(t, "Warning event", func(ctx context.Context) error {
		var evs eventsv1.EventList
		if err := suite.k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && e.Reason == mcpv1alpha1.ReasonSecretNotFound && e.Regarding.Name == "lost" &&
				strings.Contains(e.Note, `"later"`) {
				return nil
			}
		}
		return fmt.Errorf("no SecretNotFound Warning among %d events", len(evs.Items))
	})
	hashBefore := waitDeployment(t, ns, "lost").Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]

	// A Secret without the key is still not enough.
	s := createSecret(t, ns, "later", map[string]string{"other": "x"})
	eventually(t, "SecretKeyMissing", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		return expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionFalse, mcpv1alpha1.ReasonSecretKeyMissing)
	})
	// The key appears: recovery without touching the MemoryServer.
	s.StringData = map[string]string{"dsn": "postgres://u:first@db:5432/m"}
	if err := suite.k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	var hashReady string
	eventually(t, "BackendReady", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "lost")
		if err != nil {
			return err
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		hashReady = got.Status.ConfigHash
		if hashReady == hashBefore {
			return fmt.Errorf("config hash unchanged when the Secret appeared")
		}
		return nil
	})
	// Rotating the DSN rolls the pods.
	s.StringData = map[string]string{"dsn": "postgres://u:second@db:5432/m"}
	if err := suite.k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rotation rolls the pods", func(ctx context.Context) error {
		h := waitDeployment(t, ns, "lost").Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
		if h == hashReady {
			return fmt.Errorf("pod template hash unchanged after the DSN changed")
		}
		return nil
	})
}

func TestAuthTokensSecret(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	ms := sqliteServer(ns, "guarded")
	ms.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "tokens", Key: "list"}}
	create(t, ms)
	eventually(t, "auth Secret missing", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "guarded")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhaseFailed {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		if err := expectCondition(got, mcpv1alpha1.ConditionBackendReady, metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady); err != nil {
			return err
		}
		c := condition(got, mcpv1alpha1.ConditionReady)
		if c == nil || c.Reason != mcpv1alpha1.ReasonSecretNotFound || !strings.Contains(c.Message, "auth.tokenSecretRef") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	dep := waitDeployment(t, ns, "guarded")
	before := dep.Spec.Template.Annotations[mcpv1alpha1.AnnotationConfigHash]
	var mounted bool
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "tokens" && v.Secret.Items[0].Key == "list" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("tokens Secret not mounted: %+v", dep.Spec.Template.Spec.Volumes)
	}
	cfg, _ := parseConfigMap(t, ns, "guarded")
	if cfg.Auth.TokensFile != "/etc/memory-server/auth/tokens" {
		t.Errorf("auth.tokensFile %q", cfg.Auth.TokensFile)
	}

	createSecret(t, ns, "tokens", map[string]string{"list": "t0ken-1\n"})
	eventually(t, "auth Secret found", func(ctx context.Context) error {
		got, err := getMS(ctx, ns, "guarded")
		if err != nil {
			return err
		}
		if got.Status.Phase != mcpv1alpha1.PhasePending || got.Status.ConfigHash == before {
			return fmt.Errorf("phase %s, hash %s (before %s)", got.Status.Phase, got.Status.ConfigHash, before)
		}
		return expectCondition(got, mcpv1alpha1.ConditionReady, metav1.ConditionFalse, mcpv1alpha1.ReasonNotReady)
	})
}
