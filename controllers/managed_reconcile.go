package controllers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// ManagedStorageFinalizer is on a MemoryServer whose managed database has
// storage.deleteOnRemoval: true. On deletion it removes the database's
// PersistentVolumeClaims (and nothing else); then garbage collection
// removes the children. Without it the claims, and the data, are kept.
const ManagedStorageFinalizer = "mcp.memory.dev/managed-storage"

// managedKind is the database's name for messages.
func managedKind(ms *mcpv1alpha1.MemoryServer) string {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return "Neo4j"
	}
	return "PostgreSQL"
}

// managedStorageSpec is the storage block of ms's managed database.
func managedStorageSpec(ms *mcpv1alpha1.MemoryServer) mcpv1alpha1.StorageSpec {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return managedNeo4jSpec(ms).Storage
	}
	return managedPostgresSpec(ms).Storage
}

// managedDeleteOnRemoval reports whether ms's managed database volumes go
// with it.
func managedDeleteOnRemoval(ms *mcpv1alpha1.MemoryServer) bool {
	return ManagedIsManaged(ms) && managedStorageSpec(ms).DeleteOnRemoval
}

// managedReconcile is the managed-backend step: the database's Services,
// its credentials Secret (generated once, never rewritten), its
// StatefulSet, and BackendReady from the StatefulSet's ready replicas. It
// also keeps the storage finalizer in line with storage.deleteOnRemoval.
// It fills obs.backend: how the server reaches the database (client
// Service host, Secret-backed env) and the condition.
func (r *MemoryServerReconciler) managedReconcile(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	b := &obs.backend
	b.managed = true
	b.host = ManagedHost(ms)
	b.env = ManagedServerEnv(ms)
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		b.neo4jURI = ManagedNeo4jURI(ms)
	}

	if err := r.managedSyncFinalizer(ctx, ms); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.managedServices(ctx, ms); err != nil {
		return ctrl.Result{}, err
	}
	if ok, err := r.managedCredentials(ctx, ms, obs); err != nil || !ok {
		// Without usable credentials the StatefulSet is left as it is: a
		// new one (or a restarted pod) could not start anyway.
		return ctrl.Result{}, err
	}
	sts, err := r.managedStatefulSet(ctx, ms, obs)
	if err != nil {
		return ctrl.Result{}, err
	}

	ready := sts.Status.ReadyReplicas
	want := managedDeref(sts.Spec.Replicas, 1)
	if ready >= 1 {
		b.status, b.reason = metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady
		b.message = fmt.Sprintf("managed %s StatefulSet %s is ready (%d/%d), Service %s", managedKind(ms), sts.Name, ready, want, b.host)
	} else {
		b.status, b.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonStatefulSetNotReady
		b.message = fmt.Sprintf("managed %s StatefulSet %s is not ready yet (%d/%d ready)", managedKind(ms), sts.Name, ready, want)
	}
	b.message += managedStorageDrift(sts, managedDesiredStatefulSet(ms))
	if b.heldLimit > 0 {
		b.message += fmt.Sprintf("; the database keeps its limit of %d connections (spec %d) until the running fleet (%d connections) fits the lower one",
			b.heldLimit, managedSpecLimit(ms), obs.applied.total)
		if obs.applied.rolling {
			b.message += " and the server Deployment's rollout is complete (old pods may hold larger pools)"
		}
	}
	return ctrl.Result{}, nil
}

// managedStorageDrift explains, for the BackendReady message, a storage
// spec that differs from the StatefulSet's claim template: the API server
// refuses to change a template, so the change is not applied; "" when they
// agree.
func managedStorageDrift(have, want *appsv1.StatefulSet) string {
	if len(have.Spec.VolumeClaimTemplates) == 0 || len(want.Spec.VolumeClaimTemplates) == 0 {
		return ""
	}
	h, w := have.Spec.VolumeClaimTemplates[0].Spec, want.Spec.VolumeClaimTemplates[0].Spec
	hs, ws := h.Resources.Requests[corev1.ResourceStorage], w.Resources.Requests[corev1.ResourceStorage]
	var drift []string
	if hs.Cmp(ws) != 0 {
		drift = append(drift, fmt.Sprintf("size %s (spec %s)", hs.String(), ws.String()))
	}
	if w.StorageClassName != nil && (h.StorageClassName == nil || *h.StorageClassName != *w.StorageClassName) {
		drift = append(drift, fmt.Sprintf("storageClassName %q (spec %q)", managedDerefString(h.StorageClassName), *w.StorageClassName))
	}
	if len(drift) == 0 {
		return ""
	}
	return fmt.Sprintf("; storage is not changed in place: the claims keep %s; resize the PersistentVolumeClaim "+
		"(if its class allows expansion) or recreate the database", strings.Join(drift, ", "))
}

func managedDerefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func managedDeref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// managedServices writes the headless and client Services. Only the fields
// the operator owns are set; the cluster IP and other defaults are kept.
func (r *MemoryServerReconciler) managedServices(ctx context.Context, ms *mcpv1alpha1.MemoryServer) error {
	headless, clientSvc := managedDesiredServices(ms)
	for _, desired := range []*corev1.Service{headless, clientSvc} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
		if err := r.apply(ctx, ms, svc, func() {
			mergeLabels(&svc.ObjectMeta, desired.Labels)
			if svc.CreationTimestamp.IsZero() {
				svc.Spec.ClusterIP = desired.Spec.ClusterIP
			}
			svc.Spec.Type = desired.Spec.Type
			svc.Spec.Selector = desired.Spec.Selector
			svc.Spec.Ports = desired.Spec.Ports
			svc.Spec.PublishNotReadyAddresses = desired.Spec.PublishNotReadyAddresses
		}); err != nil {
			return err
		}
	}
	return nil
}

// managedStatefulSet writes the database StatefulSet. The fields the API
// server refuses to change (selector, serviceName, volumeClaimTemplates,
// podManagementPolicy) are set only on creation. A lower connection limit
// (max_connections, Bolt thread pool) waits until the applied fleet
// (obs.applied) fits it: until then the StatefulSet keeps its running
// limit, recorded in obs.backend.heldLimit, so the database never restarts
// with fewer slots than the running pods may hold. It also records in
// obs.backend.runningLimit the limit the database's pods run with (see
// managedPodsLimit), against which a raised limit's budget is counted.
func (r *MemoryServerReconciler) managedStatefulSet(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (*appsv1.StatefulSet, error) {
	desired := managedDesiredStatefulSet(ms)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	err := r.apply(ctx, ms, sts, func() {
		mergeLabels(&sts.ObjectMeta, desired.Labels)
		if sts.CreationTimestamp.IsZero() {
			sts.Spec = desired.Spec
			// Nothing runs yet: the database starts with the spec's limit.
			obs.backend.runningLimit = managedRunningLimit(ms, &desired.Spec.Template)
			managedRecordLimit(sts, obs.backend.runningLimit)
			return
		}
		current := managedRunningLimit(ms, &sts.Spec.Template)
		obs.backend.runningLimit = managedPodsLimit(sts, current)
		managedRecordLimit(sts, obs.backend.runningLimit)
		obs.backend.heldLimit = managedLimitToKeep(ms, current, obs.applied)
		if obs.backend.heldLimit > 0 {
			desired = managedDesiredStatefulSet(managedWithLimit(ms, obs.backend.heldLimit))
		}
		sts.Spec.Replicas = desired.Spec.Replicas
		sts.Spec.Template = desired.Spec.Template
		sts.Spec.PersistentVolumeClaimRetentionPolicy = desired.Spec.PersistentVolumeClaimRetentionPolicy
		sts.Spec.MinReadySeconds = desired.Spec.MinReadySeconds
		// The API server may default more of the rolling update (its
		// maxUnavailable); only the strategy's type is ours.
		if sts.Spec.UpdateStrategy.Type != desired.Spec.UpdateStrategy.Type {
			sts.Spec.UpdateStrategy = desired.Spec.UpdateStrategy
		}
	})
	return sts, err
}

// managedCredentials makes sure the credentials Secret exists, without ever
// rewriting it. ok is false when the step must stop: the Secret is gone but
// the database it initialised is still there (CredentialsLost), or it lacks
// a key. Only when neither the StatefulSet nor any of its claims exists is
// a missing Secret created, with a new password.
func (r *MemoryServerReconciler) managedCredentials(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (bool, error) {
	b := &obs.backend
	name := CredentialsSecretName(ms)
	secret, err := r.managedGetCredentials(ctx, ms)
	if err != nil {
		return false, err
	}
	if secret == nil {
		held, what, err := r.managedDatabaseExists(ctx, ms)
		if err != nil {
			return false, err
		}
		if held {
			b.status, b.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonCredentialsLost
			b.message = fmt.Sprintf("credentials Secret %s was deleted while %s still holds the %s database initialised with its password; "+
				"a new password would lock the servers out, so none is generated: recreate the Secret with the old password, "+
				"or delete the StatefulSet and its PersistentVolumeClaims to start over with an empty database", name, what, managedKind(ms))
			r.managedWarnOnce(ms, b.reason, b.message)
			return false, nil
		}
		password, err := generatePassword()
		if err != nil {
			return false, err
		}
		secret = credentialsDesired(ms, password)
		if err := controllerutil.SetControllerReference(ms, secret, r.Scheme); err != nil {
			return false, fmt.Errorf("while setting the owner of Secret %s: %w", name, err)
		}
		// Create, never update: if another reconcile won the race, its
		// password stands, this one is dropped, and the AlreadyExists error
		// requeues without touching the status.
		if err := r.Create(ctx, secret); err != nil {
			return false, fmt.Errorf("while creating Secret %s: %w", name, err)
		}
		r.recordWrite(ctx, ms, secret, "Secret", "created")
	}
	if k := credentialsMissingKey(ms, secret); k != "" {
		b.status, b.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonSecretKeyMissing
		b.message = fmt.Sprintf("credentials Secret %s has no key %q; restore it with the password the %s database was initialised with", name, k, managedKind(ms))
		r.managedWarnOnce(ms, b.reason, b.message)
		return false, nil
	}
	// The keys the server reads go into the config hash, as digests: a
	// Secret restored by hand (new UID, maybe a new password) rolls the pods.
	for _, e := range b.env {
		k := e.ValueFrom.SecretKeyRef.Key
		obs.secretDigests[name+"/"+k] = credentialsDigest(secret, k)
	}
	return true, nil
}

// managedGetCredentials reads the credentials Secret from the API server
// (Secrets are never cached: see SetupWithManager); nil when it does not
// exist. So deciding that the credentials are lost, or generating new
// ones, is never done on a stale cache.
func (r *MemoryServerReconciler) managedGetCredentials(ctx context.Context, ms *mcpv1alpha1.MemoryServer) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: ms.Namespace, Name: CredentialsSecretName(ms)}
	secret := &corev1.Secret{}
	err := r.managedReader().Get(ctx, key, secret)
	switch {
	case err == nil:
		return secret, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("while reading Secret %s: %w", key.Name, err)
	}
}

// managedIndexedSecretNames are the names under which the Secret index
// (SecretRefIndex) finds ms besides the Secrets its spec names: the
// credentials Secret, so that one recreated by hand (no owner reference)
// still wakes its MemoryServer. Such a Secret is used but not adopted: the
// operator may create Secrets, never modify them (its RBAC has no update or
// patch on Secrets), so it does not go with the MemoryServer either.
func managedIndexedSecretNames(ms *mcpv1alpha1.MemoryServer) []string {
	if !ManagedIsManaged(ms) {
		return nil
	}
	return []string{CredentialsSecretName(ms)}
}

// credentialsDigest is the digest of one key of s: an HMAC keyed by the
// Secret's UID (as for referenced Secrets), so the config hash is no
// offline verifier of the password.
func credentialsDigest(s *corev1.Secret, key string) string {
	mac := hmac.New(sha256.New, []byte(s.UID))
	mac.Write(s.Data[key])
	return hex.EncodeToString(mac.Sum(nil))
}

// managedDatabaseExists reports whether ms's database StatefulSet or any of
// its data claims exists, and which, for the message. Either one holds a
// database initialised with the old password.
func (r *MemoryServerReconciler) managedDatabaseExists(ctx context.Context, ms *mcpv1alpha1.MemoryServer) (bool, string, error) {
	sts := &appsv1.StatefulSet{}
	err := r.managedReader().Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: DatabaseName(ms)}, sts)
	switch {
	case err == nil:
		return true, "StatefulSet " + sts.Name, nil
	case !apierrors.IsNotFound(err):
		return false, "", fmt.Errorf("while reading StatefulSet %s: %w", DatabaseName(ms), err)
	}
	pvcs, err := r.managedClaims(ctx, r.managedReader(), ms)
	if err != nil {
		return false, "", err
	}
	if len(pvcs) > 0 {
		return true, "PersistentVolumeClaim " + pvcs[0].Name, nil
	}
	return false, "", nil
}

// managedClaims lists the PersistentVolumeClaims the StatefulSet
// controller made from the database's claim template:
// data-<name>-<type>-<ordinal>, with the database's labels. Claims of
// anything else (the sqlite volume, other apps) never match both.
func (r *MemoryServerReconciler) managedClaims(ctx context.Context, reader client.Reader, ms *mcpv1alpha1.MemoryServer) ([]corev1.PersistentVolumeClaim, error) {
	var list corev1.PersistentVolumeClaimList
	if err := reader.List(ctx, &list, client.InNamespace(ms.Namespace),
		client.MatchingLabels(SelectorLabels(ms, mcpv1alpha1.ComponentDatabase))); err != nil {
		return nil, fmt.Errorf("while listing the PersistentVolumeClaims of %s: %w", DatabaseName(ms), err)
	}
	prefix := ManagedDataVolume + "-" + DatabaseName(ms) + "-"
	var out []corev1.PersistentVolumeClaim
	for _, p := range list.Items {
		ordinal, found := strings.CutPrefix(p.Name, prefix)
		if _, err := strconv.ParseUint(ordinal, 10, 32); found && err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// managedReader reads past the cache (APIReader), or through Client when
// no APIReader is set (a reconciler built without a manager). Every Secret
// is read through it: the operator caches no Secret's data.
func (r *MemoryServerReconciler) managedReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// managedWarnOnce emits a Warning event unless BackendReady already says
// the same (no event storm while a condition persists).
func (r *MemoryServerReconciler) managedWarnOnce(ms *mcpv1alpha1.MemoryServer, reason, message string) {
	prev := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
	if prev == nil || prev.Reason != reason || prev.Message != message {
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, reason, "CheckBackend", "%s", message)
	}
}

// managedSyncFinalizer adds the storage finalizer when deleteOnRemoval is
// set and removes it when it is not.
func (r *MemoryServerReconciler) managedSyncFinalizer(ctx context.Context, ms *mcpv1alpha1.MemoryServer) error {
	want := managedDeleteOnRemoval(ms)
	if want == controllerutil.ContainsFinalizer(ms, ManagedStorageFinalizer) {
		return nil
	}
	orig := ms.DeepCopy()
	if want {
		controllerutil.AddFinalizer(ms, ManagedStorageFinalizer)
	} else {
		controllerutil.RemoveFinalizer(ms, ManagedStorageFinalizer)
	}
	if err := r.Patch(ctx, ms, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("while updating the finalizers of MemoryServer %s: %w", ms.Name, err)
	}
	return nil
}

// managedFinalize runs when a MemoryServer is being deleted. With the
// storage finalizer and deleteOnRemoval still set, it deletes the managed
// database's claims (only those) and then drops the finalizer; the
// StatefulSet and the rest go by garbage collection. A claim still mounted
// is removed by Kubernetes once its pod is gone (pvc-protection).
func (r *MemoryServerReconciler) managedFinalize(ctx context.Context, ms *mcpv1alpha1.MemoryServer) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ms, ManagedStorageFinalizer) {
		return ctrl.Result{}, nil
	}
	if managedDeleteOnRemoval(ms) {
		pvcs, err := r.managedClaims(ctx, r.Client, ms)
		if err != nil {
			return ctrl.Result{}, err
		}
		for i := range pvcs {
			p := &pvcs[i]
			if !p.DeletionTimestamp.IsZero() {
				continue
			}
			uid := p.UID
			if err := r.Delete(ctx, p, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, fmt.Errorf("while deleting PersistentVolumeClaim %s: %w", p.Name, err)
			}
			log.FromContext(ctx).Info("deleted the managed database's volume claim (storage.deleteOnRemoval)", "claim", p.Name)
			r.recordWrite(ctx, ms, p, "PersistentVolumeClaim", "deleted")
		}
	}
	orig := ms.DeepCopy()
	controllerutil.RemoveFinalizer(ms, ManagedStorageFinalizer)
	if err := r.Patch(ctx, ms, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("while removing the finalizer of MemoryServer %s: %w", ms.Name, err))
	}
	return ctrl.Result{}, nil
}

// budgetReconcile is the connection-budget step (DESIGN section 5): the
// ConnectionBudget condition, status.pool, the per-replica pool size that
// goes into the server's configuration (always explicit, derived when
// spec.pool.maxConnections is unset), and, over budget, a held rollout and
// a Warning event.
func (r *MemoryServerReconciler) budgetReconcile(_ context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	in := budgetInputFor(ms)
	pending := budgetLimitPending(in, obs)
	if pending {
		// A raised limit counts once the database runs it: until then the
		// fleet it allows would exhaust the database as it runs.
		in.DatabaseLimit = obs.backend.runningLimit
	}
	res := budgetCompute(in)
	if pending && !res.Fits {
		res.Message += fmt.Sprintf("; the database still runs with %d (spec %d): the fleet waits for the database to take the new limit",
			obs.backend.runningLimit, managedSpecLimit(ms))
	}
	c := res.Condition(ms.Generation)
	obs.budget.status, obs.budget.reason, obs.budget.message = c.Status, c.Reason, c.Message
	obs.budget.pool = res.PoolStatus()
	obs.budget.maxConnectionsPerReplica = res.PerReplica
	obs.budget.holdRollout = !res.Fits
	if obs.holdRollout() {
		// What runs, not what was refused.
		obs.budget.pool = appliedPool(ms, obs)
	}

	prev := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionConnectionBudget)
	switch {
	case !res.Fits && (prev == nil || prev.Reason != c.Reason || prev.Message != c.Message):
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, mcpv1alpha1.ReasonBudgetExceeded, "HoldRollout",
			"rollout held: %s", c.Message)
	case res.Fits && prev != nil && prev.Reason == mcpv1alpha1.ReasonBudgetExceeded:
		r.Recorder.Eventf(ms, nil, corev1.EventTypeNormal, c.Reason, "ResumeRollout",
			"back within the connection budget, rolling out: %s", c.Message)
	}
	return ctrl.Result{}, nil
}

// credentialsCheckExternalDSN checks that an external PostgreSQL's DSN
// (whose key checkSecretKeys found) parses as a PostgreSQL URL, and takes
// status.backend.host from it (the host name only). A
// malformed one sets BackendReady False, reason InvalidDSN, naming the
// Secret and key but never the value, and stops the step so no pod is
// rolled out with it. ok is true for every other backend.
func (r *MemoryServerReconciler) credentialsCheckExternalDSN(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (bool, error) {
	p := ms.Spec.Backend.Postgres
	if ms.Spec.Backend.Type != mcpv1alpha1.BackendPostgres || p == nil || p.External == nil {
		return true, nil
	}
	ref := p.External.DSNSecretRef
	secret := &corev1.Secret{}
	if err := r.managedReader().Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: ref.Name}, secret); err != nil {
		return false, fmt.Errorf("while reading Secret %s: %w", ref.Name, err)
	}
	value, found := secret.Data[ref.Key]
	if !found {
		value = []byte(secret.StringData[ref.Key])
	}
	host, err := credentialsValidatePostgresDSN(ref.Name, ref.Key, value)
	if err != nil {
		b := &obs.backend
		b.status, b.reason, b.message = metav1.ConditionFalse, mcpv1alpha1.ReasonInvalidDSN, err.Error()
		r.managedWarnOnce(ms, b.reason, b.message)
		return false, nil
	}
	obs.backend.host = host
	return true, nil
}
