package mcp_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/mcp"
	"github.com/memory-operator/memory-operator/server/mcp/mcptest"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store"
)

// The benchmarks compare, in one run, a tool call through the whole server
// (HTTP, the SDK's streamable transport, argument decoding, the Store,
// result encoding) with the same Store call made directly. The ratio is the
// server's overhead per call.
//
//	go test -run '^$' -bench . -benchtime 3s ./server/mcp/

const benchEntities = 10000

var benchSyllables = []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "bra", "cle", "dri", "fo", "gu", "ha", "jo"}

// benchName is a pseudo-word name, e.g. "Kalomine-4242": names differ as
// real ones do, so a fragment of one is selective for a trigram index.
func benchName(i int) string {
	w := benchSyllables[i%16] + benchSyllables[(i/16)%16] + benchSyllables[(i/256)%16] + benchSyllables[(i/4096)%16]
	return strings.ToUpper(w[:1]) + w[1:] + "-" + strconv.Itoa(i)
}

// benchFragment is a selective lower-case fragment of benchName(i).
func benchFragment(i int) string { n := strings.ToLower(benchName(i)); return n[:min(len(n), 9)] }

func seedStore(b *testing.B, st memory.Store) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < benchEntities; i += 500 {
		var es []memory.Entity
		var rs []memory.Relation
		for j := i; j < i+500; j++ {
			es = append(es, memory.Entity{Name: benchName(j), EntityType: "thing", Observations: []string{"seeded " + strconv.Itoa(j)}})
			rs = append(rs, memory.Relation{From: benchName(j), To: benchName((j + 1) % benchEntities), RelationType: "next"})
		}
		if _, err := st.CreateEntities(ctx, es); err != nil {
			b.Fatal(err)
		}
		if _, err := st.CreateRelations(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStores(b *testing.B) map[string]memory.Store {
	b.Helper()
	out := map[string]memory.Store{}
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(b.TempDir(), "bench.db")
	st, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	out["sqlite"] = st

	dsn := os.Getenv("MEMORY_SERVER_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Logf("no PostgreSQL, benchmarking SQLite only: %v", err)
		return out
	}
	name := fmt.Sprintf("memsrv_bench_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	pcfg := config.Default()
	pcfg.Backend = config.BackendPostgres
	pcfg.Postgres.DSN = strings.Replace(dsn, "/postgres?", "/"+name+"?", 1)
	pcfg.Pool.MaxConnections = 16
	pst, err := store.Open(ctx, pcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pst.Close() })
	out["postgres"] = pst
	return out
}

func BenchmarkToolCall(b *testing.B) {
	stores := benchStores(b)
	for _, backend := range []string{"sqlite", "postgres"} {
		st, ok := stores[backend]
		if !ok {
			continue
		}
		seedStore(b, st)
		ts := mcptest.Serve(b, st)
		var seq atomic.Int64
		ops := []struct {
			name   string
			direct func(i int) error
			args   func(i int) (string, string)
		}{
			{"open_nodes",
				func(i int) error {
					_, err := st.OpenNodes(context.Background(), []string{benchName(i % benchEntities), benchName((i * 31) % benchEntities), benchName((i * 17) % benchEntities)})
					return err
				},
				func(i int) (string, string) {
					return "open_nodes", `{"names":["` + benchName(i%benchEntities) + `","` + benchName((i*31)%benchEntities) + `","` + benchName((i*17)%benchEntities) + `"]}`
				}},
			{"search_nodes",
				func(i int) error {
					_, err := st.SearchNodes(context.Background(), benchFragment(i%benchEntities))
					return err
				},
				func(i int) (string, string) {
					return "search_nodes", `{"query":"` + benchFragment(i%benchEntities) + `"}`
				}},
			{"add_observations",
				func(i int) error {
					_, err := st.AddObservations(context.Background(), []memory.ObservationAddition{{EntityName: benchName(i % benchEntities), Contents: []string{"direct " + strconv.Itoa(i)}}})
					return err
				},
				func(i int) (string, string) {
					return "add_observations", `{"observations":[{"entityName":"` + benchName(i%benchEntities) + `","contents":["mcp ` + strconv.Itoa(i) + `"]}]}`
				}},
		}
		for _, op := range ops {
			b.Run(backend+"/"+op.name+"/store", func(b *testing.B) {
				b.SetParallelism(16) // 32 concurrent callers on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := op.direct(int(seq.Add(1))); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run(backend+"/"+op.name+"/mcp-http", func(b *testing.B) {
				b.SetParallelism(16)
				sessions := ts.NewPool(b, 16*runtime.GOMAXPROCS(0))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := sessions.Call(op.args(int(seq.Add(1)))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkDecode measures argument decoding alone.
func BenchmarkDecode(b *testing.B) {
	raw := []byte(`{"entities":[{"name":"Alice","entityType":"person","observations":["Likes Go","Writes \"quoted\" text"]},{"name":"Bob","entityType":"person","observations":[]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mcp.DecodeCreateEntities(raw); err != nil {
			b.Fatal(err)
		}
	}
}

type openNodesIn struct {
	Names []string `json:"names" jsonschema:"An array of entity names to retrieve"`
}

// BenchmarkRawVsTypedHandler compares, in one run and through the same HTTP
// transport, open_nodes as this package registers it (raw SDK handler, own
// strict decoding) with the same call registered through the SDK's typed
// mcp.AddTool (reflection-based decoding, schema validation by generic maps,
// structured output marshalled by the SDK).
func BenchmarkRawVsTypedHandler(b *testing.B) {
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(b.TempDir(), "bench.db")
	st, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	seedStore(b, st)
	srv := mcp.New(st, mcp.Options{Logger: slog.New(slog.DiscardHandler)})
	sdkmcp.AddTool(srv.SDK(), &sdkmcp.Tool{Name: "open_nodes_typed", Description: "typed twin of open_nodes"},
		func(ctx context.Context, _ *sdkmcp.CallToolRequest, in openNodesIn) (*sdkmcp.CallToolResult, memory.Graph, error) {
			g, err := st.OpenNodes(ctx, in.Names)
			return nil, g, err
		})
	ts := mcptest.ServeMCP(b, srv)
	var seq atomic.Int64
	for _, tool := range []string{"open_nodes", "open_nodes_typed"} {
		b.Run(tool, func(b *testing.B) {
			b.SetParallelism(16)
			sessions := ts.NewPool(b, 16*runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(seq.Add(1))
					if _, err := sessions.Call(tool, `{"names":["`+benchName(i%benchEntities)+`","`+benchName((i*31)%benchEntities)+`","`+benchName((i*17)%benchEntities)+`"]}`); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
