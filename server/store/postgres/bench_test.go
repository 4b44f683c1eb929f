package postgres_test

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memory-operator/memory-operator/server/mcp/mcptest"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/postgres"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

// benchEntities is the size of the seeded graph.
const benchEntities = 10000

// BenchmarkBareSQLVsStore runs the mixed workload (b.RunParallel, 32
// callers) and each operation alone on a 10,000-entity graph, each row first
// through the store ("<row>/Store") and right after as bare SQL
// ("<row>/BareSQL"): the statements the store sends, run directly through a
// pgxpool of the same size and statement mode, with none of the store's Go
// work (validation, folding, domain values, the re-check). Store/BareSQL is
// the store layer's overhead. cpu-ns/op counts this process only;
// db-cpu-ns/op the local PostgreSQL server's processes.
func BenchmarkBareSQLVsStore(b *testing.B) {
	dsn := storetest.CreateDatabase(b, storetest.PostgresAdminDSN(b))
	s, err := postgres.New(context.Background(), postgres.Config{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Seed(b, s, benchEntities)
	// The store's sessions keep one generic plan per statement (see
	// forceGenericPlans); so do the bare ones.
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	// db-cpu-ns/op counts PostgreSQL's processes when the server runs on
	// this machine (the DSN's host is local); elsewhere it reads 0.
	w := &storetest.Workload{N: benchEntities, DBProcess: "postgres"}
	bare := &bareSQL{w: w, pool: pool}
	// The whole server: the same operations as MCP tool calls over HTTP, one
	// session per caller.
	sessions := mcptest.Serve(b, s).NewPool(b, storetest.Clients)
	server := func(r *rand.Rand, op storetest.Op) error { _, err := sessions.Call(w.ToolCall(r, op)); return err }
	storetest.CompareWithBare(b, s, w, bare.do, server)
}

type bareSQL struct {
	w    *storetest.Workload
	pool *pgxpool.Pool
}

func key(s string) []byte {
	k := sha256.Sum256([]byte(s))
	return k[:]
}

func (x *bareSQL) do(r *rand.Rand, op storetest.Op) error {
	ctx := context.Background()
	switch op {
	case storetest.OpSearch:
		return x.readGraph(ctx, bareSearch, "%"+x.w.SearchQuery(r)+"%")
	case storetest.OpOpen:
		names := x.w.OpenNames(r)
		return x.readGraph(ctx, bareOpen, [][]byte{key(names[0]), key(names[1]), key(names[2])})
	case storetest.OpCreate:
		e := x.w.NewEntity()
		var n int
		return x.pool.QueryRow(ctx, bareInsertEntity, e.Name, key(e.Name), e.EntityType, e.Name, e.EntityType,
			e.Observations, [][]byte{key(e.Observations[0])}, e.Observations).Scan(&n)
	case storetest.OpObserve:
		a := x.w.NewObservation(r)
		var n int
		var added []string
		return x.pool.QueryRow(ctx, bareAddObservations, key(a.EntityName), a.Contents, [][]byte{key(a.Contents[0])}, a.Contents).Scan(&n, &added)
	case storetest.OpRelate:
		rel := x.w.NewRelation(r)
		rows, err := x.pool.Query(ctx, bareInsertRelations, []string{rel.From}, []string{rel.To}, []string{rel.RelationType},
			[][]byte{key(rel.From)}, [][]byte{key(rel.To)}, [][]byte{key(rel.From + "\x00" + rel.To + "\x00" + rel.RelationType)})
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
	return nil
}

func (x *bareSQL) readGraph(ctx context.Context, sql string, args ...any) error {
	rows, err := x.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var kind int32
	var id int64
	var a, b string
	var arr []string
	for rows.Next() {
		if err := rows.Scan(&kind, &id, &a, &b, &arr); err != nil {
			return err
		}
	}
	return rows.Err()
}

// The statements of the bare-SQL baseline: the store's, verbatim.
const (
	bareGraph = `WITH m AS (SELECT e.id, e.name, e.name_key, e.entity_type FROM entities e WHERE %s)
	SELECT 0 AS kind, m.id, m.name, m.entity_type, coalesce((SELECT array_agg(o.content ORDER BY o.id) FROM observations o WHERE o.entity_id = m.id), '{}') FROM m
	UNION ALL
	SELECT 1, r.id, r.from_name, r.to_name, ARRAY[r.relation_type] FROM relations r
	WHERE r.from_key = ANY(ARRAY(SELECT name_key FROM m)) OR r.to_key = ANY(ARRAY(SELECT name_key FROM m))
	ORDER BY 1, 2`
	bareInsertEntity = `WITH e AS (
	INSERT INTO entities (name, name_key, entity_type, name_fold, type_fold)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (name_key) DO NOTHING
	RETURNING id
), d AS (
	INSERT INTO entity_documents (entity_id, tsv)
	SELECT e.id, setweight(to_tsvector('simple', $1), 'A') || setweight(to_tsvector('simple', $3), 'B') || setweight(to_tsvector('simple', left(array_to_string($6::text[], ' '), 262144)), 'C') FROM e
), o AS (
	INSERT INTO observations (entity_id, content, content_key, content_fold)
	SELECT e.id, t.c, t.k, t.f FROM e, unnest($6::text[], $7::bytea[], $8::text[]) WITH ORDINALITY AS t(c, k, f, ord)
	ORDER BY t.ord
)
SELECT count(*) FROM e`
	bareAddObservations = `WITH e AS (
	SELECT id FROM entities WHERE name_key = $1
), ins AS (
	INSERT INTO observations (entity_id, content, content_key, content_fold)
	SELECT e.id, t.c, t.k, t.f FROM e, unnest($2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(c, k, f, ord)
	ORDER BY t.ord
	ON CONFLICT (entity_id, content_key) DO NOTHING
	RETURNING id, content
), upd AS (
	UPDATE entity_documents SET tsv = CASE WHEN pg_column_size(tsv) < 524288
		THEN tsv || setweight(to_tsvector('simple', left((SELECT string_agg(content, ' ' ORDER BY id) FROM ins), 262144)), 'C')
		ELSE tsv END
	WHERE entity_id = (SELECT id FROM e) AND EXISTS (SELECT 1 FROM ins)
)
SELECT (SELECT count(*) FROM e), coalesce((SELECT array_agg(content ORDER BY id) FROM ins), '{}')`
	bareInsertRelations = `INSERT INTO relations (from_name, to_name, relation_type, from_key, to_key, rel_key)
	SELECT f, t, r, fk, tk, rk FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bytea[])
		WITH ORDINALITY AS u(f, t, r, fk, tk, rk, ord)
	ORDER BY ord
	ON CONFLICT (rel_key) DO NOTHING
	RETURNING rel_key`
)

var (
	bareSearch = sprintf(bareGraph, `e.id IN (SELECT memory_search_candidates($1))`)
	bareOpen   = sprintf(bareGraph, `e.name_key = ANY($1)`)
)

func sprintf(format, cond string) string { return strings.Replace(format, "%s", cond, 1) }

// BenchmarkFootprint100k reports the store's (client-side) memory at
// 100,000 entities (run it alone: -bench Footprint -benchtime 1x).
func BenchmarkFootprint100k(b *testing.B) {
	storetest.Footprint(b, 100000, func(b *testing.B) memory.Store {
		dsn := storetest.CreateDatabase(b, storetest.PostgresAdminDSN(b))
		s, err := postgres.New(context.Background(), postgres.Config{DSN: dsn})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	})
}
