// Package store opens the memory.Store backend a server configuration names.
package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/postgres"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
)

// Open opens the backend named by cfg.Backend with cfg's pool settings
// (cfg should be defaulted and validated). log receives the store's logs.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (memory.Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("backend", cfg.Backend)
	switch cfg.Backend {
	case config.BackendSQLite, "":
		s, err := sqlite.New(ctx, SQLiteConfig(cfg, log))
		if err != nil {
			return nil, fmt.Errorf("while opening the sqlite store: %w", err)
		}
		return s, nil
	case config.BackendPostgres:
		s, err := postgres.New(ctx, PostgresConfig(cfg, log))
		if err != nil {
			return nil, fmt.Errorf("while opening the postgres store: %w", err)
		}
		return s, nil
	case config.BackendNeo4j:
		s, err := neo4j.New(ctx, Neo4jConfig(cfg, log))
		if err != nil {
			return nil, fmt.Errorf("while opening the neo4j store: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown backend %q (want sqlite, postgres or neo4j)", cfg.Backend)
}

// SQLiteConfig maps a server configuration onto the sqlite backend's: the
// pool's maxConnections sizes the reader pool (the writer is one more).
func SQLiteConfig(cfg config.Config, log *slog.Logger) sqlite.Config {
	return sqlite.Config{
		Path:            cfg.SQLite.Path,
		MaxReaders:      int(cfg.Pool.MaxConnections),
		AcquireTimeout:  cfg.Pool.AcquireTimeout.Duration,
		QueryTimeout:    cfg.Pool.QueryTimeout.Duration,
		MaxConnLifetime: cfg.Pool.MaxConnectionLifetime.Duration,
		Logger:          log,
	}
}

// PostgresConfig maps a server configuration onto the postgres backend's.
func PostgresConfig(cfg config.Config, log *slog.Logger) postgres.Config {
	return postgres.Config{
		DSN:               cfg.Postgres.DSN,
		MaxConns:          cfg.Pool.MaxConnections,
		MinConns:          cfg.Pool.MinConnections,
		MaxConnLifetime:   cfg.Pool.MaxConnectionLifetime.Duration,
		MaxConnIdleTime:   cfg.Pool.MaxConnectionIdleTime.Duration,
		HealthCheckPeriod: cfg.Pool.HealthCheckPeriod.Duration,
		AcquireTimeout:    cfg.Pool.AcquireTimeout.Duration,
		QueryTimeout:      cfg.Pool.QueryTimeout.Duration,
		StatementMode:     cfg.Postgres.StatementMode,
		Logger:            log,
	}
}

// Neo4jConfig maps a server configuration onto the neo4j backend's: the
// pool's maxConnectionIdleTime becomes the driver's liveness check timeout.
func Neo4jConfig(cfg config.Config, log *slog.Logger) neo4j.Config {
	return neo4j.Config{
		URI:                            cfg.Neo4j.URI,
		Username:                       cfg.Neo4j.Username,
		Password:                       cfg.Neo4j.Password,
		Database:                       cfg.Neo4j.Database,
		MaxConnectionPoolSize:          int(cfg.Pool.MaxConnections),
		ConnectionAcquisitionTimeout:   cfg.Pool.AcquireTimeout.Duration,
		MaxConnectionLifetime:          cfg.Pool.MaxConnectionLifetime.Duration,
		ConnectionLivenessCheckTimeout: cfg.Pool.MaxConnectionIdleTime.Duration,
		QueryTimeout:                   cfg.Pool.QueryTimeout.Duration,
		Logger:                         log,
	}
}
