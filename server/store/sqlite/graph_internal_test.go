package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// TestOwnWritesDoNotReload: the store's own commits, WAL checkpoints and
// index merges never look like another process's writes (a reload per
// check would cost a full load of the graph every 250 ms), while a second
// store's write does.
func TestOwnWritesDoNotReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := New(t.Context(), Config{Path: path, IndexMergeInterval: 50 * time.Millisecond, IndexMergeWrites: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for end, i := time.Now().Add(4*externalCheckInterval+2*checkpointInterval), 0; time.Now().Before(end); i++ {
		if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: fmt.Sprint("e", i), EntityType: "t", Observations: []string{"o"}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(mergeIdle + 4*externalCheckInterval) // an idle merge and checkpoint, then checks
	if n := s.reloads.Load(); n != 0 {
		t.Fatalf("%d reloads without another process", n)
	}
	if s.mergeSteps.Load() == 0 {
		t.Fatal("no index merge ran: the test does not cover merges")
	}
	other, err := New(t.Context(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.CreateEntities(t.Context(), []memory.Entity{{Name: "from the other", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.reloads.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reload within 5s of another store's write")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
