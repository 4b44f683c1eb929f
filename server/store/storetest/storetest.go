// Package storetest is the conformance suite every memory.Store backend
// runs: the tool semantics of the reference memory server, ordering,
// verbatim strings, concurrency, transactions and timeouts.
//
// A backend's test calls Run with a function that opens a fresh, empty store
// for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) memory.Store { ... })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Opener returns a fresh, empty store; Run closes it (the opener may also
// register cleanups on t).
type Opener func(t *testing.T) memory.Store

// Run runs the whole suite, one subtest per behaviour.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s memory.Store)
	}{
		{"EmptyGraph", testEmptyGraph},
		{"CreateEntities", testCreateEntities},
		{"CreateRelations", testCreateRelations},
		{"AddObservations", testAddObservations},
		{"AddObservationsUnknownEntitySavesNothing", testAddObservationsUnknown},
		{"DeleteEntitiesCascades", testDeleteEntities},
		{"DeleteObservations", testDeleteObservations},
		{"DeleteRelations", testDeleteRelations},
		{"CreationOrder", testCreationOrder},
		{"VerbatimStrings", testVerbatim},
		{"InvalidInputSavesNothing", testInvalidInput},
		{"SearchNodes", testSearchNodes},
		{"SearchNodesUnicode", testSearchNodesUnicode},
		{"SearchNodesLiteralCharacters", testSearchNodesLiteral},
		{"SearchNodesShortQueries", testSearchNodesShort},
		{"SearchNodesFollowsWrites", testSearchNodesFollowsWrites},
		{"SearchNodesRelationRule", testSearchNodesRelations},
		{"SearchNodesMatchesBruteForce", testSearchNodesBruteForce},
		{"OpenNodes", testOpenNodes},
		{"SearchMemories", testSearchMemories},
		{"FindRelated", testFindRelated},
		{"FindRelatedMatchesBruteForce", testFindRelatedBruteForce},
		{"Import", testImport},
		{"ConcurrentObservations", testConcurrentObservations},
		{"ConcurrentCreateSameName", testConcurrentCreateSameName},
		{"ConcurrentReadersAndWriters", testConcurrentReadWrite},
		{"ExpiredContext", testExpiredContext},
		{"PingStatsBackend", testPingStats},
		{"CloseIdempotent", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

// ctx returns a context for one test step.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func create(t *testing.T, s memory.Store, es ...memory.Entity) []memory.Entity {
	t.Helper()
	got, err := s.CreateEntities(ctx(t), es)
	if err != nil {
		t.Fatalf("CreateEntities: %v", err)
	}
	return got
}

func relate(t *testing.T, s memory.Store, rs ...memory.Relation) []memory.Relation {
	t.Helper()
	got, err := s.CreateRelations(ctx(t), rs)
	if err != nil {
		t.Fatalf("CreateRelations: %v", err)
	}
	return got
}

func readGraph(t *testing.T, s memory.Store) memory.Graph {
	t.Helper()
	g, err := s.ReadGraph(ctx(t))
	if err != nil {
		t.Fatalf("ReadGraph: %v", err)
	}
	checkNonNil(t, g)
	return g
}

func search(t *testing.T, s memory.Store, q string) memory.Graph {
	t.Helper()
	g, err := s.SearchNodes(ctx(t), q)
	if err != nil {
		t.Fatalf("SearchNodes(%q): %v", q, err)
	}
	checkNonNil(t, g)
	return g
}

// checkNonNil fails when a returned graph has nil slices (they must encode
// as [] for MCP clients).
func checkNonNil(t *testing.T, g memory.Graph) {
	t.Helper()
	if g.Entities == nil || g.Relations == nil {
		t.Fatalf("graph has nil slices: %+v", g)
	}
	for _, e := range g.Entities {
		if e.Observations == nil {
			t.Fatalf("entity %q has nil observations", e.Name)
		}
	}
}

func ent(name, typ string, obs ...string) memory.Entity {
	if obs == nil {
		obs = []string{}
	}
	return memory.Entity{Name: name, EntityType: typ, Observations: obs}
}

func rel(from, to, typ string) memory.Relation {
	return memory.Relation{From: from, To: to, RelationType: typ}
}

func entityNames(es []memory.Entity) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, show(got), show(want))
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want one matching %v", what, err, target)
	}
}
