package neo4j

import (
	"context"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// Import merges g in one transaction: absent entities created, absent
// observations appended to existing ones, absent relations created.
func (s *Store) Import(ctx context.Context, g memory.Graph) (memory.ImportResult, error) {
	if err := storeutil.ValidateGraph(g); err != nil {
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
