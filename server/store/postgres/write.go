package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// querier is a transaction or a pooled connection: a method whose work is
// one statement runs it on the connection, where PostgreSQL makes it
// atomic by itself, and saves the BEGIN and COMMIT round trips.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// key is the SHA-256 of s: the indexed identity of a name or observation.
func key(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func keys(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = key(s)
	}
	return out
}

// relKey identifies a relation; NUL cannot occur in the parts (refused on
// input), so the encoding is unambiguous.
func relKey(r memory.Relation) []byte {
	return key(r.From + "\x00" + r.To + "\x00" + r.RelationType)
}

// maxTsvBytes stops growing an entity's tsvector beyond this size (PostgreSQL
// refuses tsvectors over 1 MiB); later observations of such an entity are
// still found by search_nodes, only not ranked by search_memories.
const maxTsvBytes = 512 << 10

// tsvSQL builds the weighted document of an entity from SQL expressions.
const tsvSQL = `setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'B') || setweight(to_tsvector('simple', left(%s, 262144)), 'C')`

var insertEntitySQL = `WITH e AS (
	INSERT INTO entities (name, name_key, entity_type, name_fold, type_fold)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (name_key) DO NOTHING
	RETURNING id
), d AS (
	INSERT INTO entity_documents (entity_id, tsv)
	SELECT e.id, ` + fmt.Sprintf(tsvSQL, "$1", "$3", "array_to_string($6::text[], ' ')") + ` FROM e
), o AS (
	INSERT INTO observations (entity_id, content, content_key, content_fold)
	SELECT e.id, t.c, t.k, t.f FROM e, unnest($6::text[], $7::bytea[], $8::text[]) WITH ORDINALITY AS t(c, k, f, ord)
	ORDER BY t.ord
)
SELECT count(*) FROM e`

// insertEntity creates one entity and its (deduplicated) observations unless
// the name exists; it reports whether it did.
func insertEntity(ctx context.Context, q querier, e memory.Entity) (bool, error) {
	obs := storeutil.Dedup(e.Observations)
	folds := make([]string, len(obs))
	for i, o := range obs {
		folds[i] = storeutil.Fold(o)
	}
	var n int
	err := q.QueryRow(ctx, insertEntitySQL, e.Name, key(e.Name), e.EntityType,
		storeutil.Fold(e.Name), storeutil.Fold(e.EntityType), obs, keys(obs), folds).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("inserting entity: %w", err)
	}
	return n == 1, nil
}

// CreateEntities creates the entities whose name is new; see memory.Store.
// The returned entities carry their observations deduplicated.
func (s *Store) CreateEntities(ctx context.Context, entities []memory.Entity) ([]memory.Entity, error) {
	if err := storeutil.ValidateEntities(entities); err != nil {
		return nil, err
	}
	created := make([]memory.Entity, 0, len(entities))
	if len(entities) == 1 {
		e := entities[0]
		err := s.one(ctx, "creating entities", false, func(ctx context.Context, conn *pgxpool.Conn) error {
			ok, err := insertEntity(ctx, conn, e)
			if ok {
				created = append(created[:0], memory.Entity{Name: e.Name, EntityType: e.EntityType, Observations: storeutil.Dedup(e.Observations)})
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return created, nil
	}
	err := s.inTx(ctx, "creating entities", readWrite, func(ctx context.Context, tx pgx.Tx) error {
		created = created[:0]
		for _, e := range entities {
			ok, err := insertEntity(ctx, tx, e)
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

const insertRelationsSQL = `INSERT INTO relations (from_name, to_name, relation_type, from_key, to_key, rel_key)
	SELECT f, t, r, fk, tk, rk FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bytea[])
		WITH ORDINALITY AS u(f, t, r, fk, tk, rk, ord)
	ORDER BY ord
	ON CONFLICT (rel_key) DO NOTHING
	RETURNING rel_key`

// relationArgs returns the arguments of insertRelationsSQL for the
// relations, deduplicated, and their keys.
func relationArgs(relations []memory.Relation) ([]memory.Relation, []any) {
	seen := map[string]bool{}
	var uniq []memory.Relation
	var from, to, typ []string
	var fk, tk, rk [][]byte
	for _, r := range relations {
		k := relKey(r)
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		uniq = append(uniq, r)
		from, to, typ = append(from, r.From), append(to, r.To), append(typ, r.RelationType)
		fk, tk, rk = append(fk, key(r.From)), append(tk, key(r.To)), append(rk, k)
	}
	return uniq, []any{from, to, typ, fk, tk, rk}
}

// insertRelations inserts relations and returns those created, in input
// order.
func insertRelations(ctx context.Context, q querier, relations []memory.Relation) ([]memory.Relation, error) {
	created := []memory.Relation{}
	if len(relations) == 0 {
		return created, nil
	}
	uniq, args := relationArgs(relations)
	rows, err := q.Query(ctx, insertRelationsSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("inserting relations: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("inserting relations: %w", err)
	}
	done := make(map[string]bool, len(got))
	for _, k := range got {
		done[string(k)] = true
	}
	for _, r := range uniq {
		if done[string(relKey(r))] {
			created = append(created, r)
		}
	}
	return created, nil
}

// CreateRelations creates the relations that do not exist yet, in one
// statement.
func (s *Store) CreateRelations(ctx context.Context, relations []memory.Relation) ([]memory.Relation, error) {
	if err := storeutil.ValidateRelations(relations); err != nil {
		return nil, err
	}
	var created []memory.Relation
	err := s.one(ctx, "creating relations", false, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		created, err = insertRelations(ctx, conn, relations)
		return err
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

var addObservationsSQL = `WITH e AS (
	SELECT id FROM entities WHERE name_key = $1
), ins AS (
	INSERT INTO observations (entity_id, content, content_key, content_fold)
	SELECT e.id, t.c, t.k, t.f FROM e, unnest($2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(c, k, f, ord)
	ORDER BY t.ord
	ON CONFLICT (entity_id, content_key) DO NOTHING
	RETURNING id, content
), upd AS (
	UPDATE entity_documents SET tsv = CASE WHEN pg_column_size(tsv) < ` + fmt.Sprint(maxTsvBytes) + `
		THEN tsv || setweight(to_tsvector('simple', left((SELECT string_agg(content, ' ' ORDER BY id) FROM ins), 262144)), 'C')
		ELSE tsv END
	WHERE entity_id = (SELECT id FROM e) AND EXISTS (SELECT 1 FROM ins)
)
SELECT (SELECT count(*) FROM e), coalesce((SELECT array_agg(content ORDER BY id) FROM ins), '{}')`

// addObservations appends the absent observations of one entity; ok false
// means the entity does not exist.
func addObservations(ctx context.Context, tx querier, name string, contents []string) (added []string, ok bool, err error) {
	obs := storeutil.Dedup(contents)
	folds := make([]string, len(obs))
	for i, o := range obs {
		folds[i] = storeutil.Fold(o)
	}
	var n int
	if err := tx.QueryRow(ctx, addObservationsSQL, key(name), obs, keys(obs), folds).Scan(&n, &added); err != nil {
		return nil, false, fmt.Errorf("adding observations: %w", err)
	}
	return storeutil.NonNil(added), n == 1, nil
}

// AddObservations appends observations; an unknown entity fails the whole
// call with *memory.EntityNotFoundError and nothing is saved.
func (s *Store) AddObservations(ctx context.Context, additions []memory.ObservationAddition) ([]memory.ObservationResult, error) {
	if err := storeutil.ValidateAdditions(additions); err != nil {
		return nil, err
	}
	results := make([]memory.ObservationResult, 0, len(additions))
	if len(additions) == 1 {
		// One statement: an unknown entity inserts nothing by itself.
		a := additions[0]
		var found bool
		var added []string
		err := s.one(ctx, "adding observations", false, func(ctx context.Context, conn *pgxpool.Conn) error {
			var err error
			added, found, err = addObservations(ctx, conn, a.EntityName, a.Contents)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, &memory.EntityNotFoundError{Name: a.EntityName}
		}
		return append(results, memory.ObservationResult{EntityName: a.EntityName, AddedObservations: added}), nil
	}
	err := s.inTx(ctx, "adding observations", readWrite, func(ctx context.Context, tx pgx.Tx) error {
		results = results[:0]
		for _, a := range additions {
			added, ok, err := addObservations(ctx, tx, a.EntityName, a.Contents)
			if err != nil {
				return err
			}
			if !ok {
				return &memory.EntityNotFoundError{Name: a.EntityName}
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

// DeleteEntities deletes entities (their observations cascade) and every
// relation naming them, in one statement.
func (s *Store) DeleteEntities(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	ks := keys(names)
	return s.one(ctx, "deleting entities", false, func(ctx context.Context, conn *pgxpool.Conn) error {
		_, err := conn.Exec(ctx, `WITH d AS (DELETE FROM entities WHERE name_key = ANY($1))
			DELETE FROM relations WHERE from_key = ANY($1) OR to_key = ANY($1)`, ks)
		return err
	})
}

var rebuildTsvSQL = `UPDATE entity_documents d SET tsv = ` + fmt.Sprintf(tsvSQL, "e.name", "e.entity_type",
	"coalesce((SELECT string_agg(o.content, ' ' ORDER BY o.id) FROM observations o WHERE o.entity_id = e.id), '')") +
	` FROM entities e WHERE e.id = d.entity_id AND d.entity_id = $1`

// DeleteObservations removes observations; unknown ones are ignored.
func (s *Store) DeleteObservations(ctx context.Context, deletions []memory.ObservationDeletion) error {
	return s.inTx(ctx, "deleting observations", readWrite, func(ctx context.Context, tx pgx.Tx) error {
		for _, d := range deletions {
			if len(d.Observations) == 0 {
				continue
			}
			var id *int64
			err := tx.QueryRow(ctx, `WITH e AS (SELECT id FROM entities WHERE name_key = $1),
				d AS (DELETE FROM observations o USING e WHERE o.entity_id = e.id AND o.content_key = ANY($2) RETURNING o.entity_id)
				SELECT min(entity_id) FROM d`, key(d.EntityName), keys(d.Observations)).Scan(&id)
			if err != nil {
				return fmt.Errorf("deleting observations: %w", err)
			}
			if id == nil {
				continue
			}
			if _, err := tx.Exec(ctx, rebuildTsvSQL, *id); err != nil {
				return fmt.Errorf("reindexing entity: %w", err)
			}
		}
		return nil
	})
}

// DeleteRelations removes relations in one statement; unknown ones are
// ignored.
func (s *Store) DeleteRelations(ctx context.Context, relations []memory.Relation) error {
	if len(relations) == 0 {
		return nil
	}
	ks := make([][]byte, len(relations))
	for i, r := range relations {
		ks[i] = relKey(r)
	}
	return s.one(ctx, "deleting relations", false, func(ctx context.Context, conn *pgxpool.Conn) error {
		_, err := conn.Exec(ctx, `DELETE FROM relations WHERE rel_key = ANY($1)`, ks)
		return err
	})
}

// Import merges g in one transaction.
func (s *Store) Import(ctx context.Context, g memory.Graph) (memory.ImportResult, error) {
	if err := storeutil.ValidateGraph(g); err != nil {
		return memory.ImportResult{}, err
	}
	var res memory.ImportResult
	err := s.inTx(ctx, "importing a graph", readWrite, func(ctx context.Context, tx pgx.Tx) error {
		res = memory.ImportResult{}
		for _, e := range g.Entities {
			ok, err := insertEntity(ctx, tx, e)
			if err != nil {
				return err
			}
			if ok {
				res.Entities++
				res.Observations += len(storeutil.Dedup(e.Observations))
				continue
			}
			added, found, err := addObservations(ctx, tx, e.Name, e.Observations)
			if err != nil {
				return err
			}
			if !found {
				return errors.New("entity vanished during import")
			}
			res.Observations += len(added)
		}
		created, err := insertRelations(ctx, tx, g.Relations)
		if err != nil {
			return err
		}
		res.Relations = len(created)
		return nil
	})
	if err != nil {
		return memory.ImportResult{}, err
	}
	return res, nil
}
