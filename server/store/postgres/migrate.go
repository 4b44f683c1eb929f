package postgres

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_xact_lock key that serialises replicas
// migrating the same database at once ("memsrv" in ASCII).
const migrationLockKey int64 = 0x6d656d737276

// migrate applies the pending migrations in one transaction that first takes
// a transaction-scoped advisory lock, so replicas starting together migrate
// one after the other and the later ones find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	migs, err := storeutil.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("while taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("while creating schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("while reading schema_migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("while reading schema_migrations: %w", err)
		}
		for _, v := range versions {
			applied[int(v)] = true
		}
		for _, m := range migs {
			if applied[m.Version] {
				continue
			}
			log.Info("applying a schema migration", "migration", m.Name)
			start := time.Now()
			// Simple protocol: a migration file holds several statements.
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("while applying migration %s: %w", m.Name, err)
			}
			log.Info("schema migration applied", "migration", m.Name, "seconds", time.Since(start).Seconds())
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("while recording migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}
