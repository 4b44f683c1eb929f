package neo4j

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// run sends one query and collects its records.
func run(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// reserve locks the sequence node and reserves count sequence numbers.
func reserve(ctx context.Context, tx neo4j.ManagedTransaction, count int) (int64, error) {
	recs, err := run(ctx, tx, qReserve, map[string]any{"count": int64(max(count, 1))})
	if err != nil {
		return 0, err
	}
	if len(recs) != 1 {
		return 0, fmt.Errorf("the sequence node returned %d rows", len(recs))
	}
	return recInt(recs[0], "base"), nil
}

// nameKey is the key property of a name's node: the hex SHA-256 of the
// name, short enough for the uniqueness constraint's index whatever the
// name's length.
func nameKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func nameKeys(names []string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = nameKey(n)
	}
	return keys
}

func entityParam(e memory.Entity, seq int64) map[string]any {
	obs := storeutil.NonNil(e.Observations)
	return map[string]any{
		"key":             nameKey(e.Name),
		"name":            e.Name,
		"entityType":      e.EntityType,
		"observations":    obs,
		"seq":             seq,
		"search":          searchText(e.Name, e.EntityType, obs),
		"observationText": observationText(obs),
	}
}

func updateParam(e memory.Entity) map[string]any {
	obs := storeutil.NonNil(e.Observations)
	return map[string]any{
		"key":             nameKey(e.Name),
		"observations":    obs,
		"search":          searchText(e.Name, e.EntityType, obs),
		"observationText": observationText(obs),
	}
}

func relationParam(r memory.Relation, seq int64, position int) map[string]any {
	return map[string]any{
		"source":       r.From,
		"sourceKey":    nameKey(r.From),
		"target":       r.To,
		"targetKey":    nameKey(r.To),
		"relationType": r.RelationType,
		"seq":          seq,
		"position":     int64(position),
	}
}

// CreateEntities creates the entities whose name is new, in one transaction.
func (s *Store) CreateEntities(ctx context.Context, entities []memory.Entity) ([]memory.Entity, error) {
	if err := storeutil.ValidateEntities(entities); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(entities))
	var candidates []memory.Entity
	for _, e := range entities {
		if !seen[e.Name] {
			seen[e.Name] = true
			e.Observations = storeutil.Dedup(e.Observations)
			candidates = append(candidates, e)
		}
	}
	created := []memory.Entity{}
	if len(candidates) == 0 {
		return created, nil
	}
	err := s.write(ctx, "create_entities", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		names, err := createEntities(ctx, tx, candidates)
		if err != nil {
			return err
		}
		created = created[:0]
		for _, e := range candidates {
			if names[e.Name] {
				created = append(created, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// createEntities reserves sequence numbers and creates the absent ones among
// entities (distinct names), returning the names created.
func createEntities(ctx context.Context, tx neo4j.ManagedTransaction, entities []memory.Entity) (map[string]bool, error) {
	base, err := reserve(ctx, tx, len(entities))
	if err != nil {
		return nil, err
	}
	return insertEntities(ctx, tx, entities, base)
}

func insertEntities(ctx context.Context, tx neo4j.ManagedTransaction, entities []memory.Entity, base int64) (map[string]bool, error) {
	rows := make([]map[string]any, len(entities))
	for i, e := range entities {
		rows[i] = entityParam(e, base+int64(i))
	}
	recs, err := run(ctx, tx, qCreateEntities, map[string]any{"entities": rows})
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(recs))
	for _, r := range recs {
		names[recString(r, "name")] = true
	}
	return names, nil
}

// CreateRelations creates the relations not present yet, in one transaction.
func (s *Store) CreateRelations(ctx context.Context, relations []memory.Relation) ([]memory.Relation, error) {
	if err := storeutil.ValidateRelations(relations); err != nil {
		return nil, err
	}
	candidates := distinctRelations(relations)
	created := []memory.Relation{}
	if len(candidates) == 0 {
		return created, nil
	}
	err := s.write(ctx, "create_relations", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		base, err := reserve(ctx, tx, len(candidates))
		if err != nil {
			return err
		}
		created, err = insertRelations(ctx, tx, candidates, base)
		return err
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

func distinctRelations(relations []memory.Relation) []memory.Relation {
	seen := make(map[memory.Relation]bool, len(relations))
	var out []memory.Relation
	for _, r := range relations {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// insertRelations creates the absent ones among relations (distinct) and
// returns them in input order.
func insertRelations(ctx context.Context, tx neo4j.ManagedTransaction, relations []memory.Relation, base int64) ([]memory.Relation, error) {
	rows := make([]map[string]any, len(relations))
	for i, r := range relations {
		rows[i] = relationParam(r, base+int64(i), i)
	}
	recs, err := run(ctx, tx, qCreateRelations, map[string]any{"relations": rows})
	if err != nil {
		return nil, err
	}
	made := make([]bool, len(relations))
	for _, r := range recs {
		if p := recInt(r, "position"); p >= 0 && int(p) < len(made) {
			made[p] = true
		}
	}
	out := []memory.Relation{}
	for i, r := range relations {
		if made[i] {
			out = append(out, r)
		}
	}
	return out, nil
}

// AddObservations appends the absent observations; an unknown entity fails
// the whole call and nothing is saved.
func (s *Store) AddObservations(ctx context.Context, additions []memory.ObservationAddition) ([]memory.ObservationResult, error) {
	if err := storeutil.ValidateAdditions(additions); err != nil {
		return nil, err
	}
	results := []memory.ObservationResult{}
	if len(additions) == 0 {
		return results, nil
	}
	err := s.write(ctx, "add_observations", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		if _, err := reserve(ctx, tx, 1); err != nil { // the writers' lock
			return err
		}
		names := make([]string, 0, len(additions))
		for _, a := range additions {
			names = append(names, a.EntityName)
		}
		current, order, err := entitiesByName(ctx, tx, names)
		if err != nil {
			return err
		}
		for _, a := range additions {
			if _, ok := current[a.EntityName]; !ok {
				return &memory.EntityNotFoundError{Name: a.EntityName}
			}
		}
		results = results[:0]
		changed := map[string]bool{}
		for _, a := range additions {
			e := current[a.EntityName]
			added := []string{}
			for _, o := range a.Contents {
				if !slices.Contains(e.Observations, o) {
					e.Observations = append(e.Observations, o)
					added = append(added, o)
				}
			}
			current[a.EntityName] = e
			if len(added) > 0 {
				changed[a.EntityName] = true
			}
			results = append(results, memory.ObservationResult{EntityName: a.EntityName, AddedObservations: added})
		}
		return setObservations(ctx, tx, current, order, changed)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// entitiesByName reads the named entities; order lists their names by
// creation.
func entitiesByName(ctx context.Context, tx neo4j.ManagedTransaction, names []string) (map[string]memory.Entity, []string, error) {
	recs, err := run(ctx, tx, qEntitiesByName, map[string]any{"keys": nameKeys(storeutil.Dedup(names))})
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]memory.Entity, len(recs))
	order := make([]string, 0, len(recs))
	for _, r := range recs {
		e := recEntity(r)
		out[e.Name] = e
		order = append(order, e.Name)
	}
	return out, order, nil
}

func setObservations(ctx context.Context, tx neo4j.ManagedTransaction, current map[string]memory.Entity, order []string, changed map[string]bool) error {
	var updates []map[string]any
	for _, name := range order {
		if changed[name] {
			updates = append(updates, updateParam(current[name]))
		}
	}
	if len(updates) == 0 {
		return nil
	}
	_, err := run(ctx, tx, qSetObservations, map[string]any{"updates": updates})
	return err
}

// DeleteEntities deletes the named entities and their relations.
func (s *Store) DeleteEntities(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	return s.write(ctx, "delete_entities", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		if _, err := reserve(ctx, tx, 1); err != nil {
			return err
		}
		recs, err := run(ctx, tx, qDeleteEntities, map[string]any{"keys": nameKeys(storeutil.Dedup(names))})
		if err != nil {
			return err
		}
		var neighbours []string
		for _, r := range recs {
			neighbours = append(neighbours, recStrings(r, "neighbours")...)
		}
		return dropOrphans(ctx, tx, neighbours)
	})
}

// dropOrphans removes the non-entity nodes of keys that nothing refers to.
func dropOrphans(ctx context.Context, tx neo4j.ManagedTransaction, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	_, err := run(ctx, tx, qDropOrphans, map[string]any{"keys": keys})
	return err
}

// DeleteObservations removes the given observations.
func (s *Store) DeleteObservations(ctx context.Context, deletions []memory.ObservationDeletion) error {
	if len(deletions) == 0 {
		return nil
	}
	return s.write(ctx, "delete_observations", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		if _, err := reserve(ctx, tx, 1); err != nil {
			return err
		}
		names := make([]string, 0, len(deletions))
		for _, d := range deletions {
			names = append(names, d.EntityName)
		}
		current, order, err := entitiesByName(ctx, tx, names)
		if err != nil {
			return err
		}
		changed := map[string]bool{}
		for _, d := range deletions {
			e, ok := current[d.EntityName]
			if !ok {
				continue
			}
			kept := slices.DeleteFunc(slices.Clone(e.Observations), func(o string) bool { return slices.Contains(d.Observations, o) })
			if len(kept) != len(e.Observations) {
				e.Observations = kept
				current[d.EntityName] = e
				changed[d.EntityName] = true
			}
		}
		return setObservations(ctx, tx, current, order, changed)
	})
}

// DeleteRelations removes the given relations.
func (s *Store) DeleteRelations(ctx context.Context, relations []memory.Relation) error {
	if len(relations) == 0 {
		return nil
	}
	rows := make([]map[string]any, 0, len(relations))
	for _, r := range distinctRelations(relations) {
		rows = append(rows, map[string]any{"sourceKey": nameKey(r.From), "targetKey": nameKey(r.To), "relationType": r.RelationType})
	}
	return s.write(ctx, "delete_relations", func(ctx context.Context, tx neo4j.ManagedTransaction) error {
		if _, err := reserve(ctx, tx, 1); err != nil {
			return err
		}
		recs, err := run(ctx, tx, qDeleteRelations, map[string]any{"relations": rows})
		if err != nil {
			return err
		}
		var touched []string
		for _, r := range recs {
			touched = append(touched, recString(r, "sourceKey"), recString(r, "targetKey"))
		}
		return dropOrphans(ctx, tx, touched)
	})
}
