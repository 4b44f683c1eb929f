package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// SQL of the write paths, prepared on the writer connection.
const (
	sqlInsertEntity      = `INSERT INTO entities (name, entity_type) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`
	sqlRankEntity        = `INSERT INTO memories_fts (rowid, name, entity_type, content) VALUES (-?1, ?2, ?3, '')`
	sqlInsertObservation = `INSERT INTO observations (entity_id, content) VALUES (?, ?) ON CONFLICT (entity_id, content) DO NOTHING RETURNING id`
	sqlRankObservation   = `INSERT INTO memories_fts (rowid, name, entity_type, content) VALUES (?, '', '', ?)`
	sqlInsertRelation    = `INSERT INTO relations (from_name, to_name, relation_type) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	sqlEntityID          = `SELECT id FROM entities WHERE name = ?`
	sqlDeleteRelationsOf = `DELETE FROM relations WHERE from_name = ? OR to_name = ?`
	sqlDeleteEntity      = `DELETE FROM entities WHERE name = ?`
	sqlDeleteObservation = `DELETE FROM observations WHERE entity_id = ? AND content = ?`
	sqlDeleteRelation    = `DELETE FROM relations WHERE from_name = ? AND to_name = ? AND relation_type = ?`
)

// writeSQL lists the statements prepared on the writer.
var writeSQL = []string{
	sqlInsertEntity, sqlRankEntity, sqlInsertObservation, sqlRankObservation,
	sqlInsertRelation, sqlEntityID, sqlDeleteRelationsOf, sqlDeleteEntity, sqlDeleteObservation, sqlDeleteRelation,
	sqlTotalChanges, mergeSQL(mergeTable), sqlDataVersion, sqlLoadEntities, sqlLoadRelations,
}

// CreateEntities creates the entities whose name is new; see memory.Store.
// The returned entities carry their observations deduplicated.
func (s *Store) CreateEntities(ctx context.Context, entities []memory.Entity) ([]memory.Entity, error) {
	if err := storeutil.ValidateEntities(entities); err != nil {
		return nil, err
	}
	created := make([]memory.Entity, 0, len(entities))
	err := s.write(ctx, "creating entities", func(ctx context.Context, tx txq) error {
		created = created[:0]
		for _, e := range entities {
			ok, err := insertEntity(ctx, tx, e.Name, e.EntityType, e.Observations)
			if err != nil {
				return err
			}
			if ok {
				created = append(created, memory.Entity{Name: e.Name, EntityType: e.EntityType, Observations: storeutil.Dedup(e.Observations)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// insertEntity inserts one entity with its observations unless its name
// exists; it reports whether it did. Every insert and delete below records
// its effect in the transaction's delta for the in-memory graph (graph.go).
func insertEntity(ctx context.Context, tx txq, name, entityType string, observations []string) (bool, error) {
	var id int64
	err := tx.QueryRowContext(ctx,
		sqlInsertEntity,
		name, entityType).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inserting entity: %w", err)
	}
	if err := tx.addIndex(ctx, sqlRankEntity, id, name, entityType); err != nil {
		return false, fmt.Errorf("indexing entity: %w", err)
	}
	tx.delta.record(func(g *graph) { g.addEntity(id, name, entityType, nil) })
	if _, err := insertObservations(ctx, tx, id, name, observations); err != nil {
		return false, err
	}
	return true, nil
}

// insertObservations appends the observations not yet present on entity id
// (called name) and returns them in input order.
func insertObservations(ctx context.Context, tx txq, id int64, name string, contents []string) ([]string, error) {
	added := make([]string, 0, len(contents))
	for _, c := range contents {
		var oid int64
		err := tx.QueryRowContext(ctx,
			sqlInsertObservation,
			id, c).Scan(&oid)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inserting observation: %w", err)
		}
		if err := tx.addIndex(ctx, sqlRankObservation, oid, c); err != nil {
			return nil, fmt.Errorf("indexing observation: %w", err)
		}
		added = append(added, c)
	}
	if len(added) > 0 {
		tx.delta.record(func(g *graph) { g.addObservations(name, added) })
	}
	return added, nil
}

// CreateRelations creates the relations that do not exist yet.
func (s *Store) CreateRelations(ctx context.Context, relations []memory.Relation) ([]memory.Relation, error) {
	if err := storeutil.ValidateRelations(relations); err != nil {
		return nil, err
	}
	created := make([]memory.Relation, 0, len(relations))
	err := s.write(ctx, "creating relations", func(ctx context.Context, tx txq) error {
		created = created[:0]
		for _, r := range relations {
			ok, err := insertRelation(ctx, tx, r)
			if err != nil {
				return err
			}
			if ok {
				created = append(created, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

func insertRelation(ctx context.Context, tx txq, r memory.Relation) (bool, error) {
	res, err := tx.ExecContext(ctx,
		sqlInsertRelation,
		r.From, r.To, r.RelationType)
	if err != nil {
		return false, fmt.Errorf("inserting relation: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inserting relation: %w", err)
	}
	if n != 1 {
		return false, nil
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, fmt.Errorf("inserting relation: %w", err)
	}
	tx.delta.record(func(g *graph) { g.addRelation(id, r) })
	return true, nil
}

// entityID returns the id of the named entity, or ok false.
func entityID(ctx context.Context, tx txq, name string) (id int64, ok bool, err error) {
	err = tx.QueryRowContext(ctx, sqlEntityID, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("looking up entity: %w", err)
	}
	return id, true, nil
}

// AddObservations appends observations; an unknown entity fails the whole
// call with *memory.EntityNotFoundError and nothing is saved.
func (s *Store) AddObservations(ctx context.Context, additions []memory.ObservationAddition) ([]memory.ObservationResult, error) {
	if err := storeutil.ValidateAdditions(additions); err != nil {
		return nil, err
	}
	results := make([]memory.ObservationResult, 0, len(additions))
	err := s.write(ctx, "adding observations", func(ctx context.Context, tx txq) error {
		results = results[:0]
		for _, a := range additions {
			id, ok, err := entityID(ctx, tx, a.EntityName)
			if err != nil {
				return err
			}
			if !ok {
				return &memory.EntityNotFoundError{Name: a.EntityName}
			}
			added, err := insertObservations(ctx, tx, id, a.EntityName, a.Contents)
			if err != nil {
				return err
			}
			results = append(results, memory.ObservationResult{EntityName: a.EntityName, AddedObservations: added})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// DeleteEntities deletes entities and the relations that name them.
func (s *Store) DeleteEntities(ctx context.Context, names []string) error {
	return s.write(ctx, "deleting entities", func(ctx context.Context, tx txq) error {
		if err := tx.flushIndex(ctx); err != nil {
			return err
		}
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, sqlDeleteRelationsOf, n, n); err != nil {
				return fmt.Errorf("deleting relations: %w", err)
			}
			// Observations cascade; triggers clean the search index.
			if _, err := tx.ExecContext(ctx, sqlDeleteEntity, n); err != nil {
				return fmt.Errorf("deleting entity: %w", err)
			}
			tx.delta.record(func(g *graph) { g.deleteEntity(n) })
		}
		return nil
	})
}

// DeleteObservations removes observations; unknown ones are ignored.
func (s *Store) DeleteObservations(ctx context.Context, deletions []memory.ObservationDeletion) error {
	return s.write(ctx, "deleting observations", func(ctx context.Context, tx txq) error {
		if err := tx.flushIndex(ctx); err != nil {
			return err
		}
		for _, d := range deletions {
			id, ok, err := entityID(ctx, tx, d.EntityName)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			// A trigger removes the observation from the search index.
			for _, o := range d.Observations {
				if _, err := tx.ExecContext(ctx, sqlDeleteObservation, id, o); err != nil {
					return fmt.Errorf("deleting observation: %w", err)
				}
			}
			tx.delta.record(func(g *graph) { g.deleteObservations(d.EntityName, d.Observations) })
		}
		return nil
	})
}

// DeleteRelations removes relations; unknown ones are ignored.
func (s *Store) DeleteRelations(ctx context.Context, relations []memory.Relation) error {
	return s.write(ctx, "deleting relations", func(ctx context.Context, tx txq) error {
		for _, r := range relations {
			if _, err := tx.ExecContext(ctx, sqlDeleteRelation,
				r.From, r.To, r.RelationType); err != nil {
				return fmt.Errorf("deleting relation: %w", err)
			}
			tx.delta.record(func(g *graph) { g.deleteRelation(r) })
		}
		return nil
	})
}

// Import merges g in one transaction.
func (s *Store) Import(ctx context.Context, g memory.Graph) (memory.ImportResult, error) {
	if err := storeutil.ValidateGraph(g); err != nil {
		return memory.ImportResult{}, err
	}
	var res memory.ImportResult
	err := s.write(ctx, "importing a graph", func(ctx context.Context, tx txq) error {
		res = memory.ImportResult{}
		for _, e := range g.Entities {
			id, exists, err := entityID(ctx, tx, e.Name)
			if err != nil {
				return err
			}
			if !exists {
				if _, err := insertEntity(ctx, tx, e.Name, e.EntityType, e.Observations); err != nil {
					return err
				}
				res.Entities++
				res.Observations += len(storeutil.Dedup(e.Observations))
				continue
			}
			added, err := insertObservations(ctx, tx, id, e.Name, e.Observations)
			if err != nil {
				return err
			}
			res.Observations += len(added)
		}
		for _, r := range g.Relations {
			ok, err := insertRelation(ctx, tx, r)
			if err != nil {
				return err
			}
			if ok {
				res.Relations++
			}
		}
		return nil
	})
	if err != nil {
		return memory.ImportResult{}, err
	}
	return res, nil
}
