package controllers

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/server/config"
)

// Where the server container finds its files.
const (
	// ConfigFileKey is the ConfigMap key holding the server's config file.
	ConfigFileKey = "config.yaml"
	// ConfigDir is where the ConfigMap is mounted.
	ConfigDir = "/etc/memory-server"
	// AuthDir is where the bearer-token Secret key is mounted.
	AuthDir = "/etc/memory-server/auth"
	// AuthTokensFile is the file, under AuthDir, holding the tokens.
	AuthTokensFile = "tokens"
	// DataDir holds the SQLite file (the PVC).
	DataDir = "/var/lib/memory-server"
	// SQLiteFile is the SQLite database file under DataDir.
	SQLiteFile = "memory.db"
)

// serverConfigInput is what the server's configuration needs beyond the
// spec: what reconcileBackend and reconcileConnectionBudget decided.
type serverConfigInput struct {
	// neo4jURI and neo4jDatabase of the neo4j backend.
	neo4jURI, neo4jDatabase string
	// maxConnections per replica when > 0 (derived from the budget);
	// otherwise spec.pool.maxConnections or the server's default.
	maxConnections int32
}

// desiredServerConfig renders ms's spec as the memory server's
// configuration (server/config). It holds no secret: the DSN and Neo4j
// credentials reach the pod as Secret-backed environment variables. Fields
// the spec leaves unset get server/config's defaults, written out.
func desiredServerConfig(ms *mcpv1alpha1.MemoryServer, in serverConfigInput) config.Config {
	s := ms.Spec
	c := config.Config{
		Transport: string(transportOf(ms)),
		Listen:    fmt.Sprintf(":%d", portOf(ms)),
		Backend:   string(s.Backend.Type),
	}
	switch s.Backend.Type {
	case mcpv1alpha1.BackendSQLite:
		c.SQLite.Path = DataDir + "/" + SQLiteFile
	case mcpv1alpha1.BackendNeo4j:
		c.Neo4j.URI, c.Neo4j.Database = in.neo4jURI, in.neo4jDatabase
	}
	if s.Auth != nil {
		c.Auth.TokensFile = AuthDir + "/" + AuthTokensFile
	}

	p := s.Pool
	switch {
	case in.maxConnections > 0:
		c.Pool.MaxConnections = in.maxConnections
	case p.MaxConnections != nil:
		c.Pool.MaxConnections = *p.MaxConnections
	default:
		c.Pool.MaxConnections = config.DefaultMaxConnections
	}
	if p.MinConnections != nil {
		c.Pool.MinConnections = min(*p.MinConnections, c.Pool.MaxConnections)
	}
	dur := func(d *metav1.Duration) config.Duration {
		if d == nil {
			return config.Duration{}
		}
		return config.D(d.Duration)
	}
	c.Pool.MaxConnectionLifetime = dur(p.MaxConnectionLifetime)
	c.Pool.MaxConnectionIdleTime = dur(p.MaxConnectionIdleTime)
	c.Pool.HealthCheckPeriod = dur(p.HealthCheckPeriod)
	c.Pool.AcquireTimeout = dur(p.AcquireTimeout)
	c.Pool.QueryTimeout = dur(p.QueryTimeout)
	// Render every effective value, so the ConfigMap reads as what the
	// server runs with.
	c.SetDefaults()
	if p.MinConnections != nil && *p.MinConnections == 0 {
		// SetDefaults reads 0 as unset; an explicit 0 (no idle connections,
		// e.g. behind PgBouncer) is rendered as 0, which the server keeps.
		c.Pool.MinConnections = 0
	}
	return c
}

// desiredConfigMap is the ConfigMap <name>-config holding the rendered
// configuration file.
func desiredConfigMap(ms *mcpv1alpha1.MemoryServer, cfg config.Config) (*corev1.ConfigMap, error) {
	data, err := config.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("while rendering the server configuration: %w", err)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ConfigMapName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentServer),
		},
		Data: map[string]string{ConfigFileKey: string(data)},
	}, nil
}

// reconcileConfigMap writes the server's ConfigMap and computes the config
// hash from its content and the referenced Secrets' digests.
func (r *MemoryServerReconciler) reconcileConfigMap(ctx context.Context, ms *mcpv1alpha1.MemoryServer, obs *observed) (ctrl.Result, error) {
	maxConns := obs.budget.maxConnectionsPerReplica
	if obs.budget.holdRollout {
		// Only reached when the ConfigMap is missing (deleted while over
		// budget): the pods that restart read it, so its pool must fit
		// the running fleet, whatever the refused spec asks.
		maxConns = min(maxConns, heldPoolSize(ms, obs))
	}
	cfg := desiredServerConfig(ms, serverConfigInput{
		neo4jURI:       obs.backend.neo4jURI,
		neo4jDatabase:  obs.backend.neo4jDatabase,
		maxConnections: maxConns,
	})
	desired, err := desiredConfigMap(ms, cfg)
	if err != nil {
		return ctrl.Result{}, err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	if obs.holdRollout() {
		// Over the connection budget, or the backend unusable: a pod that
		// restarts keeps reading the last good configuration (its pool
		// size), so nothing held reaches the fleet through the ConfigMap
		// either. A missing ConfigMap is created.
		err := r.Get(ctx, client.ObjectKeyFromObject(cm), cm)
		if err == nil {
			obs.configHash = configHash(cm.Data, obs.secretDigests)
			obs.configData = cm.Data[ConfigFileKey]
			return ctrl.Result{}, nil
		}
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("while reading ConfigMap %s: %w", cm.Name, err)
		}
		if !obs.budget.holdRollout && obs.applied.config != "" {
			// Held for the backend only: the configuration the running
			// pods were rolled out with, not the refused spec's (a new
			// Neo4j URI, pool, auth file), so a pod that restarts keeps
			// what runs.
			desired.Data = map[string]string{ConfigFileKey: obs.applied.config}
		}
	}
	// The fleet rolled out with this configuration, for recreating a
	// Deployment deleted while a later rollout is held: the desired one,
	// or while held the running one (none when nothing runs).
	applied := strconv.Itoa(int(desiredReplicas(ms)))
	if obs.holdRollout() && obs.applied.exists {
		applied = strconv.Itoa(int(obs.applied.replicas))
	} else if obs.budget.holdRollout {
		applied = ""
	}
	if err := r.apply(ctx, ms, cm, func() {
		mergeLabels(&cm.ObjectMeta, desired.Labels)
		cm.Data = desired.Data
		cm.BinaryData = nil
		if applied != "" {
			if cm.Annotations == nil {
				cm.Annotations = map[string]string{}
			}
			cm.Annotations[mcpv1alpha1.AnnotationAppliedReplicas] = applied
		}
	}); err != nil {
		return ctrl.Result{}, err
	}
	obs.configHash = configHash(desired.Data, obs.secretDigests)
	obs.configData = desired.Data[ConfigFileKey]
	return ctrl.Result{}, nil
}

// transportOf is spec.transport with its default.
func transportOf(ms *mcpv1alpha1.MemoryServer) mcpv1alpha1.Transport {
	if ms.Spec.Transport == "" {
		return mcpv1alpha1.TransportStreamableHTTP
	}
	return ms.Spec.Transport
}

// portOf is spec.port with its default.
func portOf(ms *mcpv1alpha1.MemoryServer) int32 {
	if ms.Spec.Port == 0 {
		return 8080
	}
	return ms.Spec.Port
}

// EndpointPath is the MCP endpoint's path for ms's transport.
func EndpointPath(ms *mcpv1alpha1.MemoryServer) string {
	if transportOf(ms) == mcpv1alpha1.TransportSSE {
		return "/sse"
	}
	return "/mcp"
}

// Endpoint is the in-cluster URL of ms's MCP endpoint.
func Endpoint(ms *mcpv1alpha1.MemoryServer) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s", ServerName(ms), ms.Namespace, portOf(ms), EndpointPath(ms))
}
