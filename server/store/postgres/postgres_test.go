package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/postgres"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

// open creates a fresh database and a Store on it.
func open(t *testing.T, cfg postgres.Config) (*postgres.Store, string) {
	t.Helper()
	dsn := storetest.CreateDatabase(t, storetest.PostgresAdminDSN(t))
	cfg.DSN = dsn
	s, err := postgres.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("postgres.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store {
		s, _ := open(t, postgres.Config{})
		return s
	})
}

// TestConformanceSimpleProtocol runs the suite as behind PgBouncer in
// transaction pooling mode: no prepared statements.
func TestConformanceSimpleProtocol(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store {
		s, _ := open(t, postgres.Config{StatementMode: "simple"})
		return s
	})
}

func TestStatementModes(t *testing.T) {
	for _, mode := range []string{"prepare", "cache_statement", "cache_describe", "describe", "exec", "simple"} {
		t.Run(mode, func(t *testing.T) {
			s, _ := open(t, postgres.Config{StatementMode: mode})
			if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{"o"}}}); err != nil {
				t.Fatal(err)
			}
			g, err := s.SearchNodes(t.Context(), "A")
			if err != nil || len(g.Entities) != 1 {
				t.Fatalf("SearchNodes: %+v, %v", g, err)
			}
		})
	}
	if _, err := postgres.ExecMode("bogus"); err == nil {
		t.Error("ExecMode(bogus) accepted")
	}
}

// TestPreparedStatementsKeepAGenericPlan runs every kind of call several
// times on one connection: each prepared statement must have been planned
// once, generically, and never again for its values (planning was most of
// open_nodes' database time; docs/benchmarks.md).
func TestPreparedStatementsKeepAGenericPlan(t *testing.T) {
	s, _ := open(t, postgres.Config{MaxConns: 1, MinConns: 1})
	ctx := t.Context()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		n := fmt.Sprintf("entity-%d", i)
		must(s.CreateEntities(ctx, []memory.Entity{{Name: n, EntityType: "t", Observations: []string{"first"}}}))
		must(s.CreateEntities(ctx, []memory.Entity{{Name: n + "-a", EntityType: "t"}, {Name: n + "-b", EntityType: "t"}}))
		must(s.AddObservations(ctx, []memory.ObservationAddition{{EntityName: n, Contents: []string{fmt.Sprint("obs ", i)}}}))
		must(s.CreateRelations(ctx, []memory.Relation{{From: n, To: n + "-a", RelationType: "knows"}}))
		must(s.OpenNodes(ctx, []string{n, n + "-a", "missing"}))
		must(s.SearchNodes(ctx, "entity-"))
		must(s.SearchNodes(ctx, "y-")) // under three characters: simple protocol, no prepared statement
		must(s.SearchMemories(ctx, "first obs", 5))
		must(s.FindRelated(ctx, memory.FindRelatedQuery{Name: n, Depth: 2}))
		must(s.ReadGraph(ctx))
	}
	stmts, err := s.PreparedStatements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) < 8 {
		t.Fatalf("only %d prepared statements after every kind of call: %+v", len(stmts), stmts)
	}
	for _, p := range stmts {
		if strings.Contains(p.SQL, "name_fold LIKE $1 OR") {
			t.Errorf("the short-fragment search was prepared; it must go with the simple protocol: %.80q", p.SQL)
		}
		if p.Custom != 0 || p.Generic == 0 {
			t.Errorf("%d custom and %d generic plans for %.100q", p.Custom, p.Generic, p.SQL)
		}
	}
}

// TestDSNChoosesPlanCacheMode: a plan_cache_mode in the DSN is kept.
func TestDSNChoosesPlanCacheMode(t *testing.T) {
	u, err := url.Parse(storetest.CreateDatabase(t, storetest.PostgresAdminDSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("plan_cache_mode", "force_custom_plan")
	u.RawQuery = q.Encode()
	s, err := postgres.New(t.Context(), postgres.Config{DSN: u.String(), MaxConns: 1, MinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for range 8 {
		if _, err := s.OpenNodes(t.Context(), []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
	}
	stmts, err := s.PreparedStatements(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range stmts {
		if strings.Contains(p.SQL, "name_key = ANY($1)") {
			found = true
			if p.Generic != 0 || p.Custom != 8 {
				t.Errorf("open_nodes: %d generic and %d custom plans under the DSN's force_custom_plan", p.Generic, p.Custom)
			}
		}
	}
	if !found {
		t.Errorf("open_nodes' statement is not among the prepared ones: %+v", stmts)
	}
}

func TestAcquireTimeoutIsBusy(t *testing.T) {
	s, dsn := open(t, postgres.Config{MaxConns: 1, MinConns: 1, AcquireTimeout: 100 * time.Millisecond})
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "locked", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	// Another session locks the entity row; our only pooled connection then
	// blocks in AddObservations, holding the pool.
	other, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM entities WHERE name = 'locked' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := s.AddObservations(t.Context(), []memory.ObservationAddition{{EntityName: "locked", Contents: []string{"x"}}})
		held <- err
	}()
	waitFor(t, func() bool { return s.Stats().Acquired == 1 })
	_, err = s.ReadGraph(t.Context())
	if !errors.Is(err, memory.ErrBusy) {
		t.Errorf("call on a saturated pool: %v, want ErrBusy", err)
	}
	if st := s.Stats(); st.CanceledAcquireCount < 1 {
		t.Errorf("stats after a timed-out acquire: %+v", st)
	}
	// The prober is not stuck behind the pool.
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping on a saturated pool: %v", err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-held; err != nil {
		t.Errorf("the held call after the lock was released: %v", err)
	}
}

func TestQueryTimeout(t *testing.T) {
	s, dsn := open(t, postgres.Config{QueryTimeout: 200 * time.Millisecond})
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(t.Context(), `LOCK TABLE relations IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateRelations(t.Context(), []memory.Relation{{From: "a", To: "b", RelationType: "r"}})
	if !errors.Is(err, memory.ErrTimeout) {
		t.Errorf("write blocked past the query timeout: %v, want ErrTimeout", err)
	}
	_ = tx.Rollback(t.Context())
	// The connection that timed out is usable again (or replaced).
	if _, err := s.CreateRelations(t.Context(), []memory.Relation{{From: "a", To: "b", RelationType: "r"}}); err != nil {
		t.Errorf("after the lock: %v", err)
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	_, err := postgres.New(t.Context(), postgres.Config{
		DSN:            "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable",
		AcquireTimeout: 2 * time.Second,
	})
	if !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("New against a closed port: %v, want ErrUnavailable", err)
	}
	_, err = postgres.New(t.Context(), postgres.Config{DSN: "postgres://user:s3cret@host:notaport/db"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad DSN: %v (must fail without quoting the password)", err)
	}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	dsn := storetest.CreateDatabase(t, storetest.PostgresAdminDSN(t))
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.New(t.Context(), postgres.Config{DSN: dsn})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	if _, err := stores[0].CreateEntities(t.Context(), []memory.Entity{{Name: "kept", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	again, err := postgres.New(t.Context(), postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("New on a migrated database: %v", err)
	}
	defer again.Close()
	g, err := again.ReadGraph(t.Context())
	if err != nil || len(g.Entities) != 1 {
		t.Errorf("data after re-migrating: %+v, %v", g, err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Errorf("schema_migrations rows = %d, %v; want one per migration file (%d)", n, err, len(files))
	}
}

func TestPingRedialsAfterTermination(t *testing.T) {
	s, dsn := open(t, postgres.Config{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Kill every other session of the database: the pool's and the prober's.
	if _, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	// The first ping may see the dead connection; the next one re-dials.
	_ = s.Ping(t.Context())
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the connection was terminated: %v", err)
	}
}

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

func TestCallsSurviveTerminatedConnections(t *testing.T) {
	s, dsn := open(t, postgres.Config{MaxConns: 4, MinConns: 4})
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{"kept"}}}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	terminate := func() {
		t.Helper()
		// Use every pooled connection, so none is idle long enough to be
		// pinged on acquire, then kill them all.
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = s.OpenNodes(t.Context(), []string{"a"})
			}()
		}
		wg.Wait()
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
	}
	terminate()
	// Reads are retried on a fresh connection.
	g, err := s.SearchNodes(t.Context(), "kep")
	if err != nil || len(g.Entities) != 1 {
		t.Errorf("SearchNodes after the connections were killed: %+v, %v", g, err)
	}
	if _, err := s.ReadGraph(t.Context()); err != nil {
		t.Errorf("ReadGraph after the connections were killed: %v", err)
	}
	terminate()
	// A write on a dead connection either went through or failed clearly;
	// the next one works.
	_, err = s.AddObservations(t.Context(), []memory.ObservationAddition{{EntityName: "a", Contents: []string{"maybe"}}})
	if err != nil && !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("write on a killed connection: %v, want success or ErrUnavailable", err)
	}
	if _, err := s.AddObservations(t.Context(), []memory.ObservationAddition{{EntityName: "a", Contents: []string{"after"}}}); err != nil {
		t.Errorf("write after the connections were killed: %v", err)
	}
}

// TestUpgradeMovesTheSearchDocuments builds a database of the schema before
// migration 0004 (documents in entities.tsv) with rows in it, then opens it:
// the documents move to entity_documents and the old entities stay
// searchable, rankable and writable.
func TestUpgradeMovesTheSearchDocuments(t *testing.T) {
	dsn := storetest.CreateDatabase(t, storetest.PostgresAdminDSN(t))
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_init.sql", "0002_search_candidates.sql", "0003_search_candidates_plpgsql.sql"} {
		sql, err := os.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, name); err != nil {
			t.Fatal(err)
		}
	}
	// Two entities as the store wrote them before 0004.
	if _, err := conn.Exec(ctx, `
		INSERT INTO entities (name, name_key, entity_type, name_fold, type_fold, tsv) VALUES
			('Old Alice', sha256('Old Alice'::bytea), 'person', 'old alice', 'person',
				setweight(to_tsvector('simple', 'Old Alice'), 'A') || setweight(to_tsvector('simple', 'person'), 'B') || setweight(to_tsvector('simple', 'plays the cello'), 'C')),
			('Old Bob', sha256('Old Bob'::bytea), 'person', 'old bob', 'person',
				setweight(to_tsvector('simple', 'Old Bob'), 'A') || setweight(to_tsvector('simple', 'person'), 'B') || setweight(to_tsvector('simple', 'cello maker, cello player'), 'C'));
		INSERT INTO observations (entity_id, content, content_key, content_fold)
			SELECT id, o, sha256(o::bytea), o FROM entities, unnest(CASE name WHEN 'Old Alice' THEN ARRAY['plays the cello'] ELSE ARRAY['cello maker', 'cello player'] END) AS o`,
		pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("New on a 0003 database: %v", err)
	}
	defer s.Close()
	hits, err := s.SearchMemories(ctx, "cello", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].Name != "Old Bob" || hits[1].Name != "Old Alice" {
		t.Fatalf("SearchMemories(cello) after the upgrade: %+v, want Old Bob (two mentions) then Old Alice", hits)
	}
	if _, err := s.AddObservations(ctx, []memory.ObservationAddition{{EntityName: "Old Alice", Contents: []string{"tunes harpsichords"}}}); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.SearchMemories(ctx, "harpsichords", 10); err != nil || len(hits) != 1 || hits[0].Name != "Old Alice" {
		t.Errorf("an observation added after the upgrade: %+v, %v", hits, err)
	}
	if err := s.DeleteObservations(ctx, []memory.ObservationDeletion{{EntityName: "Old Bob", Observations: []string{"cello maker", "cello player"}}}); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.SearchMemories(ctx, "cello", 10); err != nil || len(hits) != 1 || hits[0].Name != "Old Alice" {
		t.Errorf("after deleting Old Bob's cello observations: %+v, %v", hits, err)
	}
	if err := s.DeleteEntities(ctx, []string{"Old Alice"}); err != nil {
		t.Fatal(err)
	}
	var docs int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM entity_documents`).Scan(&docs); err != nil || docs != 1 {
		t.Errorf("entity_documents rows after deleting one of two entities: %d, %v", docs, err)
	}
}
