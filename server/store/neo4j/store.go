// Package neo4j is the Neo4j backend of memory.Store, on the official driver
// github.com/neo4j/neo4j-go-driver/v5.
//
// The graph model:
//
//   - every name that takes part in the graph is a (:MemoryNode {name}) node,
//     unique by a constraint; a node that is also an entity carries the label
//     :Entity and the properties type, observations (a list: its order is the
//     order of creation), seq (creation order), search (the case-folded text
//     behind SearchNodes, under a TEXT index) and observationText (the
//     observations joined, under the full-text index of SearchMemories);
//   - a relation is a [:RELATES {type, seq}] relationship: its type is data, a
//     parameter like every other value, so a relation type holding backticks,
//     quotes or Cypher is stored verbatim and never executed. A relation may
//     name a node that is not an entity (the reference server allows it); that
//     node is removed again once nothing refers to it;
//   - a single (:MemorySequence {id: 1}) node hands out creation sequence
//     numbers. Every write transaction takes its lock first, in its first
//     statement: writes are therefore serialized (no lost update on an
//     entity's observations, no duplicate relation from two concurrent
//     callers, no deadlock between writers), at the price of write
//     throughput on one database.
//
// Every Store method is one managed transaction (session.ExecuteWrite or
// ExecuteRead, so the driver retries transient errors) under the query
// timeout, which is both the context deadline and the server-side
// transaction timeout.
package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Defaults of Config.
const (
	DefaultMaxConnectionPoolSize          = 10
	DefaultConnectionAcquisitionTimeout   = 5 * time.Second
	DefaultMaxConnectionLifetime          = time.Hour
	DefaultConnectionLivenessCheckTimeout = 30 * time.Minute
	DefaultQueryTimeout                   = 30 * time.Second
	DefaultMaxTransactionRetryTime        = 5 * time.Second
)

// Config configures the Neo4j store. Zero fields take their defaults.
type Config struct {
	// URI of the server: bolt://host:7687 for one server, neo4j://host:7687
	// for a cluster (routing). Required.
	URI string
	// Username and Password for basic authentication. An empty Username
	// connects without authentication.
	Username string
	Password string
	// Database is the database name; empty means the server's home database.
	Database string
	// MaxConnectionPoolSize is the number of connections the driver's pool
	// may open, and the number of tool calls that may run at once (pool
	// maxConnections; default 10). The readiness probe uses one more
	// connection of its own.
	MaxConnectionPoolSize int
	// ConnectionAcquisitionTimeout bounds the wait for a free slot in the pool
	// and for opening a connection (pool acquireTimeout; default 5s). A call
	// that cannot get one fails with memory.ErrBusy.
	ConnectionAcquisitionTimeout time.Duration
	// MaxConnectionLifetime after which a connection is closed rather than
	// reused (pool maxConnectionLifetime; default 1h).
	MaxConnectionLifetime time.Duration
	// ConnectionLivenessCheckTimeout: a connection idle for longer than this
	// is checked with a round trip before reuse (from pool
	// maxConnectionIdleTime, the driver having no idle-close; default 30m).
	ConnectionLivenessCheckTimeout time.Duration
	// QueryTimeout bounds one tool call: it is the context deadline of the
	// whole managed transaction, retries included, and the server-side
	// transaction timeout (pool queryTimeout; default 30s). Expiry gives
	// memory.ErrTimeout.
	QueryTimeout time.Duration
	// MaxTransactionRetryTime caps how long the driver retries a transaction
	// that failed with a transient or connectivity error (default 5s, never
	// more than QueryTimeout), so that an unreachable server fails tool calls
	// quickly.
	MaxTransactionRetryTime time.Duration
	// Logger receives the driver's warnings and errors (debug messages too
	// when it is enabled for debug). Nil: slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxConnectionPoolSize <= 0 {
		c.MaxConnectionPoolSize = DefaultMaxConnectionPoolSize
	}
	if c.ConnectionAcquisitionTimeout <= 0 {
		c.ConnectionAcquisitionTimeout = DefaultConnectionAcquisitionTimeout
	}
	if c.MaxConnectionLifetime <= 0 {
		c.MaxConnectionLifetime = DefaultMaxConnectionLifetime
	}
	if c.ConnectionLivenessCheckTimeout <= 0 {
		c.ConnectionLivenessCheckTimeout = DefaultConnectionLivenessCheckTimeout
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.MaxTransactionRetryTime <= 0 {
		c.MaxTransactionRetryTime = DefaultMaxTransactionRetryTime
	}
	c.MaxTransactionRetryTime = min(c.MaxTransactionRetryTime, c.QueryTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Store is the Neo4j memory.Store. It is safe for concurrent use.
type Store struct {
	cfg       Config
	uri       string // cfg.URI without any password, for messages
	log       *slog.Logger
	driver    neo4j.DriverWithContext
	probe     neo4j.DriverWithContext
	bookmarks neo4j.BookmarkManager

	// slots bounds concurrent sessions to the pool size, so that waiting for
	// a connection is observable (the driver exposes no pool metrics).
	slots     chan struct{}
	acquired  atomic.Int32
	waiting   atomic.Int32
	acquires  atomic.Int64
	empty     atomic.Int64
	canceled  atomic.Int64
	waitNanos atomic.Int64

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// errClosed is returned by calls on a closed store.
var errClosed = fmt.Errorf("%w: the neo4j store is closed", memory.ErrUnavailable)

var _ memory.Store = (*Store)(nil)

// New connects to Neo4j, checks that the server answers, authenticates and
// has the database, and sets up the schema idempotently: the uniqueness
// constraints, the TEXT index behind SearchNodes and the full-text index
// behind SearchMemories, then waits for the indexes to be online. Each step
// runs under QueryTimeout.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if cfg.URI == "" {
		return nil, memory.InvalidArgument("the neo4j backend needs a URI")
	}
	token := neo4j.NoAuth()
	if cfg.Username != "" {
		token = neo4j.BasicAuth(cfg.Username, cfg.Password, "")
	}
	s := &Store{
		cfg:       cfg,
		uri:       redactURI(cfg.URI),
		log:       cfg.Logger,
		bookmarks: neo4j.NewBookmarkManager(neo4j.BookmarkManagerConfig{}),
		slots:     make(chan struct{}, cfg.MaxConnectionPoolSize),
	}
	var err error
	s.driver, err = neo4j.NewDriverWithContext(cfg.URI, token, s.driverConfig(cfg.MaxConnectionPoolSize))
	if err != nil {
		return nil, fmt.Errorf("while creating the neo4j driver for %s: %w", s.uri, err)
	}
	// The prober's own driver, one connection: readiness checks never wait
	// behind tool calls for a pooled connection.
	s.probe, err = neo4j.NewDriverWithContext(cfg.URI, token, s.driverConfig(1))
	if err != nil {
		_ = s.driver.Close(ctx)
		return nil, fmt.Errorf("while creating the neo4j probe driver for %s: %w", s.uri, err)
	}
	if err := s.setupSchema(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.log.Info("neo4j store ready", "uri", s.uri, "database", cfg.Database, "maxConnectionPoolSize", cfg.MaxConnectionPoolSize)
	return s, nil
}

// redactURI hides a password written into the URI's user information.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparsable URI)"
	}
	return u.Redacted()
}

func (s *Store) driverConfig(poolSize int) func(*neo4jconfig.Config) {
	return func(c *neo4jconfig.Config) {
		c.MaxConnectionPoolSize = poolSize
		c.ConnectionAcquisitionTimeout = s.cfg.ConnectionAcquisitionTimeout
		c.SocketConnectTimeout = s.cfg.ConnectionAcquisitionTimeout
		c.MaxConnectionLifetime = s.cfg.MaxConnectionLifetime
		c.ConnectionLivenessCheckTimeout = s.cfg.ConnectionLivenessCheckTimeout
		c.MaxTransactionRetryTime = s.cfg.MaxTransactionRetryTime
		c.UserAgent = "memory-server"
		c.Log = slogAdapter{log: s.log}
	}
}

// setupSchema runs each schema statement in its own write transaction (Neo4j
// does not mix schema and data writes in one transaction).
func (s *Store) setupSchema(ctx context.Context) error {
	for _, q := range schemaStatements {
		err := s.write(ctx, "schema setup", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
			_, err := run(ctx, tx, q, nil)
			return err
		})
		if err != nil && !alreadyExists(err) {
			return err
		}
	}
	// New indexes fill in the background: wait for them, so that the first
	// searches use them.
	return s.write(ctx, "schema setup", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		_, err := run(ctx, tx, qAwaitIndexes, map[string]any{"seconds": int64(max(1, s.cfg.QueryTimeout/time.Second))})
		return err
	})
}

// alreadyExists reports the error of a schema statement that lost a race
// with another replica creating the same constraint or index.
func alreadyExists(err error) bool {
	var n4 *neo4j.Neo4jError
	if !errors.As(err, &n4) {
		return false
	}
	switch n4.Code {
	case "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
		"Neo.ClientError.Schema.ConstraintAlreadyExists",
		"Neo.ClientError.Schema.IndexAlreadyExists":
		return true
	}
	return false
}

// Backend returns "neo4j".
func (s *Store) Backend() string { return "neo4j" }

// Ping checks under ctx's deadline, through the probe driver's own
// connection, that the server answers and accepts the credentials
// (VerifyConnectivity) and, when a database is configured, that it serves
// that database (a read transaction returning 1).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("while doing ping: %w", errClosed)
	}
	if err := s.probe.VerifyConnectivity(ctx); err != nil {
		return s.classify(ctx, ctx, "ping", err)
	}
	if s.cfg.Database == "" {
		return nil
	}
	sess := s.probe.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead, DatabaseName: s.cfg.Database})
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = sess.Close(cctx)
	}()
	_, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		_, err := run(ctx, tx, qProbe, nil)
		return nil, err
	})
	if err != nil {
		return s.classify(ctx, ctx, "ping", err)
	}
	return nil
}

// Stats returns the pool statistics as counted by the store around session
// use. Idle and Constructing are not observable through the driver and
// stay 0.
func (s *Store) Stats() memory.PoolStats {
	return memory.PoolStats{
		MaxConnections:       int32(s.cfg.MaxConnectionPoolSize),
		Acquired:             s.acquired.Load(),
		Waiting:              s.waiting.Load(),
		AcquireCount:         s.acquires.Load(),
		EmptyAcquireCount:    s.empty.Load(),
		CanceledAcquireCount: s.canceled.Load(),
		AcquireWaitSeconds:   time.Duration(s.waitNanos.Load()).Seconds(),
	}
}

// Close closes both drivers and their connections. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = errors.Join(s.driver.Close(ctx), s.probe.Close(ctx))
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("while closing the neo4j driver: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// acquire takes a pool slot, waiting at most ConnectionAcquisitionTimeout.
func (s *Store) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
	default:
		s.empty.Add(1)
		s.waiting.Add(1)
		start := time.Now()
		timer := time.NewTimer(s.cfg.ConnectionAcquisitionTimeout)
		select {
		case s.slots <- struct{}{}:
			err = nil
		case <-timer.C:
			err = fmt.Errorf("%w (%s, pool size %d)", memory.ErrBusy, s.cfg.ConnectionAcquisitionTimeout, s.cfg.MaxConnectionPoolSize)
		case <-ctx.Done():
			err = fmt.Errorf("while waiting for a neo4j connection: %w", ctx.Err())
		}
		timer.Stop()
		s.waiting.Add(-1)
		s.waitNanos.Add(int64(time.Since(start)))
		if err != nil {
			s.canceled.Add(1)
			return nil, err
		}
	}
	s.acquires.Add(1)
	s.acquired.Add(1)
	return func() {
		s.acquired.Add(-1)
		<-s.slots
	}, nil
}

func (s *Store) write(ctx context.Context, op string, work func(ctx context.Context, tx neo4j.ManagedTransaction) error) error {
	return s.execute(ctx, op, neo4j.AccessModeWrite, work)
}

func (s *Store) read(ctx context.Context, op string, work func(ctx context.Context, tx neo4j.ManagedTransaction) error) error {
	return s.execute(ctx, op, neo4j.AccessModeRead, work)
}

// execute runs work as one managed transaction under the query timeout. The
// driver may call work more than once (retries): work must start afresh.
func (s *Store) execute(ctx context.Context, op string, mode neo4j.AccessMode, work func(ctx context.Context, tx neo4j.ManagedTransaction) error) error {
	if s.closed.Load() {
		return fmt.Errorf("while doing %s: %w", op, errClosed)
	}
	if ctx.Err() != nil { // fail fast, without touching the pool
		return s.classify(ctx, ctx, op, ctx.Err())
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("while doing %s: %w", op, err)
	}
	defer release()

	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	sess := s.driver.NewSession(qctx, neo4j.SessionConfig{
		AccessMode:      mode,
		DatabaseName:    s.cfg.Database,
		BookmarkManager: s.bookmarks,
	})
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer ccancel()
		_ = sess.Close(cctx)
	}()
	fn := func(tx neo4j.ManagedTransaction) (any, error) { return nil, work(qctx, tx) }
	timeout := neo4j.WithTxTimeout(s.cfg.QueryTimeout)
	if mode == neo4j.AccessModeRead {
		_, err = sess.ExecuteRead(qctx, fn, timeout)
	} else {
		_, err = sess.ExecuteWrite(qctx, fn, timeout)
	}
	if err != nil {
		return s.classify(ctx, qctx, op, err)
	}
	return nil
}
