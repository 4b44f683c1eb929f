package controllers

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Fixed parts of the server pods.
const (
	// ContainerName is the server container's name.
	ContainerName = "memory-server"
	// PortName names the container and Service port of the MCP endpoint,
	// probes and metrics.
	PortName = "http"
	// RunAsUser is the non-root uid (and gid) of the server (distroless
	// "nonroot").
	RunAsUser int64 = 65532
	// PreStopSleepSeconds is how long a terminating server pod keeps
	// serving before it gets SIGTERM (a preStop sleep, no shell needed), so
	// the endpoints controller and kube-proxy drop it from the Service
	// first and no new connection reaches a pod that stopped accepting.
	PreStopSleepSeconds int64 = 5
	// TerminationGracePeriodSeconds covers the preStop sleep (5 s) plus the
	// server's 25 s shutdown grace period (in-flight calls finish), with
	// 5 s to close the pool: the grace period counts from the start of
	// preStop.
	TerminationGracePeriodSeconds int64 = 35
	// ProbeTimeoutSeconds is the server probes' timeout: a busy pod may
	// answer /readyz or /livez slowly without being unready or dead.
	ProbeTimeoutSeconds int32 = 5
	// EnvGoMemLimit is the Go runtime's soft memory limit variable.
	EnvGoMemLimit = "GOMEMLIMIT"
)

// deploymentInput is what the Deployment needs beyond the spec.
type deploymentInput struct {
	// image is the server image when spec.image is empty.
	defaultImage string
	// configHash goes on the pod template (AnnotationConfigHash).
	configHash string
	// env are the Secret-backed environment variables of the backend.
	env []corev1.EnvVar
}

// AnnotationAppliedConfig on the server Deployment is the configuration
// file (no secret: credentials reach the pods as Secret references) its pod
// template was last written with. A ConfigMap deleted while the rollout is
// held for the backend is recreated from it: what the running pods read.
const AnnotationAppliedConfig = "mcp.memory.dev/applied-config"

// desiredReplicas is the server's replica count: spec.replicas (default 1),
// or autoscaling.minReplicas for a new Deployment under an autoscaler.
func desiredReplicas(ms *mcpv1alpha1.MemoryServer) int32 {
	if a := ms.Spec.Autoscaling; a != nil {
		if a.MinReplicas != nil {
			return *a.MinReplicas
		}
		return 1
	}
	if ms.Spec.Replicas != nil {
		return *ms.Spec.Replicas
	}
	return 1
}

// goMemLimit is 90% of the container's memory limit in bytes, or "" when
// no limit is set.
func goMemLimit(res corev1.ResourceRequirements) string {
	q, ok := res.Limits[corev1.ResourceMemory]
	if !ok || q.IsZero() {
		return ""
	}
	return strconv.FormatInt(q.Value()*9/10, 10)
}

// desiredDeployment is the server Deployment <name>. Every field the API
// server would default is set explicitly, so that comparing it with the
// stored object finds no difference at steady state.
func desiredDeployment(ms *mcpv1alpha1.MemoryServer, in deploymentInput) *appsv1.Deployment {
	sqlite := ms.Spec.Backend.Type == mcpv1alpha1.BackendSQLite
	image := ms.Spec.Image
	if image == "" {
		image = in.defaultImage
	}
	if image == "" {
		image = DefaultMemoryServerImage
	}
	overrides := ms.Spec.PodTemplate
	if overrides == nil {
		overrides = &mcpv1alpha1.PodTemplateOverrides{}
	}

	podLabels := maps.Clone(overrides.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, Labels(ms, mcpv1alpha1.ComponentServer))
	podAnnotations := maps.Clone(overrides.Annotations)
	if podAnnotations == nil {
		podAnnotations = map[string]string{}
	}
	podAnnotations[mcpv1alpha1.AnnotationConfigHash] = in.configHash

	env := []corev1.EnvVar{}
	if l := goMemLimit(ms.Spec.Resources); l != "" {
		env = append(env, corev1.EnvVar{Name: EnvGoMemLimit, Value: l})
	}
	env = append(env, in.env...)

	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: ConfigDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(ms)},
			DefaultMode:          ptrTo(corev1.ConfigMapVolumeSourceDefaultMode),
		}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if sqlite {
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: DataDir})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: SQLitePVCName(ms)},
		}})
	}
	if a := ms.Spec.Auth; a != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: "auth", MountPath: AuthDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "auth", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  a.TokenSecretRef.Name,
			Items:       []corev1.KeyToPath{{Key: a.TokenSecretRef.Key, Path: AuthTokensFile}},
			DefaultMode: ptrTo(corev1.SecretVolumeSourceDefaultMode),
		}}})
	}

	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString(PortName), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds: period, TimeoutSeconds: ProbeTimeoutSeconds, SuccessThreshold: 1, FailureThreshold: failures,
		}
	}

	container := corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"--config", ConfigDir + "/" + ConfigFileKey},
		Ports: []corev1.ContainerPort{{
			Name: PortName, ContainerPort: portOf(ms), Protocol: corev1.ProtocolTCP,
		}},
		Env:           env,
		Resources:     ms.Spec.Resources,
		VolumeMounts:  mounts,
		StartupProbe:  probe("/livez", 2, 30),
		LivenessProbe: probe("/livez", 10, 3),
		// One slow /readyz on a busy pod must not take it out of the
		// Service (DESIGN 4: readiness must not fail on load): three
		// misses in a row. The server's own prober already debounces
		// backend failures.
		ReadinessProbe: probe("/readyz", 5, 3),
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Sleep: &corev1.SleepAction{Seconds: PreStopSleepSeconds},
		}},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptrTo(true),
			RunAsUser:                ptrTo(RunAsUser),
			RunAsGroup:               ptrTo(RunAsUser),
			ReadOnlyRootFilesystem:   ptrTo(true),
			AllowPrivilegeEscalation: ptrTo(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	strategy := appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge:       ptrTo(intstr.FromInt32(1)),
			MaxUnavailable: ptrTo(intstr.FromInt32(0)),
		},
	}
	if sqlite {
		// One SQLite file on a ReadWriteOnce volume: the old pod must be
		// gone before the new one starts.
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}

	sa := overrides.ServiceAccountName
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServerName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptrTo(desiredReplicas(ms)),
			Selector:                &metav1.LabelSelector{MatchLabels: SelectorLabels(ms, mcpv1alpha1.ComponentServer)},
			Strategy:                strategy,
			RevisionHistoryLimit:    ptrTo(int32(10)),
			ProgressDeadlineSeconds: ptrTo(int32(600)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{container},
					Volumes:                       volumes,
					RestartPolicy:                 corev1.RestartPolicyAlways,
					TerminationGracePeriodSeconds: ptrTo(TerminationGracePeriodSeconds),
					DNSPolicy:                     corev1.DNSClusterFirst,
					SchedulerName:                 corev1.DefaultSchedulerName,
					ServiceAccountName:            sa,
					DeprecatedServiceAccount:      sa,
					// The server never talks to the Kubernetes API.
					AutomountServiceAccountToken: ptrTo(false),
					EnableServiceLinks:           ptrTo(false),
					NodeSelector:                 overrides.NodeSelector,
					Tolerations:                  overrides.Tolerations,
					Affinity:                     overrides.Affinity,
					PriorityClassName:            overrides.PriorityClassName,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptrTo(true),
						RunAsUser:      ptrTo(RunAsUser),
						RunAsGroup:     ptrTo(RunAsUser),
						FSGroup:        ptrTo(RunAsUser),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
				},
			},
		},
	}
}

// reconcileDeployment writes the server Deployment, unless the rollout is
// held (observed.holdRollout): then an existing Deployment keeps its last
// good spec, so the serving pods are not replaced by pods that would fail.
// A missing Deployment is not created over the connection budget (that
// fleet could exhaust the database) unless it was deleted: then the last
// good fleet is recreated (observeApplied). It is created while only the
// backend is unusable, so the fleet's objects exist and its pods report the missing
// Secret themselves until it is fixed, which rolls them. It records the
// Deployment in obs.
func (r *MemoryServerReconciler) reconcileDeployment(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	desired := desiredDeployment(ms, deploymentInput{
		defaultImage: r.DefaultImage,
		configHash:   obs.configHash,
		env:          obs.backend.env,
	})
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	if obs.holdRollout() {
		err := r.Get(ctx, client.ObjectKeyFromObject(dep), dep)
		switch {
		case err == nil:
			obs.deployment = dep
			return ctrl.Result{}, nil
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, fmt.Errorf("while reading Deployment %s: %w", dep.Name, err)
		case obs.budget.holdRollout && !obs.applied.exists:
			return ctrl.Result{}, nil
		case obs.budget.holdRollout:
			// Deleted while held: put back the last good fleet, its size
			// recorded on the held ConfigMap (whose configuration, and so
			// pool size, is the last good one too). The other fields come
			// from the spec: they do not change the connections it holds.
			desired.Spec.Replicas = ptrTo(obs.applied.replicas)
		}
	}
	if err := r.apply(ctx, ms, dep, func() {
		mergeLabels(&dep.ObjectMeta, desired.Labels)
		if obs.configData != "" {
			if dep.Annotations == nil {
				dep.Annotations = map[string]string{}
			}
			dep.Annotations[AnnotationAppliedConfig] = obs.configData
		}
		if dep.CreationTimestamp.IsZero() {
			dep.Spec.Selector = desired.Spec.Selector
		}
		// Under an autoscaler the HPA owns replicas; the desired count only
		// seeds a new Deployment.
		if ms.Spec.Autoscaling == nil || dep.Spec.Replicas == nil {
			dep.Spec.Replicas = desired.Spec.Replicas
		}
		dep.Spec.Strategy = desired.Spec.Strategy
		dep.Spec.RevisionHistoryLimit = desired.Spec.RevisionHistoryLimit
		dep.Spec.ProgressDeadlineSeconds = desired.Spec.ProgressDeadlineSeconds
		dep.Spec.Paused = false
		dep.Spec.Template = desired.Spec.Template
	}); err != nil {
		return ctrl.Result{}, err
	}
	obs.deployment = dep
	return ctrl.Result{}, nil
}
