package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

func TestMergeIndexesMergesAndKeepsResults(t *testing.T) {
	s, err := New(t.Context(), Config{Path: filepath.Join(t.TempDir(), "m.db"), IndexMergeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Many small transactions: many index segments.
	for i := range 200 {
		if _, err := s.CreateEntities(t.Context(), []memory.Entity{{
			Name: fmt.Sprintf("node %03d", i), EntityType: "t", Observations: []string{fmt.Sprintf("word%03d obs", i)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	steps, complete, err := s.mergeIndexes(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if steps == 0 || !complete {
		t.Errorf("merging a fragmented index: %d steps, complete %v", steps, complete)
	}
	again, _, err := s.mergeIndexes(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if again != 0 {
		t.Errorf("merging a merged index did %d steps, want 0", again)
	}
	g, err := s.SearchNodes(t.Context(), "ODE 1")
	if err != nil || len(g.Entities) != 100 {
		t.Errorf("search after merging: %d entities, %v; want 100", len(g.Entities), err)
	}
	hits, err := s.SearchMemories(t.Context(), "word150", 0)
	if err != nil || len(hits) != 1 || hits[0].Name != "node 150" {
		t.Errorf("ranked search after merging: %+v, %v", hits, err)
	}
}

// BenchmarkSearchFragmentedVsMerged: SearchMemories (the FTS5 ranking) on
// 10,000 entities after 3,000 single-observation writes, before and after
// the background merge.
func BenchmarkSearchFragmentedVsMerged(b *testing.B) {
	s, err := New(context.Background(), Config{Path: filepath.Join(b.TempDir(), "m.db"), IndexMergeInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	storetest.Seed(b, s, n)
	w := &storetest.Workload{N: n}
	r := rand.New(rand.NewPCG(3, 3))
	for range 3000 {
		if _, err := s.AddObservations(context.Background(), []memory.ObservationAddition{w.NewObservation(r)}); err != nil {
			b.Fatal(err)
		}
	}
	search := func(b *testing.B) {
		storetest.MeasureCPU(b, func() {
			for b.Loop() {
				if _, err := s.SearchMemories(context.Background(), fmt.Sprint(r.IntN(n)), 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("warmup", search)
	b.Run("fragmented", search)
	if _, _, err := s.mergeIndexes(context.Background(), false); err != nil {
		b.Fatal(err)
	}
	b.Run("merged", search)
}

// TestMergeYieldsToWrites: a merge that may yield stops once tool calls
// write (they would queue behind its steps); the merged part stays, and the
// rest merges once the writes stop.
func TestMergeYieldsToWrites(t *testing.T) {
	s, err := New(t.Context(), Config{Path: filepath.Join(t.TempDir(), "m.db"), IndexMergeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 300 {
		if _, err := s.CreateEntities(t.Context(), []memory.Entity{{
			Name: fmt.Sprintf("node %03d", i), EntityType: "t", Observations: []string{fmt.Sprintf("word%03d obs", i)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	stop, stopped := make(chan struct{}), make(chan error, 1)
	wrote := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			if _, err := s.AddObservations(context.Background(), []memory.ObservationAddition{{EntityName: "node 000", Contents: []string{fmt.Sprint("more ", i)}}}); err != nil {
				stopped <- err
				return
			}
			if i == 0 {
				close(wrote)
			}
			select {
			case <-stop:
				stopped <- nil
				return
			default:
			}
		}
	}()
	<-wrote
	steps, complete, err := s.mergeIndexes(t.Context(), true)
	close(stop)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if err != nil || complete {
		t.Errorf("merge during writes: %d steps, complete %v, %v; want it to yield", steps, complete, err)
	}
	steps, complete, err = s.mergeIndexes(t.Context(), true)
	if err != nil || !complete || steps == 0 {
		t.Errorf("merge after the writes: %d steps, complete %v, %v; want the rest merged", steps, complete, err)
	}
	hits, err := s.SearchMemories(t.Context(), "word150", 0)
	if err != nil || len(hits) != 1 || hits[0].Name != "node 150" {
		t.Errorf("ranked search after merging: %+v, %v", hits, err)
	}
}
