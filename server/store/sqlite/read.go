package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// minTrigramRunes is the shortest folded query the trigram index can answer.
const minTrigramRunes = 3

// SQL of the read paths, prepared on the reader connections: the ranking of
// search_memories (the other reads are served by the in-memory graph).
const (
	// Entities rank by their best row: the name and type, or an observation.
	sqlRankMemories = `WITH hits AS MATERIALIZED (
			SELECT rowid AS r, bm25(memories_fts, 10.0, 3.0, 1.0) AS score FROM memories_fts WHERE memories_fts MATCH ?)
		SELECT eid, -min(score), (SELECT name FROM entities WHERE id = eid) FROM (
			SELECT CASE WHEN r < 0 THEN -r ELSE (SELECT o.entity_id FROM observations o WHERE o.id = r) END AS eid, score FROM hits)
		GROUP BY eid ORDER BY min(score), eid LIMIT ?`
)

// readSQL lists the statements prepared on the readers.
var readSQL = []string{sqlRankMemories}

// view runs fn on the in-memory graph under its read lock.
func (s *Store) view(ctx context.Context, op string, fn func(g *graph) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("while %s: %w", op, mapError(ctx, err))
	}
	if s.closed.Load() {
		return fmt.Errorf("while %s: %w", op, errClosed)
	}
	g := s.graph.Load()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return fn(g)
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

// ReadGraph returns the whole graph. It copies under the read lock and sorts
// after it, so that writers wait for a copy of the graph, not for a sort.
func (s *Store) ReadGraph(ctx context.Context) (memory.Graph, error) {
	type idEntity struct {
		id int64
		memory.Entity
	}
	var ents []idEntity
	var rels []gRelation
	err := s.view(ctx, "reading the graph", func(g *graph) error {
		ents = make([]idEntity, 0, len(g.byName))
		for _, e := range g.slots {
			if e != nil {
				ents = append(ents, idEntity{e.id, e.entity()})
			}
		}
		for name, list := range g.relsOf {
			for _, r := range list {
				if r.From == name { // each relation once, from its source's list
					rels = append(rels, *r)
				}
			}
		}
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	slices.SortFunc(ents, func(a, b idEntity) int { return cmp.Compare(a.id, b.id) })
	slices.SortFunc(rels, func(a, b gRelation) int { return cmp.Compare(a.id, b.id) })
	out := memory.Graph{Entities: make([]memory.Entity, len(ents)), Relations: make([]memory.Relation, len(rels))}
	for i, e := range ents {
		out.Entities[i] = e.Entity
	}
	for i, r := range rels {
		out.Relations[i] = r.Relation
	}
	return out, nil
}

// ftsPhrase quotes s as one FTS5 phrase string.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// SearchNodes is the case-insensitive substring search; see memory.Store.
func (s *Store) SearchNodes(ctx context.Context, query string) (memory.Graph, error) {
	m := storeutil.NewMatcher(query)
	var out memory.Graph
	err := s.view(ctx, "searching nodes", func(g *graph) error {
		var matched []*gEntity
		check := func(e *gEntity) {
			if m.MatchEntity(e.name, e.typ, e.obs) {
				matched = append(matched, e)
			}
		}
		if m.Runes() < minTrigramRunes {
			for _, e := range g.slots {
				if e != nil {
					check(e)
				}
			}
		} else {
			g.index.candidates(m.Folded(), func(slot uint32) bool {
				check(g.slots[slot])
				return true
			})
		}
		out = memory.Graph{Entities: entitiesOf(matched), Relations: g.relationsTouching(matched)}
		return nil
	})
	return out, err
}

// OpenNodes returns the named entities and the relations touching them.
func (s *Store) OpenNodes(ctx context.Context, names []string) (memory.Graph, error) {
	var out memory.Graph
	err := s.view(ctx, "opening nodes", func(g *graph) error {
		found := make([]*gEntity, 0, len(names))
		for _, n := range names {
			if e := g.byName[n]; e != nil && !slices.Contains(found, e) {
				found = append(found, e)
			}
		}
		out = memory.Graph{Entities: entitiesOf(found), Relations: g.relationsTouching(found)}
		return nil
	})
	return out, err
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
	type hit struct {
		id    int64
		score float64
		name  sql.NullString
	}
	var hits []hit
	err = s.read(ctx, "searching memories", func(ctx context.Context, tx txq) error {
		hits = hits[:0]
		rows, err := tx.QueryContext(ctx, sqlRankMemories, match, limit)
		if err != nil {
			return fmt.Errorf("ranking: %w", err)
		}
		for rows.Next() {
			var h hit
			if err := rows.Scan(&h.id, &h.score, &h.name); err != nil {
				rows.Close()
				return fmt.Errorf("ranking: %w", err)
			}
			hits = append(hits, h)
		}
		return closeRows(rows, "ranking")
	})
	if err != nil {
		return nil, err
	}
	// The entities from the graph, by name and row id: one that changed
	// between the ranking and here (deleted, or deleted and its row id
	// reused) is left out, as if the ranking had come a moment later.
	err = s.view(ctx, "searching memories", func(g *graph) error {
		for _, h := range hits {
			if e := g.byName[h.name.String]; h.name.Valid && e != nil && e.id == h.id {
				out = append(out, memory.ScoredEntity{Entity: e.entity(), Score: h.score})
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
	var out memory.Graph
	err = s.view(ctx, "finding related entities", func(g *graph) error {
		if g.byName[q.Name] == nil {
			return &memory.EntityNotFoundError{Name: q.Name}
		}
		w := storeutil.NewWalk(q.Name, q.Limit)
		for depth := 0; depth < q.Depth && len(w.Frontier()) > 0; depth++ {
			var step []storeutil.Edge
			seen := map[int64]bool{}
			for _, n := range w.Frontier() {
				for _, r := range g.relsOf[n] {
					if seen[r.id] || (len(q.RelationTypes) > 0 && !slices.Contains(q.RelationTypes, r.RelationType)) {
						continue
					}
					seen[r.id] = true
					step = append(step, storeutil.Edge{ID: r.id, Relation: r.Relation})
				}
			}
			w.Step(step)
		}
		var visited []*gEntity
		for _, n := range w.Visited() {
			if e := g.byName[n]; e != nil {
				visited = append(visited, e)
			}
		}
		out = memory.Graph{Entities: entitiesOf(visited), Relations: w.Relations()}
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return out, nil
}
