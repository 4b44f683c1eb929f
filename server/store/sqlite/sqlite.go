// Package sqlite is the embedded memory.Store backend on the pure-Go
// modernc.org/sqlite driver (no cgo, so the binary stays static).
//
// Layout: the database file runs in WAL mode with a busy timeout and foreign
// keys on. All writes go through ONE writer connection (a *sql.DB limited to
// one connection, transactions started with BEGIN IMMEDIATE), so concurrent
// writers queue in Go instead of failing with SQLITE_BUSY; reads run on a
// separate pool of read-only connections and see a consistent snapshot while
// the writer works. A third single-connection handle serves Ping, so the
// readiness prober never waits behind tool calls.
//
// Reads of the graph are served from an exact in-memory copy that the
// writer keeps up to date after each COMMIT (graph.go), with a trigram
// index over case-folded text for substring search (index.go).
// SearchMemories ranks with bm25 over an FTS5 unicode61 table on the
// readers. A background loop merges that index's segments after bursts of
// writes (see merge.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/memory-operator/memory-operator/server/memory"
)

// BackendName is what Backend returns.
const BackendName = "sqlite"

// Defaults of Config.
const (
	DefaultPath           = "memory.db"
	DefaultBusyTimeout    = 5 * time.Second
	DefaultAcquireTimeout = 5 * time.Second
	DefaultQueryTimeout   = 30 * time.Second

	// setupTimeout is the least time New allows itself to open, migrate and
	// prepare (the query timeout when that is longer).
	setupTimeout = 30 * time.Second
)

// DefaultMaxReaders is Config.MaxReaders when zero: max(4, GOMAXPROCS).
func DefaultMaxReaders() int { return max(4, runtime.GOMAXPROCS(0)) }

// Config configures a Store. The zero value of every field means its default.
type Config struct {
	// Path of the database file, created if absent (default "memory.db").
	// It must not contain '?'.
	Path string
	// MaxReaders is the size of the read-only connection pool (default
	// DefaultMaxReaders()). Writes always use one extra connection.
	MaxReaders int
	// BusyTimeout is SQLite's busy_timeout: how long a connection waits for
	// a lock held by another process on the same file (default 5s, and at
	// most QueryTimeout). Within this process writers queue for the single
	// writer connection instead, so they never see SQLITE_BUSY.
	BusyTimeout time.Duration
	// AcquireTimeout bounds the wait for a connection (the writer or a
	// reader); beyond it a call fails with memory.ErrBusy (default 5s).
	AcquireTimeout time.Duration
	// QueryTimeout bounds each call's transaction, acquisition included;
	// beyond it a call fails with memory.ErrTimeout (default 30s).
	QueryTimeout time.Duration
	// MaxConnLifetime recycles connections older than this (default 0:
	// never, which suits a file database).
	MaxConnLifetime time.Duration
	// IndexMergeInterval is how often a background loop checks whether to
	// merge the full-text index segments, which it does only when no write
	// came for a second (default 2s; negative: never).
	IndexMergeInterval time.Duration
	// IndexMergeWrites is the number of write transactions (commits, each
	// adding an index segment; a batch of queued calls is one) since the
	// last merge that makes the loop merge again (default 1000).
	IndexMergeWrites int
	// Logger receives the store's logs (default: discarded).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.MaxReaders <= 0 {
		c.MaxReaders = DefaultMaxReaders()
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.AcquireTimeout <= 0 {
		c.AcquireTimeout = DefaultAcquireTimeout
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.IndexMergeInterval == 0 {
		c.IndexMergeInterval = DefaultIndexMergeInterval
	}
	if c.IndexMergeWrites <= 0 {
		c.IndexMergeWrites = DefaultIndexMergeWrites
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the SQLite memory.Store. Create it with New.
type Store struct {
	cfg     Config
	log     *slog.Logger
	writer  *sql.DB
	readers *sql.DB
	pinger  *sql.DB

	writeStmts statements
	readStmts  statements
	graph      atomic.Pointer[graph] // the in-memory copy; replaced when reloaded
	// dataVersion is the writer connection's PRAGMA data_version when the
	// graph was loaded (written by the writer goroutine only).
	dataVersion int64
	writes      atomic.Int64 // write calls
	lastWrite   atomic.Int64 // when the last write call came, in Unix nanoseconds
	commits     atomic.Int64 // committed write transactions (index segments added)
	txCommits   atomic.Int64 // every committed write transaction (merges too)
	mergeSteps  atomic.Int64 // index merge steps that did work
	reloads     atomic.Int64 // graph reloads for another process's writes

	stopMerge context.CancelFunc
	mergeDone chan struct{}

	checkpointer   *sql.DB
	stopCheckpoint context.CancelFunc
	checkpointDone chan struct{}

	queue      chan *writeReq
	stopWriter chan struct{}
	writerDone chan struct{}

	waiting     atomic.Int32
	acquires    atomic.Int64
	canceledAcq atomic.Int64

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ memory.Store = (*Store)(nil)

// New opens (creating if needed) the database file, applies the schema
// migrations and returns a ready Store.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if strings.ContainsRune(cfg.Path, '?') {
		return nil, fmt.Errorf("sqlite: path %q must not contain '?'", cfg.Path)
	}
	// SQLite's busy handler does not watch the context, so a wait on another
	// process's lock is bounded by the query timeout as well.
	busy := min(cfg.BusyTimeout, cfg.QueryTimeout)
	base := cfg.Path + "?_pragma=" + fmt.Sprintf("busy_timeout(%d)", max(1, busy.Milliseconds())) +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(normal)"
	s := &Store{cfg: cfg, log: cfg.Logger}
	var err error
	open := func(dsn string, conns int) (*sql.DB, error) {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("while opening %s: %w", cfg.Path, err)
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxLifetime(cfg.MaxConnLifetime)
		return db, nil
	}
	// The writer sets WAL mode (persistent in the file) before anyone reads.
	// It leaves checkpoints to checkpointLoop (checkpoint.go).
	if s.writer, err = open(base+"&_pragma=journal_mode(wal)&_pragma=wal_autocheckpoint(0)&_txlock=immediate", 1); err != nil {
		return nil, err
	}
	// Opening, migrating and preparing run under a deadline of their own
	// (the caller's ctx may have none); the background loops below outlive it.
	sctx, cancelSetup := context.WithTimeout(ctx, max(cfg.QueryTimeout, setupTimeout))
	defer cancelSetup()
	if err := s.writer.PingContext(sctx); err != nil {
		_ = s.writer.Close()
		return nil, fmt.Errorf("while opening %s: %w", cfg.Path, mapError(sctx, err))
	}
	if err := migrate(sctx, s.writer); err != nil {
		_ = s.writer.Close()
		return nil, fmt.Errorf("while migrating %s: %w", cfg.Path, err)
	}
	ro := base + "&_pragma=query_only(1)"
	if s.readers, err = open(ro, cfg.MaxReaders); err != nil {
		_ = s.writer.Close()
		return nil, err
	}
	if s.pinger, err = open(ro, 1); err != nil {
		_ = s.writer.Close()
		_ = s.readers.Close()
		return nil, err
	}
	if s.checkpointer, err = open(base, 1); err != nil {
		_ = s.writer.Close()
		_ = s.readers.Close()
		_ = s.pinger.Close()
		return nil, err
	}
	if s.writeStmts, err = prepareAll(sctx, s.writer, writeSQL); err == nil {
		s.readStmts, err = prepareAll(sctx, s.readers, readSQL)
	}
	if err == nil {
		err = s.reloadGraph(sctx)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.queue, s.stopWriter, s.writerDone = make(chan *writeReq, 4*maxWriteBatch), make(chan struct{}), make(chan struct{})
	go s.writeLoop()
	cctx, cancelCkpt := context.WithCancel(context.WithoutCancel(ctx))
	s.stopCheckpoint, s.checkpointDone = cancelCkpt, make(chan struct{})
	go s.checkpointLoop(cctx)
	if cfg.IndexMergeInterval > 0 {
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopMerge, s.mergeDone = cancel, make(chan struct{})
		go s.mergeLoop(mctx)
	}
	s.log.Info("sqlite store open", "path", cfg.Path, "maxReaders", cfg.MaxReaders)
	return s, nil
}

// Backend returns "sqlite".
func (s *Store) Backend() string { return BackendName }

// Close closes every connection. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.stopMerge != nil {
			s.stopMerge()
			<-s.mergeDone
		}
		if s.stopWriter != nil {
			close(s.stopWriter)
			<-s.writerDone
		}
		if s.stopCheckpoint != nil {
			s.stopCheckpoint()
			<-s.checkpointDone
		}
		s.closeErr = errors.Join(s.readers.Close(), s.pinger.Close(), s.checkpointer.Close(), s.writer.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("while closing the sqlite store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// Ping checks that the database file is still there and reads it through
// its own connection, under ctx.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := os.Stat(s.cfg.Path); err != nil {
		return fmt.Errorf("while pinging sqlite: %w: %w", memory.ErrUnavailable, err)
	}
	var n int
	if err := s.pinger.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("while pinging sqlite %s: %w", s.cfg.Path, mapError(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("while pinging sqlite %s: %w: no schema", s.cfg.Path, memory.ErrUnavailable)
	}
	return nil
}

// Stats sums the writer's and the readers' connection statistics.
func (s *Store) Stats() memory.PoolStats {
	w, r := s.writer.Stats(), s.readers.Stats()
	open := int32(w.OpenConnections + r.OpenConnections)
	inUse := int32(w.InUse + r.InUse)
	return memory.PoolStats{
		MaxConnections:       int32(w.MaxOpenConnections + r.MaxOpenConnections),
		Acquired:             inUse,
		Idle:                 open - inUse,
		Waiting:              s.waiting.Load(),
		AcquireCount:         s.acquires.Load(),
		EmptyAcquireCount:    int64(w.WaitCount + r.WaitCount),
		CanceledAcquireCount: s.canceledAcq.Load(),
		AcquireWaitSeconds:   (w.WaitDuration + r.WaitDuration).Seconds(),
	}
}

// txFunc is the body of one call's transaction.
type txFunc func(ctx context.Context, tx txq) error

// read runs fn in a transaction on a reader connection.
func (s *Store) read(ctx context.Context, op string, fn txFunc) error {
	return s.inTx(ctx, op, s.readers, s.readStmts, fn)
}

// write runs fn in an immediate transaction on the writer connection,
// through the write queue (writer.go).
func (s *Store) write(ctx context.Context, op string, fn txFunc) error {
	s.writes.Add(1)
	s.lastWrite.Store(time.Now().UnixNano())
	return s.submit(ctx, op, s.cfg.AcquireTimeout, true, fn)
}

func (s *Store) inTx(ctx context.Context, op string, db *sql.DB, stmts statements, fn txFunc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("while %s: %w", op, mapError(ctx, err))
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	conn, err := s.acquire(qctx, db)
	if err != nil {
		return fmt.Errorf("while %s: %w", op, err)
	}
	defer conn.Close() //nolint:errcheck // returns the connection to its pool
	tx, err := conn.BeginTx(qctx, nil)
	if err != nil {
		return fmt.Errorf("while %s: beginning: %w", op, mapError(qctx, err))
	}
	q := txq{tx: tx, stmts: stmts}
	if db == s.writer {
		q.index, q.delta = &pendingIndex{}, &delta{}
	}
	err = fn(qctx, q)
	if err == nil {
		err = q.flushIndex(qctx)
	}
	if err != nil {
		_ = tx.Rollback()
		var nf *memory.EntityNotFoundError
		if errors.As(err, &nf) || errors.Is(err, memory.ErrInvalidArgument) {
			return err
		}
		return fmt.Errorf("while %s: %w", op, mapError(qctx, err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("while %s: committing: %w", op, mapError(qctx, err))
	}
	s.graph.Load().apply(q.delta)
	return nil
}

// acquire takes a connection from db, waiting at most AcquireTimeout.
func (s *Store) acquire(qctx context.Context, db *sql.DB) (*sql.Conn, error) {
	actx, cancel := context.WithTimeout(qctx, s.cfg.AcquireTimeout)
	defer cancel()
	s.waiting.Add(1)
	conn, err := db.Conn(actx)
	s.waiting.Add(-1)
	if err == nil {
		s.acquires.Add(1)
		return conn, nil
	}
	s.canceledAcq.Add(1)
	if qctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w (sqlite: no connection free within %s)", memory.ErrBusy, s.cfg.AcquireTimeout)
	}
	return nil, mapError(qctx, err)
}

// pastDeadline reports whether ctx's deadline has passed, even if its timer
// has not fired yet.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// mapError turns driver and context errors into the memory domain errors.
func mapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, memory.ErrBusy), errors.Is(err, memory.ErrTimeout), errors.Is(err, memory.ErrUnavailable):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || pastDeadline(ctx):
		return fmt.Errorf("%w: %w", memory.ErrTimeout, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%w: %w", context.Canceled, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %w", memory.ErrBusy, err)
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %w", memory.ErrUnavailable, err)
		case sqlite3.SQLITE_INTERRUPT:
			return fmt.Errorf("%w: %w", memory.ErrTimeout, err)
		}
	}
	return err
}
