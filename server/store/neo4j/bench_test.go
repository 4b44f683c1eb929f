package neo4j_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/neo4j"
)

// BenchmarkStubReadGraph measures one read_graph call through the store and
// the real driver against the Bolt stub over loopback (BEGIN, two RUN+PULL,
// COMMIT): the client side of a call, plus the stub's own script checks. It
// bounds what the store and driver add to a call; it says nothing of a real
// Neo4j's speed.
func BenchmarkStubReadGraph(b *testing.B) {
	st, srv := stubStoreB(b)
	rows := make([][]any, 100)
	for i := range rows {
		rows[i] = entityRow(fmt.Sprintf("entity %d", i), "type", "observation one", "observation two")
	}
	for b.Loop() {
		srv.Expect(tx(readMeta,
			stmt{query: neo4j.QAllEntities, fields: entityFields, rows: rows},
			stmt{query: neo4j.QAllRelations, fields: relationFields})...)
		g, err := st.ReadGraph(b.Context())
		if err != nil || len(g.Entities) != 100 {
			b.Fatalf("ReadGraph: %d entities, %v", len(g.Entities), err)
		}
	}
}

// BenchmarkStubCreateEntities measures one create_entities call of 10
// entities against the Bolt stub (BEGIN, reserve, create, COMMIT).
func BenchmarkStubCreateEntities(b *testing.B) {
	st, srv := stubStoreB(b)
	i := 0
	for b.Loop() {
		var es []memory.Entity
		var params []map[string]any
		var rows [][]any
		for j := range 10 {
			name := fmt.Sprintf("e%d-%d", i, j)
			es = append(es, memory.Entity{Name: name, EntityType: "t", Observations: []string{"o"}})
			params = append(params, map[string]any{"key": key(name), "name": name, "entityType": "t", "observations": []string{"o"},
				"seq": int64(1 + j), "search": name + "\x1ft\x1fo", "observationText": "o"})
			rows = append(rows, []any{name})
		}
		srv.Expect(tx(writeMeta, reserve(10, 1),
			stmt{query: neo4j.QCreateEntities, params: map[string]any{"entities": params}, fields: []string{"name"}, rows: rows})...)
		got, err := st.CreateEntities(b.Context(), es)
		if err != nil || len(got) != 10 {
			b.Fatalf("CreateEntities: %d, %v", len(got), err)
		}
		i++
	}
}

// BenchmarkRealSearchNodes measures search_nodes against the real Neo4j of
// MEMORY_SERVER_TEST_NEO4J_URI on a graph of 1,000 entities. The database is
// emptied first.
func BenchmarkRealSearchNodes(b *testing.B) {
	uri := os.Getenv(envURI)
	if uri == "" {
		b.Skipf("%s is not set", envURI)
	}
	cfg := neo4j.Config{URI: uri, Username: os.Getenv(envUsername), Password: os.Getenv(envPassword), Database: os.Getenv(envDatabase)}
	emptyDatabaseTB(b.Context(), b, cfg)
	st, err := neo4j.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	var es []memory.Entity
	for i := range 1000 {
		es = append(es, memory.Entity{Name: fmt.Sprintf("Entity %d", i), EntityType: "bench", Observations: []string{fmt.Sprintf("observation number %d", i)}})
	}
	if _, err := st.CreateEntities(b.Context(), es); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		g, err := st.SearchNodes(b.Context(), "NUMBER 99")
		if err != nil || len(g.Entities) == 0 {
			b.Fatalf("SearchNodes: %d, %v", len(g.Entities), err)
		}
	}
}
