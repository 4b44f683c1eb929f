package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// testConcurrentObservations: 64 writers add distinct observations to the
// same entity at once; every acknowledged write must be there afterwards
// (the reference server loses 63 of 64).
func testConcurrentObservations(t *testing.T, s memory.Store) {
	create(t, s, ent("shared", "t"))
	const writers = 64
	var wg sync.WaitGroup
	acked := make(chan string, writers*2)
	errs := make(chan error, writers*2)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs := []string{fmt.Sprintf("writer %d first", i), fmt.Sprintf("writer %d second", i)}
			res, err := s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "shared", Contents: obs}})
			if err != nil {
				errs <- err
				return
			}
			for _, o := range res[0].AddedObservations {
				acked <- o
			}
		}()
	}
	wg.Wait()
	close(acked)
	close(errs)
	for err := range errs {
		t.Errorf("concurrent AddObservations failed: %v", err)
	}
	var want []string
	for o := range acked {
		want = append(want, o)
	}
	g, err := s.OpenNodes(ctx(t), []string{"shared"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Entities) != 1 {
		t.Fatalf("entity lost: %s", show(g))
	}
	got := append([]string(nil), g.Entities[0].Observations...)
	sort.Strings(got)
	sort.Strings(want)
	equal(t, "observations after concurrent writes", got, want)
	if len(want) != writers*2 {
		t.Errorf("%d of %d observations acknowledged", len(want), writers*2)
	}
	// Each writer's pair stays in its own order: one transaction each.
	pos := map[string]int{}
	for i, o := range g.Entities[0].Observations {
		pos[o] = i
	}
	for i := range writers {
		if pos[fmt.Sprintf("writer %d first", i)] > pos[fmt.Sprintf("writer %d second", i)] {
			t.Errorf("writer %d's observations out of order", i)
		}
	}
}

// testConcurrentCreateSameName: many callers create the same name at once;
// exactly one of them wins, nobody fails.
func testConcurrentCreateSameName(t *testing.T, s memory.Store) {
	const callers = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.CreateEntities(ctx(t), []memory.Entity{ent("contested", fmt.Sprintf("type %d", i), fmt.Sprintf("by %d", i))})
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
				return
			}
			mu.Lock()
			winners += len(got)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d callers created the entity, want exactly 1", winners)
	}
	g := readGraph(t, s)
	if len(g.Entities) != 1 || len(g.Entities[0].Observations) != 1 {
		t.Errorf("graph after contested creates: %s", show(g))
	}
}

// testConcurrentReadWrite runs readers beside writers: no call may fail
// (no SQLITE_BUSY, no deadlock) and every read sees a consistent graph.
func testConcurrentReadWrite(t *testing.T, s memory.Store) {
	create(t, s, ent("hub", "t", "hub observation"))
	const workers = 8
	const rounds = 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				name := fmt.Sprintf("node %d-%d", w, i)
				if _, err := s.CreateEntities(ctx(t), []memory.Entity{ent(name, "t", "searchable "+name)}); err != nil {
					t.Errorf("create: %v", err)
					return
				}
				if _, err := s.CreateRelations(ctx(t), []memory.Relation{rel("hub", name, "links")}); err != nil {
					t.Errorf("relate: %v", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				g, err := s.SearchNodes(ctx(t), "searchable")
				if err != nil {
					t.Errorf("search: %v", err)
					return
				}
				for _, e := range g.Entities {
					if len(e.Observations) != 1 {
						t.Errorf("torn read of %q: %v", e.Name, e.Observations)
					}
				}
				if _, err := s.OpenNodes(ctx(t), []string{"hub"}); err != nil {
					t.Errorf("open: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	g, err := s.OpenNodes(ctx(t), []string{"hub"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Relations) != workers*rounds {
		t.Errorf("hub has %d relations, want %d", len(g.Relations), workers*rounds)
	}
}

// testExpiredContext: a context already past its deadline gives
// memory.ErrTimeout (or the context's error) and writes nothing; a canceled
// one gives context.Canceled.
func testExpiredContext(t *testing.T, s memory.Store) {
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	isTimeout := func(err error) bool {
		return errors.Is(err, memory.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
	}
	_, err := s.CreateEntities(expired, []memory.Entity{ent("late", "t")})
	if !isTimeout(err) {
		t.Errorf("CreateEntities with an expired context: %v, want ErrTimeout", err)
	}
	if _, err := s.ReadGraph(expired); !isTimeout(err) {
		t.Errorf("ReadGraph with an expired context: %v, want ErrTimeout", err)
	}
	if _, err := s.SearchNodes(expired, "late"); !isTimeout(err) {
		t.Errorf("SearchNodes with an expired context: %v, want ErrTimeout", err)
	}
	canceled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := s.CreateEntities(canceled, []memory.Entity{ent("canceled", "t")}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateEntities with a canceled context: %v, want context.Canceled", err)
	}
	if g := readGraph(t, s); len(g.Entities) != 0 {
		t.Errorf("expired or canceled calls wrote: %s", show(g))
	}
}

func testPingStats(t *testing.T, s memory.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if s.Backend() == "" {
		t.Error("Backend() is empty")
	}
	create(t, s, ent("a", "t"))
	st := s.Stats()
	if st.MaxConnections < 1 {
		t.Errorf("Stats().MaxConnections = %d", st.MaxConnections)
	}
	if st.AcquireCount < 1 {
		t.Errorf("Stats().AcquireCount = %d after a call", st.AcquireCount)
	}
	if st.Acquired < 0 || st.Idle < 0 || st.Acquired+st.Idle+st.Constructing > st.MaxConnections+1 {
		t.Errorf("inconsistent stats %+v", st)
	}
}

func testClose(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t"))
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.ReadGraph(ctx(t)); err == nil {
		t.Error("ReadGraph after Close succeeded")
	}
	if err := s.Ping(ctx(t)); err == nil {
		t.Error("Ping after Close succeeded")
	}
}
