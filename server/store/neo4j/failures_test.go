package neo4j_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/neo4j/internal/boltstub"
)

// createOne is the script of CreateEntities([{"A", "T"}]) after base seq 1,
// the stub answering that it created A.
func createOne() []stmt {
	return []stmt{
		reserve(1, 1),
		{query: neo4j.QCreateEntities, params: map[string]any{"entities": []map[string]any{
			{"key": key("A"), "name": "A", "entityType": "T", "observations": []string{}, "seq": 1, "search": "a\x1ft", "observationText": ""},
		}}, fields: []string{"name"}, rows: [][]any{{"A"}}},
	}
}

func callCreateOne(t *testing.T, st *neo4j.Store) ([]memory.Entity, error) {
	return st.CreateEntities(testContext(t), []memory.Entity{{Name: "A", EntityType: "T", Observations: []string{}}})
}

func count(srv *boltstub.Server, name string) int {
	n := 0
	for _, m := range srv.Received() {
		if m.Name == name && !m.Ignored {
			n++
		}
	}
	return n
}

func TestTransientFailureIsRetried(t *testing.T) {
	st, srv := stubStore(t, nil)
	begins := count(srv, "BEGIN")
	first := boltstub.Run(neo4j.QReserve, map[string]any{"count": 1}, "base")
	first.Failure = &boltstub.Failure{Code: "Neo.TransientError.Transaction.DeadlockDetected", Message: "deadlock"}
	srv.Expect(boltstub.Begin(writeMeta), first) // the PULL after it is IGNORED, then RESET
	srv.Expect(tx(writeMeta, createOne()...)...)
	got, err := callCreateOne(t, st)
	if err != nil {
		t.Fatalf("CreateEntities after a transient failure: %v", err)
	}
	if len(got) != 1 || got[0].Name != "A" {
		t.Errorf("created %#v", got)
	}
	done(t, srv)
	if n := count(srv, "BEGIN") - begins; n != 2 {
		t.Errorf("%d transactions begun, want 2 (one retry)", n)
	}
	if count(srv, "RESET") < 1 {
		t.Error("the failed attempt was not reset")
	}
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	st, srv := stubStore(t, nil)
	before := srv.Connections()
	drop := boltstub.Run(neo4j.QReserve, map[string]any{"count": 1}, "base")
	drop.Drop = true
	srv.Expect(boltstub.Begin(writeMeta), drop)
	srv.Expect(tx(writeMeta, createOne()...)...)
	got, err := callCreateOne(t, st)
	if err != nil {
		t.Fatalf("CreateEntities after a dropped connection: %v", err)
	}
	if len(got) != 1 {
		t.Errorf("created %#v", got)
	}
	done(t, srv)
	if n := srv.Connections() - before; n != 1 {
		t.Errorf("%d new connections, want 1 for the retry", n)
	}
}

func TestConnectionDroppedEveryTimeIsUnavailable(t *testing.T) {
	st, srv := stubStore(t, func(c *neo4j.Config) { c.MaxConnectionPoolSize = 1 })
	// The driver gives up after pool size + 1 dead connections.
	for range 2 {
		b := boltstub.Begin(writeMeta)
		b.Drop = true
		srv.Expect(b)
	}
	_, err := callCreateOne(t, st)
	if !errors.Is(err, neo4j.ErrUnreachable) || !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnreachable matching memory.ErrUnavailable", err)
	}
	done(t, srv)
}

func TestAuthenticationFailure(t *testing.T) {
	srv := boltstub.Start(t)
	srv.AuthFailure = &boltstub.Failure{Code: "Neo.ClientError.Security.Unauthorized", Message: "The client is unauthorized due to authentication failure."}
	cfg := testConfig(srv, t)
	_, err := neo4j.New(testContext(t), cfg)
	if !errors.Is(err, neo4j.ErrAuthentication) || !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("New with bad credentials: error = %v, want ErrAuthentication matching memory.ErrUnavailable", err)
	}
	if errors.Is(err, neo4j.ErrUnreachable) || errors.Is(err, neo4j.ErrDatabaseNotFound) {
		t.Errorf("authentication failure also matches another cause: %v", err)
	}
	if !strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), cfg.Password) {
		t.Errorf("message %q must say authentication failed and must not hold the password", err)
	}
	if n := count(srv, "LOGON"); n != 1 {
		t.Errorf("%d LOGON attempts, want 1 (no retry of a refused login)", n)
	}
}

func TestDatabaseNotFound(t *testing.T) {
	srv := boltstub.Start(t)
	cfg := testConfig(srv, t)
	cfg.Database = "nope"
	b := boltstub.Begin(map[string]any{"tx_timeout": 5000, "db": "nope"})
	b.Failure = &boltstub.Failure{Code: "Neo.ClientError.Database.DatabaseNotFound", Message: "Database does not exist. Database name: 'nope'."}
	srv.Expect(b)
	_, err := neo4j.New(testContext(t), cfg)
	if !errors.Is(err, neo4j.ErrDatabaseNotFound) || !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("New on a missing database: error = %v, want ErrDatabaseNotFound", err)
	}
	if errors.Is(err, neo4j.ErrAuthentication) || errors.Is(err, neo4j.ErrUnreachable) {
		t.Errorf("database not found also matches another cause: %v", err)
	}
	if !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("message %q does not name the database", err)
	}
	done(t, srv)
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestUnreachableServer(t *testing.T) {
	cfg := neo4j.Config{URI: "bolt://" + closedPort(t), MaxTransactionRetryTime: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	_, err := neo4j.New(testContext(t), cfg)
	if !errors.Is(err, neo4j.ErrUnreachable) || !errors.Is(err, memory.ErrUnavailable) {
		t.Fatalf("New on a closed port: error = %v, want ErrUnreachable", err)
	}
	if errors.Is(err, neo4j.ErrAuthentication) || errors.Is(err, neo4j.ErrDatabaseNotFound) {
		t.Errorf("unreachable also matches another cause: %v", err)
	}
	if !strings.Contains(err.Error(), cfg.URI) {
		t.Errorf("message %q does not name the URI", err)
	}
}

// TestDistinctMessages: the errors the store really returns for an
// authentication failure, an unknown database and an unreachable server
// (what the logs and /readyz show) each name their cause, and no two are
// alike.
func TestDistinctMessages(t *testing.T) {
	causes := map[string]struct {
		open func(t *testing.T) error
		want string
	}{
		"authentication": {func(t *testing.T) error {
			srv := boltstub.Start(t)
			srv.AuthFailure = &boltstub.Failure{Code: "Neo.ClientError.Security.Unauthorized", Message: "The client is unauthorized due to authentication failure."}
			_, err := neo4j.New(testContext(t), testConfig(srv, t))
			return err
		}, "authentication failed"},
		"unknown database": {func(t *testing.T) error {
			srv := boltstub.Start(t)
			cfg := testConfig(srv, t)
			cfg.Database = "nope"
			b := boltstub.Begin(map[string]any{"tx_timeout": 5000, "db": "nope"})
			b.Failure = &boltstub.Failure{Code: "Neo.ClientError.Database.DatabaseNotFound", Message: "Database does not exist. Database name: 'nope'."}
			srv.Expect(b)
			_, err := neo4j.New(testContext(t), cfg)
			return err
		}, "database not found"},
		"unreachable": {func(t *testing.T) error {
			_, err := neo4j.New(testContext(t), neo4j.Config{URI: "bolt://" + closedPort(t), MaxTransactionRetryTime: time.Nanosecond,
				Logger: slog.New(slog.DiscardHandler)})
			return err
		}, "unreachable"},
	}
	seen := map[string]string{} // message -> cause
	for cause, c := range causes {
		err := c.open(t)
		if err == nil {
			t.Fatalf("%s: New succeeded", cause)
		}
		msg := err.Error()
		t.Logf("%s: %s", cause, msg)
		if !errors.Is(err, memory.ErrUnavailable) {
			t.Errorf("%s: %v does not match memory.ErrUnavailable", cause, err)
		}
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q does not say %q", cause, msg, c.want)
		}
		for other, oc := range causes {
			if other != cause && strings.Contains(msg, oc.want) {
				t.Errorf("%s: message %q also says %q (%s)", cause, msg, oc.want, other)
			}
		}
		if prev, ok := seen[msg]; ok {
			t.Errorf("%s and %s give the same message %q", prev, cause, msg)
		}
		seen[msg] = cause
	}
}

func TestPingAfterServerStops(t *testing.T) {
	st, srv := stubStore(t, nil)
	if err := st.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err := st.Ping(ctx)
	if !errors.Is(err, neo4j.ErrUnreachable) {
		t.Fatalf("Ping of a stopped server: error = %v, want ErrUnreachable", err)
	}
}

func TestSlowAnswerTimesOut(t *testing.T) {
	timeout := 300 * time.Millisecond
	st, srv := stubStore(t, func(c *neo4j.Config) { c.QueryTimeout = timeout })
	release := make(chan struct{})
	slow := boltstub.Run(neo4j.QReserve, map[string]any{"count": 1}, "base")
	slow.Hold = release
	slow.Drop = true // a server that never answers in time
	// The query timeout also goes to the server as the transaction timeout.
	srv.Expect(boltstub.Begin(map[string]any{"tx_timeout": 300}), slow)
	_, err := callCreateOne(t, st)
	// The call returned while the stub still holds its answer: it did not
	// wait for the server.
	close(release)
	if !errors.Is(err, memory.ErrTimeout) {
		t.Fatalf("error = %v, want memory.ErrTimeout", err)
	}
	done(t, srv)
	if s := st.Stats(); s.Acquired != 0 {
		t.Errorf("the timed-out call still holds its slot: %+v", s)
	}
}

func TestServerSideTransactionTimeout(t *testing.T) {
	st, srv := stubStore(t, nil)
	r := boltstub.Run(neo4j.QReserve, map[string]any{"count": 1}, "base")
	r.Failure = &boltstub.Failure{Code: "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", Message: "The transaction has been terminated."}
	srv.Expect(boltstub.Begin(writeMeta), r)
	_, err := callCreateOne(t, st)
	if !errors.Is(err, memory.ErrTimeout) {
		t.Fatalf("error = %v, want memory.ErrTimeout", err)
	}
	done(t, srv)
}

func TestBusyPool(t *testing.T) {
	st, srv := stubStore(t, func(c *neo4j.Config) {
		c.MaxConnectionPoolSize = 1
		c.ConnectionAcquisitionTimeout = 50 * time.Millisecond
	})
	base := st.Stats()
	release := make(chan struct{})
	steps := tx(writeMeta, createOne()...)
	steps[1].Hold = release // the first RUN
	srv.Expect(steps...)

	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, firstErr = callCreateOne(t, st)
	}()
	guard := time.After(30 * time.Second) // hang guard, not a timing
	for st.Stats().Acquired != 1 {
		select {
		case <-guard:
			t.Fatal("the first call never acquired its slot")
		case <-time.After(time.Millisecond):
		}
	}
	_, err := st.CreateEntities(testContext(t), []memory.Entity{{Name: "B", EntityType: "T"}})
	if !errors.Is(err, memory.ErrBusy) {
		t.Errorf("second call on a full pool: error = %v, want memory.ErrBusy", err)
	}
	s := st.Stats()
	if s.Acquired != 1 || s.Waiting != 0 || s.EmptyAcquireCount != base.EmptyAcquireCount+1 ||
		s.CanceledAcquireCount != base.CanceledAcquireCount+1 || s.AcquireWaitSeconds <= base.AcquireWaitSeconds || s.MaxConnections != 1 {
		t.Errorf("Stats while saturated = %+v (before: %+v)", s, base)
	}
	close(release)
	wg.Wait()
	if firstErr != nil {
		t.Errorf("first call: %v", firstErr)
	}
	if s := st.Stats(); s.Acquired != 0 || s.AcquireCount != base.AcquireCount+1 {
		t.Errorf("Stats after = %+v", s)
	}
	done(t, srv)
}

func TestBookmarksChainCalls(t *testing.T) {
	st, srv := stubStore(t, nil)
	first := tx(readMeta, stmt{query: neo4j.QAllEntities, fields: entityFields}, stmt{query: neo4j.QAllRelations, fields: relationFields})
	first[len(first)-1].Success = map[string]any{"bookmark": "FB:bm-1"}
	second := tx(map[string]any{"tx_timeout": 5000, "mode": "r", "bookmarks": []string{"FB:bm-1"}},
		stmt{query: neo4j.QAllEntities, fields: entityFields}, stmt{query: neo4j.QAllRelations, fields: relationFields})
	srv.Expect(first...)
	srv.Expect(second...)
	for range 2 {
		if _, err := st.ReadGraph(testContext(t)); err != nil {
			t.Fatalf("ReadGraph: %v", err)
		}
	}
	done(t, srv)
}

func TestCloseIsIdempotent(t *testing.T) {
	st, srv := stubStore(t, nil)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := st.ReadGraph(testContext(t)); !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("ReadGraph after Close: error = %v, want ErrUnavailable", err)
	}
	if err := st.Ping(testContext(t)); !errors.Is(err, memory.ErrUnavailable) {
		t.Errorf("Ping after Close: error = %v, want ErrUnavailable", err)
	}
	// The stub reads the GOODBYE the driver wrote before closing.
	guard := time.After(30 * time.Second) // hang guard, not a timing
	for count(srv, "GOODBYE") < 1 {
		select {
		case <-guard:
			t.Fatal("Close did not say GOODBYE to the server")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestExpiredAndCanceledContexts(t *testing.T) {
	st, srv := stubStore(t, nil)
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := callCreateOneCtx(expired, st); !errors.Is(err, memory.ErrTimeout) {
		t.Errorf("expired context: error = %v, want memory.ErrTimeout", err)
	}
	canceled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := callCreateOneCtx(canceled, st); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error = %v, want context.Canceled", err)
	}
	done(t, srv) // nothing reached the server
	if n := count(srv, "BEGIN"); n != 5 {
		t.Errorf("%d BEGINs, want only the 5 of the schema setup", n)
	}
}

func callCreateOneCtx(ctx context.Context, st *neo4j.Store) ([]memory.Entity, error) {
	return st.CreateEntities(ctx, []memory.Entity{{Name: "A", EntityType: "T"}})
}

// TestPingChecksTheDatabase: with a database configured, the probe runs a
// read transaction on it, so a database dropped after start makes the server
// unready with its own message.
func TestPingChecksTheDatabase(t *testing.T) {
	st, srv := stubStore(t, func(c *neo4j.Config) { c.Database = "memories" })
	probeMeta := map[string]any{"db": "memories", "mode": "r"}
	srv.Expect(tx(probeMeta, stmt{query: neo4j.QProbe, fields: []string{"ok"}, rows: [][]any{{1}}})...)
	if err := st.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	b := boltstub.Begin(probeMeta)
	b.Failure = &boltstub.Failure{Code: "Neo.ClientError.Database.DatabaseNotFound", Message: "Database does not exist. Database name: 'memories'."}
	srv.Expect(b)
	if err := st.Ping(testContext(t)); !errors.Is(err, neo4j.ErrDatabaseNotFound) {
		t.Fatalf("Ping of a dropped database: error = %v, want ErrDatabaseNotFound", err)
	}
	done(t, srv)
}

// TestSchemaRaceWithAnotherReplica: a replica starting at the same time may
// create a constraint between our IF NOT EXISTS check and our creation; the
// store takes the server's "already exists" as success.
func TestSchemaRaceWithAnotherReplica(t *testing.T) {
	srv := boltstub.Start(t)
	cfg := testConfig(srv, t)
	steps := schemaSteps(cfg.QueryTimeout)
	lost := steps[1] // the first schema RUN
	lost.Failure = &boltstub.Failure{Code: "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists", Message: "An equivalent constraint already exists"}
	srv.Expect(append([]boltstub.Step{steps[0], lost}, steps[4:]...)...)
	st, err := neo4j.New(testContext(t), cfg)
	if err != nil {
		t.Fatalf("New after losing a schema race: %v", err)
	}
	_ = st.Close()
	done(t, srv)
}

// TestRoutingURI: with neo4j:// the driver asks the server for a routing
// table (ROUTE) before the first transaction, and the schema setup and tool
// calls then run on the writer it names (the stub itself).
func TestRoutingURI(t *testing.T) {
	srv := boltstub.Start(t)
	cfg := testConfig(srv, t)
	cfg.URI = strings.Replace(srv.URI(), "bolt://", "neo4j://", 1)
	cfg.Database = "memories"
	srv.Expect(srv.Route(map[string]any{"db": "memories"}, "memories"))
	srv.Expect(schemaStepsOn(cfg.QueryTimeout, cfg.Database)...)
	st, err := neo4j.New(testContext(t), cfg)
	if err != nil {
		t.Fatalf("New on neo4j://: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hello := srv.Received()[0]
	if hello.Name != "HELLO" {
		t.Fatalf("first message %s", hello.Name)
	}
	if rc, ok := hello.Fields[0].(map[string]any)["routing"].(map[string]any); !ok || rc["address"] == nil {
		t.Errorf("HELLO on neo4j:// carries no routing context: %#v", hello.Fields[0])
	}
	done(t, srv)
}
