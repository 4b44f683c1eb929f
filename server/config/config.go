// Package config is the memory server's configuration schema: the YAML file
// that --config reads and that the operator renders into a ConfigMap, its
// defaults and its validation.
//
// Secrets are not part of the file: the PostgreSQL DSN and the Neo4j
// credentials come only from the environment (or files named there), so that
// a rendered ConfigMap never holds one. Fields tagged `json:"-"` are such
// secrets.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Transports.
const (
	TransportStreamableHTTP = "streamable-http"
	TransportSSE            = "sse"
	TransportStdio          = "stdio"
)

// Backends.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
	BackendNeo4j    = "neo4j"
)

// Config is the whole server configuration.
type Config struct {
	// Transport is streamable-http (default), sse or stdio.
	Transport string `json:"transport,omitempty"`
	// Listen is the HTTP listen address (default ":8080"); it also serves
	// /livez, /readyz and /metrics.
	Listen string `json:"listen,omitempty"`
	// Backend is sqlite (default), postgres or neo4j.
	Backend string `json:"backend,omitempty"`

	SQLite   SQLiteConfig   `json:"sqlite,omitempty"`
	Postgres PostgresConfig `json:"postgres,omitempty"`
	Neo4j    Neo4jConfig    `json:"neo4j,omitempty"`
	Pool     PoolConfig     `json:"pool,omitempty"`

	// Readiness tunes the readiness prober.
	Readiness ReadinessConfig `json:"readiness,omitempty"`
	// Auth enables bearer-token authentication of the MCP endpoints.
	Auth AuthConfig `json:"auth,omitempty"`

	// MaxRequestBytes caps the size of one HTTP request body (default 4 MiB).
	MaxRequestBytes int64 `json:"maxRequestBytes,omitempty"`
	// ShutdownGracePeriod is how long in-flight calls may finish after
	// SIGTERM (default 25s).
	ShutdownGracePeriod Duration `json:"shutdownGracePeriod,omitempty"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `json:"logLevel,omitempty"`
	// LogFormat is json (default) or text.
	LogFormat string `json:"logFormat,omitempty"`
	// PprofListen, when set, serves net/http/pprof on this address (for
	// profiling; keep it on localhost). Empty (default): no pprof.
	PprofListen string `json:"pprofListen,omitempty"`
}

// SQLiteConfig configures the embedded SQLite backend.
type SQLiteConfig struct {
	// Path of the database file (default ./memory.db).
	Path string `json:"path,omitempty"`
}

// PostgresConfig configures the PostgreSQL backend.
type PostgresConfig struct {
	// DSN is a secret: from MEMORY_SERVER_POSTGRES_DSN or DATABASE_URL only.
	DSN string `json:"-"`
	// StatementMode is how pgx sends queries: "prepare" (default, cached
	// prepared statements) or "simple"/"exec" for PgBouncer in transaction
	// pooling mode ("describe" and "cache_describe" are accepted as well).
	StatementMode string `json:"statementMode,omitempty"`
}

// Neo4jConfig configures the Neo4j backend.
type Neo4jConfig struct {
	// URI of the server, e.g. neo4j://graph:7687 (MEMORY_SERVER_NEO4J_URI).
	URI string `json:"uri,omitempty"`
	// Database name; empty means the server's default database.
	Database string `json:"database,omitempty"`
	// Username is a secret: from MEMORY_SERVER_NEO4J_USERNAME only.
	Username string `json:"-"`
	// Password is a secret: from MEMORY_SERVER_NEO4J_PASSWORD only.
	Password string `json:"-"`
}

// PoolConfig mirrors MemoryServer spec.pool: per replica.
type PoolConfig struct {
	// MaxConnections is the pool size (default 10).
	MaxConnections int32 `json:"maxConnections,omitempty"`
	// MinConnections kept open (default 2, at most MaxConnections). 0 is a
	// valid value (open connections only on demand): Load keeps a 0 that a
	// flag, the environment or the file gives explicitly, and only an absent
	// value takes the default. Not omitempty, so that a rendered 0 survives.
	MinConnections int32 `json:"minConnections"`
	// MaxConnectionLifetime before a connection is recycled (default 1h).
	MaxConnectionLifetime Duration `json:"maxConnectionLifetime,omitempty"`
	// MaxConnectionIdleTime before an idle connection is closed (default 30m).
	MaxConnectionIdleTime Duration `json:"maxConnectionIdleTime,omitempty"`
	// HealthCheckPeriod is how often the prober checks the backend (default 10s).
	HealthCheckPeriod Duration `json:"healthCheckPeriod,omitempty"`
	// AcquireTimeout bounds the wait for a connection (default 5s).
	AcquireTimeout Duration `json:"acquireTimeout,omitempty"`
	// QueryTimeout bounds one tool call's transaction (default 30s).
	QueryTimeout Duration `json:"queryTimeout,omitempty"`
}

// ReadinessConfig tunes readiness hysteresis.
type ReadinessConfig struct {
	// FailureThreshold consecutive failed probes make the server unready
	// (default 3); one success makes it ready again.
	FailureThreshold int `json:"failureThreshold,omitempty"`
}

// AuthConfig configures bearer-token authentication.
type AuthConfig struct {
	// TokensFile holds accepted bearer tokens, one per line. Empty: no auth.
	TokensFile string `json:"tokensFile,omitempty"`
}

// Defaults.
const (
	DefaultListen                = ":8080"
	DefaultSQLitePath            = "./memory.db"
	DefaultMaxConnections        = 10
	DefaultMinConnections        = 2
	DefaultMaxConnectionLifetime = time.Hour
	DefaultMaxConnectionIdleTime = 30 * time.Minute
	DefaultHealthCheckPeriod     = 10 * time.Second
	DefaultAcquireTimeout        = 5 * time.Second
	DefaultQueryTimeout          = 30 * time.Second
	DefaultFailureThreshold      = 3
	DefaultMaxRequestBytes       = 4 << 20
	DefaultShutdownGracePeriod   = 25 * time.Second
)

// Default returns a Config with every default filled in.
func Default() Config {
	var c Config
	c.SetDefaults()
	return c
}

// SetDefaults fills every zero field with its default.
func (c *Config) SetDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defD := func(d *Duration, v time.Duration) {
		if d.Duration == 0 {
			d.Duration = v
		}
	}
	def(&c.Transport, TransportStreamableHTTP)
	def(&c.Listen, DefaultListen)
	def(&c.Backend, BackendSQLite)
	def(&c.SQLite.Path, DefaultSQLitePath)
	def(&c.Postgres.StatementMode, "prepare")
	def(&c.LogLevel, "info")
	def(&c.LogFormat, "json")
	if c.Pool.MaxConnections == 0 {
		c.Pool.MaxConnections = DefaultMaxConnections
	}
	if c.Pool.MinConnections == 0 {
		c.Pool.MinConnections = min(DefaultMinConnections, c.Pool.MaxConnections)
	}
	defD(&c.Pool.MaxConnectionLifetime, DefaultMaxConnectionLifetime)
	defD(&c.Pool.MaxConnectionIdleTime, DefaultMaxConnectionIdleTime)
	defD(&c.Pool.HealthCheckPeriod, DefaultHealthCheckPeriod)
	defD(&c.Pool.AcquireTimeout, DefaultAcquireTimeout)
	defD(&c.Pool.QueryTimeout, DefaultQueryTimeout)
	defD(&c.ShutdownGracePeriod, DefaultShutdownGracePeriod)
	if c.Readiness.FailureThreshold == 0 {
		c.Readiness.FailureThreshold = DefaultFailureThreshold
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
}

// FieldError names the configuration key that is wrong.
type FieldError struct {
	// Key is the YAML path, e.g. "pool.maxConnections".
	Key    string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Key, e.Reason) }

// Validate checks a defaulted Config. It returns every problem found, each a
// *FieldError, joined with errors.Join.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	oneOf("transport", c.Transport, TransportStreamableHTTP, TransportSSE, TransportStdio)
	oneOf("backend", c.Backend, BackendSQLite, BackendPostgres, BackendNeo4j)
	oneOf("postgres.statementMode", c.Postgres.StatementMode, "prepare", "cache_statement", "cache_describe", "describe", "exec", "simple")
	oneOf("logLevel", c.LogLevel, "debug", "info", "warn", "error")
	oneOf("logFormat", c.LogFormat, "json", "text")
	switch c.Backend {
	case BackendPostgres:
		if c.Postgres.DSN == "" {
			bad("postgres.dsn", "the postgres backend needs MEMORY_SERVER_POSTGRES_DSN (or DATABASE_URL)")
		}
	case BackendNeo4j:
		if c.Neo4j.URI == "" {
			bad("neo4j.uri", "the neo4j backend needs a URI (MEMORY_SERVER_NEO4J_URI)")
		}
	case BackendSQLite:
		if c.SQLite.Path == "" {
			bad("sqlite.path", "must not be empty")
		}
	}
	if c.Pool.MaxConnections < 1 {
		bad("pool.maxConnections", "must be at least 1, got %d", c.Pool.MaxConnections)
	}
	if c.Pool.MinConnections < 0 || c.Pool.MinConnections > c.Pool.MaxConnections {
		bad("pool.minConnections", "must be between 0 and pool.maxConnections (%d), got %d", c.Pool.MaxConnections, c.Pool.MinConnections)
	}
	for key, d := range map[string]Duration{
		"pool.maxConnectionLifetime": c.Pool.MaxConnectionLifetime,
		"pool.maxConnectionIdleTime": c.Pool.MaxConnectionIdleTime,
		"pool.healthCheckPeriod":     c.Pool.HealthCheckPeriod,
		"pool.acquireTimeout":        c.Pool.AcquireTimeout,
		"pool.queryTimeout":          c.Pool.QueryTimeout,
		"shutdownGracePeriod":        c.ShutdownGracePeriod,
	} {
		if d.Duration <= 0 {
			bad(key, "must be a positive duration, got %s", d.Duration)
		}
	}
	if c.Readiness.FailureThreshold < 1 {
		bad("readiness.failureThreshold", "must be at least 1, got %d", c.Readiness.FailureThreshold)
	}
	if c.MaxRequestBytes < 1024 {
		bad("maxRequestBytes", "must be at least 1024, got %d", c.MaxRequestBytes)
	}
	return errors.Join(errs...)
}

// Parse decodes a YAML (or JSON) configuration file strictly: an unknown key
// is an error that names it. Defaults are not applied.
func Parse(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		if ferr := checkDurations(data); ferr != nil {
			return Config{}, ferr
		}
		return Config{}, fmt.Errorf("while parsing the configuration file: %w", err)
	}
	return c, nil
}

// checkDurations finds a duration key whose value is not a Go duration
// string, so that the error names the key (encoding/json does not name it
// for values with their own UnmarshalJSON).
func checkDurations(data []byte) error {
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil {
		return nil
	}
	for _, o := range Options() {
		var cur any = m
		for _, part := range strings.Split(o.Key, ".") {
			mm, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = mm[part]
		}
		if cur == nil || !isDurationKey(o.Key) {
			continue
		}
		s, ok := cur.(string)
		if !ok {
			return &FieldError{Key: o.Key, Reason: fmt.Sprintf("a duration must be a string like \"30s\", got %v", cur)}
		}
		if _, err := time.ParseDuration(s); err != nil {
			return &FieldError{Key: o.Key, Reason: fmt.Sprintf("%q is not a Go duration such as 30s or 1m30s", s)}
		}
	}
	return nil
}

func isDurationKey(key string) bool {
	switch key {
	case "pool.maxConnectionLifetime", "pool.maxConnectionIdleTime", "pool.healthCheckPeriod",
		"pool.acquireTimeout", "pool.queryTimeout", "shutdownGracePeriod":
		return true
	}
	return false
}

// Marshal renders c as YAML. Secret fields are never rendered.
func Marshal(c Config) ([]byte, error) {
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("while rendering the configuration: %w", err)
	}
	return out, nil
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration struct {
	time.Duration
}

// D wraps a time.Duration.
func D(d time.Duration) Duration { return Duration{Duration: d} }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// IsZero lets omitempty drop a zero duration.
func (d Duration) IsZero() bool { return d.Duration == 0 }
