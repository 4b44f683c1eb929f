package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

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
	steps, complete, err := s.mergeIndexes(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if steps == 0 || !complete {
		t.Errorf("merging a fragmented index: %d steps, complete %v", steps, complete)
	}
	again, _, err := s.mergeIndexes(t.Context(), nil)
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
	if _, _, err := s.mergeIndexes(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	b.Run("merged", search)
}

// fragment makes n single-entity transactions: n index segments.
func fragment(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.CreateEntities(t.Context(), []memory.Entity{{
			Name: fmt.Sprintf("node %03d", i), EntityType: "t", Observations: []string{fmt.Sprintf("word%03d obs", i)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMergeYields: a merge stops before the step at which yield says so; the
// part merged stays merged and the rest merges later.
func TestMergeYields(t *testing.T) {
	s, err := New(t.Context(), Config{Path: filepath.Join(t.TempDir(), "m.db"), IndexMergeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fragment(t, s, 300)
	calls := 0
	steps, complete, err := s.mergeIndexes(t.Context(), func() bool { calls++; return calls > 1 })
	if err != nil || complete || steps != 1 {
		t.Errorf("merge told to yield after one step: %d steps, complete %v, %v", steps, complete, err)
	}
	steps, complete, err = s.mergeIndexes(t.Context(), nil)
	if err != nil || !complete {
		t.Errorf("the rest of the merge: %d steps, complete %v, %v", steps, complete, err)
	}
	hits, err := s.SearchMemories(t.Context(), "word150", 0)
	if err != nil || len(hits) != 1 || hits[0].Name != "node 150" {
		t.Errorf("ranked search after merging: %+v, %v", hits, err)
	}
}

// TestMergeLoopWaitsForQuiet: with a fragmented index and the loop checking
// every 20 ms, no merge step runs while writes keep coming, and the merge
// runs once they stop.
func TestMergeLoopWaitsForQuiet(t *testing.T) {
	s, err := New(t.Context(), Config{Path: filepath.Join(t.TempDir(), "m.db"), IndexMergeInterval: 20 * time.Millisecond, IndexMergeWrites: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fragment(t, s, 100)
	for end := time.Now().Add(mergeIdle + 500*time.Millisecond); time.Now().Before(end); {
		if _, err := s.AddObservations(t.Context(), []memory.ObservationAddition{{EntityName: "node 000", Contents: []string{time.Now().String()}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.mergeSteps.Load(); n != 0 {
		t.Errorf("%d merge steps ran while writes kept coming", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.mergeSteps.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no merge within 10s after the writes stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
