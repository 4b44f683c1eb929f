package postgres

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// observationsOf is the SQL of an entity's observations in creation order.
const observationsOf = `coalesce((SELECT array_agg(o.content ORDER BY o.id) FROM observations o WHERE o.entity_id = m.id), '{}')`

// graphSQL selects, in one statement (one snapshot), the entities matching
// cond (over entities e) and the relations touching them: kind 0 rows are
// entities (id, name, type, observations), kind 1 rows relations (id, from,
// to, {type}), each in creation order.
func graphSQL(cond string) string {
	return `WITH m AS (SELECT e.id, e.name, e.name_key, e.entity_type FROM entities e WHERE ` + cond + `)
	SELECT 0 AS kind, m.id, m.name, m.entity_type, ` + observationsOf + ` FROM m
	UNION ALL
	SELECT 1, r.id, r.from_name, r.to_name, ARRAY[r.relation_type] FROM relations r
	WHERE r.from_key = ANY(ARRAY(SELECT name_key FROM m)) OR r.to_key = ANY(ARRAY(SELECT name_key FROM m))
	ORDER BY 1, 2`
}

var (
	openNodesSQL = graphSQL(`e.name_key = ANY($1)`)
	// Patterns of three characters or more go through the trigram indexes
	// (migration 0002); shorter ones cannot use them and scan.
	searchNodesSQL      = graphSQL(`e.id IN (SELECT memory_search_candidates($1))`)
	searchNodesShortSQL = graphSQL(`e.id IN (
		SELECT id FROM entities WHERE name_fold LIKE $1 OR type_fold LIKE $1
		UNION
		SELECT entity_id FROM observations WHERE content_fold LIKE $1)`)
)

// queryGraph runs a graphSQL statement.
func queryGraph(ctx context.Context, conn *pgxpool.Conn, sql string, args ...any) (memory.Graph, error) {
	g := memory.Graph{Entities: []memory.Entity{}, Relations: []memory.Relation{}}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return g, err
	}
	defer rows.Close()
	var kind int32
	var id int64
	var a, b string
	var arr []string
	for rows.Next() {
		arr = nil
		if err := rows.Scan(&kind, &id, &a, &b, &arr); err != nil {
			return g, err
		}
		if kind == 0 {
			g.Entities = append(g.Entities, memory.Entity{Name: a, EntityType: b, Observations: storeutil.NonNil(arr)})
		} else if len(arr) == 1 {
			g.Relations = append(g.Relations, memory.Relation{From: a, To: b, RelationType: arr[0]})
		}
	}
	return g, rows.Err()
}

// ReadGraph returns the whole graph from one snapshot.
func (s *Store) ReadGraph(ctx context.Context) (memory.Graph, error) {
	g := memory.Graph{}
	err := s.inTx(ctx, "reading the graph", readOnly, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT m.name, m.entity_type, `+observationsOf+` FROM entities m ORDER BY m.id`)
		if err != nil {
			return err
		}
		g.Entities, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (memory.Entity, error) {
			var e memory.Entity
			err := r.Scan(&e.Name, &e.EntityType, &e.Observations)
			e.Observations = storeutil.NonNil(e.Observations)
			return e, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT from_name, to_name, relation_type FROM relations ORDER BY id`)
		if err != nil {
			return err
		}
		g.Relations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (memory.Relation, error) {
			var rel memory.Relation
			err := r.Scan(&rel.From, &rel.To, &rel.RelationType)
			return rel, err
		})
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	g.Entities, g.Relations = storeutil.NonNil(g.Entities), storeutil.NonNil(g.Relations)
	return g, nil
}

// SearchNodes is the case-insensitive substring search; see memory.Store.
//
// Patterns of three characters or more find their candidates through
// memory_search_candidates (migration 0002), which always uses the trigram
// indexes, so the statement's plan does not depend on the pattern and is
// cached. Shorter patterns cannot use trigrams: their statement goes with
// the simple protocol, so it is planned for every call with the pattern's
// value (whatever the session's plan_cache_mode).
func (s *Store) SearchNodes(ctx context.Context, query string) (memory.Graph, error) {
	m := storeutil.NewMatcher(query)
	var g memory.Graph
	err := s.one(ctx, "searching nodes", true, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		pattern := "%" + escapeLike(m.Folded()) + "%"
		if m.Runes() < 3 {
			g, err = queryGraph(ctx, conn, searchNodesShortSQL, pgx.QueryExecModeSimpleProtocol, pattern)
			return err
		}
		g, err = queryGraph(ctx, conn, searchNodesSQL, pattern)
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	// The exact re-check: keep the entities that really match, and the
	// relations touching one of them.
	kept := g.Entities[:0]
	names := make(map[string]bool, len(g.Entities))
	for _, e := range g.Entities {
		if m.MatchEntity(e.Name, e.EntityType, e.Observations) {
			kept = append(kept, e)
			names[e.Name] = true
		}
	}
	g.Entities = kept
	rels := g.Relations[:0]
	for _, r := range g.Relations {
		if names[r.From] || names[r.To] {
			rels = append(rels, r)
		}
	}
	g.Relations = rels
	return g, nil
}

// OpenNodes returns the named entities and the relations touching them.
func (s *Store) OpenNodes(ctx context.Context, names []string) (memory.Graph, error) {
	ks := keys(storeutil.Dedup(names))
	var g memory.Graph
	err := s.one(ctx, "opening nodes", true, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		g, err = queryGraph(ctx, conn, openNodesSQL, ks)
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// tsQuery turns free text into a tsquery: every word a quoted lexeme, any
// word may match.
func tsQuery(query string) string {
	words := strings.FieldsFunc(query, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	for i, w := range words {
		words[i] = "'" + w + "'" // letters and digits only: nothing to escape
	}
	return strings.Join(words, " | ")
}

const searchMemoriesSQL = `WITH q AS (SELECT to_tsquery('simple', $1) AS q),
	hits AS (SELECT e.id, e.name, e.entity_type, ts_rank(d.tsv, q.q) AS score
		FROM entity_documents d JOIN entities e ON e.id = d.entity_id, q
		WHERE d.tsv @@ q.q ORDER BY score DESC, e.id LIMIT $2)
	SELECT m.name, m.entity_type, ` + observationsOf + `, m.score::float8 FROM hits m ORDER BY m.score DESC, m.id`

// SearchMemories is the ranked full-text search; see memory.Store.
func (s *Store) SearchMemories(ctx context.Context, query string, limit int) ([]memory.ScoredEntity, error) {
	limit, err := storeutil.SearchLimit(limit)
	if err != nil {
		return nil, err
	}
	tsq := tsQuery(query)
	if tsq == "" {
		return []memory.ScoredEntity{}, nil
	}
	var out []memory.ScoredEntity
	err = s.one(ctx, "searching memories", true, func(ctx context.Context, conn *pgxpool.Conn) error {
		rows, err := conn.Query(ctx, searchMemoriesSQL, tsq, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (memory.ScoredEntity, error) {
			var e memory.ScoredEntity
			err := r.Scan(&e.Name, &e.EntityType, &e.Observations, &e.Score)
			e.Observations = storeutil.NonNil(e.Observations)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return storeutil.NonNil(out), nil
}

// FindRelated walks relations in either direction from q.Name, one query per
// hop, in one REPEATABLE READ transaction; see storeutil.Walk for the rules.
func (s *Store) FindRelated(ctx context.Context, q memory.FindRelatedQuery) (memory.Graph, error) {
	q, err := storeutil.RelatedQuery(q)
	if err != nil {
		return memory.Graph{}, err
	}
	var g memory.Graph
	err = s.inTx(ctx, "finding related entities", readOnly, func(ctx context.Context, tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM entities WHERE name_key = $1`, key(q.Name)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return &memory.EntityNotFoundError{Name: q.Name}
		}
		var types []string
		if len(q.RelationTypes) > 0 {
			types = q.RelationTypes
		}
		w := storeutil.NewWalk(q.Name, q.Limit)
		for depth := 0; depth < q.Depth && len(w.Frontier()) > 0; depth++ {
			rows, err := tx.Query(ctx, `SELECT id, from_name, to_name, relation_type FROM relations
				WHERE (from_key = ANY($1) OR to_key = ANY($1)) AND ($2::text[] IS NULL OR relation_type = ANY($2))`,
				keys(w.Frontier()), types)
			if err != nil {
				return fmt.Errorf("walking relations: %w", err)
			}
			edges, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storeutil.Edge, error) {
				var e storeutil.Edge
				err := r.Scan(&e.ID, &e.From, &e.To, &e.RelationType)
				return e, err
			})
			if err != nil {
				return fmt.Errorf("walking relations: %w", err)
			}
			w.Step(edges)
		}
		rows, err := tx.Query(ctx, `SELECT m.name, m.entity_type, `+observationsOf+` FROM entities m WHERE m.name_key = ANY($1) ORDER BY m.id`,
			keys(w.Visited()))
		if err != nil {
			return err
		}
		g.Entities, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (memory.Entity, error) {
			var e memory.Entity
			err := r.Scan(&e.Name, &e.EntityType, &e.Observations)
			e.Observations = storeutil.NonNil(e.Observations)
			return e, err
		})
		g.Relations = w.Relations()
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	g.Entities = storeutil.NonNil(g.Entities)
	return g, nil
}
