package storetest

import (
	"errors"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

func testSearchNodes(t *testing.T, s memory.Store) {
	create(t, s,
		ent("Alice Smith", "person", "works at Acme"),
		ent("Acme Corp", "company", "makes anvils"),
		ent("Bob", "Engineer", "friend of alice"),
		ent("Carol", "person", "plays chess"))
	tests := []struct {
		query string
		want  []string
	}{
		{"alice", []string{"Alice Smith", "Bob"}}, // name and observation
		{"ACME", []string{"Alice Smith", "Acme Corp"}},
		{"engineer", []string{"Bob"}}, // type
		{"ENGINE", []string{"Bob"}},
		{"mith", []string{"Alice Smith"}},
		{"chess", []string{"Carol"}},
		{"nothing like this", []string{}},
		{"at acme", []string{"Alice Smith"}},
		{"ice smi", []string{"Alice Smith"}},
		{"", []string{"Alice Smith", "Acme Corp", "Bob", "Carol"}}, // the reference matches everything
	}
	for _, tt := range tests {
		equal(t, "SearchNodes("+tt.query+")", entityNames(search(t, s, tt.query).Entities), tt.want)
	}
	g := search(t, s, "anvils")
	equal(t, "full entity", g.Entities, []memory.Entity{ent("Acme Corp", "company", "makes anvils")})
}

func testSearchNodesUnicode(t *testing.T, s memory.Store) {
	create(t, s,
		ent("Ünïcödé Straße", "Ορισμός", "ΣΊΣΥΦΟΣ rolls"),
		ent("plain", "t", "Ärger im Büro"),
		ent("кириллица", "t"),
		ent("Kelvin", "t", "\u212a is the kelvin sign"))
	tests := []struct {
		query string
		want  []string
	}{
		{"üNÏcÖDÉ", []string{"Ünïcödé Straße"}},
		{"STRASSE", []string{}}, // simple case folding only: ß is not ss
		{"straße", []string{"Ünïcödé Straße"}},
		{"ορισμός", []string{"Ünïcödé Straße"}},
		{"σίσυφος", []string{"Ünïcödé Straße"}},
		{"ärger", []string{"plain"}},
		{"BÜRO", []string{"plain"}},
		{"КИРИЛЛ", []string{"кириллица"}},
		{"k is", []string{"Kelvin"}},
	}
	for _, tt := range tests {
		equal(t, "SearchNodes("+tt.query+")", entityNames(search(t, s, tt.query).Entities), tt.want)
	}
}

func testSearchNodesLiteral(t *testing.T, s memory.Store) {
	create(t, s,
		ent("percent", "t", "100% sure"),
		ent("underscore", "t", "snake_case_name"),
		ent("quotes", "t", `it's "quoted"`),
		ent("backslash", `a\b`, "x"),
		ent("plain", "t", "100 percent sure, snakeXcaseXname, its quoted, ab"))
	tests := []struct {
		query string
		want  []string
	}{
		{"0% s", []string{"percent"}},
		{"%", []string{"percent"}},
		{"e_c", []string{"underscore"}},
		{"_", []string{"underscore"}},
		{"'s \"q", []string{"quotes"}},
		{`"quoted"`, []string{"quotes"}},
		{"'", []string{"quotes"}},
		{`a\b`, []string{"backslash"}},
		{`\`, []string{"backslash"}},
		{"%%%", []string{}},
		{"*", []string{}},
		{"NEAR(", []string{}},
		{"a OR b", []string{}},
	}
	for _, tt := range tests {
		equal(t, "SearchNodes("+tt.query+")", entityNames(search(t, s, tt.query).Entities), tt.want)
	}
}

func testSearchNodesShort(t *testing.T, s memory.Store) {
	create(t, s, ent("xy", "t"), ent("other", "t", "has Q in it"), ent("ÄÖ", "t"))
	equal(t, "two runes", entityNames(search(t, s, "XY").Entities), []string{"xy"})
	equal(t, "one rune", entityNames(search(t, s, "q").Entities), []string{"other"})
	equal(t, "two non-ASCII runes", entityNames(search(t, s, "äö").Entities), []string{"ÄÖ"})
}

func testSearchNodesFollowsWrites(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "before"))
	if _, err := s.AddObservations(ctx(t), []memory.ObservationAddition{{EntityName: "a", Contents: []string{"zebra crossing"}}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "added observation found", entityNames(search(t, s, "ZEBRA").Entities), []string{"a"})
	if err := s.DeleteObservations(ctx(t), []memory.ObservationDeletion{{EntityName: "a", Observations: []string{"zebra crossing"}}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "deleted observation gone", entityNames(search(t, s, "zebra").Entities), []string{})
	if err := s.DeleteEntities(ctx(t), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	create(t, s, ent("b", "t", "before"))
	equal(t, "only the new entity", entityNames(search(t, s, "before").Entities), []string{"b"})
}

func testSearchNodesRelations(t *testing.T, s memory.Store) {
	create(t, s, ent("match one", "t"), ent("match two", "t"), ent("other", "t"), ent("far", "t"))
	relate(t, s,
		rel("match one", "match two", "both"),
		rel("other", "far", "neither"),
		rel("other", "match one", "to"),
		rel("match two", "far", "from"),
		rel("match two", "ghost", "dangling"))
	g := search(t, s, "match")
	equal(t, "entities", entityNames(g.Entities), []string{"match one", "match two"})
	equal(t, "relations with at least one endpoint", g.Relations, []memory.Relation{
		rel("match one", "match two", "both"), rel("other", "match one", "to"),
		rel("match two", "far", "from"), rel("match two", "ghost", "dangling"),
	})
}

func testOpenNodes(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "x"), ent("b", "t"), ent("c", "t"))
	relate(t, s, rel("a", "b", "r"), rel("b", "c", "r"), rel("c", "c", "self"), rel("z", "a", "in"))
	g, err := s.OpenNodes(ctx(t), []string{"a", "missing", "a"})
	if err != nil {
		t.Fatal(err)
	}
	checkNonNil(t, g)
	equal(t, "entities", g.Entities, []memory.Entity{ent("a", "t", "x")})
	equal(t, "relations", g.Relations, []memory.Relation{rel("a", "b", "r"), rel("z", "a", "in")})
	g, err = s.OpenNodes(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkNonNil(t, g)
	if len(g.Entities) != 0 || len(g.Relations) != 0 {
		t.Errorf("OpenNodes(nil) = %s", show(g))
	}
}

func testSearchMemories(t *testing.T, s memory.Store) {
	create(t, s,
		ent("Kubernetes", "technology", "container orchestration", "kubernetes schedules pods"),
		ent("Docker", "technology", "containers on one host"),
		ent("Gardening", "hobby", "tomatoes need sun"),
		ent("Pods", "concept", "kubernetes runs pods"))
	hits, err := s.SearchMemories(ctx(t), "kubernetes", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for i, h := range hits {
		got = append(got, h.Name)
		if h.Observations == nil {
			t.Errorf("hit %q has nil observations", h.Name)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits not best first: %s", show(hits))
		}
	}
	if len(got) != 2 || got[0] != "Kubernetes" || got[1] != "Pods" {
		t.Errorf("SearchMemories(kubernetes) = %v, want [Kubernetes Pods] (name match first)", got)
	}
	hits, err = s.SearchMemories(ctx(t), "tomatoes", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Entity.Name != "Gardening" || len(hits[0].Observations) != 1 {
		t.Errorf("SearchMemories(tomatoes) = %s", show(hits))
	}
	hits, err = s.SearchMemories(ctx(t), "kubernetes pods", 1)
	if err != nil || len(hits) != 1 {
		t.Errorf("limit 1: %s, %v", show(hits), err)
	}
	for _, q := range []string{"", "   ", `"`, "*", "AND OR NOT", "zzzunknown"} {
		hits, err := s.SearchMemories(ctx(t), q, 0)
		if err != nil && !errors.Is(err, memory.ErrInvalidArgument) {
			t.Errorf("SearchMemories(%q): %v", q, err)
		}
		if err == nil && (hits == nil || len(hits) != 0) {
			t.Errorf("SearchMemories(%q) = %s, want empty non-nil", q, show(hits))
		}
	}
}

func testFindRelated(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t"), ent("b", "t"), ent("c", "t"), ent("d", "t"), ent("e", "t"), ent("iso", "t"))
	relate(t, s,
		rel("a", "b", "knows"),
		rel("c", "b", "knows"), // reverse direction must be followed
		rel("c", "d", "likes"),
		rel("d", "e", "knows"),
		rel("b", "ghost", "knows"))
	find := func(q memory.FindRelatedQuery) memory.Graph {
		t.Helper()
		g, err := s.FindRelated(ctx(t), q)
		if err != nil {
			t.Fatalf("FindRelated(%+v): %v", q, err)
		}
		checkNonNil(t, g)
		return g
	}
	g := find(memory.FindRelatedQuery{Name: "a"})
	equal(t, "depth 0 means 1", entityNames(g.Entities), []string{"a", "b"})
	equal(t, "depth 1 relations", g.Relations, []memory.Relation{rel("a", "b", "knows")})
	g = find(memory.FindRelatedQuery{Name: "a", Depth: 2})
	equal(t, "depth 2", entityNames(g.Entities), []string{"a", "b", "c"})
	equal(t, "depth 2 relations", g.Relations, []memory.Relation{rel("a", "b", "knows"), rel("c", "b", "knows"), rel("b", "ghost", "knows")})
	g = find(memory.FindRelatedQuery{Name: "a", Depth: 3})
	equal(t, "depth 3", entityNames(g.Entities), []string{"a", "b", "c", "d"})
	g = find(memory.FindRelatedQuery{Name: "a", Depth: 3, RelationTypes: []string{"knows"}})
	equal(t, "knows only", entityNames(g.Entities), []string{"a", "b", "c"})
	g = find(memory.FindRelatedQuery{Name: "e", Depth: 3})
	equal(t, "from e backwards", entityNames(g.Entities), []string{"b", "c", "d", "e"})
	g = find(memory.FindRelatedQuery{Name: "a", Depth: 3, Limit: 2})
	equal(t, "limit 2", entityNames(g.Entities), []string{"a", "b"})
	g = find(memory.FindRelatedQuery{Name: "iso", Depth: 2})
	equal(t, "isolated", g, memory.Graph{Entities: []memory.Entity{ent("iso", "t")}, Relations: []memory.Relation{}})

	_, err := s.FindRelated(ctx(t), memory.FindRelatedQuery{Name: "nobody"})
	var nf *memory.EntityNotFoundError
	if !errors.As(err, &nf) || nf.Name != "nobody" {
		t.Errorf("unknown start: error = %v, want *EntityNotFoundError", err)
	}
	_, err = s.FindRelated(ctx(t), memory.FindRelatedQuery{Name: "a", Depth: 4})
	wantErrIs(t, "depth 4", err, memory.ErrInvalidArgument)
}

func testImport(t *testing.T, s memory.Store) {
	create(t, s, ent("a", "t", "one"))
	relate(t, s, rel("a", "b", "r"))
	res, err := s.Import(ctx(t), memory.Graph{
		Entities:  []memory.Entity{ent("a", "other type", "one", "two"), ent("b", "t", "x", "x"), ent("c", "t")},
		Relations: []memory.Relation{rel("a", "b", "r"), rel("b", "c", "r")},
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "import counts", res, memory.ImportResult{Entities: 2, Observations: 2, Relations: 1})
	g := readGraph(t, s)
	equal(t, "entities", g.Entities, []memory.Entity{ent("a", "t", "one", "two"), ent("b", "t", "x"), ent("c", "t")})
	equal(t, "relations", g.Relations, []memory.Relation{rel("a", "b", "r"), rel("b", "c", "r")})

	before := g
	_, err = s.Import(ctx(t), memory.Graph{Entities: []memory.Entity{ent("new", "t"), ent("", "t")}})
	wantErrIs(t, "invalid import", err, memory.ErrInvalidArgument)
	equal(t, "graph after refused import", readGraph(t, s), before)
}
