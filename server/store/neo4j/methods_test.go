package neo4j_test

import (
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/neo4j/internal/boltstub"
)

// These tests drive the real driver through the Store against the scripted
// Bolt stub: each asserts the exact Cypher and parameters a method sends, in
// one transaction, and how the store reads the answers.

func key(name string) string { return neo4j.NameKey(name) }

func keys(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = key(n)
	}
	return out
}

func sortedKeys(names ...string) []string {
	out := keys(names...)
	sort.Strings(out)
	return out
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got: %#v\nwant: %#v", what, got, want)
	}
}

func entityRow(name, typ string, obs ...string) []any {
	if obs == nil {
		obs = []string{}
	}
	return []any{name, typ, obs}
}

var entityFields = []string{"name", "entityType", "observations"}
var relationFields = []string{"source", "target", "relationType"}

func TestConnectAndSchema(t *testing.T) {
	st, srv := stubStore(t, nil)
	done(t, srv)
	msgs := srv.Received()
	if len(msgs) < 2 || msgs[0].Name != "HELLO" || msgs[1].Name != "LOGON" {
		t.Fatalf("first messages are not HELLO, LOGON: %#v", msgs[:min(2, len(msgs))])
	}
	hello := msgs[0].Fields[0].(map[string]any)
	if hello["user_agent"] != "memory-server" {
		t.Errorf("HELLO user_agent = %v", hello["user_agent"])
	}
	if _, ok := hello["routing"]; ok {
		t.Errorf("a bolt:// URI must not ask for routing: %#v", hello)
	}
	equal(t, "LOGON", msgs[1].Fields[0], map[string]any{"scheme": "basic", "principal": "neo4j", "credentials": "s3cret-password"})
	if st.Backend() != "neo4j" {
		t.Errorf("Backend() = %q", st.Backend())
	}

	// Ping goes through the probe driver's own connection: no script step,
	// and the pooled connection of the tool calls is not used.
	before := srv.Connections()
	if err := st.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := st.Ping(testContext(t)); err != nil {
		t.Fatalf("second Ping: %v", err)
	}
	if got := srv.Connections(); got != before+1 {
		t.Errorf("Ping opened %d connections, want 1 of its own", got-before)
	}
	probe := srv.Connections()
	resets := 0
	for _, m := range srv.Received() {
		if m.Conn == probe && m.Name == "RESET" {
			resets++
		}
	}
	if resets != 1 {
		t.Errorf("the second Ping sent %d RESETs on the probe connection, want 1 (a round trip on the idle connection)", resets)
	}
	stats := st.Stats()
	if stats.MaxConnections != neo4j.DefaultMaxConnectionPoolSize || stats.Acquired != 0 || stats.AcquireCount != 5 {
		t.Errorf("Stats after 5 schema transactions = %+v", stats)
	}
}

func TestCreateEntities(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(3, 10),
		stmt{query: neo4j.QCreateEntities, params: map[string]any{"entities": []map[string]any{
			{"key": key("Alice"), "name": "Alice", "entityType": "Person", "observations": []string{"Likes TEA", "x"}, "seq": 10,
				"search": "alice\x1fperson\x1flikes tea\x1fx", "observationText": "Likes TEA\nx"},
			{"key": key("Bob"), "name": "Bob", "entityType": "Person", "observations": []string{}, "seq": 11,
				"search": "bob\x1fperson", "observationText": ""},
			{"key": key("Carol"), "name": "Carol", "entityType": "Cat", "observations": []string{"c"}, "seq": 12,
				"search": "carol\x1fcat\x1fc", "observationText": "c"},
		}}, fields: []string{"name"}, rows: [][]any{{"Alice"}, {"Carol"}}},
	)...)
	got, err := st.CreateEntities(testContext(t), []memory.Entity{
		{Name: "Alice", EntityType: "Person", Observations: []string{"Likes TEA", "x", "Likes TEA"}},
		{Name: "Bob", EntityType: "Person"},
		{Name: "Alice", EntityType: "Duplicate"},
		{Name: "Carol", EntityType: "Cat", Observations: []string{"c"}},
	})
	if err != nil {
		t.Fatalf("CreateEntities: %v", err)
	}
	equal(t, "created (Bob existed)", got, []memory.Entity{
		{Name: "Alice", EntityType: "Person", Observations: []string{"Likes TEA", "x"}},
		{Name: "Carol", EntityType: "Cat", Observations: []string{"c"}},
	})
	done(t, srv)

	// Refused input reaches no database.
	if _, err := st.CreateEntities(testContext(t), []memory.Entity{{Name: ""}}); !errors.Is(err, memory.ErrInvalidArgument) {
		t.Errorf("empty name: error = %v, want ErrInvalidArgument", err)
	}
	if got, err := st.CreateEntities(testContext(t), nil); err != nil || len(got) != 0 || got == nil {
		t.Errorf("no entities: %#v, %v", got, err)
	}
}

func TestCreateRelations(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(2, 5),
		stmt{query: neo4j.QCreateRelations, params: map[string]any{"relations": []map[string]any{
			{"source": "A", "sourceKey": key("A"), "target": "B", "targetKey": key("B"), "relationType": "knows", "seq": 5, "position": 0},
			{"source": "B", "sourceKey": key("B"), "target": "Nobody", "targetKey": key("Nobody"), "relationType": "likes", "seq": 6, "position": 1},
		}}, fields: []string{"position"}, rows: [][]any{{1}}},
	)...)
	got, err := st.CreateRelations(testContext(t), []memory.Relation{
		{From: "A", To: "B", RelationType: "knows"},
		{From: "A", To: "B", RelationType: "knows"},
		{From: "B", To: "Nobody", RelationType: "likes"},
	})
	if err != nil {
		t.Fatalf("CreateRelations: %v", err)
	}
	equal(t, "created (A knows B existed)", got, []memory.Relation{{From: "B", To: "Nobody", RelationType: "likes"}})
	done(t, srv)
}

func TestAddObservations(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Alice", "Carol")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person", "x"), entityRow("Carol", "Cat")}},
		stmt{query: neo4j.QSetObservations, params: map[string]any{"updates": []map[string]any{
			{"key": key("Alice"), "observations": []string{"x", "y"}, "search": "alice\x1fperson\x1fx\x1fy", "observationText": "x\ny"},
			{"key": key("Carol"), "observations": []string{"z"}, "search": "carol\x1fcat\x1fz", "observationText": "z"},
		}}},
	)...)
	got, err := st.AddObservations(testContext(t), []memory.ObservationAddition{
		{EntityName: "Alice", Contents: []string{"x", "y", "y"}},
		{EntityName: "Carol", Contents: []string{"z"}},
	})
	if err != nil {
		t.Fatalf("AddObservations: %v", err)
	}
	equal(t, "results", got, []memory.ObservationResult{
		{EntityName: "Alice", AddedObservations: []string{"y"}},
		{EntityName: "Carol", AddedObservations: []string{"z"}},
	})
	done(t, srv)
}

func TestAddObservationsUnknownEntityCommitsNothing(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(uncommitted(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Alice", "Ghost")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person", "x")}},
	)...)
	_, err := st.AddObservations(testContext(t), []memory.ObservationAddition{
		{EntityName: "Alice", Contents: []string{"new"}},
		{EntityName: "Ghost", Contents: []string{"boo"}},
	})
	var nf *memory.EntityNotFoundError
	if !errors.As(err, &nf) || nf.Name != "Ghost" || !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("error = %v, want EntityNotFoundError for Ghost", err)
	}
	if err.Error() != "Entity with name Ghost not found" {
		t.Errorf("message %q is not the reference server's", err.Error())
	}
	done(t, srv)
	msgs := srv.Received()
	last := 0
	for i, m := range msgs {
		if m.Name == "BEGIN" {
			last = i
		}
	}
	for _, m := range msgs[last:] {
		if m.Name == "COMMIT" {
			t.Errorf("the failed call was committed: %#v", msgs[last:])
		}
	}
	if msgs[len(msgs)-1].Name != "RESET" {
		t.Errorf("the abandoned transaction was not reset (rolled back): last message %s", msgs[len(msgs)-1].Name)
	}
}

func TestDeleteEntities(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QDeleteEntities, params: map[string]any{"keys": keys("Alice", "Ghost")}, fields: []string{"neighbours"},
			rows: [][]any{{keys("Nobody", "Elsewhere")}}},
		stmt{query: neo4j.QDropOrphans, params: map[string]any{"keys": sortedKeys("Elsewhere", "Nobody")}},
	)...)
	if err := st.DeleteEntities(testContext(t), []string{"Alice", "Ghost"}); err != nil {
		t.Fatalf("DeleteEntities: %v", err)
	}
	done(t, srv)
}

func TestDeleteObservations(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Alice", "Ghost", "Bob")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person", "x", "y", "z"), entityRow("Bob", "Person", "b")}},
		stmt{query: neo4j.QSetObservations, params: map[string]any{"updates": []map[string]any{
			{"key": key("Alice"), "observations": []string{"y"}, "search": "alice\x1fperson\x1fy", "observationText": "y"},
		}}},
	)...)
	err := st.DeleteObservations(testContext(t), []memory.ObservationDeletion{
		{EntityName: "Alice", Observations: []string{"x", "unknown"}},
		{EntityName: "Ghost", Observations: []string{"x"}},
		{EntityName: "Bob", Observations: []string{"not there"}},
		{EntityName: "Alice", Observations: []string{"z"}},
	})
	if err != nil {
		t.Fatalf("DeleteObservations: %v", err)
	}
	done(t, srv)
}

func TestDeleteRelations(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QDeleteRelations, params: map[string]any{"relations": []map[string]any{
			{"sourceKey": key("A"), "targetKey": key("B"), "relationType": "knows"},
			{"sourceKey": key("B"), "targetKey": key("Nobody"), "relationType": "likes"},
		}}, fields: []string{"sourceKey", "targetKey"}, rows: [][]any{{key("A"), key("B")}, {key("B"), key("Nobody")}}},
		stmt{query: neo4j.QDropOrphans, params: map[string]any{"keys": sortedKeys("A", "B", "Nobody")}},
	)...)
	err := st.DeleteRelations(testContext(t), []memory.Relation{
		{From: "A", To: "B", RelationType: "knows"},
		{From: "B", To: "Nobody", RelationType: "likes"},
		{From: "A", To: "B", RelationType: "knows"},
	})
	if err != nil {
		t.Fatalf("DeleteRelations: %v", err)
	}
	done(t, srv)
}

func TestReadGraph(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(readMeta,
		stmt{query: neo4j.QAllEntities, fields: entityFields, rows: [][]any{entityRow("Alice", "Person", "b", "a"), entityRow("Bob", "Person")}},
		stmt{query: neo4j.QAllRelations, fields: relationFields, rows: [][]any{{"Alice", "Bob", "knows"}, {"Bob", "Nobody", "likes"}}},
	)...)
	g, err := st.ReadGraph(testContext(t))
	if err != nil {
		t.Fatalf("ReadGraph: %v", err)
	}
	equal(t, "graph", g, memory.Graph{
		Entities: []memory.Entity{
			{Name: "Alice", EntityType: "Person", Observations: []string{"b", "a"}},
			{Name: "Bob", EntityType: "Person", Observations: []string{}},
		},
		Relations: []memory.Relation{{From: "Alice", To: "Bob", RelationType: "knows"}, {From: "Bob", To: "Nobody", RelationType: "likes"}},
	})
	done(t, srv)
}

func TestSearchNodes(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(readMeta,
		// The folded query goes to the TEXT index; "Bob" stands for a
		// candidate matching only across two fields of the search text
		// ("...bo|b..."), which the Go re-check drops.
		stmt{query: neo4j.QSearchNodes, params: map[string]any{"query": "100% tee_ 'σ"}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person", "drinks 100% TEE_ 'Σ daily"), entityRow("Bob", "100%", " tee_ 'ς")}},
		stmt{query: neo4j.QRelationsTouching, params: map[string]any{"keys": keys("Alice")}, fields: relationFields,
			rows: [][]any{{"Alice", "Bob", "knows"}}},
	)...)
	g, err := st.SearchNodes(testContext(t), "100% TEE_ 'ς")
	if err != nil {
		t.Fatalf("SearchNodes: %v", err)
	}
	equal(t, "result", g, memory.Graph{
		Entities:  []memory.Entity{{Name: "Alice", EntityType: "Person", Observations: []string{"drinks 100% TEE_ 'Σ daily"}}},
		Relations: []memory.Relation{{From: "Alice", To: "Bob", RelationType: "knows"}},
	})
	done(t, srv)

	// No candidate: no relation query.
	srv.Expect(tx(readMeta, stmt{query: neo4j.QSearchNodes, params: map[string]any{"query": "zzz"}, fields: entityFields})...)
	g, err = st.SearchNodes(testContext(t), "ZZZ")
	if err != nil || g.Entities == nil || g.Relations == nil || len(g.Entities) != 0 {
		t.Errorf("empty search: %#v, %v", g, err)
	}
	done(t, srv)
}

func TestOpenNodes(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(readMeta,
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Bob", "Ghost", "Alice")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person"), entityRow("Bob", "Person")}},
		stmt{query: neo4j.QRelationsTouching, params: map[string]any{"keys": keys("Alice", "Bob")}, fields: relationFields,
			rows: [][]any{{"Alice", "Bob", "knows"}}},
	)...)
	g, err := st.OpenNodes(testContext(t), []string{"Bob", "Ghost", "Alice"})
	if err != nil {
		t.Fatalf("OpenNodes: %v", err)
	}
	equal(t, "entities in creation order", entityNames(g.Entities), []string{"Alice", "Bob"})
	equal(t, "relations", g.Relations, []memory.Relation{{From: "Alice", To: "Bob", RelationType: "knows"}})
	done(t, srv)
}

func entityNames(es []memory.Entity) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func TestSearchMemories(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(readMeta,
		stmt{query: neo4j.QSearchMemories, params: map[string]any{"query": `"green" "OR" "te\"a*"`, "limit": 10},
			fields: append(entityFields, "score"),
			rows:   [][]any{append(entityRow("Alice", "Person", "green tea"), 2.5), append(entityRow("Bob", "Person"), 0.25)}},
	)...)
	hits, err := st.SearchMemories(testContext(t), ` green OR te"a* `, 0)
	if err != nil {
		t.Fatalf("SearchMemories: %v", err)
	}
	equal(t, "hits", hits, []memory.ScoredEntity{
		{Entity: memory.Entity{Name: "Alice", EntityType: "Person", Observations: []string{"green tea"}}, Score: 2.5},
		{Entity: memory.Entity{Name: "Bob", EntityType: "Person", Observations: []string{}}, Score: 0.25},
	})
	done(t, srv)
	// Blank text needs no query; a negative limit is refused.
	if hits, err := st.SearchMemories(testContext(t), "   ", 5); err != nil || len(hits) != 0 || hits == nil {
		t.Errorf("blank query: %#v, %v", hits, err)
	}
	if _, err := st.SearchMemories(testContext(t), "x", -1); !errors.Is(err, memory.ErrInvalidArgument) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestFindRelated(t *testing.T) {
	st, srv := stubStore(t, nil)
	hopFields := []string{"source", "target", "relationType", "seq"}
	srv.Expect(tx(readMeta,
		stmt{query: neo4j.QFindStart, params: map[string]any{"key": key("Alice")}, fields: []string{"name"}, rows: [][]any{{"Alice"}}},
		stmt{query: neo4j.QHop, params: map[string]any{"frontier": keys("Alice"), "types": []string{"knows"}}, fields: hopFields,
			rows: [][]any{{"Alice", "Bob", "knows", 3}}},
		stmt{query: neo4j.QHop, params: map[string]any{"frontier": keys("Bob"), "types": []string{"knows"}}, fields: hopFields,
			rows: [][]any{{"Bob", "Nobody", "knows", 4}, {"Alice", "Bob", "knows", 3}}},
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Alice", "Bob", "Nobody")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person"), entityRow("Bob", "Person")}},
	)...)
	g, err := st.FindRelated(testContext(t), memory.FindRelatedQuery{Name: "Alice", Depth: 2, RelationTypes: []string{"knows"}})
	if err != nil {
		t.Fatalf("FindRelated: %v", err)
	}
	equal(t, "entities", entityNames(g.Entities), []string{"Alice", "Bob"})
	equal(t, "relations", g.Relations, []memory.Relation{{From: "Alice", To: "Bob", RelationType: "knows"}, {From: "Bob", To: "Nobody", RelationType: "knows"}})
	done(t, srv)

	srv.Expect(uncommitted(readMeta, stmt{query: neo4j.QFindStart, params: map[string]any{"key": key("Ghost")}, fields: []string{"name"}})...)
	if _, err := st.FindRelated(testContext(t), memory.FindRelatedQuery{Name: "Ghost"}); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("unknown start: error = %v, want ErrNotFound", err)
	}
	done(t, srv)
	if _, err := st.FindRelated(testContext(t), memory.FindRelatedQuery{Name: "Alice", Depth: memory.MaxDepth + 1}); !errors.Is(err, memory.ErrInvalidArgument) {
		t.Errorf("depth %d: error = %v, want ErrInvalidArgument", memory.MaxDepth+1, err)
	}
}

func TestImport(t *testing.T) {
	st, srv := stubStore(t, nil)
	srv.Expect(tx(writeMeta,
		reserve(4, 20),
		stmt{query: neo4j.QEntitiesByName, params: map[string]any{"keys": keys("Alice", "Dave")}, fields: entityFields,
			rows: [][]any{entityRow("Alice", "Person", "x")}},
		stmt{query: neo4j.QCreateEntities, params: map[string]any{"entities": []map[string]any{
			{"key": key("Dave"), "name": "Dave", "entityType": "Dog", "observations": []string{"d", "e"}, "seq": 20, "search": "dave\x1fdog\x1fd\x1fe", "observationText": "d\ne"},
		}}, fields: []string{"name"}, rows: [][]any{{"Dave"}}},
		stmt{query: neo4j.QSetObservations, params: map[string]any{"updates": []map[string]any{
			{"key": key("Alice"), "observations": []string{"x", "new"}, "search": "alice\x1fperson\x1fx\x1fnew", "observationText": "x\nnew"},
		}}},
		stmt{query: neo4j.QCreateRelations, params: map[string]any{"relations": []map[string]any{
			{"source": "Alice", "sourceKey": key("Alice"), "target": "Dave", "targetKey": key("Dave"), "relationType": "walks", "seq": 23, "position": 0},
		}}, fields: []string{"position"}, rows: [][]any{{0}}},
	)...)
	res, err := st.Import(testContext(t), memory.Graph{
		Entities: []memory.Entity{
			{Name: "Alice", EntityType: "Ignored", Observations: []string{"x", "new"}},
			{Name: "Dave", EntityType: "Dog", Observations: []string{"d", "d"}},
			{Name: "Dave", EntityType: "Dog", Observations: []string{"e"}},
		},
		Relations: []memory.Relation{{From: "Alice", To: "Dave", RelationType: "walks"}},
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	equal(t, "result", res, memory.ImportResult{Entities: 1, Observations: 3, Relations: 1})
	done(t, srv)

	// A malformed graph is refused before any transaction.
	if _, err := st.Import(testContext(t), memory.Graph{Relations: []memory.Relation{{From: "a"}}}); !errors.Is(err, memory.ErrInvalidArgument) {
		t.Errorf("malformed import: %v", err)
	}
}

// TestNamesAreParametersOnly stores names, types and relation types made of
// Cypher, quotes and backticks, and checks that they reach the server only as
// parameter values: every query text is one of the store's constants and
// holds none of them.
func TestNamesAreParametersOnly(t *testing.T) {
	st, srv := stubStore(t, nil)
	evilName := "x`}) MATCH (n) DETACH DELETE n //"
	evilType := `Person'}) RETURN 1 UNION MATCH (m) SET m.pwned = "yes" //`
	evilRel := "KNOWS`]->() CALL dbms.killQueries() //"
	srv.Expect(tx(writeMeta,
		reserve(1, 1),
		stmt{query: neo4j.QCreateEntities, params: map[string]any{"entities": []map[string]any{
			{"key": key(evilName), "name": evilName, "entityType": evilType, "observations": []string{"'; DROP"}, "seq": 1,
				"search": "x`}) match (n) detach delete n //\x1f" + `person'}) return 1 union match (m) set m.pwned = "yes" //` + "\x1f'; drop", "observationText": "'; DROP"},
		}}, fields: []string{"name"}, rows: [][]any{{evilName}}},
	)...)
	srv.Expect(tx(writeMeta,
		reserve(1, 2),
		stmt{query: neo4j.QCreateRelations, params: map[string]any{"relations": []map[string]any{
			{"source": evilName, "sourceKey": key(evilName), "target": evilName, "targetKey": key(evilName), "relationType": evilRel, "seq": 2, "position": 0},
		}}, fields: []string{"position"}, rows: [][]any{{0}}},
	)...)
	if _, err := st.CreateEntities(testContext(t), []memory.Entity{{Name: evilName, EntityType: evilType, Observations: []string{"'; DROP"}}}); err != nil {
		t.Fatalf("CreateEntities: %v", err)
	}
	rels, err := st.CreateRelations(testContext(t), []memory.Relation{{From: evilName, To: evilName, RelationType: evilRel}})
	if err != nil || len(rels) != 1 || rels[0].RelationType != evilRel {
		t.Fatalf("CreateRelations: %#v, %v", rels, err)
	}
	done(t, srv)
	known := map[string]bool{neo4j.QReserve: true, neo4j.QCreateEntities: true, neo4j.QCreateRelations: true, neo4j.QAwaitIndexes: true}
	for _, q := range neo4j.SchemaStatements {
		known[q] = true
	}
	for _, m := range runs(srv) {
		q := m.Fields[0].(string)
		if !known[q] {
			t.Errorf("unknown query text sent: %q", q)
		}
		for _, evil := range []string{evilName, evilType, evilRel, "DROP", "pwned", "killQueries"} {
			if containsFold(q, evil) {
				t.Errorf("query text holds %q: %q", evil, q)
			}
		}
	}
}

func containsFold(s, sub string) bool {
	return len(sub) > 0 && indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

var _ = boltstub.Step{}
