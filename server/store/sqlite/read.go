package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// minTrigramRunes is the shortest folded query the trigram index can answer.
const minTrigramRunes = 3

// SQL of the read paths, prepared on the reader connections.
const (
	condNames    = `e.name IN (SELECT value FROM json_each(?))`
	condIDs      = `e.id IN (SELECT value FROM json_each(?))`
	condTrigrams = `e.id IN (SELECT CASE WHEN t.rowid < 0 THEN -t.rowid
		ELSE (SELECT o.entity_id FROM observations o WHERE o.id = t.rowid) END
		FROM search_trgm t WHERE search_trgm MATCH ?)`

	sqlAllRelations      = `SELECT from_name, to_name, relation_type FROM relations ORDER BY id`
	sqlRelationsTouching = `SELECT from_name, to_name, relation_type FROM relations
		WHERE from_name IN (SELECT value FROM json_each(?1)) OR to_name IN (SELECT value FROM json_each(?1))
		ORDER BY id`
	// Entities rank by their best row: the name and type, or an observation.
	sqlRankMemories = `WITH hits AS MATERIALIZED (
			SELECT rowid AS r, bm25(memories_fts, 10.0, 3.0, 1.0) AS score FROM memories_fts WHERE memories_fts MATCH ?)
		SELECT CASE WHEN r < 0 THEN -r ELSE (SELECT o.entity_id FROM observations o WHERE o.id = r) END AS eid, -min(score)
		FROM hits GROUP BY eid ORDER BY min(score), eid LIMIT ?`
	sqlWalk = `SELECT id, from_name, to_name, relation_type FROM relations
		WHERE (from_name IN (SELECT value FROM json_each(?1)) OR to_name IN (SELECT value FROM json_each(?1)))`
	sqlWalkTyped = sqlWalk + ` AND relation_type IN (SELECT value FROM json_each(?2))`
)

// entitiesSQL selects the entities matching cond (over entities e; "" is
// all) in creation order, one row per observation (in creation order too).
func entitiesSQL(cond string) string {
	where := ""
	if cond != "" {
		where = ` WHERE ` + cond
	}
	return `SELECT e.id, e.name, e.entity_type, o.content FROM entities e LEFT JOIN observations o ON o.entity_id = e.id` +
		where + ` ORDER BY e.id, o.id`
}

// readSQL lists the statements prepared on the readers.
var readSQL = []string{
	entitiesSQL(""), entitiesSQL(condNames), entitiesSQL(condIDs), entitiesSQL(condTrigrams),
	sqlAllRelations, sqlRelationsTouching, sqlRankMemories,
	sqlWalk, sqlWalkTyped, sqlEntityID,
	sqlTrigramProbe,
}

// trigramCandidates loads the entities whose name, type or an observation
// holds every one of the rarest trigrams of folded (a superset of the
// matches, to re-check).
func (s *Store) trigramCandidates(ctx context.Context, tx txq, folded string) ([]entityRow, error) {
	match, err := s.trigrams.matchRarest(ctx, tx, folded)
	if err != nil {
		return nil, err
	}
	return loadEntities(ctx, tx, condTrigrams, match)
}

// jsonArray encodes values for json_each(?).
func jsonArray[T any](values []T) string {
	b, _ := json.Marshal(storeutil.NonNil(values)) // strings and ints cannot fail
	return string(b)
}

// entityRow is an entity with its row id.
type entityRow struct {
	id int64
	memory.Entity
}

// loadEntities returns the entities selected by cond (a WHERE clause on
// entities aliased e, with args), in creation order, with their observations.
func loadEntities(ctx context.Context, tx txq, cond string, args ...any) ([]entityRow, error) {
	rows, err := tx.QueryContext(ctx, entitiesSQL(cond), args...)
	if err != nil {
		return nil, fmt.Errorf("reading entities: %w", err)
	}
	out := []entityRow{}
	var id int64
	var name, typ string
	var obs sql.NullString
	for rows.Next() {
		if err := rows.Scan(&id, &name, &typ, &obs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading entities: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].id != id {
			out = append(out, entityRow{id: id, Entity: memory.Entity{Name: name, EntityType: typ, Observations: []string{}}})
		}
		if obs.Valid {
			last := &out[len(out)-1]
			last.Observations = append(last.Observations, obs.String)
		}
	}
	return out, closeRows(rows, "reading entities")
}

func closeRows(rows *sql.Rows, what string) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func plain(rows []entityRow) []memory.Entity {
	out := make([]memory.Entity, len(rows))
	for i, r := range rows {
		out[i] = r.Entity
	}
	return out
}

// relationsTouching returns the relations with at least one endpoint in
// names, in creation order.
func relationsTouching(ctx context.Context, tx txq, names []string) ([]memory.Relation, error) {
	if len(names) == 0 {
		return []memory.Relation{}, nil
	}
	return queryRelations(ctx, tx, sqlRelationsTouching, jsonArray(names))
}

func queryRelations(ctx context.Context, tx txq, q string, args ...any) ([]memory.Relation, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading relations: %w", err)
	}
	out := []memory.Relation{}
	for rows.Next() {
		var r memory.Relation
		if err := rows.Scan(&r.From, &r.To, &r.RelationType); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading relations: %w", err)
		}
		out = append(out, r)
	}
	return out, closeRows(rows, "reading relations")
}

func entityNames(rows []entityRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	return out
}

// ReadGraph returns the whole graph.
func (s *Store) ReadGraph(ctx context.Context) (memory.Graph, error) {
	var g memory.Graph
	err := s.read(ctx, "reading the graph", func(ctx context.Context, tx txq) error {
		rows, err := loadEntities(ctx, tx, "")
		if err != nil {
			return err
		}
		g.Entities = plain(rows)
		g.Relations, err = queryRelations(ctx, tx, sqlAllRelations)
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// ftsPhrase quotes s as one FTS5 phrase string.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// SearchNodes is the case-insensitive substring search; see memory.Store.
func (s *Store) SearchNodes(ctx context.Context, query string) (memory.Graph, error) {
	m := storeutil.NewMatcher(query)
	var g memory.Graph
	err := s.read(ctx, "searching nodes", func(ctx context.Context, tx txq) error {
		var candidates []entityRow
		var err error
		if m.Runes() < minTrigramRunes {
			candidates, err = loadEntities(ctx, tx, "")
		} else {
			candidates, err = s.trigramCandidates(ctx, tx, m.Folded())
		}
		if err != nil {
			return err
		}
		matched := candidates[:0]
		for _, c := range candidates {
			if m.MatchEntity(c.Name, c.EntityType, c.Observations) {
				matched = append(matched, c)
			}
		}
		g.Entities = plain(matched)
		g.Relations, err = relationsTouching(ctx, tx, entityNames(matched))
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// OpenNodes returns the named entities and the relations touching them.
func (s *Store) OpenNodes(ctx context.Context, names []string) (memory.Graph, error) {
	var g memory.Graph
	err := s.read(ctx, "opening nodes", func(ctx context.Context, tx txq) error {
		rows, err := loadEntities(ctx, tx, condNames, jsonArray(names))
		if err != nil {
			return err
		}
		g.Entities = plain(rows)
		g.Relations, err = relationsTouching(ctx, tx, entityNames(rows))
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// ftsTerms turns free text into an FTS5 query: every word quoted, any word
// may match (bm25 ranks documents matching more and rarer words first).
func ftsTerms(query string) string {
	words := strings.FieldsFunc(query, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	for i, w := range words {
		words[i] = ftsPhrase(w)
	}
	return strings.Join(words, " OR ")
}

// SearchMemories is the ranked full-text search; see memory.Store.
func (s *Store) SearchMemories(ctx context.Context, query string, limit int) ([]memory.ScoredEntity, error) {
	limit, err := storeutil.SearchLimit(limit)
	if err != nil {
		return nil, err
	}
	match := ftsTerms(query)
	out := []memory.ScoredEntity{}
	if match == "" {
		return out, nil
	}
	err = s.read(ctx, "searching memories", func(ctx context.Context, tx txq) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, sqlRankMemories, match, limit)
		if err != nil {
			return fmt.Errorf("ranking: %w", err)
		}
		var ids []int64
		scores := map[int64]float64{}
		for rows.Next() {
			var id int64
			var score float64
			if err := rows.Scan(&id, &score); err != nil {
				rows.Close()
				return fmt.Errorf("ranking: %w", err)
			}
			ids = append(ids, id)
			scores[id] = score
		}
		if err := closeRows(rows, "ranking"); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		ents, err := loadEntities(ctx, tx, condIDs, jsonArray(ids))
		if err != nil {
			return err
		}
		byID := make(map[int64]memory.Entity, len(ents))
		for _, e := range ents {
			byID[e.id] = e.Entity
		}
		for _, id := range ids {
			if e, ok := byID[id]; ok {
				out = append(out, memory.ScoredEntity{Entity: e, Score: scores[id]})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindRelated walks relations in either direction from q.Name; see
// memory.Store. Limit caps the names visited (the start included); the graph
// holds the visited names that are entities and the traversed relations
// whose both ends were visited.
func (s *Store) FindRelated(ctx context.Context, q memory.FindRelatedQuery) (memory.Graph, error) {
	q, err := storeutil.RelatedQuery(q)
	if err != nil {
		return memory.Graph{}, err
	}
	var g memory.Graph
	err = s.read(ctx, "finding related entities", func(ctx context.Context, tx txq) error {
		if _, ok, err := entityID(ctx, tx, q.Name); err != nil {
			return err
		} else if !ok {
			return &memory.EntityNotFoundError{Name: q.Name}
		}
		stmt := sqlWalk
		args := []any{nil}
		if len(q.RelationTypes) > 0 {
			stmt = sqlWalkTyped
			args = append(args, jsonArray(q.RelationTypes))
		}
		w := storeutil.NewWalk(q.Name, q.Limit)
		for depth := 0; depth < q.Depth && len(w.Frontier()) > 0; depth++ {
			args[0] = jsonArray(w.Frontier())
			rows, err := tx.QueryContext(ctx, stmt, args...)
			if err != nil {
				return fmt.Errorf("walking relations: %w", err)
			}
			var step []storeutil.Edge
			for rows.Next() {
				var e storeutil.Edge
				if err := rows.Scan(&e.ID, &e.From, &e.To, &e.RelationType); err != nil {
					rows.Close()
					return fmt.Errorf("walking relations: %w", err)
				}
				step = append(step, e)
			}
			if err := closeRows(rows, "walking relations"); err != nil {
				return err
			}
			w.Step(step)
		}
		ents, err := loadEntities(ctx, tx, condNames, jsonArray(w.Visited()))
		if err != nil {
			return err
		}
		g.Entities = plain(ents)
		g.Relations = w.Relations()
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}
