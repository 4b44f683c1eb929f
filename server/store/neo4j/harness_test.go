package neo4j_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/neo4j/internal/boltstub"
)

// testQueryTimeout is the query timeout of the stub tests' stores; the
// driver sends it as tx_timeout in milliseconds.
const testQueryTimeout = 5 * time.Second

var (
	writeMeta = map[string]any{"tx_timeout": 5000}
	readMeta  = map[string]any{"tx_timeout": 5000, "mode": "r"}
)

// stmt is one statement of a scripted transaction: the exact query and
// parameters the store must send, and the rows the stub answers.
type stmt struct {
	query  string
	params map[string]any
	fields []string
	rows   [][]any
}

// tx scripts one managed transaction: BEGIN, each statement's RUN and PULL,
// COMMIT.
func tx(meta map[string]any, stmts ...stmt) []boltstub.Step {
	steps := []boltstub.Step{boltstub.Begin(meta)}
	for _, s := range stmts {
		steps = append(steps, boltstub.Run(s.query, s.params, s.fields...), boltstub.Pull(s.rows...))
	}
	return append(steps, boltstub.Commit())
}

// uncommitted scripts a transaction the store abandons after its statements
// (the driver then resets the connection instead of committing).
func uncommitted(meta map[string]any, stmts ...stmt) []boltstub.Step {
	steps := tx(meta, stmts...)
	return steps[:len(steps)-1]
}

// schemaSteps is the schema setup New runs, for a query timeout of timeout.
func schemaSteps(timeout time.Duration) []boltstub.Step {
	return schemaStepsOn(timeout, "")
}

// schemaStepsOn is schemaSteps on a named database.
func schemaStepsOn(timeout time.Duration, database string) []boltstub.Step {
	wm := map[string]any{"tx_timeout": timeout.Milliseconds()}
	if database != "" {
		wm["db"] = database
	}
	var steps []boltstub.Step
	for _, q := range neo4j.SchemaStatements {
		steps = append(steps, tx(wm, stmt{query: q})...)
	}
	return append(steps, tx(wm, stmt{query: neo4j.QAwaitIndexes, params: map[string]any{"seconds": int64(max(1, timeout/time.Second))}})...)
}

// reserve is the first statement of every write: the writers' lock and
// count sequence numbers from base.
func reserve(count, base int64) stmt {
	return stmt{query: neo4j.QReserve, params: map[string]any{"count": count}, fields: []string{"base"}, rows: [][]any{{base}}}
}

func testConfig(srv *boltstub.Server, t testing.TB) neo4j.Config {
	return neo4j.Config{
		URI:          srv.URI(),
		Username:     "neo4j",
		Password:     "s3cret-password",
		QueryTimeout: testQueryTimeout,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// stubStore starts a stub, scripts the schema setup and opens a store on it.
func stubStore(t *testing.T, mutate func(*neo4j.Config)) (*neo4j.Store, *boltstub.Server) {
	t.Helper()
	srv := boltstub.Start(t)
	cfg := testConfig(srv, t)
	if mutate != nil {
		mutate(&cfg)
	}
	srv.Expect(schemaStepsOn(cfg.QueryTimeout, cfg.Database)...)
	st, err := neo4j.New(testContext(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, srv
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// done fails the test when script steps are left.
func done(t *testing.T, srv *boltstub.Server) {
	t.Helper()
	if n := srv.Remaining(); n > 0 {
		t.Errorf("%d scripted steps were not sent by the store", n)
	}
}

// runs returns the RUN messages the stub received.
func runs(srv *boltstub.Server) []boltstub.Message {
	var out []boltstub.Message
	for _, m := range srv.Received() {
		if m.Name == "RUN" {
			out = append(out, m)
		}
	}
	return out
}

// stubStoreB is stubStore for benchmarks, with a quiet logger.
func stubStoreB(b *testing.B) (*neo4j.Store, *boltstub.Server) {
	b.Helper()
	srv := boltstub.Start(b)
	cfg := testConfig(srv, b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv.Expect(schemaSteps(cfg.QueryTimeout)...)
	st, err := neo4j.New(testContext(b), cfg)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st, srv
}
