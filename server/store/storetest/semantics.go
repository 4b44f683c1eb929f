package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

func testEmptyGraph(t *testing.T, s memory.Store) {
	g := readGraph(t, s)
	if len(g.Entities) != 0 || len(g.Relations) != 0 {
		t.Fatalf("fresh store not empty: %s", show(g))
	}
	g = search(t, s, "anything")
	equal(t, "search on empty store", g, memory.Graph{Entities: []memory.Entity{}, Relations: []memory.Relation{}})
	og, err := s.OpenNodes(ctx(t), []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	checkNonNil(t, og)
	hits, err := s.SearchMemories(ctx(t), "anything", 0)
	if err != nil || hits == nil || len(hits) != 0 {
		t.Errorf("SearchMemories on empty store = %#v, %v; want empty non-nil", hits, err)
	}
}

func testCreateEntities(t *testing.T, s memory.Store) {
	got := create(t, s, ent("alice", "person", "likes tea"), ent("bob", "person"))
	equal(t, "created", got, []memory.Entity{ent("alice", "person", "likes tea"), ent("bob", "person")})

	// Existing names are skipped, as are later duplicates within one call;
	// the existing entity is left untouched.
	got = create(t, s,
		ent("alice", "robot", "other"),
		ent("carol", "person", "a", "b", "a"),
		ent("carol", "cat", "c"))
	equal(t, "second call created", got, []memory.Entity{ent("carol", "person", "a", "b")})

	got = create(t, s, ent("alice", "x"))
	if got == nil || len(got) != 0 {
		t.Errorf("all-skipped create = %#v, want empty non-nil slice", got)
	}
	g := readGraph(t, s)
	equal(t, "graph", g.Entities, []memory.Entity{
		ent("alice", "person", "likes tea"), ent("bob", "person"), ent("carol", "person", "a", "b"),
	})
}

func testCreateRelations(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t"), ent("b", "t"))
	got := relate(t, s, rel("a", "b", "knows"), rel("a", "b", "knows"), rel("b", "a", "knows"), rel("a", "ghost", "haunts"))
	equal(t, "created", got, []memory.Relation{rel("a", "b", "knows"), rel("b", "a", "knows"), rel("a", "ghost", "haunts")})
	got = relate(t, s, rel("a", "b", "knows"), rel("a", "b", "likes"))
	equal(t, "second call", got, []memory.Relation{rel("a", "b", "likes")})
	got = relate(t, s, rel("a", "b", "likes"))
	if got == nil || len(got) != 0 {
		t.Errorf("all-skipped relations = %#v, want empty non-nil", got)
	}
	g := readGraph(t, s)
	equal(t, "relations", g.Relations, []memory.Relation{
		rel("a", "b", "knows"), rel("b", "a", "knows"), rel("a", "ghost", "haunts"), rel("a", "b", "likes"),
	})
}

func testAddObservations(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "one"), ent("b", "t"))
	res, err := s.AddObservations(ctx(t), []memory.ObservationAddition{
		{EntityName: "a", Contents: []string{"one", "two", "three", "two"}},
		{EntityName: "b", Contents: []string{"x"}},
		{EntityName: "a", Contents: []string{"three", "four"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "results", res, []memory.ObservationResult{
		{EntityName: "a", AddedObservations: []string{"two", "three"}},
		{EntityName: "b", AddedObservations: []string{"x"}},
		{EntityName: "a", AddedObservations: []string{"four"}},
	})
	res, err = s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "b", Contents: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].AddedObservations == nil || len(res[0].AddedObservations) != 0 {
		t.Errorf("re-adding = %#v, want one result with an empty non-nil list", res)
	}
	g := readGraph(t, s)
	equal(t, "graph", g.Entities, []memory.Entity{ent("a", "t", "one", "two", "three", "four"), ent("b", "t", "x")})
}

func testAddObservationsUnknown(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "kept"))
	before := readGraph(t, s)
	_, err := s.AddObservations(ctx(t), []memory.ObservationAddition{
		{EntityName: "a", Contents: []string{"must not be saved"}},
		{EntityName: "missing", Contents: []string{"x"}},
	})
	var nf *memory.EntityNotFoundError
	if !errors.As(err, &nf) || nf.Name != "missing" {
		t.Fatalf("error = %v, want *memory.EntityNotFoundError for %q", err, "missing")
	}
	wantErrIs(t, "unknown entity", err, memory.ErrNotFound)
	if !strings.Contains(err.Error(), "Entity with name missing not found") {
		t.Errorf("message %q lacks the reference server's wording", err.Error())
	}
	equal(t, "graph after failed call", readGraph(t, s), before)
	if g := search(t, s, "must not be saved"); len(g.Entities) != 0 {
		t.Errorf("the failed call's observation is searchable: %s", show(g))
	}
}

func testDeleteEntities(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "obs a"), ent("b", "t", "obs b"), ent("c", "t"))
	relate(t, s, rel("a", "b", "r"), rel("b", "c", "r"), rel("c", "a", "r"), rel("c", "c", "self"), rel("x", "b", "r"))
	if err := s.DeleteEntities(ctx(t), []string{"b", "nobody"}); err != nil {
		t.Fatal(err)
	}
	g := readGraph(t, s)
	equal(t, "entities", g.Entities, []memory.Entity{ent("a", "t", "obs a"), ent("c", "t")})
	equal(t, "relations", g.Relations, []memory.Relation{rel("c", "a", "r"), rel("c", "c", "self")})
	if sg := search(t, s, "obs b"); len(sg.Entities) != 0 {
		t.Errorf("deleted entity still found: %s", show(sg))
	}
	// A re-created entity starts afresh.
	create(t, s, ent("b", "new"))
	g = readGraph(t, s)
	equal(t, "re-created", g.Entities[len(g.Entities)-1], ent("b", "new"))
	if err := s.DeleteEntities(ctx(t), nil); err != nil {
		t.Errorf("DeleteEntities(nil): %v", err)
	}
}

func testDeleteObservations(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "one", "two", "three"), ent("b", "t", "two"))
	err := s.DeleteObservations(ctx(t), []memory.ObservationDeletion{
		{EntityName: "a", Observations: []string{"two", "never there"}},
		{EntityName: "nobody", Observations: []string{"two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := readGraph(t, s)
	equal(t, "entities", g.Entities, []memory.Entity{ent("a", "t", "one", "three"), ent("b", "t", "two")})
	equal(t, "search two", entityNames(search(t, s, "two").Entities), []string{"b"})
	// Adding it back puts it at the end.
	if _, err := s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "a", Contents: []string{"two"}}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "re-added", readGraph(t, s).Entities[0], ent("a", "t", "one", "three", "two"))
}

func testDeleteRelations(t *testing.T, s memory.Store) {
	relate(t, s, rel("a", "b", "r"), rel("a", "b", "s"), rel("b", "a", "r"))
	err := s.DeleteRelations(ctx(t), []memory.Relation{rel("a", "b", "r"), rel("a", "b", "unknown"), rel("q", "w", "e")})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "relations", readGraph(t, s).Relations, []memory.Relation{rel("a", "b", "s"), rel("b", "a", "r")})
}

func testCreationOrder(t *testing.T, s memory.Store) {
	// Names chosen so that alphabetical, length and hash orders all differ
	// from creation order.
	order := []string{"zeta", "alpha", "Mu", "beta", "ω", "a", "Zz", "0"}
	for _, n := range order {
		create(t, s, ent(n, "t", "first "+n))
	}
	for i := len(order) - 1; i >= 0; i-- {
		relate(t, s, rel(order[i], order[(i+1)%len(order)], "next"))
	}
	if _, err := s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "alpha", Contents: []string{"z", "b", "y"}}}); err != nil {
		t.Fatal(err)
	}
	g := readGraph(t, s)
	equal(t, "entity order", entityNames(g.Entities), order)
	equal(t, "observation order", g.Entities[1].Observations, []string{"first alpha", "z", "b", "y"})
	var relOrder []string
	for _, r := range g.Relations {
		relOrder = append(relOrder, r.From)
	}
	want := []string{}
	for i := len(order) - 1; i >= 0; i-- {
		want = append(want, order[i])
	}
	equal(t, "relation order", relOrder, want)
	og, err := s.OpenNodes(ctx(t), []string{"0", "zeta", "beta"})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "open_nodes order", entityNames(og.Entities), []string{"zeta", "beta", "0"})
	equal(t, "search order", entityNames(search(t, s, "first").Entities), order)
}

func testVerbatim(t *testing.T, s memory.Store) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	names := []string{
		`Robert'); DROP TABLE entities; --`,
		`"double" 'single' ` + "`back`",
		`100% _under_ \back\slash`,
		"日本語 🧠 emoji Ünïcödé",
		"MATCH (n) DETACH DELETE n",
		"new\nline\ttab",
		big,
		"x" + big,
	}
	var es []memory.Entity
	for i, n := range names {
		es = append(es, ent(n, names[(i+1)%len(names)], n, big+n))
	}
	got := create(t, s, es...)
	equal(t, "created", len(got), len(names))
	var rs []memory.Relation
	for i, n := range names {
		rs = append(rs, rel(n, names[(i+3)%len(names)], names[(i+5)%len(names)]))
	}
	relate(t, s, rs...)
	g := readGraph(t, s)
	equal(t, "entities round trip", g.Entities, es)
	equal(t, "relations round trip", g.Relations, rs)
	og, err := s.OpenNodes(ctx(t), names)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "open_nodes round trip", og.Entities, es)
	for _, n := range names[:6] {
		sg := search(t, s, n)
		found := false
		for _, e := range sg.Entities {
			found = found || e.Name == n
		}
		if !found {
			t.Errorf("SearchNodes(%q) does not find it", n)
		}
	}
	if _, err := s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: big, Contents: []string{big}}}); err != nil {
		t.Fatal(err)
	}
	og, err = s.OpenNodes(ctx(t), []string{big})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "64 KiB entity", og.Entities, []memory.Entity{ent(big, names[7], big, big+big)})
	if err := s.DeleteEntities(ctx(t), names); err != nil {
		t.Fatal(err)
	}
	g = readGraph(t, s)
	if len(g.Entities) != 0 || len(g.Relations) != 0 {
		t.Errorf("after deleting every name: %s", show(g))
	}
}

func testInvalidInput(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t"))
	before := readGraph(t, s)
	type check struct {
		name string
		err  error
	}
	var checks []check
	_, err := s.CreateEntities(ctx(t), []memory.Entity{ent("fine", "t"), ent("", "t")})
	checks = append(checks, check{"empty entity name", err})
	_, err = s.CreateEntities(ctx(t), []memory.Entity{ent("nul\x00name", "t")})
	checks = append(checks, check{"NUL in a name", err})
	_, err = s.CreateRelations(ctx(t), []memory.Relation{rel("a", "b", "r"), rel("a", "", "r")})
	checks = append(checks, check{"empty relation end", err})
	_, err = s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "a", Contents: []string{"ok", "bad\x00"}}})
	checks = append(checks, check{"NUL in an observation", err})
	_, err = s.FindRelated(ctx(t), memory.FindRelatedQuery{Name: "a", Depth: memory.MaxDepth + 1})
	checks = append(checks, check{"depth beyond MaxDepth", err})
	_, err = s.SearchMemories(ctx(t), "x", -1)
	checks = append(checks, check{"negative limit", err})
	for _, c := range checks {
		wantErrIs(t, c.name, c.err, memory.ErrInvalidArgument)
	}
	equal(t, "graph after refused calls", readGraph(t, s), before)
}
