// Package postgres is the PostgreSQL memory.Store backend on pgxpool.
//
// Every call is one transaction under Config.QueryTimeout: reads are single
// statements (one snapshot) or REPEATABLE READ READ ONLY transactions, writes
// READ COMMITTED transactions retried on serialization failures and
// deadlocks. Acquiring a connection is bounded by Config.AcquireTimeout and
// fails with memory.ErrBusy. Ping uses a dedicated connection, re-dialled
// on failure, so the readiness prober never queues behind tool calls.
//
// search_nodes uses pg_trgm GIN indexes over server-folded text (LIKE with an
// escaped pattern) and re-checks every hit in Go; search_memories ranks a
// weighted tsvector (name A, type B, observations C; the 'simple'
// configuration, so no language-specific stemming) with ts_rank.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memory-operator/memory-operator/server/memory"
)

// BackendName is what Backend returns.
const BackendName = "postgres"

// Defaults of Config.
const (
	DefaultMaxConns          = 10
	DefaultMinConns          = 2
	DefaultMaxConnLifetime   = time.Hour
	DefaultMaxConnIdleTime   = 30 * time.Minute
	DefaultHealthCheckPeriod = 10 * time.Second
	DefaultAcquireTimeout    = 5 * time.Second
	DefaultQueryTimeout      = 30 * time.Second
	DefaultStatementMode     = "prepare"
)

// Config configures a Store. The zero value of every field but DSN means its
// default.
type Config struct {
	// DSN is the connection string (postgres://user:pass@host:5432/db?...).
	// It is a secret: it is never logged.
	DSN string
	// MaxConns is the pool size (default 10).
	MaxConns int32
	// MinConns kept open (default 2, at most MaxConns).
	MinConns int32
	// MaxConnLifetime before a connection is recycled (default 1h).
	MaxConnLifetime time.Duration
	// MaxConnIdleTime before an idle connection is closed (default 30m).
	MaxConnIdleTime time.Duration
	// HealthCheckPeriod is how often pgxpool checks idle connections
	// (default 10s).
	HealthCheckPeriod time.Duration
	// AcquireTimeout bounds the wait for a pooled connection; beyond it a
	// call fails with memory.ErrBusy (default 5s). It is also the connect
	// timeout when the DSN sets none.
	AcquireTimeout time.Duration
	// QueryTimeout bounds each call, acquisition included; beyond it a call
	// fails with memory.ErrTimeout (default 30s).
	QueryTimeout time.Duration
	// StatementMode is how queries are sent: "prepare" (default; cached
	// prepared statements, same as "cache_statement", whose sessions keep
	// one generic plan per statement: plan_cache_mode = force_generic_plan
	// unless the DSN sets it), "cache_describe",
	// "describe", "exec" or "simple". Behind PgBouncer in transaction
	// pooling mode use "exec" or "simple".
	StatementMode string
	// Logger receives the store's logs (default: discarded).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MinConns <= 0 {
		c.MinConns = DefaultMinConns
	}
	c.MinConns = min(c.MinConns, c.MaxConns)
	if c.MaxConnLifetime <= 0 {
		c.MaxConnLifetime = DefaultMaxConnLifetime
	}
	if c.MaxConnIdleTime <= 0 {
		c.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if c.HealthCheckPeriod <= 0 {
		c.HealthCheckPeriod = DefaultHealthCheckPeriod
	}
	if c.AcquireTimeout <= 0 {
		c.AcquireTimeout = DefaultAcquireTimeout
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.StatementMode == "" {
		c.StatementMode = DefaultStatementMode
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// ExecMode maps a StatementMode name onto pgx's QueryExecMode.
func ExecMode(mode string) (pgx.QueryExecMode, error) {
	switch mode {
	case "", "prepare", "cache_statement":
		return pgx.QueryExecModeCacheStatement, nil
	case "cache_describe":
		return pgx.QueryExecModeCacheDescribe, nil
	case "describe":
		return pgx.QueryExecModeDescribeExec, nil
	case "exec":
		return pgx.QueryExecModeExec, nil
	case "simple":
		return pgx.QueryExecModeSimpleProtocol, nil
	}
	return 0, fmt.Errorf("unknown statement mode %q (want prepare, cache_statement, cache_describe, describe, exec or simple)", mode)
}

// Store is the PostgreSQL memory.Store. Create it with New.
type Store struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool

	pingCfg  *pgx.ConnConfig
	pingMu   sync.Mutex
	pingConn *pgx.Conn

	waiting   atomic.Int32
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ memory.Store = (*Store)(nil)

// New creates the pool, applies the schema migrations and returns a ready
// Store. It fails with memory.ErrUnavailable when the server cannot be
// reached.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if cfg.DSN == "" {
		return nil, errors.New("postgres: the DSN is empty")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error may quote the DSN, which holds the password.
		return nil, errors.New("postgres: the DSN does not parse as a PostgreSQL connection string")
	}
	mode, err := ExecMode(cfg.StatementMode)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.MinConns = cfg.MinConns
	pcfg.MaxConnLifetime = cfg.MaxConnLifetime
	pcfg.MaxConnIdleTime = cfg.MaxConnIdleTime
	pcfg.HealthCheckPeriod = cfg.HealthCheckPeriod
	pcfg.ConnConfig.DefaultQueryExecMode = mode
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = cfg.AcquireTimeout
	}
	if mode == pgx.QueryExecModeCacheStatement && !choosesPlanCacheMode(pcfg.ConnConfig) {
		pcfg.AfterConnect = forceGenericPlans
	}
	s := &Store{cfg: cfg, log: cfg.Logger, pingCfg: pcfg.ConnConfig.Copy()}
	s.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("while creating the postgres pool: %w", mapError(ctx, err))
	}
	mctx, cancel := context.WithTimeout(ctx, max(cfg.QueryTimeout, migrationTimeout))
	defer cancel()
	if err := migrate(mctx, s.pool, s.log); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("while migrating the postgres schema: %w", mapError(mctx, err))
	}
	s.log.Info("postgres store open", "host", pcfg.ConnConfig.Host, "database", pcfg.ConnConfig.Database,
		"maxConns", cfg.MaxConns, "statementMode", cfg.StatementMode)
	return s, nil
}

// forceGenericPlans makes a pooled session plan each prepared statement
// once, with placeholders, and keep that plan (PostgreSQL 12 and later).
//
// By default PostgreSQL plans a prepared statement again for its values on
// every execution whenever its first five custom plans were estimated
// cheaper than the generic one, which is the case for open_nodes (a
// "name_key = ANY($1)" of unknown length): at 10,000 entities planning was
// over half of such a call's database time. Every statement of the store is
// a lookup through an index whatever its values, so the generic plan is the
// right one; the one statement whose plan depends on its value (the search
// for fragments under three characters) is sent with the simple protocol,
// which plans it with its literal value.
//
// A SET after connecting rather than a startup parameter: PgBouncer refuses
// startup parameters it does not know, and a session-pooling PgBouncer is a
// fine place for prepared statements.
func forceGenericPlans(ctx context.Context, conn *pgx.Conn) error {
	if major, _, _ := strings.Cut(conn.PgConn().ParameterStatus("server_version"), "."); len(major) > 0 {
		if v, err := strconv.Atoi(major); err == nil && v < 12 {
			return nil
		}
	}
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("while setting plan_cache_mode: %w", err)
	}
	return nil
}

// choosesPlanCacheMode reports whether the DSN sets plan_cache_mode itself.
func choosesPlanCacheMode(cc *pgx.ConnConfig) bool {
	_, ok := cc.RuntimeParams["plan_cache_mode"]
	return ok || strings.Contains(cc.RuntimeParams["options"], "plan_cache_mode")
}

// migrationTimeout bounds the schema migrations at start. Some rewrite a
// table (0004 copies every entity's document: 2.3 s at 100,000 entities on
// the development machines), and a migration that runs out of time rolls
// back and starts over at the next attempt, so the bound is generous.
const migrationTimeout = 30 * time.Minute

// Backend returns "postgres".
func (s *Store) Backend() string { return BackendName }

// Close closes the pool and the ping connection. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.pool.Close()
		s.pingMu.Lock()
		defer s.pingMu.Unlock()
		if s.pingConn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = s.pingConn.Close(ctx)
			s.pingConn = nil
		}
	})
	return nil
}

// Ping checks the server through the dedicated ping connection, dialling it
// again if the last one failed.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("while pinging postgres: %w: the store is closed", memory.ErrUnavailable)
	}
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if s.pingConn == nil || s.pingConn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, s.pingCfg)
		if err != nil {
			return fmt.Errorf("while connecting to postgres for a ping: %w", mapError(ctx, err))
		}
		s.pingConn = conn
	}
	var one int
	if err := s.pingConn.QueryRow(ctx, `SELECT 1`, pgx.QueryExecModeSimpleProtocol).Scan(&one); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.pingConn.Close(cctx)
		s.pingConn = nil
		return fmt.Errorf("while pinging postgres: %w", mapError(ctx, err))
	}
	return nil
}

// Stats reports pool.Stat().
func (s *Store) Stats() memory.PoolStats {
	st := s.pool.Stat()
	return memory.PoolStats{
		MaxConnections:       st.MaxConns(),
		Acquired:             st.AcquiredConns(),
		Idle:                 st.IdleConns(),
		Constructing:         st.ConstructingConns(),
		Waiting:              s.waiting.Load(),
		AcquireCount:         st.AcquireCount(),
		EmptyAcquireCount:    st.EmptyAcquireCount(),
		CanceledAcquireCount: st.CanceledAcquireCount(),
		AcquireWaitSeconds:   st.AcquireDuration().Seconds(),
	}
}

// acquire takes a pooled connection, waiting at most AcquireTimeout.
func (s *Store) acquire(qctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(qctx, s.cfg.AcquireTimeout)
	defer cancel()
	s.waiting.Add(1)
	conn, err := s.pool.Acquire(actx)
	s.waiting.Add(-1)
	if err == nil {
		return conn, nil
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("%w: the store is closed", memory.ErrUnavailable)
	}
	if qctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		if s.pool.Stat().TotalConns() == 0 {
			return nil, fmt.Errorf("%w (postgres: could not connect within %s): %w", memory.ErrUnavailable, s.cfg.AcquireTimeout, err)
		}
		return nil, fmt.Errorf("%w (postgres: no connection free within %s)", memory.ErrBusy, s.cfg.AcquireTimeout)
	}
	return nil, mapError(qctx, err)
}

// maxAttempts bounds the retries of a write transaction that failed with a
// serialization failure or a deadlock.
const maxAttempts = 4

// inTx runs fn as one transaction under QueryTimeout. Serialization
// failures and deadlocks are retried; so is a connection found dead (the
// server restarted, or terminated it) when the transaction is read-only or
// the failure happened before anything was sent.
func (s *Store) inTx(ctx context.Context, op string, opts pgx.TxOptions, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.run(ctx, op, opts.AccessMode == pgx.ReadOnly, func(ctx context.Context, conn *pgxpool.Conn) error {
		return pgx.BeginTxFunc(ctx, conn, opts, func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}

// one runs fn, which must issue exactly one statement, outside an explicit
// transaction: PostgreSQL runs a statement atomically on one snapshot.
// Retries as inTx; idempotent tells whether fn only reads.
func (s *Store) one(ctx context.Context, op string, idempotent bool, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	return s.run(ctx, op, idempotent, fn)
}

func (s *Store) run(ctx context.Context, op string, idempotent bool, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("while %s: %w", op, mapError(ctx, err))
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	conflicts, deadConns := 0, 0
	for {
		conn, err := s.acquire(qctx)
		if err != nil {
			return fmt.Errorf("while %s: %w", op, err)
		}
		err = fn(qctx, conn)
		dead := err != nil && conn.Conn().IsClosed()
		conn.Release() // a closed connection is dropped from the pool
		if err == nil {
			return nil
		}
		if qctx.Err() == nil {
			// After a server restart every pooled connection may be dead,
			// and each fails at once: try them all, then a fresh one.
			if dead && deadConns <= int(s.cfg.MaxConns) && (idempotent || notExecuted(err)) {
				deadConns++
				s.log.Debug("retrying on another connection", "op", op, "error", err)
				continue
			}
			if retryable(err) && conflicts < maxAttempts-1 {
				conflicts++
				s.log.Debug("retrying a conflicting transaction", "op", op, "error", err)
				continue
			}
		}
		var nf *memory.EntityNotFoundError
		if errors.As(err, &nf) || errors.Is(err, memory.ErrInvalidArgument) {
			return err
		}
		return fmt.Errorf("while %s: %w", op, mapError(qctx, err))
	}
}

var (
	readOnly  = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	readWrite = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
)

// escapeLike escapes s for LIKE with the default escape character.
func escapeLike(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
