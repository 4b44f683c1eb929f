package neo4j_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/storetest"
)

// Environment of the conformance run against a real Neo4j (docs/neo4j.md).
const (
	envURI      = "MEMORY_SERVER_TEST_NEO4J_URI"
	envUsername = "MEMORY_SERVER_TEST_NEO4J_USERNAME"
	envPassword = "MEMORY_SERVER_TEST_NEO4J_PASSWORD"
	envDatabase = "MEMORY_SERVER_TEST_NEO4J_DATABASE"
)

// TestConformance runs the shared suite against the Neo4j server named by
// MEMORY_SERVER_TEST_NEO4J_URI. The database is emptied before every
// subtest: point it at a database used for nothing else.
func TestConformance(t *testing.T) {
	uri := os.Getenv(envURI)
	if uri == "" {
		t.Skipf("%s is not set: the conformance suite needs a real Neo4j (see docs/neo4j.md); the scripted Bolt stub tests run instead", envURI)
	}
	if testing.Short() {
		t.Skip("-short: skipping the conformance suite against a real Neo4j")
	}
	cfg := neo4j.Config{
		URI:      uri,
		Username: os.Getenv(envUsername),
		Password: os.Getenv(envPassword),
		Database: os.Getenv(envDatabase),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	storetest.Run(t, func(t *testing.T) memory.Store {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		emptyDatabase(ctx, t, cfg)
		st, err := neo4j.New(ctx, cfg)
		if err != nil {
			t.Fatalf("New(%s): %v", cfg.URI, err)
		}
		return st
	})
}

// emptyDatabase deletes every node and relationship through a driver of its
// own (test databases are small).
func emptyDatabase(ctx context.Context, t *testing.T, cfg neo4j.Config) { emptyDatabaseTB(ctx, t, cfg) }

func emptyDatabaseTB(ctx context.Context, t testing.TB, cfg neo4j.Config) {
	t.Helper()
	token := driver.NoAuth()
	if cfg.Username != "" {
		token = driver.BasicAuth(cfg.Username, cfg.Password, "")
	}
	d, err := driver.NewDriverWithContext(cfg.URI, token)
	if err != nil {
		t.Fatalf("driver for %s: %v", cfg.URI, err)
	}
	defer func() { _ = d.Close(context.WithoutCancel(ctx)) }()
	_, err = driver.ExecuteQuery(ctx, d, `MATCH (n) DETACH DELETE n`, nil, driver.EagerResultTransformer,
		driver.ExecuteQueryWithDatabase(cfg.Database), driver.ExecuteQueryWithWritersRouting())
	if err != nil {
		t.Fatalf("emptying the test database: %v", err)
	}
}
