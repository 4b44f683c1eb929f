package neo4j

import (
	"context"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// ReadGraph returns the whole graph.
func (s *Store) ReadGraph(ctx context.Context) (memory.Graph, error) {
	var g memory.Graph
	err := s.read(ctx, "read_graph", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qAllEntities, nil)
		if err != nil {
			return err
		}
		g.Entities = recEntities(recs)
		recs, err = run(ctx, tx, qAllRelations, nil)
		if err != nil {
			return err
		}
		g.Relations = recRelations(recs)
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// SearchNodes finds entities by case-insensitive substring, through the
// TEXT index on the folded search property, re-checked field by field.
func (s *Store) SearchNodes(ctx context.Context, query string) (memory.Graph, error) {
	m := storeutil.NewMatcher(query)
	var g memory.Graph
	err := s.read(ctx, "search_nodes", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qSearchNodes, map[string]any{"query": m.Folded()})
		if err != nil {
			return err
		}
		g.Entities = []memory.Entity{}
		for _, e := range recEntities(recs) {
			if m.MatchEntity(e.Name, e.EntityType, e.Observations) {
				g.Entities = append(g.Entities, e)
			}
		}
		g.Relations, err = relationsTouching(ctx, tx, g.Entities)
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

func relationsTouching(ctx context.Context, tx neo4j.ManagedTransaction, entities []memory.Entity) ([]memory.Relation, error) {
	if len(entities) == 0 {
		return []memory.Relation{}, nil
	}
	names := make([]string, len(entities))
	for i, e := range entities {
		names[i] = e.Name
	}
	recs, err := run(ctx, tx, qRelationsTouching, map[string]any{"keys": nameKeys(names)})
	if err != nil {
		return nil, err
	}
	return recRelations(recs), nil
}

// OpenNodes returns the named entities and the relations touching them.
func (s *Store) OpenNodes(ctx context.Context, names []string) (memory.Graph, error) {
	g := memory.Graph{Entities: []memory.Entity{}, Relations: []memory.Relation{}}
	if len(names) == 0 {
		return g, nil
	}
	err := s.read(ctx, "open_nodes", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qEntitiesByName, map[string]any{"keys": nameKeys(storeutil.Dedup(names))})
		if err != nil {
			return err
		}
		g.Entities = recEntities(recs)
		g.Relations, err = relationsTouching(ctx, tx, g.Entities)
		return err
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

// SearchMemories is a ranked full-text search through the full-text index.
func (s *Store) SearchMemories(ctx context.Context, query string, limit int) ([]memory.ScoredEntity, error) {
	limit, err := storeutil.SearchLimit(limit)
	if err != nil {
		return nil, err
	}
	hits := []memory.ScoredEntity{}
	lucene := luceneQuery(query)
	if lucene == "" {
		return hits, nil
	}
	err = s.read(ctx, "search_memories", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qSearchMemories, map[string]any{"query": lucene, "limit": int64(limit)})
		if err != nil {
			return err
		}
		hits = hits[:0]
		for _, r := range recs {
			hits = append(hits, memory.ScoredEntity{Entity: recEntity(r), Score: recFloat(r, "score")})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}
