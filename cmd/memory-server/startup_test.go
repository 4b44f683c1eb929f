package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// gate is a TCP proxy to PostgreSQL that, until opened, accepts each
// connection and closes it at once (a database that is not up yet). It
// keeps its port for the whole test, so nothing else can take it.
type gate struct {
	ln     net.Listener
	target string
	open   atomic.Bool
	wg     sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target}
	g.wg.Add(1)
	go g.serve()
	t.Cleanup(func() { _ = ln.Close(); g.wg.Wait() })
	return g
}

func (g *gate) serve() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			_ = c.Close()
			continue
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer c.Close()
			up, err := net.Dial("tcp", g.target)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// viaGate rewrites dsn to go through the gate.
func viaGate(t *testing.T, dsn string) (*gate, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, u.Host)
	u.Host = g.ln.Addr().String()
	return g, u.String()
}

// TestServesBeforeTheDatabaseIsUp: the database refuses every connection
// when the server starts (a managed PostgreSQL still in initdb). The server
// does not exit: /livez answers 200, /readyz 503 with verdict "starting" and
// the open error, tool calls get a "database unavailable" error result; once
// the database accepts connections the store opens and migrates in the
// background, /readyz turns 200 and tool calls succeed, without a restart.
func TestServesBeforeTheDatabaseIsUp(t *testing.T) {
	_, dsn, _ := freshDatabase(t)
	g, gated := viaGate(t, dsn)
	s := start(t, []string{"MEMORY_SERVER_POSTGRES_DSN=" + gated}, "--backend", "postgres",
		"--pool-health-check-period", "200ms", "--readiness-failure-threshold", "1")
	if code, _ := s.get(t, "/livez"); code != http.StatusOK {
		t.Fatalf("/livez %d before the database is up", code)
	}
	var rs struct {
		Ready     bool   `json:"ready"`
		Verdict   string `json:"verdict"`
		LastError string `json:"lastError"`
	}
	for guard := time.Now().Add(hangGuard); ; {
		code, body := s.get(t, "/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d before the database is up: %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &rs); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		if rs.Verdict != "starting" {
			t.Fatalf("verdict %q before the database is up: %s", rs.Verdict, body)
		}
		if strings.Contains(rs.LastError, "failed attempts") { // an open attempt has failed and is named
			break
		}
		if time.Now().After(guard) {
			t.Fatalf("/readyz never named the open error: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/readyz while the database is down: %+v", rs)
	if !strings.Contains(rs.LastError, "database unavailable") || !strings.Contains(rs.LastError, "postgres") {
		t.Errorf("lastError does not say the database is unavailable: %q", rs.LastError)
	}
	if strings.Contains(s.stderr.String(), gated) || strings.Contains(rs.LastError, gated) {
		t.Error("the DSN appears in the log or /readyz")
	}
	cs := connect(t, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"})
	failing(t, cs, "create_entities", `{"entities":[{"name":"early","entityType":"t","observations":[]}]}`, "database unavailable")
	if !strings.Contains(s.stderr.String(), "retrying") {
		t.Errorf("no retry in the log:\n%s", s.stderr.String())
	}

	g.open.Store(true)
	s.waitReady(t, http.StatusOK)
	ok(t, cs, "create_entities", `{"entities":[{"name":"late","entityType":"t","observations":["o"]}]}`)
	st, _ := ok(t, cs, "open_nodes", `{"names":["early","late"]}`)
	if got := names(t, st["entities"]); strings.Join(got, ",") != "late" {
		t.Errorf("entities after the database came up: %v", got)
	}
	if !strings.Contains(s.stderr.String(), "backend open") {
		t.Errorf("no 'backend open' log line:\n%s", s.stderr.String())
	}
}

// TestCommandsFailFastWithoutTheDatabase: import, export and stdio do not
// wait for a database that is down; they exit non-zero naming the backend.
func TestCommandsFailFastWithoutTheDatabase(t *testing.T) {
	_, dsn, _ := freshDatabase(t)
	_, gated := viaGate(t, dsn) // never opened
	file := filepath.Join(t.TempDir(), "m.jsonl")
	if err := os.WriteFile(file, []byte(`{"type":"entity","name":"a","entityType":"t","observations":[]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"import": {"--backend", "postgres", "import", "--file", file},
		"export": {"--backend", "postgres", "export"},
		"stdio":  {"--backend", "postgres", "--transport", "stdio"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), args...)
			cmd.Env = append(os.Environ(), "MEMORY_SERVER_POSTGRES_DSN="+gated)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit, got %v (ctx %v):\n%s", err, ctx.Err(), out)
			}
			if !strings.Contains(string(out), "while opening the postgres backend") {
				t.Errorf("unclear error:\n%s", out)
			}
		})
	}
}

// TestServerInfoVersion: a binary built in a git checkout without -ldflags
// reports its VCS revision in serverInfo, not "dev". (The machine's GOFLAGS
// may say -buildvcs=false, so this test builds its own binary with it on.)
func TestServerInfoVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary (skipped with -short)")
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout (go build stamps no revision): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "memory-server")
	if b, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, b)
	}
	cs := connect(t, &mcp.CommandTransport{Command: exec.Command(bin, "--transport", "stdio", "--sqlite-path", filepath.Join(t.TempDir(), "m.db"))})
	got := cs.InitializeResult().ServerInfo.Version
	// The binary was built from HEAD plus, maybe, uncommitted changes: Go
	// stamps a pseudo-version (v0.0.0-<time>-<rev>[+dirty]) or, in older
	// toolchains, only vcs.revision. Either way it names the revision.
	// HEAD is read before and after the build (someone may commit between).
	after, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	before, now := strings.TrimSpace(string(out))[:12], strings.TrimSpace(string(after))
	if !strings.Contains(got, before) && (len(now) < 12 || !strings.Contains(got, now[:12])) {
		t.Errorf("serverInfo.version = %q, want the revision %s in it", got, before)
	}
}
