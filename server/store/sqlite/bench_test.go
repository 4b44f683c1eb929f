package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/mcp/mcptest"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

// benchEntities is the size of the seeded graph.
const benchEntities = 10000

// BenchmarkBareSQLVsStore runs the mixed workload (b.RunParallel, 32
// callers) and each operation alone on a 10,000-entity graph, each row first
// through the store ("<row>/Store") and right after as bare SQL
// ("<row>/BareSQL"): the statements that answer the same calls from the
// file alone, run directly through database/sql on the same writer/reader
// split with prepared statements, one transaction per call, and none of
// the store's Go work (validation, folding, re-check, domain values). The
// bare reads are SQL, where the store reads its in-memory graph; the bare
// search uses an FTS5 trigram index (bare_trgm, created here and written by
// the bare writes: the store before its in-memory graph). Store/BareSQL is
// what the store costs against answering from SQL.
func BenchmarkBareSQLVsStore(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	// No background merge: both sides read the same index.
	s, err := sqlite.New(context.Background(), sqlite.Config{Path: path, IndexMergeInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Seed(b, s, benchEntities)
	base := path + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(normal)"
	writer, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer writer.Close()
	writer.SetMaxOpenConns(1)
	for _, q := range bareSetup {
		if _, err := writer.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	readers, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	defer readers.Close()
	readers.SetMaxOpenConns(sqlite.DefaultMaxReaders())
	readers.SetMaxIdleConns(sqlite.DefaultMaxReaders())
	w := &storetest.Workload{N: benchEntities}
	bare := &bareSQL{w: w, writer: writer, readers: readers,
		stmts: map[*sql.DB]map[string]*sql.Stmt{writer: {}, readers: {}}}
	for db, queries := range map[*sql.DB][]string{writer: bareWrites, readers: bareReads} {
		for _, q := range queries {
			st, err := db.Prepare(q)
			if err != nil {
				b.Fatal(err)
			}
			bare.stmts[db][q] = st
		}
	}
	// The whole server: the same operations as MCP tool calls over HTTP, one
	// session per caller.
	sessions := mcptest.Serve(b, s).NewPool(b, storetest.Clients)
	server := func(r *rand.Rand, op storetest.Op) error { _, err := sessions.Call(w.ToolCall(r, op)); return err }
	storetest.CompareWithBare(b, s, w, bare.do, server)
}

type bareSQL struct {
	w       *storetest.Workload
	writer  *sql.DB
	readers *sql.DB
	stmts   map[*sql.DB]map[string]*sql.Stmt
}

// ptx is a transaction running statements prepared once per handle, as
// the store does.
type ptx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (t ptx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.StmtContext(ctx, t.stmts[q]).QueryContext(ctx, args...)
}

func (t ptx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.StmtContext(ctx, t.stmts[q]).QueryRowContext(ctx, args...)
}

func (t ptx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.StmtContext(ctx, t.stmts[q]).ExecContext(ctx, args...)
}

func (x *bareSQL) do(r *rand.Rand, op storetest.Op) error {
	ctx := context.Background()
	db := x.readers
	if op >= storetest.OpCreate {
		db = x.writer
	}
	sqltx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqltx.Rollback() //nolint:errcheck
	tx := ptx{Tx: sqltx, stmts: x.stmts[db]}
	switch op {
	case storetest.OpSearch:
		// A candidate query on the rarest trigrams of this workload's
		// fragment (its last digits), re-checked by nothing.
		q := []rune(x.w.SearchQuery(r))
		n := len(q)
		match := `"` + string(q[n-3:]) + `" AND "` + string(q[n-4:n-1]) + `" AND "` + string(q[n-5:n-2]) + `"`
		err = x.readEntities(ctx, tx, bareSearch, match)
	case storetest.OpOpen:
		names, _ := json.Marshal(x.w.OpenNames(r))
		err = x.readEntities(ctx, tx, bareOpen, string(names))
	case storetest.OpCreate:
		e := x.w.NewEntity()
		var id int64
		if err = tx.QueryRowContext(ctx, bareInsertEntity, e.Name, e.EntityType).Scan(&id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, bareIndexEntity, id, e.Name, e.EntityType); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, bareRankEntity, id, e.Name, e.EntityType); err != nil {
			return err
		}
		err = bareObservation(ctx, tx, id, e.Observations[0])
	case storetest.OpObserve:
		a := x.w.NewObservation(r)
		var id int64
		if err = tx.QueryRowContext(ctx, bareEntityID, a.EntityName).Scan(&id); err != nil {
			return err
		}
		err = bareObservation(ctx, tx, id, a.Contents[0])
	case storetest.OpRelate:
		rel := x.w.NewRelation(r)
		_, err = tx.ExecContext(ctx, bareInsertRelation, rel.From, rel.To, rel.RelationType)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

func bareObservation(ctx context.Context, tx ptx, id int64, content string) error {
	var oid int64
	if err := tx.QueryRowContext(ctx, bareInsertObservation, id, content).Scan(&oid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, bareIndexObservation, oid, content); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, bareRankObservation, oid, content)
	return err
}

// readEntities runs the store's two read statements: the entities with
// their observations, the relations touching them.
func (x *bareSQL) readEntities(ctx context.Context, tx ptx, query string, arg any) error {
	rows, err := tx.QueryContext(ctx, query, arg)
	if err != nil {
		return err
	}
	var names []string
	var last int64 = -1
	for rows.Next() {
		var id int64
		var name, typ string
		var c sql.NullString
		if err := rows.Scan(&id, &name, &typ, &c); err != nil {
			return err
		}
		if id != last {
			names, last = append(names, name), id
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	nj, _ := json.Marshal(storeutil.NonNil(names))
	rows, err = tx.QueryContext(ctx, bareRelations, string(nj))
	if err != nil {
		return err
	}
	for rows.Next() {
		var f, t, y string
		if err := rows.Scan(&f, &t, &y); err != nil {
			return err
		}
	}
	return rows.Close()
}

// The statements of the bare-SQL baseline: the store's writes verbatim, its
// reads as SQL.
const (
	bareSearch = `SELECT e.id, e.name, e.entity_type, o.content FROM entities e LEFT JOIN observations o ON o.entity_id = e.id
		WHERE e.id IN (SELECT CASE WHEN t.rowid < 0 THEN -t.rowid ELSE (SELECT o.entity_id FROM observations o WHERE o.id = t.rowid) END
			FROM bare_trgm t WHERE bare_trgm MATCH ?) ORDER BY e.id, o.id`
	bareOpen = `SELECT e.id, e.name, e.entity_type, o.content FROM entities e LEFT JOIN observations o ON o.entity_id = e.id
		WHERE e.name IN (SELECT value FROM json_each(?)) ORDER BY e.id, o.id`
	bareRelations = `SELECT from_name, to_name, relation_type FROM relations
		WHERE from_name IN (SELECT value FROM json_each(?1)) OR to_name IN (SELECT value FROM json_each(?1)) ORDER BY id`
	bareInsertEntity      = `INSERT INTO entities (name, entity_type) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`
	bareIndexEntity       = `INSERT INTO bare_trgm (rowid, a, b) VALUES (-?1, ?2, ?3)`
	bareRankEntity        = `INSERT INTO memories_fts (rowid, name, entity_type, content) VALUES (-?1, ?2, ?3, '')`
	bareEntityID          = `SELECT id FROM entities WHERE name = ?`
	bareInsertRelation    = `INSERT INTO relations (from_name, to_name, relation_type) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	bareInsertObservation = `INSERT INTO observations (entity_id, content) VALUES (?, ?) ON CONFLICT (entity_id, content) DO NOTHING RETURNING id`
	bareIndexObservation  = `INSERT INTO bare_trgm (rowid, a, b) VALUES (?, ?, '')`
	bareRankObservation   = `INSERT INTO memories_fts (rowid, name, entity_type, content) VALUES (?, '', '', ?)`
)

// bareSetup creates and fills the bare side's trigram index (the workload's
// text is ASCII, so lower() folds as the store does).
var bareSetup = []string{
	`CREATE VIRTUAL TABLE bare_trgm USING fts5 (a, b, content = '', contentless_delete = 1, detail = none,
		tokenize = 'trigram case_sensitive 1')`,
	`INSERT INTO bare_trgm (rowid, a, b) SELECT -id, lower(name), lower(entity_type) FROM entities`,
	`INSERT INTO bare_trgm (rowid, a, b) SELECT id, lower(content), '' FROM observations`,
	`INSERT INTO bare_trgm (bare_trgm) VALUES ('optimize')`,
}

var (
	bareReads  = []string{bareSearch, bareOpen, bareRelations}
	bareWrites = []string{bareInsertEntity, bareIndexEntity, bareRankEntity, bareEntityID, bareInsertRelation,
		bareInsertObservation, bareIndexObservation, bareRankObservation}
)

// BenchmarkFootprint100k reports the store's memory at 100,000 entities
// (run it alone: go test -run '^$' -bench Footprint -benchtime 1x).
func BenchmarkFootprint100k(b *testing.B) {
	storetest.Footprint(b, 100000, func(b *testing.B) memory.Store {
		s, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "fp.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// BenchmarkReopen100k reports how long New takes on a file of 100,000
// entities (it loads the in-memory graph: "open-s") and the Go heap the
// open store holds ("heap-MiB", the graph for the most part). Run it alone:
// go test -run '^$' -bench Reopen -benchtime 1x.
func BenchmarkReopen100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "reopen.db")
	s, err := sqlite.New(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	storetest.Seed(b, s, 100000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		s, err := sqlite.New(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		open := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(open.Seconds(), "open-s")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "heap-MiB")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
