// Command loadgen drives a memory-server's streamable-HTTP endpoint with N
// concurrent MCP sessions and reports calls/s, latency percentiles, errors
// and the CPU time per call of the server, of itself and, when the database
// runs on this machine (--postgres-admin-dsn, or --db-process), of the
// database's processes, with the machine's idle share: on 2 shared cores the
// throughput is their time divided by the sum.
//
// The client is deliberately cheap: after initialize and
// notifications/initialized it sends plain JSON-RPC POSTs with the
// Mcp-Session-Id header, each session on its own kept-alive connection
// written and read directly (a minimal HTTP/1.1 client), and checks
// responses with byte searches instead of decoding them, so the figures measure the server
// and not the load generator (both share the machine's cores).
//
// It seeds a graph (--seed entities, each related to the next), then runs the
// mixed workload for --duration: 80% reads (40% search_nodes on a selective
// name fragment that matches one or a few entities, 40% open_nodes of 3 names), 20%
// writes (create_entities, add_observations, create_relations).
//
// --names ids seeds "ent-000123" style names instead, and searches "ent-00012".
//
//	go run ./hack/loadgen --server-bin bin/memory-server --clients 32 --duration 20s -- --sqlite-path /tmp/lg.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	url       string
	clients   int
	duration  time.Duration
	warmup    time.Duration
	seed      int
	pid       int
	serverBin string
	serverEnv string
	listen    string
	token     string
	skipSeed  bool
	mix       string
	names     namer
	dbProcess string // name of the database's processes, for CPU accounting
}

// dbCPU is the CPU time of the local database's processes, when the run
// uses one.
func (o options) dbCPU() float64 {
	if o.dbProcess == "" {
		return 0
	}
	return commCPUSeconds(o.dbProcess)
}

func run() error {
	var o options
	flag.StringVar(&o.url, "url", "", "MCP endpoint (default http://127.0.0.1:<port of --listen>/mcp)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent MCP sessions")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up before the measurement")
	flag.IntVar(&o.seed, "seed", 10000, "entities to seed before the run")
	flag.BoolVar(&o.skipSeed, "skip-seed", false, "assume the graph is already seeded with --seed entities")
	flag.IntVar(&o.pid, "pid", 0, "server process id for CPU accounting (set automatically with --server-bin)")
	flag.StringVar(&o.serverBin, "server-bin", "", "start this memory-server binary (arguments after --) and stop it at the end")
	flag.StringVar(&o.serverEnv, "server-env", "", "extra environment for the server, comma-separated K=V")
	pgAdmin := flag.String("postgres-admin-dsn", "", "with --server-bin: create a fresh database through this superuser DSN, run the server on it with --backend postgres, drop it at the end")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:18080", "listen address given to a server started with --server-bin")
	flag.StringVar(&o.token, "token", "", "bearer token")
	flag.StringVar(&o.mix, "mix", "mixed", "workload: mixed (the benchmark), or for diagnosis reads (the 80% only), writes (the 20% only), open (open_nodes only), search (search_nodes only)")
	flag.StringVar(&o.dbProcess, "db-process", "", `sum the CPU time of the processes of this name as the database's (default "postgres" with --postgres-admin-dsn)`)
	names := flag.String("names", "words", `seeded names: words ("Bakemi-Tosu-1234") or ids ("ent-001234")`)
	flag.Parse()
	o.names = namer{ids: *names == "ids"}
	if o.url == "" {
		o.url = "http://" + o.listen + "/mcp"
	}
	args := flag.Args()
	if *pgAdmin != "" {
		dsn, drop, err := freshDatabase(*pgAdmin)
		if err != nil {
			return err
		}
		defer drop()
		if o.dbProcess == "" {
			o.dbProcess = "postgres"
		}
		o.serverEnv = strings.Trim(o.serverEnv+",MEMORY_SERVER_POSTGRES_DSN="+dsn, ",")
		args = append([]string{"--backend", "postgres"}, args...)
	}
	if o.serverBin != "" {
		stop, pid, err := startServer(o, args)
		if err != nil {
			return err
		}
		defer stop()
		o.pid = pid
	}
	seeder, err := newSession(o)
	if err != nil {
		return err
	}
	if !o.skipSeed && o.seed > 0 {
		start := time.Now()
		if err := seed(seeder, o.names, o.seed); err != nil {
			return err
		}
		fmt.Printf("seeded %d entities and %d relations in %s\n", o.seed, o.seed, time.Since(start).Round(time.Millisecond))
	}
	if o.pid != 0 {
		fmt.Printf("server RSS after seeding: %.1f MiB\n", rssMiB(o.pid))
	}

	sessions := make([]*session, o.clients)
	for i := range sessions {
		if sessions[i], err = newSession(o); err != nil {
			return err
		}
	}
	res := runLoad(sessions, o)
	res.print(o)
	if res.errors > 0 {
		return fmt.Errorf("%d calls failed", res.errors)
	}
	return nil
}

const consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"

// syllable is one of the 90 consonant-vowel pairs, chosen by h.
func syllable(h uint64) string {
	c := consonants[h%uint64(len(consonants))]
	v := vowels[(h/uint64(len(consonants)))%uint64(len(vowels))]
	return string([]byte{c, v})
}

// mix is splitmix64: neighbouring indexes get unrelated names.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// namer names the seeded entities.
type namer struct{ ids bool }

// name is the i-th seeded entity, a pseudo-word name such as
// "Bakemi-Tosu-1234": names differ as real names do, so a fragment of one is
// selective. (With names sharing a long prefix, such as "ent-001234", every
// trigram but the last few occurs in every name and a trigram index has to
// intersect huge posting lists; see docs/benchmarks.md.)
func (nm namer) name(i int) string {
	if nm.ids {
		return fmt.Sprintf("ent-%06d", i)
	}
	h := mix(uint64(i))
	w1 := syllable(h) + syllable(h>>8) + syllable(h>>16)
	w2 := syllable(h>>24) + syllable(h>>32)
	return strings.ToUpper(w1[:1]) + w1[1:] + "-" + strings.ToUpper(w2[:1]) + w2[1:] + "-" + strconv.Itoa(i)
}

// fragment is a lower-case piece of name(i): its first word and the start
// of the second, e.g. "bakemi-to", which matches one to a few entities.
func (nm namer) fragment(i int) string {
	if nm.ids {
		return nm.name(i)[:9]
	}
	n := strings.ToLower(nm.name(i))
	dash := strings.IndexByte(n, '-')
	return n[:dash+3]
}

var types = []string{"person", "project", "service", "team", "document"}

func seed(s *session, nm namer, n int) error {
	const batch = 200
	for i := 0; i < n; i += batch {
		var b strings.Builder
		b.WriteString(`{"entities":[`)
		for j := i; j < min(i+batch, n); j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"%s","entityType":"%s","observations":["note about topic %d","seeded as number %d"]}`, nm.name(j), types[j%len(types)], j%97, j)
		}
		b.WriteString(`]}`)
		if err := s.call("create_entities", b.String()); err != nil {
			return fmt.Errorf("seeding entities: %w", err)
		}
		b.Reset()
		b.WriteString(`{"relations":[`)
		for j := i; j < min(i+batch, n); j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"from":"%s","to":"%s","relationType":"depends_on"}`, nm.name(j), nm.name((j+1)%n))
		}
		b.WriteString(`]}`)
		if err := s.call("create_relations", b.String()); err != nil {
			return fmt.Errorf("seeding relations: %w", err)
		}
	}
	return nil
}

type result struct {
	calls, errors int64
	elapsed       time.Duration
	lat           []time.Duration
	perTool       map[string]int64
	toolLat       map[string][]time.Duration
	firstErr      string
	cpuServer     float64
	cpuSelf       float64
	cpuDB         float64 // PostgreSQL's processes, with --postgres-admin-dsn
	idle, iowait  float64 // shares of the machine's CPU time
	rss           float64
}

func runLoad(sessions []*session, o options) result {
	var (
		mu       sync.Mutex
		res      = result{perTool: map[string]int64{}, toolLat: map[string][]time.Duration{}}
		measure  atomic.Bool
		stopping atomic.Bool
		wg       sync.WaitGroup
	)
	n := max(o.seed, 1)
	for ci, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci)+1, 42))
			lat := make([]time.Duration, 0, 1<<16)
			var calls, errs int64
			per := map[string]int64{}
			perLat := map[string][]time.Duration{}
			first := ""
			for k := 0; !stopping.Load(); k++ {
				tool, args := pick(rng, o.names, o.mix, ci, k, n)
				start := time.Now()
				err := s.call(tool, args)
				d := time.Since(start)
				if !measure.Load() {
					continue
				}
				calls++
				per[tool]++
				lat = append(lat, d)
				perLat[tool] = append(perLat[tool], d)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			res.calls += calls
			res.errors += errs
			res.lat = append(res.lat, lat...)
			for t, c := range per {
				res.perTool[t] += c
				res.toolLat[t] = append(res.toolLat[t], perLat[t]...)
			}
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	time.Sleep(o.warmup)
	cpu0, self0, db0, m0 := cpuSeconds(o.pid), cpuSeconds(os.Getpid()), o.dbCPU(), readMachineCPU()
	start := time.Now()
	measure.Store(true)
	time.Sleep(o.duration)
	measure.Store(false)
	res.elapsed = time.Since(start)
	cpu1, self1, db1, m1 := cpuSeconds(o.pid), cpuSeconds(os.Getpid()), o.dbCPU(), readMachineCPU()
	stopping.Store(true)
	wg.Wait()
	res.cpuServer, res.cpuSelf, res.cpuDB = cpu1-cpu0, self1-self0, db1-db0
	res.idle, res.iowait = idleShare(m0, m1)
	if o.pid != 0 {
		res.rss = rssMiB(o.pid)
	}
	return res
}

// pick chooses the next call of the mix for client ci's k-th call.
func pick(rng *rand.Rand, nm namer, mix string, ci, k, n int) (string, string) {
	r := rng.IntN(100)
	switch mix {
	case "reads":
		r = rng.IntN(80)
	case "open":
		r = 40
	case "search":
		r = 0
	case "writes":
		r = 80 + rng.IntN(20)
	}
	switch {
	case r < 40: // a selective name fragment, e.g. "bakemi-to"
		return "search_nodes", `{"query":"` + nm.fragment(rng.IntN(n)) + `"}`
	case r < 80:
		return "open_nodes", `{"names":["` + nm.name(rng.IntN(n)) + `","` + nm.name(rng.IntN(n)) + `","` + nm.name(rng.IntN(n)) + `"]}`
	case r < 87:
		return "create_entities", fmt.Sprintf(`{"entities":[{"name":"w-%d-%d","entityType":"note","observations":["written by client %d"]}]}`, ci, k, ci)
	case r < 94:
		return "add_observations", fmt.Sprintf(`{"observations":[{"entityName":"%s","contents":["client %d call %d"]}]}`, nm.name(rng.IntN(n)), ci, k)
	default:
		return "create_relations", fmt.Sprintf(`{"relations":[{"from":"%s","to":"%s","relationType":"mentions_%d"}]}`, nm.name(rng.IntN(n)), nm.name(rng.IntN(n)), ci)
	}
}

func (r result) print(o options) {
	pctOf := func(lat []time.Duration, p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	slices.Sort(r.lat)
	pct := func(p float64) time.Duration { return pctOf(r.lat, p) }
	rate := float64(r.calls) / r.elapsed.Seconds()
	fmt.Printf("clients=%d duration=%s calls=%d errors=%d\n", o.clients, r.elapsed.Round(time.Millisecond), r.calls, r.errors)
	fmt.Printf("throughput: %.0f calls/s\n", rate)
	fmt.Printf("latency: p50=%s p90=%s p99=%s max=%s\n", pct(.50), pct(.90), pct(.99), pct(1))
	tools := make([]string, 0, len(r.perTool))
	for t := range r.perTool {
		tools = append(tools, t)
	}
	slices.Sort(tools)
	for _, t := range tools {
		lat := r.toolLat[t]
		slices.Sort(lat)
		fmt.Printf("  %-17s %7d calls  p50=%-12s p99=%s\n", t, r.perTool[t], pctOf(lat, .5).Round(10*time.Microsecond), pctOf(lat, .99).Round(10*time.Microsecond))
	}
	if o.pid != 0 && r.calls > 0 {
		fmt.Printf("server CPU: %.1f µs/call (%.2f cores busy); loadgen CPU: %.1f µs/call\n",
			r.cpuServer/float64(r.calls)*1e6, r.cpuServer/r.elapsed.Seconds(), r.cpuSelf/float64(r.calls)*1e6)
		fmt.Printf("server RSS: %.1f MiB\n", r.rss)
	}
	if o.dbProcess != "" && r.calls > 0 && r.cpuDB == 0 {
		fmt.Printf("database CPU: not measured (no process named %q on this machine)\n", o.dbProcess)
	} else if o.dbProcess != "" && r.calls > 0 {
		fmt.Printf("database CPU: %.1f µs/call (%.2f cores busy)\n", r.cpuDB/float64(r.calls)*1e6, r.cpuDB/r.elapsed.Seconds())
	}
	fmt.Printf("machine: %.0f%% idle, %.0f%% waiting for I/O\n", r.idle*100, r.iowait*100)
	if r.firstErr != "" {
		fmt.Printf("first error: %s\n", r.firstErr)
	}
}

func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func startServer(o options, args []string) (stop func(), pid int, err error) {
	cmd := exec.Command(o.serverBin, append([]string{"--listen", o.listen, "--log-level", "warn"}, args...)...)
	cmd.Env = os.Environ()
	if o.serverEnv != "" {
		cmd.Env = append(cmd.Env, strings.Split(o.serverEnv, ",")...)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting the server: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	ready := "http://" + o.listen + "/readyz"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, cmd.Process.Pid, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, 0, errors.New("the server did not become ready within 30s")
}

// freshDatabase creates an empty database through a superuser DSN and
// returns its DSN and a function that drops it.
func freshDatabase(admin string) (string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("while connecting to PostgreSQL: %w", err)
	}
	name := fmt.Sprintf("memsrv_load_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("while creating %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("while parsing the admin DSN: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: while dropping", name+":", err)
		}
		conn.Close(ctx)
	}
	return u.String(), drop, nil
}
