package neo4j

import (
	"context"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
)

// FindRelated walks breadth first from q.Name, one query per hop (at most
// memory.MaxDepth), so the work grows with the relations met rather than
// with the number of paths. A name that is not an entity is walked through
// but not returned.
func (s *Store) FindRelated(ctx context.Context, q memory.FindRelatedQuery) (memory.Graph, error) {
	depth := q.Depth
	if depth == 0 {
		depth = 1
	}
	if depth < 1 || depth > memory.MaxDepth {
		return memory.Graph{}, memory.InvalidArgument("depth must be between 1 and %d, got %d", memory.MaxDepth, q.Depth)
	}
	limit := q.Limit
	if limit < 0 {
		return memory.Graph{}, memory.InvalidArgument("limit must not be negative, got %d", q.Limit)
	}
	if limit == 0 {
		limit = defaultFindLimit
	}
	types := q.RelationTypes
	if types == nil {
		types = []string{}
	}
	var g memory.Graph
	err := s.read(ctx, "find_related", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		recs, err := run(ctx, tx, qFindStart, map[string]any{"name": q.Name})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return &memory.EntityNotFoundError{Name: q.Name}
		}
		dist := map[string]int{q.Name: 0}
		visited := []string{q.Name}
		type hopRel struct {
			rel memory.Relation
			seq int64
		}
		var rels []hopRel
		seenRel := map[memory.Relation]bool{}
		frontier := []string{q.Name}
		for hop := 1; hop <= depth && len(frontier) > 0; hop++ {
			recs, err := run(ctx, tx, qHop, map[string]any{"frontier": frontier, "types": types})
			if err != nil {
				return err
			}
			var next []string
			for _, r := range recs {
				rel := recRelation(r)
				if !seenRel[rel] {
					seenRel[rel] = true
					rels = append(rels, hopRel{rel: rel, seq: recInt(r, "seq")})
				}
				n := recString(r, "next")
				if _, ok := dist[n]; !ok {
					dist[n] = hop
					visited = append(visited, n)
					next = append(next, n)
				}
			}
			frontier = next
		}
		ents, err := run(ctx, tx, qEntitiesByName, map[string]any{"names": visited})
		if err != nil {
			return err
		}
		entities := recEntities(ents) // by creation
		slices.SortStableFunc(entities, func(a, b memory.Entity) int { return dist[a.Name] - dist[b.Name] })
		isEntity := map[string]bool{}
		for _, e := range entities {
			isEntity[e.Name] = true
		}
		if len(entities) > limit {
			entities = entities[:limit]
		}
		kept := map[string]bool{}
		for _, e := range entities {
			kept[e.Name] = true
		}
		keep := func(name string) bool { return kept[name] || !isEntity[name] }
		slices.SortStableFunc(rels, func(a, b hopRel) int { return compareInt64(a.seq, b.seq) })
		g = memory.Graph{Entities: entities, Relations: []memory.Relation{}}
		for _, r := range rels {
			if keep(r.rel.From) && keep(r.rel.To) {
				g.Relations = append(g.Relations, r.rel)
			}
		}
		return nil
	})
	if err != nil {
		return memory.Graph{}, err
	}
	return g, nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Import merges g in one transaction: absent entities created, absent
// observations appended to existing ones, absent relations created.
func (s *Store) Import(ctx context.Context, g memory.Graph) (memory.ImportResult, error) {
	for _, e := range g.Entities {
		if e.Name == "" {
			return memory.ImportResult{}, memory.InvalidArgument("an entity name must not be empty")
		}
	}
	if err := validRelations(g.Relations); err != nil {
		return memory.ImportResult{}, err
	}
	relations := distinctRelations(g.Relations)
	var res memory.ImportResult
	if len(g.Entities) == 0 && len(relations) == 0 {
		return res, nil
	}
	err := s.write(ctx, "import", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		res = memory.ImportResult{}
		base, err := reserve(ctx, tx, len(g.Entities)+len(relations))
		if err != nil {
			return err
		}
		names := make([]string, 0, len(g.Entities))
		for _, e := range g.Entities {
			names = append(names, e.Name)
		}
		current, order, err := entitiesByName(ctx, tx, names)
		if err != nil {
			return err
		}
		var fresh []memory.Entity
		freshIndex := map[string]int{}
		changed := map[string]bool{}
		for _, e := range g.Entities {
			if cur, ok := current[e.Name]; ok {
				for _, o := range e.Observations {
					if !slices.Contains(cur.Observations, o) {
						cur.Observations = append(cur.Observations, o)
						changed[e.Name] = true
						res.Observations++
					}
				}
				current[e.Name] = cur
				continue
			}
			i, ok := freshIndex[e.Name]
			if !ok {
				i = len(fresh)
				freshIndex[e.Name] = i
				fresh = append(fresh, memory.Entity{Name: e.Name, EntityType: e.EntityType, Observations: []string{}})
			}
			for _, o := range e.Observations {
				if !slices.Contains(fresh[i].Observations, o) {
					fresh[i].Observations = append(fresh[i].Observations, o)
					res.Observations++
				}
			}
		}
		if len(fresh) > 0 {
			made, err := insertEntities(ctx, tx, fresh, base)
			if err != nil {
				return err
			}
			res.Entities = len(made)
		}
		if err := setObservations(ctx, tx, current, order, changed); err != nil {
			return err
		}
		if len(relations) > 0 {
			made, err := insertRelations(ctx, tx, relations, base+int64(len(g.Entities)))
			if err != nil {
				return err
			}
			res.Relations = len(made)
		}
		return nil
	})
	if err != nil {
		return memory.ImportResult{}, err
	}
	return res, nil
}
