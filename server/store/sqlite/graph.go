package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// The read model.
//
// The file is the store: every write is a SQLite transaction on the writer
// connection, durable at its COMMIT. Reads of the graph (search_nodes,
// open_nodes, read_graph, find_related, and the entities that
// search_memories ranks) are served from graph, an in-memory copy of the
// three tables with a trigram index for substring search (index.go),
// instead of SQL statements on the reader connections: through the
// transpiled SQLite those cost 100-300 µs of CPU per call, most of the
// server's time (docs/benchmarks.md), where the copy answers in a few.
//
// The copy is exact for this process's writes, not a cache that may be
// stale: the writer goroutine is the only writer of the file in this
// process, so each write transaction
// records what it changed (a delta, built from what the statements
// reported: the ids they inserted, the rows that were new) and the writer
// applies the delta to the copy after the COMMIT and before it
// acknowledges the call; a transaction that rolls back drops its delta. A
// read that starts after a write returned sees it. Another process writing
// the same file (memory-server import into a running server's file) is
// noticed through PRAGMA data_version on the writer connection (which
// changes with every other connection's commits, never with its own),
// checked by the writer goroutine every externalCheckInterval; the copy is
// then loaded again from the file, so such writes show within that interval.
type graph struct {
	mu       sync.RWMutex
	byName   map[string]*gEntity
	relsOf   map[string][]*gRelation // by endpoint name (both), in creation order
	index    trigramIndex
	slots    []*gEntity // index slot -> entity (nil: free)
	freeSlot []uint32
	types    map[string]string // entity and relation types, interned (a graph has few)
}

// gEntity is an entity of the copy. Its observations are in creation order.
type gEntity struct {
	id   int64
	slot uint32
	name string
	typ  string
	obs  []string
}

// gRelation is a relation with its row id (the creation order).
type gRelation struct {
	id int64
	memory.Relation
}

func newGraph() *graph {
	return &graph{
		byName: map[string]*gEntity{},
		relsOf: map[string][]*gRelation{},
		index:  newTrigramIndex(),
		types:  map[string]string{},
	}
}

// externalCheckInterval is how often the writer looks for another process's
// writes to the file.
const externalCheckInterval = 250 * time.Millisecond

// Statements that load the copy, on the writer connection.
const (
	sqlLoadEntities  = `SELECT e.id, e.name, e.entity_type, o.content FROM entities e LEFT JOIN observations o ON o.entity_id = e.id ORDER BY e.id, o.id`
	sqlLoadRelations = `SELECT id, from_name, to_name, relation_type FROM relations ORDER BY id`
	sqlDataVersion   = `PRAGMA data_version`
)

// loadGraph reads the whole graph from the file in one transaction, with
// the connection's data_version at that point.
func loadGraph(ctx context.Context, db *sql.DB) (*graph, int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("while loading the graph: %w", mapError(ctx, err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var version int64
	if err := tx.QueryRowContext(ctx, sqlDataVersion).Scan(&version); err != nil {
		return nil, 0, fmt.Errorf("while loading the graph: %w", mapError(ctx, err))
	}
	g := newGraph()
	rows, err := tx.QueryContext(ctx, sqlLoadEntities)
	if err != nil {
		return nil, 0, fmt.Errorf("while loading the entities: %w", mapError(ctx, err))
	}
	var cur *gEntity
	for rows.Next() {
		var id int64
		var name, typ string
		var obs sql.NullString
		if err := rows.Scan(&id, &name, &typ, &obs); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("while loading the entities: %w", err)
		}
		if cur == nil || cur.id != id {
			cur = g.addEntity(id, name, typ, nil)
		}
		if obs.Valid {
			cur.obs = append(cur.obs, obs.String)
			g.index.addText(cur.slot, obs.String)
		}
	}
	if err := closeRows(rows, "loading the entities"); err != nil {
		return nil, 0, mapError(ctx, err)
	}
	rows, err = tx.QueryContext(ctx, sqlLoadRelations)
	if err != nil {
		return nil, 0, fmt.Errorf("while loading the relations: %w", mapError(ctx, err))
	}
	for rows.Next() {
		var r gRelation
		if err := rows.Scan(&r.id, &r.From, &r.To, &r.RelationType); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("while loading the relations: %w", err)
		}
		g.addRelation(r.id, r.Relation)
	}
	if err := closeRows(rows, "loading the relations"); err != nil {
		return nil, 0, mapError(ctx, err)
	}
	return g, version, nil
}

// delta is what one write transaction changed, applied to the copy after
// its COMMIT. Nil on read transactions.
type delta struct {
	changes []func(g *graph)
}

func (d *delta) record(fn func(g *graph)) {
	if d != nil {
		d.changes = append(d.changes, fn)
	}
}

// apply applies the committed changes under the write lock.
func (g *graph) apply(d *delta) {
	if d == nil || len(d.changes) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, fn := range d.changes {
		fn(g)
	}
	d.changes = d.changes[:0]
}

// The mutations below mirror the statements of write.go. They tolerate
// rows they do not know (the copy may lag behind another process's writes
// until it is reloaded). They change slices in place: readers copy what
// they return while they hold the read lock.

func (g *graph) addEntity(id int64, name, typ string, obs []string) *gEntity {
	typ = g.intern(typ)
	e := &gEntity{id: id, name: name, typ: typ, obs: make([]string, 0, len(obs))}
	if n := len(g.freeSlot); n > 0 {
		e.slot = g.freeSlot[n-1]
		g.freeSlot = g.freeSlot[:n-1]
		g.slots[e.slot] = e
	} else {
		e.slot = uint32(len(g.slots))
		g.slots = append(g.slots, e)
	}
	g.byName[name] = e
	g.index.addText(e.slot, name)
	g.index.addText(e.slot, typ)
	g.addObservations(name, obs)
	return e
}

// intern returns the graph's copy of a type string.
func (g *graph) intern(t string) string {
	if c, ok := g.types[t]; ok {
		return c
	}
	if len(g.types) < maxInterned {
		g.types[t] = t
	}
	return t
}

// maxInterned bounds the interned types (a graph with more distinct types
// than this keeps the rest as they come).
const maxInterned = 4096

func (g *graph) addObservations(entity string, obs []string) {
	e := g.byName[entity]
	if e == nil {
		return
	}
	for _, o := range obs {
		e.obs = append(e.obs, o)
		g.index.addText(e.slot, o)
	}
}

func (g *graph) deleteObservations(entity string, contents []string) {
	e := g.byName[entity]
	if e == nil {
		return
	}
	var removed []string
	for _, c := range contents {
		if i := slices.Index(e.obs, c); i >= 0 {
			e.obs = slices.Delete(e.obs, i, i+1)
			removed = append(removed, c)
		}
	}
	if len(removed) > 0 {
		g.index.removeTexts(e.slot, removed, e.texts())
	}
}

// deleteEntity removes the entity called name, if any, and every relation
// naming it, as the statements do.
func (g *graph) deleteEntity(name string) {
	for _, r := range slices.Clone(g.relsOf[name]) {
		g.deleteRelationRow(r)
	}
	e := g.byName[name]
	if e == nil {
		return
	}
	g.index.removeAll(e.slot, e.texts())
	delete(g.byName, name)
	g.slots[e.slot] = nil
	g.freeSlot = append(g.freeSlot, e.slot)
}

func (g *graph) addRelation(id int64, r memory.Relation) {
	// Endpoints that are entities share the entity's name string.
	if e := g.byName[r.From]; e != nil {
		r.From = e.name
	}
	if e := g.byName[r.To]; e != nil {
		r.To = e.name
	}
	r.RelationType = g.intern(r.RelationType)
	rel := &gRelation{id: id, Relation: r}
	g.relsOf[r.From] = append(g.relsOf[r.From], rel)
	if r.To != r.From {
		g.relsOf[r.To] = append(g.relsOf[r.To], rel)
	}
}

func (g *graph) deleteRelation(r memory.Relation) {
	for _, rel := range g.relsOf[r.From] {
		if rel.Relation == r {
			g.deleteRelationRow(rel)
			return
		}
	}
}

func (g *graph) deleteRelationRow(rel *gRelation) {
	for _, n := range [2]string{rel.From, rel.To} {
		list := g.relsOf[n]
		if i := slices.Index(list, rel); i >= 0 {
			list = slices.Delete(list, i, i+1)
			if len(list) == 0 {
				delete(g.relsOf, n)
			} else {
				g.relsOf[n] = list
			}
		}
	}
}

// texts returns the entity's indexed strings: name, type, observations.
func (e *gEntity) texts() []string {
	return append([]string{e.name, e.typ}, e.obs...)
}

// entity returns a copy of e for a result.
func (e *gEntity) entity() memory.Entity {
	obs := make([]string, len(e.obs))
	copy(obs, e.obs)
	return memory.Entity{Name: e.name, EntityType: e.typ, Observations: obs}
}

// Reads. The caller holds the read lock.

// entitiesOf returns the entities in creation order.
func entitiesOf(list []*gEntity) []memory.Entity {
	slices.SortFunc(list, func(a, b *gEntity) int { return cmp.Compare(a.id, b.id) })
	out := make([]memory.Entity, len(list))
	for i, e := range list {
		out[i] = e.entity()
	}
	return out
}

// relationsTouching returns the relations with an endpoint among list's
// names, in creation order.
func (g *graph) relationsTouching(list []*gEntity) []memory.Relation {
	var rels []*gRelation
	for _, e := range list {
		rels = append(rels, g.relsOf[e.name]...)
	}
	return relationsOf(rels)
}

// relationsOf returns the distinct relations of rels in creation order.
func relationsOf(rels []*gRelation) []memory.Relation {
	slices.SortFunc(rels, func(a, b *gRelation) int { return cmp.Compare(a.id, b.id) })
	rels = slices.Compact(rels)
	out := make([]memory.Relation, len(rels))
	for i, r := range rels {
		out[i] = r.Relation
	}
	return out
}

// reloadGraph loads the graph from the file and makes it the one reads use.
// It runs before the writer goroutine starts and then only on it.
func (s *Store) reloadGraph(ctx context.Context) error {
	g, version, err := loadGraph(ctx, s.writer)
	if err != nil {
		return err
	}
	s.graph.Store(g)
	s.dataVersion = version
	return nil
}

// syncGraph reloads the graph if another process wrote to the file since it
// was loaded. It runs on the writer goroutine.
func (s *Store) syncGraph() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
	defer cancel()
	var version int64
	if err := s.writer.QueryRowContext(ctx, sqlDataVersion).Scan(&version); err != nil {
		s.log.Warn("checking the database file for other writers failed", "error", mapError(ctx, err))
		return
	}
	if version == s.dataVersion {
		return
	}
	start := time.Now()
	s.reloads.Add(1)
	if err := s.reloadGraph(ctx); err != nil {
		s.log.Warn("reloading the graph after another process wrote to the file failed", "error", err)
		return
	}
	s.log.Info("reloaded the graph: another process wrote to the database file", "duration", time.Since(start))
}
