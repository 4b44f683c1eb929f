package storeutil

import (
	"sort"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Edge is a relation with its creation-order id, as a traversal reads it.
type Edge struct {
	ID int64
	memory.Relation
}

// Walk is the breadth-first bookkeeping of FindRelated, shared by the SQL
// backends: they fetch the edges touching the frontier, Walk decides which
// names are visited next.
type Walk struct {
	limit    int
	visited  map[string]bool
	order    []string
	frontier []string
	edges    map[int64]memory.Relation
}

// NewWalk starts a walk at start, visiting at most limit names.
func NewWalk(start string, limit int) *Walk {
	return &Walk{
		limit:    limit,
		visited:  map[string]bool{start: true},
		order:    []string{start},
		frontier: []string{start},
		edges:    map[int64]memory.Relation{},
	}
}

// Frontier returns the names to expand at the next step.
func (w *Walk) Frontier() []string { return w.frontier }

// Visited returns every visited name, in visiting order.
func (w *Walk) Visited() []string { return w.order }

// Step records the edges touching the frontier (in creation order) and moves
// the frontier to the names they reach that were not visited yet.
func (w *Walk) Step(edges []Edge) {
	sort.Slice(edges, func(i, j int) bool { return edges[i].ID < edges[j].ID })
	var next []string
	for _, e := range edges {
		w.edges[e.ID] = e.Relation
		for _, n := range [2]string{e.From, e.To} {
			if !w.visited[n] && len(w.order) < w.limit {
				w.visited[n] = true
				w.order = append(w.order, n)
				next = append(next, n)
			}
		}
	}
	w.frontier = next
}

// Relations returns the recorded edges whose both ends were visited, in
// creation order.
func (w *Walk) Relations() []memory.Relation {
	ids := make([]int64, 0, len(w.edges))
	for id, r := range w.edges {
		if w.visited[r.From] && w.visited[r.To] {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]memory.Relation, len(ids))
	for i, id := range ids {
		out[i] = w.edges[id]
	}
	return out
}
