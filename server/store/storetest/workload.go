package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

// The mixed workload of the store benchmarks (and of the HTTP load
// generator's figures): 80% reads, 20% writes over a seeded graph.
const (
	// PctSearch is the share of SearchNodes on a selective name fragment.
	PctSearch = 40
	// PctOpen is the share of OpenNodes of three names.
	PctOpen = 40
	// PctCreate is the share of CreateEntities of one new entity.
	PctCreate = 7
	// PctObserve is the share of AddObservations of one new observation.
	PctObserve = 7
	// The remaining 6% are CreateRelations of one new relation.
)

// Clients is the number of concurrent callers of the parallel benchmarks,
// as the HTTP load test's 32 MCP sessions.
const Clients = 32

// EntityName is the name of the i-th seeded entity.
func EntityName(i int) string { return fmt.Sprintf("entity-%06d", i) }

// SeedEntity is the i-th seeded entity: three observations.
func SeedEntity(i int) memory.Entity {
	return memory.Entity{
		Name:       EntityName(i),
		EntityType: fmt.Sprintf("type-%02d", i%20),
		Observations: []string{
			fmt.Sprintf("observation one of entity %d: works on project %d", i, i%97),
			fmt.Sprintf("observation two of entity %d: lives in city %d", i, i%13),
			fmt.Sprintf("observation three of entity %d: likes topic %d", i, i%31),
		},
	}
}

// SeedRelations are the relations of the seeded graph: a chain and a
// second, scattered edge per entity.
func SeedRelations(n int) []memory.Relation {
	out := make([]memory.Relation, 0, 2*n)
	for i := range n {
		out = append(out,
			memory.Relation{From: EntityName(i), To: EntityName((i + 1) % n), RelationType: "next"},
			memory.Relation{From: EntityName(i), To: EntityName((i*7 + 3) % n), RelationType: "knows"})
	}
	return out
}

// Seed imports n entities and 2n relations into s, in chunks.
func Seed(tb testing.TB, s memory.Store, n int) {
	tb.Helper()
	const chunk = 2000
	rels := SeedRelations(n)
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		g := memory.Graph{Relations: rels[2*lo : 2*hi]}
		for i := lo; i < hi; i++ {
			g.Entities = append(g.Entities, SeedEntity(i))
		}
		if _, err := s.Import(context.Background(), g); err != nil {
			tb.Fatalf("seeding: %v", err)
		}
	}
}

// Op is one workload operation, chosen by Workload.Next.
type Op int

// The workload's operations.
const (
	OpSearch Op = iota
	OpOpen
	OpCreate
	OpObserve
	OpRelate
)

// Workload draws operations and their arguments for a graph of N seeded
// entities. It is safe for concurrent use; each goroutine brings its rand.
type Workload struct {
	// N is the number of seeded entities.
	N int
	// DBProcess, for a client/server backend on this machine, names the
	// database server's processes ("postgres"): CompareWithBare then
	// reports their CPU time per operation as db-cpu-ns/op.
	DBProcess string
	seq       atomic.Int64
}

// Next picks an operation.
func (w *Workload) Next(r *rand.Rand) Op {
	switch p := r.IntN(100); {
	case p < PctSearch:
		return OpSearch
	case p < PctSearch+PctOpen:
		return OpOpen
	case p < PctSearch+PctOpen+PctCreate:
		return OpCreate
	case p < PctSearch+PctOpen+PctCreate+PctObserve:
		return OpObserve
	}
	return OpRelate
}

// SearchQuery is a selective fragment of one seeded name ("tity-001234").
func (w *Workload) SearchQuery(r *rand.Rand) string { return EntityName(r.IntN(w.N))[2:] }

// OpenNames are three seeded names.
func (w *Workload) OpenNames(r *rand.Rand) []string {
	return []string{EntityName(r.IntN(w.N)), EntityName(r.IntN(w.N)), EntityName(r.IntN(w.N))}
}

// Unique returns a number never returned before by this workload.
func (w *Workload) Unique() int64 { return w.seq.Add(1) }

// NewEntity is a new entity with one observation.
func (w *Workload) NewEntity() memory.Entity {
	u := w.Unique()
	return memory.Entity{Name: fmt.Sprintf("new-%d", u), EntityType: "bench", Observations: []string{fmt.Sprintf("created by the benchmark, %d", u)}}
}

// NewObservation is an observation for a random seeded entity.
func (w *Workload) NewObservation(r *rand.Rand) memory.ObservationAddition {
	return memory.ObservationAddition{EntityName: EntityName(r.IntN(w.N)), Contents: []string{fmt.Sprintf("benchmark observation %d", w.Unique())}}
}

// NewRelation is a new relation between two seeded entities.
func (w *Workload) NewRelation(r *rand.Rand) memory.Relation {
	return memory.Relation{From: EntityName(r.IntN(w.N)), To: EntityName(r.IntN(w.N)), RelationType: fmt.Sprintf("bench-%d", w.Unique())}
}

// ToolCall is one operation as the MCP tool call that makes it: the tool's
// name and its arguments (a JSON object), drawn as DoOp draws them.
func (w *Workload) ToolCall(r *rand.Rand, op Op) (tool, args string) {
	var v any
	switch op {
	case OpSearch:
		tool, v = "search_nodes", map[string]string{"query": w.SearchQuery(r)}
	case OpOpen:
		tool, v = "open_nodes", map[string][]string{"names": w.OpenNames(r)}
	case OpCreate:
		tool, v = "create_entities", map[string][]memory.Entity{"entities": {w.NewEntity()}}
	case OpObserve:
		tool, v = "add_observations", map[string][]memory.ObservationAddition{"observations": {w.NewObservation(r)}}
	case OpRelate:
		tool, v = "create_relations", map[string][]memory.Relation{"relations": {w.NewRelation(r)}}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return tool, string(b)
}

// Do runs one operation, chosen by Next, against s.
func (w *Workload) Do(ctx context.Context, s memory.Store, r *rand.Rand) error {
	return w.DoOp(ctx, s, r, w.Next(r))
}

// Parallel runs do with b.RunParallel and Clients concurrent callers, each
// with its own rand, and reports cpu-ns/op.
func Parallel(b *testing.B, do func(r *rand.Rand) error) {
	parallel(b, "", do)
}

func parallel(b *testing.B, dbProcess string, do func(r *rand.Rand) error) {
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	measureCPU(b, dbProcess, func() {
		b.SetParallelism(Clients / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 42))
			for pb.Next() {
				if err := do(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// Serial runs fn b.N times and reports cpu-ns/op.
func Serial(b *testing.B, fn func() error) {
	serial(b, "", fn)
}

func serial(b *testing.B, dbProcess string, fn func() error) {
	b.ReportAllocs()
	measureCPU(b, dbProcess, func() {
		for b.Loop() {
			if err := fn(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// OpNames names the operations for sub-benchmarks, in the order they run.
var OpNames = []struct {
	Name string
	Op   Op
}{{"SearchNodes", OpSearch}, {"OpenNodes3", OpOpen}, {"CreateEntities1", OpCreate}, {"AddObservations1", OpObserve}, {"CreateRelations1", OpRelate}}

// DoOp runs one given operation against s.
func (w *Workload) DoOp(ctx context.Context, s memory.Store, r *rand.Rand, op Op) error {
	var err error
	switch op {
	case OpSearch:
		var g memory.Graph
		g, err = s.SearchNodes(ctx, w.SearchQuery(r))
		if err == nil && len(g.Entities) != 1 {
			err = fmt.Errorf("search found %d entities, want 1", len(g.Entities))
		}
	case OpOpen:
		_, err = s.OpenNodes(ctx, w.OpenNames(r))
	case OpCreate:
		_, err = s.CreateEntities(ctx, []memory.Entity{w.NewEntity()})
	case OpObserve:
		_, err = s.AddObservations(ctx, []memory.ObservationAddition{w.NewObservation(r)})
	case OpRelate:
		_, err = s.CreateRelations(ctx, []memory.Relation{w.NewRelation(r)})
	}
	return err
}

// CompareWithBare runs, on one seeded store, each workload row first through
// the store and then through bare (the same statements without the store),
// as adjacent sub-benchmarks "<row>/Store" and "<row>/BareSQL": the two
// figures of a row are taken back to back on the same data, so their ratio
// is the store's overhead even on a noisy machine. bare must draw its
// arguments from the same w, so that new names stay unique.
//
// With server (not nil), the mixed row also runs through it, right after
// the other two, as "Mixed/Server": the same operations as MCP tool calls
// (Workload.ToolCall) to memory-server serving s, so that Server/BareSQL is
// the whole server's overhead over the bare statements, measured in the same
// run.
func CompareWithBare(b *testing.B, s memory.Store, w *Workload, bare, server func(r *rand.Rand, op Op) error) {
	ctx := context.Background()
	db := w.DBProcess
	b.Run("Mixed/Store", func(b *testing.B) { parallel(b, db, func(r *rand.Rand) error { return w.Do(ctx, s, r) }) })
	b.Run("Mixed/BareSQL", func(b *testing.B) { parallel(b, db, func(r *rand.Rand) error { return bare(r, w.Next(r)) }) })
	if server != nil {
		b.Run("Mixed/Server", func(b *testing.B) { parallel(b, db, func(r *rand.Rand) error { return server(r, w.Next(r)) }) })
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, op := range OpNames {
		b.Run(op.Name+"/Store", func(b *testing.B) { serial(b, db, func() error { return w.DoOp(ctx, s, r, op.Op) }) })
		b.Run(op.Name+"/BareSQL", func(b *testing.B) { serial(b, db, func() error { return bare(r, op.Op) }) })
	}
}

// BenchmarkMixed runs the mixed workload with b.RunParallel (Clients
// callers) on a store seeded with n entities.
func BenchmarkMixed(b *testing.B, s memory.Store, n int) {
	w := &Workload{N: n}
	Parallel(b, func(r *rand.Rand) error { return w.Do(context.Background(), s, r) })
}

// BenchmarkOps runs each operation on its own, serially, as sub-benchmarks.
func BenchmarkOps(b *testing.B, s memory.Store, n int) {
	w := &Workload{N: n}
	r := rand.New(rand.NewPCG(7, 7))
	for _, op := range OpNames {
		b.Run(op.Name, func(b *testing.B) { Serial(b, func() error { return w.DoOp(context.Background(), s, r, op.Op) }) })
	}
}
