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
	steps, err := s.mergeIndexes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if steps == 0 {
		t.Error("merging a fragmented index did no work")
	}
	again, err := s.mergeIndexes(t.Context())
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
				if _, err := s.SearchMemories(context.Background(), fmt.Sprintf("project %d", r.IntN(97)), 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("warmup", search)
	b.Run("fragmented", search)
	if _, err := s.mergeIndexes(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Run("merged", search)
}
