// Package deferred is a memory.Store whose backend opens in the background,
// retried with capped exponential back-off, so that the server can start
// serving HTTP (/livez, /readyz, MCP) before its database accepts
// connections: a managed PostgreSQL still in initdb must not make the server
// pods crash-loop.
//
// Until the backend is open every data method fails with an error wrapping
// memory.ErrUnavailable ("database unavailable: ..." with the last open
// error), which the MCP layer turns into an isError tool result, and Ping
// fails the same way, so /readyz answers 503 with verdict "starting"
// (Opening reports true) and the reason. A data call made while the first
// attempt is still running (a healthy database being connected and
// migrated, or a SQLite file being loaded) waits for that attempt, at most
// Config.FirstOpenWait; after a failed attempt calls fail at once.
package deferred

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Defaults of Config.
const (
	DefaultInitialBackoff = 250 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
)

// Config configures a Store.
type Config struct {
	// Backend names the backend for Backend() before it is open. Required.
	Backend string
	// Open opens the real store; it is called until it succeeds or the
	// context given to New ends. Required.
	Open func(ctx context.Context) (memory.Store, error)
	// Logger receives one line per failed attempt and one on success
	// (default: discard).
	Logger *slog.Logger
	// InitialBackoff is the wait after the first failed attempt (default
	// 250 ms); it doubles after each failure up to MaxBackoff (default 10 s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// FirstOpenWait is how long a data call made during the first open
	// attempt waits for it to end (default 0: the call fails at once).
	FirstOpenWait time.Duration
}

// Store forwards to the backend once it is open.
type Store struct {
	cfg    Config
	inner  atomic.Pointer[memory.Store]
	opened chan struct{}
	// firstDone is closed when the first open attempt ends, either way.
	firstDone chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}

	mu       sync.Mutex
	attempts int
	lastErr  error

	closeOnce sync.Once
	closeErr  error
}

// New starts opening the backend in the background under ctx and returns at
// once. Close (or the end of ctx) stops the attempts.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Open == nil || cfg.Backend == "" {
		return nil, errors.New("deferred: Config.Open and Config.Backend are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	ctx, cancel := context.WithCancel(ctx)
	s := &Store{cfg: cfg, opened: make(chan struct{}), firstDone: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s, nil
}

func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	wait := s.cfg.InitialBackoff
	var firstOnce sync.Once
	defer firstOnce.Do(func() { close(s.firstDone) })
	for {
		st, err := s.cfg.Open(ctx)
		if err == nil {
			if ctx.Err() != nil { // closed while opening
				_ = st.Close()
				return
			}
			s.inner.Store(&st)
			close(s.opened)
			firstOnce.Do(func() { close(s.firstDone) })
			s.mu.Lock()
			n := s.attempts + 1
			s.mu.Unlock()
			s.cfg.Logger.Info("backend open", "backend", s.cfg.Backend, "attempts", n)
			return
		}
		s.mu.Lock()
		s.attempts++
		s.lastErr = err
		n := s.attempts
		s.mu.Unlock()
		firstOnce.Do(func() { close(s.firstDone) })
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("backend not available yet: retrying", "backend", s.cfg.Backend, "attempt", n, "retryIn", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, s.cfg.MaxBackoff)
	}
}

// Opened is closed once the backend is open.
func (s *Store) Opened() <-chan struct{} { return s.opened }

// Opening reports whether the backend is not open yet (the readiness
// verdict is then "starting").
func (s *Store) Opening() bool { return s.inner.Load() == nil }

// current returns the open backend for a data call, waiting for the first
// attempt up to Config.FirstOpenWait.
func (s *Store) current(ctx context.Context) (memory.Store, error) {
	return s.backend(ctx, s.cfg.FirstOpenWait)
}

// backend returns the open backend or the error every call gets before,
// after waiting for the first attempt when wait is more than zero.
func (s *Store) backend(ctx context.Context, wait time.Duration) (memory.Store, error) {
	if p := s.inner.Load(); p != nil {
		return *p, nil
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-s.firstDone:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if p := s.inner.Load(); p != nil {
			return *p, nil
		}
	}
	s.mu.Lock()
	n, last := s.attempts, s.lastErr
	s.mu.Unlock()
	if last == nil {
		return nil, fmt.Errorf("%w: the %s backend is still being opened", memory.ErrUnavailable, s.cfg.Backend)
	}
	return nil, fmt.Errorf("%w: the %s backend is not open yet (%d failed attempts, retrying): %v", memory.ErrUnavailable, s.cfg.Backend, n, last)
}

// CreateEntities implements memory.Store.
func (s *Store) CreateEntities(ctx context.Context, entities []memory.Entity) ([]memory.Entity, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return st.CreateEntities(ctx, entities)
}

// CreateRelations implements memory.Store.
func (s *Store) CreateRelations(ctx context.Context, relations []memory.Relation) ([]memory.Relation, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return st.CreateRelations(ctx, relations)
}

// AddObservations implements memory.Store.
func (s *Store) AddObservations(ctx context.Context, additions []memory.ObservationAddition) ([]memory.ObservationResult, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return st.AddObservations(ctx, additions)
}

// DeleteEntities implements memory.Store.
func (s *Store) DeleteEntities(ctx context.Context, names []string) error {
	st, err := s.current(ctx)
	if err != nil {
		return err
	}
	return st.DeleteEntities(ctx, names)
}

// DeleteObservations implements memory.Store.
func (s *Store) DeleteObservations(ctx context.Context, deletions []memory.ObservationDeletion) error {
	st, err := s.current(ctx)
	if err != nil {
		return err
	}
	return st.DeleteObservations(ctx, deletions)
}

// DeleteRelations implements memory.Store.
func (s *Store) DeleteRelations(ctx context.Context, relations []memory.Relation) error {
	st, err := s.current(ctx)
	if err != nil {
		return err
	}
	return st.DeleteRelations(ctx, relations)
}

// ReadGraph implements memory.Store.
func (s *Store) ReadGraph(ctx context.Context) (memory.Graph, error) {
	st, err := s.current(ctx)
	if err != nil {
		return memory.Graph{}, err
	}
	return st.ReadGraph(ctx)
}

// SearchNodes implements memory.Store.
func (s *Store) SearchNodes(ctx context.Context, query string) (memory.Graph, error) {
	st, err := s.current(ctx)
	if err != nil {
		return memory.Graph{}, err
	}
	return st.SearchNodes(ctx, query)
}

// OpenNodes implements memory.Store.
func (s *Store) OpenNodes(ctx context.Context, names []string) (memory.Graph, error) {
	st, err := s.current(ctx)
	if err != nil {
		return memory.Graph{}, err
	}
	return st.OpenNodes(ctx, names)
}

// SearchMemories implements memory.Store.
func (s *Store) SearchMemories(ctx context.Context, query string, limit int) ([]memory.ScoredEntity, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return st.SearchMemories(ctx, query, limit)
}

// FindRelated implements memory.Store.
func (s *Store) FindRelated(ctx context.Context, q memory.FindRelatedQuery) (memory.Graph, error) {
	st, err := s.current(ctx)
	if err != nil {
		return memory.Graph{}, err
	}
	return st.FindRelated(ctx, q)
}

// Import implements memory.Store.
func (s *Store) Import(ctx context.Context, g memory.Graph) (memory.ImportResult, error) {
	st, err := s.current(ctx)
	if err != nil {
		return memory.ImportResult{}, err
	}
	return st.Import(ctx, g)
}

// Ping fails with the last open error until the backend is open, then
// forwards.
func (s *Store) Ping(ctx context.Context) error {
	st, err := s.backend(ctx, 0)
	if err != nil {
		return err
	}
	return st.Ping(ctx)
}

// Stats are zero until the backend is open.
func (s *Store) Stats() memory.PoolStats {
	if p := s.inner.Load(); p != nil {
		return (*p).Stats()
	}
	return memory.PoolStats{}
}

// Backend implements memory.Store.
func (s *Store) Backend() string { return s.cfg.Backend }

// Close stops the attempts (waiting for one in progress) and closes the
// backend if it was opened. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		if p := s.inner.Load(); p != nil {
			s.closeErr = (*p).Close()
		}
	})
	return s.closeErr
}

var _ memory.Store = (*Store)(nil)
