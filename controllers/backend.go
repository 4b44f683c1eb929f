package controllers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// SecretRefIndex is the field index of MemoryServers by the names of the
// Secrets they reference (external DSN, Neo4j auth, bearer tokens).
const SecretRefIndex = "spec.secretRefs"

// Environment variables of the server container that come from Secrets.
const (
	EnvPostgresDSN   = "MEMORY_SERVER_POSTGRES_DSN"
	EnvNeo4jUsername = "MEMORY_SERVER_NEO4J_USERNAME"
	EnvNeo4jPassword = "MEMORY_SERVER_NEO4J_PASSWORD"
)

// Keys of the Secrets the operator reads or (managed backends) writes.
const (
	SecretKeyDSN      = "dsn"
	SecretKeyUsername = "username"
	SecretKeyPassword = "password"
)

// secretKey is one key of one Secret in the MemoryServer's namespace.
type secretKey struct{ name, key string }

func (s secretKey) String() string { return s.name + "/" + s.key }

// ReferencedSecretNames are the Secrets a MemoryServer's spec names (not
// the managed credentials Secret, which it owns). They index MemoryServers
// for the Secret watch.
func ReferencedSecretNames(ms *mcpv1alpha1.MemoryServer) []string {
	seen := map[string]bool{}
	var names []string
	for _, k := range referencedSecretKeys(ms) {
		if !seen[k.name] {
			seen[k.name] = true
			names = append(names, k.name)
		}
	}
	return names
}

// referencedSecretKeys are the Secret keys ms's spec names, backend first.
func referencedSecretKeys(ms *mcpv1alpha1.MemoryServer) []secretKey {
	var keys []secretKey
	b := ms.Spec.Backend
	switch {
	case b.Type == mcpv1alpha1.BackendPostgres && b.Postgres != nil && b.Postgres.External != nil:
		ref := b.Postgres.External.DSNSecretRef
		keys = append(keys, secretKey{ref.Name, ref.Key})
	case b.Type == mcpv1alpha1.BackendNeo4j && b.Neo4j != nil && b.Neo4j.External != nil:
		name := b.Neo4j.External.AuthSecretRef.Name
		keys = append(keys, secretKey{name, SecretKeyUsername}, secretKey{name, SecretKeyPassword})
	}
	if a := ms.Spec.Auth; a != nil {
		keys = append(keys, secretKey{a.TokenSecretRef.Name, a.TokenSecretRef.Key})
	}
	return keys
}

// secretEnv is an environment variable taken from a Secret key.
func secretEnv(env, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Key:                  key,
		},
	}}
}

// secretDigest returns the digest of one Secret key's value: an HMAC keyed
// by the Secret's UID, so that the digest (which ends up, combined, in an
// annotation) is no offline verifier for a guessed value. The value itself
// is never logged, returned or stored. A missing Secret or key returns an
// error wrapping errSecretMissing and a reason for the condition.
func (r *MemoryServerReconciler) secretDigest(ctx context.Context, ns string, k secretKey) (digest, reason string, err error) {
	var s corev1.Secret
	if err := r.managedReader().Get(ctx, client.ObjectKey{Namespace: ns, Name: k.name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", mcpv1alpha1.ReasonSecretNotFound, fmt.Errorf("%w: Secret %q not found", errSecretMissing, k.name)
		}
		return "", "", fmt.Errorf("while reading Secret %q: %w", k.name, err)
	}
	v, ok := s.Data[k.key]
	if !ok {
		if sv, ok2 := s.StringData[k.key]; ok2 {
			v, ok = []byte(sv), true
		}
	}
	if !ok || len(v) == 0 {
		return "", mcpv1alpha1.ReasonSecretKeyMissing, fmt.Errorf("%w: Secret %q has no key %q", errSecretMissing, k.name, k.key)
	}
	mac := hmac.New(sha256.New, []byte(s.UID))
	mac.Write(v)
	return hex.EncodeToString(mac.Sum(nil)), "", nil
}

// reconcileBackend checks the database backend and decides how the server
// reaches it: for sqlite nothing is needed; for external backends the
// referenced Secret keys must exist (their digests go into the config hash);
// managed backends are run by the operator (StatefulSet, Services,
// credentials Secret) and are reconciled by the managed-backend step.
func (r *MemoryServerReconciler) reconcileBackend(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	if err := r.checkAuthSecret(ctx, ms, obs); err != nil {
		return ctrl.Result{}, err
	}
	b := &obs.backend
	spec := ms.Spec.Backend
	switch {
	case spec.Type == mcpv1alpha1.BackendSQLite:
		b.status, b.reason = metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady
		b.message = fmt.Sprintf("embedded SQLite on PersistentVolumeClaim %s", SQLitePVCName(ms))

	case ManagedIsManaged(ms):
		// The server reaches a managed database through its client Service
		// and the credentials Secret the managed-backend step generates.
		return r.managedReconcile(ctx, ms, obs)

	case spec.Type == mcpv1alpha1.BackendPostgres && spec.Postgres != nil && spec.Postgres.External != nil:
		ref := spec.Postgres.External.DSNSecretRef
		b.env = []corev1.EnvVar{secretEnv(EnvPostgresDSN, ref.Name, ref.Key)}
		if ok, err := r.checkSecretKeys(ctx, ms, obs, []secretKey{{ref.Name, ref.Key}}); err != nil || !ok {
			return ctrl.Result{}, err
		}
		if ok, err := r.credentialsCheckExternalDSN(ctx, ms, obs); err != nil || !ok {
			return ctrl.Result{}, err
		}
		b.status, b.reason = metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady
		b.message = fmt.Sprintf("external PostgreSQL: DSN in Secret %s, key %s", ref.Name, ref.Key)

	case spec.Type == mcpv1alpha1.BackendNeo4j && spec.Neo4j != nil && spec.Neo4j.External != nil:
		ext := spec.Neo4j.External
		name := ext.AuthSecretRef.Name
		b.env = []corev1.EnvVar{
			secretEnv(EnvNeo4jUsername, name, SecretKeyUsername),
			secretEnv(EnvNeo4jPassword, name, SecretKeyPassword),
		}
		b.neo4jURI, b.neo4jDatabase = ext.URI, ext.Database
		if u, err := url.Parse(ext.URI); err == nil {
			b.host = u.Hostname()
		}
		if ok, err := r.checkSecretKeys(ctx, ms, obs, []secretKey{{name, SecretKeyUsername}, {name, SecretKeyPassword}}); err != nil || !ok {
			return ctrl.Result{}, err
		}
		b.status, b.reason = metav1.ConditionTrue, mcpv1alpha1.ReasonBackendReady
		b.message = fmt.Sprintf("external Neo4j at %s: credentials in Secret %s", ext.URI, name)

	default:
		// The CRD's CEL rules refuse such objects; an object stored before
		// them lands here.
		b.status, b.reason = metav1.ConditionFalse, mcpv1alpha1.ReasonReconcileError
		b.message = fmt.Sprintf("backend.type %q has no matching backend block", spec.Type)
	}

	return ctrl.Result{}, nil
}

// checkAuthSecret records the digest of the bearer-token Secret key, or
// that it is missing (Ready False; the pods could not start without it).
func (r *MemoryServerReconciler) checkAuthSecret(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) error {
	a := ms.Spec.Auth
	if a == nil {
		return nil
	}
	k := secretKey{a.TokenSecretRef.Name, a.TokenSecretRef.Key}
	d, _, err := r.secretDigest(ctx, ms.Namespace, k)
	switch {
	case err == nil:
		obs.secretDigests[k.String()] = d
	case isSecretMissing(err):
		obs.authMissing = "auth.tokenSecretRef: " + err.Error()
		obs.secretDigests[k.String()] = "missing"
	default:
		return err
	}
	return nil
}

// checkSecretKeys records the digests of keys; a missing Secret or key sets
// BackendReady False (reason SecretNotFound or SecretKeyMissing), emits a
// Warning event when the condition was not already saying so, and returns
// false. The Secret watch reconciles again once the Secret appears.
func (r *MemoryServerReconciler) checkSecretKeys(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed, keys []secretKey) (bool, error) {
	for _, k := range keys {
		d, reason, err := r.secretDigest(ctx, ms.Namespace, k)
		if err != nil {
			if !isSecretMissing(err) {
				return false, err
			}
			obs.secretDigests[k.String()] = "missing"
			b := &obs.backend
			b.status, b.reason, b.message = metav1.ConditionFalse, reason, err.Error()
			prev := meta.FindStatusCondition(ms.Status.Conditions, mcpv1alpha1.ConditionBackendReady)
			if prev == nil || prev.Reason != reason || prev.Message != b.message {
				r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, reason, "CheckBackend", "%s", b.message)
			}
			return false, nil
		}
		obs.secretDigests[k.String()] = d
	}
	return true, nil
}

func isSecretMissing(err error) bool { return err != nil && errors.Is(err, errSecretMissing) }

// reconcileConnectionBudget evaluates the connection budget of DESIGN
// section 5 and fills obs.budget (condition, status.pool, the per-replica
// pool size rendered into the ConfigMap, and whether to hold the rollout):
// see budgetReconcile.
func (r *MemoryServerReconciler) reconcileConnectionBudget(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	return r.budgetReconcile(ctx, ms, obs)
}

// configHash combines the ConfigMap's content with the digests of every
// referenced Secret key, in a stable order: any change of either changes it.
func configHash(data map[string]string, secretDigests map[string]string) string {
	h := sha256.New()
	write := func(kind string, m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00", kind, k, len(m[k]), m[k])
		}
	}
	write("configmap", data)
	write("secret", secretDigests)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
