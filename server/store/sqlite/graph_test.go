package sqlite_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
)

// Tests of the in-memory graph (graph.go) through the Store: it follows the
// file, whoever writes it.

// TestWritesOfAnotherProcessAreSeen writes to the file through a second
// store (as memory-server import does into a running server's file): the
// first store's reads, served from its in-memory graph, show the writes
// within a second, and its own writes afterwards land on top of them.
func TestWritesOfAnotherProcessAreSeen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	ctx := t.Context()
	server := open(t, sqlite.Config{Path: path})
	if _, err := server.CreateEntities(ctx, []memory.Entity{{Name: "mine", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	other := open(t, sqlite.Config{Path: path})
	if _, err := other.Import(ctx, memory.Graph{
		Entities:  []memory.Entity{{Name: "imported", EntityType: "t", Observations: []string{"from the other process"}}},
		Relations: []memory.Relation{{From: "mine", To: "imported", RelationType: "knows"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteEntities(ctx, []string{"mine"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, err := server.ReadGraph(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Entities) == 1 && g.Entities[0].Name == "imported" && len(g.Relations) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other process's writes not seen after 5s: %+v", g)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := server.AddObservations(ctx, []memory.ObservationAddition{{EntityName: "imported", Contents: []string{"and from this one"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := server.SearchNodes(ctx, "THIS ONE")
	if err != nil || len(g.Entities) != 1 || len(g.Entities[0].Observations) != 2 {
		t.Errorf("SearchNodes after writing on top of the other process's writes = %+v, %v", g, err)
	}
	if g, err := server.SearchNodes(ctx, "mine"); err != nil || len(g.Entities) != 0 {
		t.Errorf("SearchNodes(mine) after the other process deleted it = %+v, %v", g, err)
	}
}

// TestGraphMatchesTheFile runs random writes of every kind from concurrent
// callers (so that they share batches, and some fail and are rolled back),
// then opens the same file in a second store, whose graph is loaded from the
// tables: both answer the same. The first store's graph was built from the
// changes each committed transaction recorded, so any change a write forgets
// to record, or records without committing, shows here.
func TestGraphMatchesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	ctx := t.Context()
	s := open(t, sqlite.Config{Path: path})
	name := func(r *rand.Rand) string { return fmt.Sprintf("e%02d", r.IntN(15)) }
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 9))
			for i := range 150 {
				var err error
				switch r.IntN(7) {
				case 0:
					_, err = s.CreateEntities(ctx, []memory.Entity{{Name: name(r), EntityType: "t", Observations: []string{fmt.Sprint("o", r.IntN(9)), fmt.Sprint("o", r.IntN(9))}}})
				case 1:
					// Fails (unknown entity) as often as not: nothing of it may stay.
					_, err = s.AddObservations(ctx, []memory.ObservationAddition{
						{EntityName: name(r), Contents: []string{fmt.Sprint("added ", c, " ", i)}},
						{EntityName: name(r), Contents: []string{fmt.Sprint("o", r.IntN(9))}}})
				case 2:
					_, err = s.CreateRelations(ctx, []memory.Relation{{From: name(r), To: name(r), RelationType: fmt.Sprint("r", r.IntN(2))}})
				case 3:
					err = s.DeleteObservations(ctx, []memory.ObservationDeletion{{EntityName: name(r), Observations: []string{fmt.Sprint("o", r.IntN(9)), "absent"}}})
				case 4:
					err = s.DeleteRelations(ctx, []memory.Relation{{From: name(r), To: name(r), RelationType: fmt.Sprint("r", r.IntN(2))}})
				case 5:
					if r.IntN(3) == 0 {
						err = s.DeleteEntities(ctx, []string{name(r)})
					}
				case 6:
					_, err = s.Import(ctx, memory.Graph{
						Entities:  []memory.Entity{{Name: name(r), EntityType: "imported", Observations: []string{"from import"}}},
						Relations: []memory.Relation{{From: name(r), To: name(r), RelationType: "imported"}}})
				}
				var nf *memory.EntityNotFoundError
				if err != nil && !errors.As(err, &nf) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	live, err := s.ReadGraph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Entities) == 0 || len(live.Relations) == 0 {
		t.Fatalf("the random writes left an empty graph: %+v", live)
	}
	loaded, err := open(t, sqlite.Config{Path: path}).ReadGraph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live, loaded) {
		t.Errorf("the graph built from the recorded changes differs from the file:\nlive   %+v\nloaded %+v", live, loaded)
	}
	for _, q := range []string{"o1", "ADDED 3", "e1", "import", "x"} {
		a, err1 := s.SearchNodes(ctx, q)
		other := open(t, sqlite.Config{Path: path})
		b, err2 := other.SearchNodes(ctx, q)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("SearchNodes(%q): live %+v (%v), loaded %+v (%v)", q, a, err1, b, err2)
		}
	}
}
