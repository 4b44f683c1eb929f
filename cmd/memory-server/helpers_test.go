package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The end-to-end tests build the real binary and drive it as a client
// would: the Go SDK's client over streamable HTTP, stdio and SSE.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "memory-server-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "memory-server")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// server is a running memory-server process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servingAddr finds the address in the server's `msg="serving MCP" ...
// addr=HOST:PORT` log line.
var servingAddr = regexp.MustCompile(`msg="serving MCP".* addr=(\S+)`)

// hangGuard bounds every wait on the server: generous, so that a slow shared
// machine never fails a test; only a hung server does.
const hangGuard = 60 * time.Second

// start runs the binary with args on --listen 127.0.0.1:0 (the kernel picks
// a free port, so parallel test processes never race for one), reads the
// address from its "serving MCP" log line and waits for /livez.
func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := &server{stderr: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binary(t), append([]string{"--listen", "127.0.0.1:0", "--log-format", "text"}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(hangGuard):
			_ = s.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.stderr.String())
		}
	})
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		if s.addr == "" {
			if m := servingAddr.FindStringSubmatch(s.stderr.String()); m != nil {
				s.addr = m[1]
			}
		}
		if s.addr != "" {
			if code, _ := s.get(t, "/livez"); code == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("server exited: %v\n%s", err, s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server did not answer /livez within the %s hang guard\n%s", hangGuard, s.stderr.String())
	return nil
}

func (s *server) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers want and returns the body. It
// is a state wait: the hang guard only catches a server that never gets
// there.
func (s *server) waitReady(t *testing.T, want int) string {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	var body string
	var code int
	for time.Now().Before(deadline) {
		if code, body = s.get(t, "/readyz"); code == want {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz did not answer %d within the %s hang guard; last %d %s", want, hangGuard, code, body)
	return ""
}

func connect(t *testing.T, tr mcp.Transport) *mcp.ClientSession {
	t.Helper()
	// Not a deadline: the SSE transport ties its stream to this context.
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, tool, args string) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: json.RawMessage(args)})
	if err != nil {
		t.Fatalf("%s: protocol error %v", tool, err)
	}
	return res
}

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("want one content, got %d", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T", res.Content[0])
	}
	return tc.Text
}

// ok calls a tool, requires success, and returns its structuredContent and
// the JSON of its text content, both decoded.
func ok(t *testing.T, cs *mcp.ClientSession, tool, args string) (structured map[string]any, textJSON any) {
	t.Helper()
	res := call(t, cs, tool, args)
	if res.IsError {
		t.Fatalf("%s %s: error result %q", tool, args, text(t, res))
	}
	txt := text(t, res)
	if err := json.Unmarshal([]byte(txt), &textJSON); err != nil {
		textJSON = txt // the delete tools answer with a sentence
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &structured); err != nil {
		t.Fatalf("%s: structuredContent %s", tool, b)
	}
	return structured, textJSON
}

func failing(t *testing.T, cs *mcp.ClientSession, tool, args, want string) {
	t.Helper()
	res := call(t, cs, tool, args)
	if !res.IsError {
		t.Fatalf("%s %s: want an error result, got %s", tool, args, text(t, res))
	}
	if got := text(t, res); !strings.Contains(got, want) {
		t.Errorf("%s %s: error %q does not contain %q", tool, args, got, want)
	}
}

func names(t *testing.T, v any) []string {
	t.Helper()
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, fmt.Sprint(m["name"]))
	}
	return out
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
