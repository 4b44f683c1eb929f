package neo4j

import (
	"context"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// FindRelated walks breadth first from q.Name, one query per hop (at most
// memory.MaxDepth), so the work grows with the relations met rather than with
// the number of paths; storeutil.Walk keeps the bookkeeping of the SQL
// backends (visiting order, limit, relations among visited names). A name
// that is not an entity is walked through but not returned.
func (s *Store) FindRelated(ctx context.Context, q memory.FindRelatedQuery) (memory.Graph, error) {
	q, err := storeutil.RelatedQuery(q)
	if err != nil {
		return memory.Graph{}, err
	}
	types := storeutil.NonNil(q.RelationTypes)
	var g memory.Graph
	err = s.read(ctx, "find_related", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qFindStart, map[string]any{"key": nameKey(q.Name)})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return &memory.EntityNotFoundError{Name: q.Name}
		}
		w := storeutil.NewWalk(q.Name, q.Limit)
		for hop := 0; hop < q.Depth && len(w.Frontier()) > 0; hop++ {
			recs, err := run(ctx, tx, qHop, map[string]any{"frontier": nameKeys(w.Frontier()), "types": types})
			if err != nil {
				return err
			}
			edges := make([]storeutil.Edge, 0, len(recs))
			for _, r := range recs {
				edges = append(edges, storeutil.Edge{ID: recInt(r, "seq"), Relation: recRelation(r)})
			}
			w.Step(edges)
		}
		recs, err = run(ctx, tx, qEntitiesByName, map[string]any{"keys": nameKeys(w.Visited())})
		if err != nil {
			return err
		}
		g = memory.Graph{Entities: recEntities(recs), Relations: w.Relations()}
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}
