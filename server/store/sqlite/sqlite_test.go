package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

func open(t *testing.T, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "memory.db")
	}
	s, err := sqlite.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("sqlite.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store { return open(t, sqlite.Config{}) })
}

// TestConformanceWhileMerging runs the suite with the background index
// merge running after every write, so searches race with merges.
func TestConformanceWhileMerging(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store {
		return open(t, sqlite.Config{IndexMergeInterval: time.Millisecond, IndexMergeWrites: 1})
	})
}

// lockFile takes SQLite's write lock on path from another connection, as
// another process would, until the returned function is called.
func lockFile(t *testing.T, path string) func() {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func TestMigrationsIdempotentAndDataKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	s := open(t, sqlite.Config{Path: path})
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "kept", EntityType: "t", Observations: []string{"o"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s2 := open(t, sqlite.Config{Path: path})
		g, err := s2.SearchNodes(t.Context(), "kep")
		if err != nil || len(g.Entities) != 1 {
			t.Fatalf("after reopening: %+v, %v", g, err)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var versions int
	var mode string
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if versions != 2 || mode != "wal" {
		t.Errorf("schema_migrations rows = %d, journal_mode = %q; want 2 and wal", versions, mode)
	}
}

// TestUpgradeFromTheFirstSchema opens a file written under migration 0001
// alone (the FTS5 trigram table search_trgm, since dropped): the data is
// kept and found, and the table is gone.
func TestUpgradeFromTheFirstSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	schema, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`PRAGMA journal_mode = wal`,
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT '')`,
		string(schema),
		`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
		`INSERT INTO entities (id, name, entity_type) VALUES (1, 'Alice', 'person'), (2, 'Bob', 'person')`,
		`INSERT INTO observations (id, entity_id, content) VALUES (1, 1, 'Plays chess'), (2, 2, 'Likes tea')`,
		`INSERT INTO search_trgm (rowid, a, b) VALUES (-1, 'alice', 'person'), (-2, 'bob', 'person'), (1, 'plays chess', ''), (2, 'likes tea', '')`,
		`INSERT INTO memories_fts (rowid, name, entity_type, content) VALUES (-1, 'Alice', 'person', ''), (-2, 'Bob', 'person', ''), (1, '', '', 'Plays chess'), (2, '', '', 'Likes tea')`,
		`INSERT INTO relations (from_name, to_name, relation_type) VALUES ('Alice', 'Bob', 'knows')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := open(t, sqlite.Config{Path: path})
	ctx := t.Context()
	g, err := s.SearchNodes(ctx, "CHESS")
	if err != nil || len(g.Entities) != 1 || g.Entities[0].Name != "Alice" || len(g.Relations) != 1 {
		t.Errorf("SearchNodes(CHESS) after the upgrade = %+v, %v", g, err)
	}
	hits, err := s.SearchMemories(ctx, "tea", 10)
	if err != nil || len(hits) != 1 || hits[0].Name != "Bob" {
		t.Errorf("SearchMemories(tea) after the upgrade = %+v, %v", hits, err)
	}
	if err := s.DeleteEntities(ctx, []string{"Bob"}); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.SearchMemories(ctx, "tea", 10); err != nil || len(hits) != 0 {
		t.Errorf("SearchMemories(tea) after deleting Bob = %+v, %v", hits, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'search_trgm%'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d search_trgm tables left after the upgrade", tables)
	}
}

func TestLockedByAnotherProcessIsBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: 100 * time.Millisecond})
	release := lockFile(t, path)
	_, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}})
	if !errors.Is(err, memory.ErrBusy) {
		t.Fatalf("write while another process holds the lock: %v, want ErrBusy", err)
	}
	// Reads are not blocked by a writer in WAL mode.
	if _, err := s.ReadGraph(t.Context()); err != nil {
		t.Errorf("read while locked: %v", err)
	}
	release()
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}}); err != nil {
		t.Errorf("write after the lock is released: %v", err)
	}
}

func TestAcquireTimeoutIsBusyAndPingDoesNotQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: 3 * time.Second, AcquireTimeout: 50 * time.Millisecond})
	release := lockFile(t, path)
	// The first writer holds the writer connection, waiting on the lock.
	first := make(chan error, 1)
	go func() {
		_, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "first", EntityType: "t"}})
		first <- err
	}()
	waitFor(t, func() bool { return s.Stats().Acquired >= 1 })
	_, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "second", EntityType: "t"}})
	if !errors.Is(err, memory.ErrBusy) {
		t.Errorf("second writer: %v, want ErrBusy", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping while the writer is held: %v", err)
	}
	release()
	if err := <-first; err != nil {
		t.Errorf("first writer after release: %v", err)
	}
}

func TestQueryTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: 30 * time.Second, QueryTimeout: 100 * time.Millisecond})
	lockFile(t, path)
	_, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}})
	if !errors.Is(err, memory.ErrTimeout) {
		t.Errorf("write past the query timeout: %v, want ErrTimeout", err)
	}
}

func TestPathWithQuestionMarkRefused(t *testing.T) {
	_, err := sqlite.New(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "a?b.db")})
	if err == nil || !strings.Contains(err.Error(), "must not contain") {
		t.Errorf("New with '?' in the path: %v", err)
	}
}

func TestUnwritableDirectoryFails(t *testing.T) {
	_, err := sqlite.New(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "m.db")})
	if err == nil {
		t.Fatal("New in a missing directory succeeded")
	}
}

// waitFor polls cond (a state, not a duration: no timed assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never became true")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPingFailsWhenTheFileIsGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	s := open(t, sqlite.Config{Path: path})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("Ping with the file gone: %v, want ErrUnavailable", err)
	}
	if err := os.Rename(path+".moved", path); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping with the file back: %v", err)
	}
}

// TestBatchedWritesWithFailures sends many concurrent writes, a third of
// which fail after writing (their second addition names a missing entity),
// so the write queue batches failing calls with good ones: every
// acknowledged write is present, no failed call left anything, and every
// call got the outcome it would have had alone.
func TestBatchedWritesWithFailures(t *testing.T) {
	s := open(t, sqlite.Config{})
	ctx := t.Context()
	if _, err := s.CreateEntities(ctx, []memory.Entity{{Name: "target", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	const calls = 96
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			adds := []memory.ObservationAddition{{EntityName: "target", Contents: []string{fmt.Sprintf("obs-%d", i)}}}
			if i%3 == 0 {
				adds = append(adds, memory.ObservationAddition{EntityName: "missing", Contents: []string{"x"}})
			}
			if i%3 == 1 {
				_, errs[i] = s.CreateEntities(ctx, []memory.Entity{{Name: fmt.Sprintf("e-%d", i), EntityType: "t", Observations: []string{"o"}}})
				return
			}
			_, errs[i] = s.AddObservations(ctx, adds)
		}()
	}
	wg.Wait()
	g, err := s.OpenNodes(ctx, []string{"target"})
	if err != nil || len(g.Entities) != 1 {
		t.Fatalf("OpenNodes(target) = %+v, %v", g, err)
	}
	have := map[string]bool{}
	for _, o := range g.Entities[0].Observations {
		have[o] = true
	}
	for i, err := range errs {
		obs := fmt.Sprintf("obs-%d", i)
		switch i % 3 {
		case 0:
			var nf *memory.EntityNotFoundError
			if !errors.As(err, &nf) || nf.Name != "missing" {
				t.Errorf("call %d: %v, want EntityNotFoundError(missing)", i, err)
			}
			if have[obs] {
				t.Errorf("call %d failed but its first addition %q was saved", i, obs)
			}
		case 1:
			if err != nil {
				t.Errorf("call %d (create): %v", i, err)
				continue
			}
			g, err := s.OpenNodes(ctx, []string{fmt.Sprintf("e-%d", i)})
			if err != nil || len(g.Entities) != 1 || len(g.Entities[0].Observations) != 1 {
				t.Errorf("call %d: created entity reads back as %+v, %v", i, g, err)
			}
		default:
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			} else if !have[obs] {
				t.Errorf("call %d was acknowledged but %q is missing", i, obs)
			}
		}
	}
	if want := calls / 3; len(have) != want {
		t.Errorf("target has %d observations, want %d", len(have), want)
	}
}

// TestBatchedCreateDeleteKeepsIndexesExact creates entities while other
// callers delete them, so that a create and a delete of the same entity
// share a write batch (whose full-text index rows are written at the end of
// the transaction, or before a delete), then creates others that may reuse
// the deleted row ids: afterwards both searches find exactly the entities
// that exist.
func TestBatchedCreateDeleteKeepsIndexesExact(t *testing.T) {
	s := open(t, sqlite.Config{})
	ctx := t.Context()
	const pairs = 48
	var wg sync.WaitGroup
	errs := make(chan error, pairs*64)
	for i := range pairs {
		gone := fmt.Sprintf("zqgone%02d", i)
		var created atomic.Bool
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer created.Store(true)
			if _, err := s.CreateEntities(ctx, []memory.Entity{{Name: gone, EntityType: "t", Observations: []string{"obsgone " + gone}}}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			for {
				done := created.Load()
				if err := s.DeleteEntities(ctx, []string{gone}); err != nil {
					errs <- err
					return
				}
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kept := fmt.Sprintf("zqkept%02d", i)
			if _, err := s.CreateEntities(ctx, []memory.Entity{{Name: kept, EntityType: "t", Observations: []string{"obskept " + kept}}}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, q := range []string{"zqgone", "obsgone"} {
		if g, err := s.SearchNodes(ctx, q); err != nil || len(g.Entities) != 0 {
			t.Errorf("SearchNodes(%q) after deleting them all = %d entities, %v", q, len(g.Entities), err)
		}
	}
	for _, q := range []string{"zqkept", "obskept"} {
		if g, err := s.SearchNodes(ctx, q); err != nil || len(g.Entities) != pairs {
			t.Errorf("SearchNodes(%q) = %d entities, %v; want %d", q, len(g.Entities), err, pairs)
		}
	}
	hits, err := s.SearchMemories(ctx, "obsgone", 1000)
	if err != nil || len(hits) != 0 {
		t.Errorf("SearchMemories(obsgone) = %d hits, %v; want 0", len(hits), err)
	}
	hits, err = s.SearchMemories(ctx, "obskept", 1000)
	if err != nil || len(hits) != pairs {
		t.Errorf("SearchMemories(obskept) = %d hits, %v; want %d", len(hits), err, pairs)
	}
}

// TestWritesAroundCloseFail closes the store while writers keep submitting:
// every write either succeeds or fails (none hangs until its acquire
// timeout, which is an hour here), and writes after Close fail as
// unavailable.
func TestWritesAroundCloseFail(t *testing.T) {
	s := open(t, sqlite.Config{AcquireTimeout: time.Hour, QueryTimeout: 2 * time.Hour})
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				_, err := s.CreateEntities(ctx, []memory.Entity{{Name: fmt.Sprintf("c-%d-%d", i, j), EntityType: "t"}})
				if err != nil {
					if !errors.Is(err, memory.ErrUnavailable) {
						t.Errorf("write while closing: %v, want ErrUnavailable", err)
					}
					return
				}
			}
		}()
	}
	waitFor(t, func() bool { return s.Stats().AcquireCount > 100 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_, err := s.CreateEntities(ctx, []memory.Entity{{Name: "late", EntityType: "t"}})
	if !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("write after Close: %v, want ErrUnavailable", err)
	}
}
