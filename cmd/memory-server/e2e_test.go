package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/config"
)

// The end-to-end tests build the real binary and drive it as a client
// would: the Go SDK's client over streamable HTTP, stdio and SSE.

// exercise drives every tool and the resource, checking the reference's
// result shapes and semantics.
func exercise(t *testing.T, cs *mcp.ClientSession) {
	ctx := context.Background()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var toolNames []string
	for _, tl := range tools.Tools {
		toolNames = append(toolNames, tl.Name)
	}
	slices.Sort(toolNames)
	want := []string{"add_observations", "create_entities", "create_relations", "delete_entities", "delete_observations",
		"delete_relations", "find_related", "open_nodes", "read_graph", "search_memories", "search_nodes"}
	if !slices.Equal(toolNames, want) {
		t.Fatalf("tools %v", toolNames)
	}

	st, txt := ok(t, cs, "create_entities", `{"entities":[
		{"name":"Alice","entityType":"person","observations":["Enjoys Kafka tuning","Says \"hi\"; DROP TABLE x;--"]},
		{"name":"Ünïcode Bob","entityType":"person","observations":["likes 50%_off deals"]}]}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"Alice", "Ünïcode Bob"}) {
		t.Errorf("created %v", got)
	}
	if asJSON(txt) != asJSON(st["entities"]) {
		t.Errorf("text %s != structured %s", asJSON(txt), asJSON(st["entities"]))
	}
	// A name that exists is skipped: the result is an empty array, not null.
	res := call(t, cs, "create_entities", `{"entities":[{"name":"Alice","entityType":"x","observations":[]}]}`)
	if text(t, res) != "[]" || asJSON(res.StructuredContent) != `{"entities":[]}` {
		t.Errorf("duplicate create: %q %s", text(t, res), asJSON(res.StructuredContent))
	}
	st, _ = ok(t, cs, "create_relations", `{"relations":[{"from":"Alice","to":"Ünïcode Bob","relationType":"knows"},{"from":"Alice","to":"Nobody","relationType":"imagines"}]}`)
	if rels, _ := st["relations"].([]any); len(rels) != 2 {
		t.Errorf("relations %v", st)
	}
	st, _ = ok(t, cs, "create_relations", `{"relations":[{"from":"Alice","to":"Ünïcode Bob","relationType":"knows"}]}`)
	if asJSON(st) != `{"relations":[]}` {
		t.Errorf("duplicate relation: %s", asJSON(st))
	}
	st, _ = ok(t, cs, "add_observations", `{"observations":[{"entityName":"Alice","contents":["Enjoys Kafka tuning","Writes Go"]}]}`)
	if asJSON(st) != `{"results":[{"addedObservations":["Writes Go"],"entityName":"Alice"}]}` {
		t.Errorf("add_observations %s", asJSON(st))
	}
	failing(t, cs, "add_observations", `{"observations":[{"entityName":"Alice","contents":["lost"]},{"entityName":"Nobody","contents":["x"]}]}`, "Entity with name Nobody not found")

	st, _ = ok(t, cs, "search_nodes", `{"query":"aLiCe"}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"Alice"}) {
		t.Errorf("search_nodes aLiCe: %v", got)
	}
	if rels, _ := st["relations"].([]any); len(rels) != 2 {
		t.Errorf("search_nodes relations %v", st["relations"])
	}
	st, _ = ok(t, cs, "search_nodes", `{"query":"ÜNÏCODE"}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"Ünïcode Bob"}) {
		t.Errorf("unicode case-insensitive search: %v", got)
	}
	st, _ = ok(t, cs, "search_nodes", `{"query":"0%_"}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"Ünïcode Bob"}) {
		t.Errorf("%%_ as plain characters: %v", got)
	}
	st, _ = ok(t, cs, "search_nodes", `{"query":"zzz-no-match"}`)
	if asJSON(st) != `{"entities":[],"relations":[]}` {
		t.Errorf("empty search: %s", asJSON(st))
	}
	st, _ = ok(t, cs, "open_nodes", `{"names":["Ünïcode Bob","Nobody"]}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"Ünïcode Bob"}) || len(st["relations"].([]any)) != 1 {
		t.Errorf("open_nodes: %s", asJSON(st))
	}
	st, _ = ok(t, cs, "search_memories", `{"query":"kafka","limit":5}`)
	if hits, _ := st["results"].([]any); len(hits) != 1 || hits[0].(map[string]any)["name"] != "Alice" {
		t.Errorf("search_memories: %s", asJSON(st))
	}
	st, _ = ok(t, cs, "find_related", `{"name":"Ünïcode Bob","depth":2}`)
	if got := names(t, st["entities"]); !slices.Contains(got, "Alice") {
		t.Errorf("find_related: %s", asJSON(st))
	}

	// Bad input: error results naming the problem, never protocol errors.
	failing(t, cs, "create_entities", `{"entities":[{"name":"x","entityType":"t"}]}`, `entities[0]: missing required property "observations"`)
	failing(t, cs, "create_entities", `{"entities":[{"name":null,"entityType":"t","observations":[]}]}`, "entities[0].name: expected string, got null")
	failing(t, cs, "open_nodes", `{}`, `missing required property "names"`)
	failing(t, cs, "find_related", `{"name":"Alice","depth":9}`, "depth: must be between 1 and 3")
	failing(t, cs, "find_related", `{"name":"Nobody"}`, "Nobody")
	failing(t, cs, "search_memories", `{"query":"x","bogus":1}`, "bogus: unknown property")

	// The resource is the whole graph.
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "memory://knowledge-graph"})
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Entities, Relations []map[string]any }
	if len(rr.Contents) != 1 || json.Unmarshal([]byte(rr.Contents[0].Text), &g) != nil || len(g.Entities) != 2 || len(g.Relations) != 2 {
		t.Errorf("resource: %+v", rr.Contents)
	}

	st, txt = ok(t, cs, "delete_observations", `{"deletions":[{"entityName":"Alice","observations":["Writes Go"]},{"entityName":"Nobody","observations":["x"]}]}`)
	if txt != "Observations deleted successfully" || st["success"] != true {
		t.Errorf("delete_observations %v %v", txt, st)
	}
	ok(t, cs, "delete_relations", `{"relations":[{"from":"Alice","to":"Nobody","relationType":"imagines"}]}`)
	ok(t, cs, "delete_entities", `{"entityNames":["Ünïcode Bob"]}`)
	st, _ = ok(t, cs, "read_graph", `{}`)
	if asJSON(st) != `{"entities":[{"entityType":"person","name":"Alice","observations":["Enjoys Kafka tuning","Says \"hi\"; DROP TABLE x;--"]}],"relations":[]}` {
		t.Errorf("final graph %s", asJSON(st))
	}
}

func TestStreamableHTTP(t *testing.T) {
	s := start(t, nil, "--sqlite-path", filepath.Join(t.TempDir(), "m.db"), "--pool-health-check-period", "200ms")
	body := s.waitReady(t, http.StatusOK)
	if !strings.Contains(body, `"backend": "sqlite"`) || !strings.Contains(body, `"verdict": "ready"`) {
		t.Errorf("/readyz body %s", body)
	}
	cs := connect(t, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"})
	exercise(t, cs)

	code, metrics := s.get(t, "/metrics")
	for _, want := range []string{
		`memory_server_tool_calls_total{outcome="ok",tool="create_entities"} 2`,
		`memory_server_tool_calls_total{outcome="invalid_argument",tool="create_entities"} 2`,
		`memory_server_tool_calls_total{outcome="not_found",tool="add_observations"} 1`,
		`memory_server_tool_duration_seconds_count{tool="search_nodes"} 4`,
		`memory_server_pool_connections{state="idle"}`, `memory_server_pool_max_connections`,
		`memory_server_pool_acquires_total`, `memory_server_pool_empty_acquires_total`,
		`memory_server_pool_canceled_acquires_total`, `memory_server_pool_acquire_wait_seconds_total`,
		"memory_server_backend_up 1", "memory_server_ready 1",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestStdio(t *testing.T) {
	cmd := exec.Command(binary(t), "--transport", "stdio", "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cs := connect(t, &mcp.CommandTransport{Command: cmd})
	exercise(t, cs)
	if t.Failed() {
		t.Logf("server log:\n%s", stderr.String())
	}
}

func TestSSE(t *testing.T) {
	s := start(t, nil, "--transport", "sse", "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	cs := connect(t, &mcp.SSEClientTransport{Endpoint: "http://" + s.addr + "/sse"})
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 11 {
		t.Fatalf("tools over SSE: %v %v", tools, err)
	}
	st, _ := ok(t, cs, "create_entities", `{"entities":[{"name":"sse","entityType":"t","observations":[]}]}`)
	if got := names(t, st["entities"]); !slices.Equal(got, []string{"sse"}) {
		t.Errorf("over SSE: %v", got)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestBearerAuthAndRequestLimit(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# comment\nfirst-token\n\nsecond-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, nil, "--sqlite-path", filepath.Join(dir, "m.db"), "--auth-tokens-file", tokens, "--max-request-bytes", "4096")
	resp, err := http.Post("http://"+s.addr+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer wrong-token")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	// Health endpoints stay open for the kubelet.
	if code, _ := s.get(t, "/livez"); code != 200 {
		t.Errorf("/livez behind auth: %d", code)
	}
	cs := connect(t, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp", HTTPClient: &http.Client{Transport: bearer{"second-token"}}})
	ok(t, cs, "create_entities", `{"entities":[{"name":"authed","entityType":"t","observations":[]}]}`)
	// A body over --max-request-bytes is refused, not executed.
	big := strings.Repeat("x", 8192)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_entities", Arguments: json.RawMessage(`{"entities":[{"name":"big","entityType":"` + big + `","observations":[]}]}`)}); err == nil {
		t.Error("an oversized request was accepted")
	}
}

func TestImportExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "m.db")
	good := filepath.Join(dir, "memory.jsonl")
	content := `{"type":"entity","name":"John_Smith","entityType":"person","observations":["Speaks fluent Spanish"]}
{"type":"entity","name":"Anthropic","entityType":"organization","observations":[]}
{"type":"relation","from":"John_Smith","to":"Anthropic","relationType":"works_at"}`
	if err := os.WriteFile(good, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(binary(t), append([]string{"--sqlite-path", db}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	if _, stderr, err := run("import", "--file", good); err != nil {
		t.Fatalf("import: %v %s", err, stderr)
	}
	out, stderr, err := run("export")
	if err != nil || out != content+"\n" {
		t.Fatalf("export: %v %s\n%q", err, stderr, out)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"type":"entity","name":"New","entityType":"t","observations":[]}`+"\n"+`{"type":"relation","from":"a"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = run("import", "--file", bad)
	if err == nil || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "nothing was written") {
		t.Fatalf("malformed import: %v %s", err, stderr)
	}
	exported := filepath.Join(dir, "out.jsonl")
	if _, stderr, err := run("export", "--file", exported); err != nil {
		t.Fatal(err, stderr)
	}
	if b, _ := os.ReadFile(exported); string(b) != content+"\n" {
		t.Errorf("the malformed import changed the graph:\n%s", b)
	}
	if _, stderr, err := run("import"); err == nil || !strings.Contains(stderr, "--file") {
		t.Errorf("import without --file: %v %s", err, stderr)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cmd := exec.Command(binary(t), "--pool-max-connections", "lots")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--pool-max-connections") {
		t.Errorf("%v %s", err, out)
	}
	cmd = exec.Command(binary(t), "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	cmd.Env = append(os.Environ(), "MEMORY_SERVER_TRANSPORT=pigeon")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MEMORY_SERVER_TRANSPORT") {
		t.Errorf("%v %s", err, out)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s := start(t, nil, "--sqlite-path", filepath.Join(t.TempDir(), "m.db"), "--shutdown-grace-period", "5s")
	cs := connect(t, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"})
	ok(t, cs, "create_entities", `{"entities":[{"name":"before","entityType":"t","observations":[]}]}`)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, s.stderr.String())
		}
		s.done <- err // for the cleanup
	case <-time.After(hangGuard):
		t.Fatal("the server did not stop after SIGTERM")
	}
	log := s.stderr.String()
	if !strings.Contains(log, "shutting down") || !strings.Contains(log, "shut down") {
		t.Errorf("shutdown log:\n%s", log)
	}
}

// TestHTTPProtections: DNS-rebinding (a loopback request naming another
// host) and cross-origin browser requests are refused before any MCP work.
func TestHTTPProtections(t *testing.T) {
	s := start(t, nil, "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	send := func(mod func(r *http.Request)) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/mcp", strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		mod(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(func(*http.Request) {}); code != http.StatusOK {
		t.Errorf("plain initialize: %d", code)
	}
	if code := send(func(r *http.Request) { r.Host = "attacker.example" }); code != http.StatusForbidden {
		t.Errorf("DNS rebinding: %d", code)
	}
	if code := send(func(r *http.Request) {
		r.Header.Set("Origin", "https://attacker.example")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
	}); code != http.StatusForbidden {
		t.Errorf("cross-origin browser request: %d", code)
	}
}

// TestConfigFileAsTheOperatorRendersIt: the file config.Marshal renders (the
// operator's ConfigMap) is read; a flag overrides it, the environment beats
// the file.
func TestConfigFileAsTheOperatorRendersIt(t *testing.T) {
	dir := t.TempDir()
	var c config.Config
	c.SQLite.Path = filepath.Join(dir, "from-file.db")
	c.Readiness.FailureThreshold = 7
	c.Pool.HealthCheckPeriod = config.D(250 * time.Millisecond)
	c.Pool.MaxConnections = 3
	data, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	flagPath := filepath.Join(dir, "from-flag.db")
	s := start(t, []string{"MEMORY_SERVER_READINESS_FAILURE_THRESHOLD=5"}, "--config", file, "--sqlite-path", flagPath)
	body := s.waitReady(t, http.StatusOK)
	if !strings.Contains(body, `"failureThreshold": 5`) {
		t.Errorf("the environment did not override the file: %s", body)
	}
	if _, err := os.Stat(flagPath); err != nil {
		t.Errorf("the flag did not override the file's sqlite.path: %v", err)
	}
	if _, err := os.Stat(c.SQLite.Path); err == nil {
		t.Error("the file's sqlite.path was used despite the flag")
	}
}

// TestResourceSubscription: as with the reference server, a client that
// subscribes to memory://knowledge-graph is told when a tool changes it.
func TestResourceSubscription(t *testing.T) {
	s := start(t, nil, "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	updates := make(chan string, 16)
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) { updates <- r.Params.URI },
	})
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if caps := cs.InitializeResult().Capabilities; caps.Resources == nil || !caps.Resources.Subscribe {
		t.Fatalf("resources.subscribe not advertised: %+v", caps.Resources)
	}
	ctx := context.Background()
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://elsewhere"}); err == nil {
		t.Error("subscribing to an unknown resource succeeded")
	}
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Fatal(err)
	}
	ok(t, cs, "create_entities", `{"entities":[{"name":"watched","entityType":"t","observations":[]}]}`)
	select {
	case uri := <-updates:
		if uri != "memory://knowledge-graph" {
			t.Errorf("update for %s", uri)
		}
	case <-time.After(hangGuard):
		t.Fatal("no notifications/resources/updated after a write")
	}
	ok(t, cs, "read_graph", `{}`) // reads do not notify
	ok(t, cs, "delete_entities", `{"entityNames":["watched"]}`)
	select {
	case <-updates:
	case <-time.After(hangGuard):
		t.Fatal("no notification after delete_entities")
	}
	select {
	case <-updates:
		t.Error("a read produced a notification")
	default:
	}
}

// TestConcurrentWritesAreNotLost: 64 concurrent add_observations to one
// entity from 8 sessions; every acknowledged write is there afterwards (the
// reference server, which rewrites its file per call, loses most of them).
func TestConcurrentWritesAreNotLost(t *testing.T) {
	s := start(t, nil, "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))
	sessions := make([]*mcp.ClientSession, 8)
	for i := range sessions {
		sessions[i] = connect(t, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"})
	}
	ok(t, sessions[0], "create_entities", `{"entities":[{"name":"hot","entityType":"t","observations":[]}]}`)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := sessions[i%8].CallTool(context.Background(), &mcp.CallToolParams{Name: "add_observations",
				Arguments: json.RawMessage(fmt.Sprintf(`{"observations":[{"entityName":"hot","contents":["write %d"]}]}`, i))})
			if err != nil || res.IsError {
				errs <- fmt.Sprintf("write %d: %v %+v", i, err, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st, _ := ok(t, sessions[0], "open_nodes", `{"names":["hot"]}`)
	ents, _ := st["entities"].([]any)
	if len(ents) != 1 {
		t.Fatalf("open_nodes: %v", st)
	}
	if obs, _ := ents[0].(map[string]any)["observations"].([]any); len(obs) != 64 {
		t.Errorf("%d of 64 observations kept", len(obs))
	}
}
