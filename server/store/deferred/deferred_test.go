package deferred_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/deferred"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
)

// hangGuard bounds waits on background work; it is not a timing assertion.
const hangGuard = 30 * time.Second

func TestOpensAfterFailuresAndForwards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	var attempts atomic.Int32
	release := make(chan struct{})
	open := func(ctx context.Context) (memory.Store, error) {
		n := attempts.Add(1)
		select {
		case <-release:
			return sqlite.New(ctx, sqlite.Config{Path: path})
		default:
			return nil, fmt.Errorf("connection refused (attempt %d)", n)
		}
	}
	s, err := deferred.New(context.Background(), deferred.Config{Backend: "sqlite", Open: open, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	guard := time.After(hangGuard)
	for attempts.Load() < 3 {
		select {
		case <-guard:
			t.Fatal("no retries")
		case <-time.After(time.Millisecond):
		}
	}
	if !s.Opening() {
		t.Fatal("Opening false before the backend opened")
	}
	_, err = s.CreateEntities(context.Background(), []memory.Entity{{Name: "a", EntityType: "t"}})
	if !errors.Is(err, memory.ErrUnavailable) || !strings.Contains(err.Error(), "database unavailable") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("before open: %v", err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("Ping before open: %v", err)
	}
	if s.Backend() != "sqlite" || s.Stats() != (memory.PoolStats{}) {
		t.Errorf("before open: backend %q stats %+v", s.Backend(), s.Stats())
	}
	close(release)
	select {
	case <-s.Opened():
	case <-time.After(hangGuard):
		t.Fatal("never opened")
	}
	if s.Opening() {
		t.Error("Opening true after open")
	}
	if _, err := s.CreateEntities(context.Background(), []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{"o"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := s.OpenNodes(context.Background(), []string{"a"})
	if err != nil || len(g.Entities) != 1 || g.Entities[0].Observations[0] != "o" {
		t.Fatalf("after open: %+v %v", g, err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping after open: %v", err)
	}
	if s.Stats().MaxConnections == 0 {
		t.Error("Stats not forwarded after open")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseStopsRetrying: Close ends the attempts; no Open call starts after
// it returns.
func TestCloseStopsRetrying(t *testing.T) {
	var attempts atomic.Int32
	s, err := deferred.New(context.Background(), deferred.Config{Backend: "postgres", InitialBackoff: time.Millisecond,
		Open: func(ctx context.Context) (memory.Store, error) { attempts.Add(1); return nil, errors.New("refused") }})
	if err != nil {
		t.Fatal(err)
	}
	guard := time.After(hangGuard)
	for attempts.Load() < 2 {
		select {
		case <-guard:
			t.Fatal("no retries")
		case <-time.After(time.Millisecond):
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close hung")
	}
	n := attempts.Load()
	time.Sleep(20 * time.Millisecond)
	if attempts.Load() != n {
		t.Errorf("attempts went on after Close: %d -> %d", n, attempts.Load())
	}
	if _, err := s.ReadGraph(context.Background()); !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("after Close without open: %v", err)
	}
}

func TestNewNeedsOpenAndBackend(t *testing.T) {
	if _, err := deferred.New(context.Background(), deferred.Config{Backend: "sqlite"}); err == nil {
		t.Error("no Open accepted")
	}
	if _, err := deferred.New(context.Background(), deferred.Config{Open: func(context.Context) (memory.Store, error) { return nil, nil }}); err == nil {
		t.Error("no Backend accepted")
	}
}

// TestCallsWaitForTheFirstAttempt: a call made while the first open attempt
// runs waits for it and succeeds when it does; with the attempt still
// running after FirstOpenWait, the call fails as unavailable; once an
// attempt has failed, calls do not wait (Ping never does).
func TestCallsWaitForTheFirstAttempt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // before Close, which waits for the attempt, on any failure
	var attempts atomic.Int32
	s, err := deferred.New(context.Background(), deferred.Config{
		Backend: "sqlite", FirstOpenWait: hangGuard,
		Open: func(ctx context.Context) (memory.Store, error) {
			attempts.Add(1)
			<-release // a slow first attempt that succeeds
			return sqlite.New(ctx, sqlite.Config{Path: path})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { free(); _ = s.Close() }()
	if err := s.Ping(context.Background()); !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("Ping during the first attempt: %v, want unavailable at once", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.CreateEntities(context.Background(), []memory.Entity{{Name: "early", EntityType: "t"}})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the call returned (%v) before the first attempt ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	free()
	if err := <-done; err != nil {
		t.Fatalf("the call that waited for the first attempt: %v", err)
	}

	// Bounded: the attempt outlasts FirstOpenWait.
	hang := make(chan struct{})
	slow, err := deferred.New(context.Background(), deferred.Config{
		Backend: "sqlite", FirstOpenWait: 50 * time.Millisecond,
		Open: func(ctx context.Context) (memory.Store, error) { <-hang; return nil, errors.New("gave up") },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = slow.ReadGraph(context.Background())
	close(hang)
	if !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("call past FirstOpenWait: %v, want unavailable", err)
	}
	if err := slow.Close(); err != nil {
		t.Error(err)
	}

	// After a failed attempt: no wait, even with a long FirstOpenWait.
	failed := make(chan struct{})
	down, err := deferred.New(context.Background(), deferred.Config{
		Backend: "sqlite", FirstOpenWait: hangGuard, InitialBackoff: time.Hour,
		Open: func(ctx context.Context) (memory.Store, error) {
			close(failed) // one attempt: the next is an hour away
			return nil, errors.New("connection refused")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	<-failed
	for guard := time.Now().Add(hangGuard); ; {
		_, err := down.ReadGraph(context.Background())
		if !errors.Is(err, memory.ErrUnavailable) {
			t.Fatalf("with the database down: %v", err)
		}
		if strings.Contains(err.Error(), "connection refused") { // the failed attempt is recorded: no wait
			break
		}
		if time.Now().After(guard) {
			t.Fatal("the failed attempt was never recorded")
		}
	}
	start := time.Now()
	if _, err := down.ReadGraph(context.Background()); !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("with the database down: %v", err)
	}
	if waited := time.Since(start); waited > hangGuard/2 {
		t.Errorf("a call after a failed attempt waited %s", waited)
	}
	if err := down.Close(); err != nil {
		t.Error(err)
	}
}
