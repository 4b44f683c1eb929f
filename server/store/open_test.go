package store_test

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

func TestOpenSQLite(t *testing.T) {
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "m.db")
	s, err := store.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backend() != "sqlite" {
		t.Errorf("Backend() = %q", s.Backend())
	}
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().MaxConnections; got != cfg.Pool.MaxConnections+1 {
		t.Errorf("MaxConnections = %d, want readers %d + 1 writer", got, cfg.Pool.MaxConnections)
	}
}

func TestSQLiteConfigMapping(t *testing.T) {
	cfg := config.Default()
	cfg.SQLite.Path = "/data/x.db"
	cfg.Pool.MaxConnections = 7
	cfg.Pool.AcquireTimeout = config.D(2 * time.Second)
	cfg.Pool.QueryTimeout = config.D(3 * time.Second)
	got := store.SQLiteConfig(cfg, nil)
	if got.Path != "/data/x.db" || got.MaxReaders != 7 || got.AcquireTimeout != 2*time.Second || got.QueryTimeout != 3*time.Second {
		t.Errorf("SQLiteConfig = %+v", got)
	}
}

func TestOpenUnknownBackend(t *testing.T) {
	cfg := config.Default()
	cfg.Backend = "mongodb"
	if _, err := store.Open(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), `unknown backend "mongodb"`) {
		t.Errorf("unknown backend: %v", err)
	}
}

func TestNeo4jConfigMapping(t *testing.T) {
	cfg := config.Default()
	cfg.Neo4j.URI = "bolt://graph:7687"
	cfg.Neo4j.Database = "memory"
	cfg.Neo4j.Username = "neo4j"
	cfg.Neo4j.Password = "secret"
	cfg.Pool.MaxConnections = 7
	cfg.Pool.AcquireTimeout = config.D(2 * time.Second)
	cfg.Pool.MaxConnectionLifetime = config.D(time.Hour)
	cfg.Pool.MaxConnectionIdleTime = config.D(5 * time.Minute)
	cfg.Pool.QueryTimeout = config.D(3 * time.Second)
	got := store.Neo4jConfig(cfg, nil)
	if got.URI != "bolt://graph:7687" || got.Database != "memory" || got.Username != "neo4j" || got.Password != "secret" ||
		got.MaxConnectionPoolSize != 7 || got.ConnectionAcquisitionTimeout != 2*time.Second ||
		got.MaxConnectionLifetime != time.Hour || got.ConnectionLivenessCheckTimeout != 5*time.Minute ||
		got.QueryTimeout != 3*time.Second {
		t.Errorf("Neo4jConfig = %+v", got)
	}
}

// TestOpenNeo4jUnreachable opens the neo4j backend against a port nothing
// listens on: Open must fail promptly with an error matching ErrUnavailable.
func TestOpenNeo4jUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := config.Default()
	cfg.Backend = config.BackendNeo4j
	cfg.Neo4j.URI = "bolt://" + addr
	cfg.Pool.AcquireTimeout = config.D(time.Second)
	cfg.Pool.QueryTimeout = config.D(2 * time.Second)
	s, err := store.Open(t.Context(), cfg, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("Open error = %v, want one matching memory.ErrUnavailable", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	cfg := config.Default()
	cfg.Backend = config.BackendPostgres
	cfg.Postgres.DSN = storetest.CreateDatabase(t, storetest.PostgresAdminDSN(t))
	cfg.Postgres.StatementMode = "exec"
	cfg.Pool.MaxConnections = 3
	s, err := store.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backend() != "postgres" || s.Stats().MaxConnections != 3 {
		t.Errorf("Backend() = %q, MaxConnections = %d", s.Backend(), s.Stats().MaxConnections)
	}
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresConfigMapping(t *testing.T) {
	cfg := config.Default()
	cfg.Postgres.DSN = "postgres://x@y/z"
	cfg.Postgres.StatementMode = "simple"
	cfg.Pool = config.PoolConfig{
		MaxConnections: 9, MinConnections: 3,
		MaxConnectionLifetime: config.D(time.Minute), MaxConnectionIdleTime: config.D(2 * time.Minute),
		HealthCheckPeriod: config.D(3 * time.Second), AcquireTimeout: config.D(4 * time.Second), QueryTimeout: config.D(5 * time.Second),
	}
	got := store.PostgresConfig(cfg, nil)
	if got.DSN != cfg.Postgres.DSN || got.MaxConns != 9 || got.MinConns != 3 || got.MaxConnLifetime != time.Minute ||
		got.MaxConnIdleTime != 2*time.Minute || got.HealthCheckPeriod != 3*time.Second ||
		got.AcquireTimeout != 4*time.Second || got.QueryTimeout != 5*time.Second || got.StatementMode != "simple" {
		t.Errorf("PostgresConfig = %+v", got)
	}
}
