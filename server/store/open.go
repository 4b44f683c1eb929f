// Package store opens the memory.Store backend a server configuration names.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/postgres"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
)

// ErrBackendNotBuilt is returned by Open for a backend this binary lacks.
var ErrBackendNotBuilt = errors.New("backend not built into this binary yet")

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
		return nil, fmt.Errorf("while opening the neo4j store: %w", ErrBackendNotBuilt)
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
