// Package mcptest serves a memory.Store through memory-server's MCP layer
// on an in-process HTTP server, and drives it the way the load generator
// does: plain JSON-RPC POSTs with the session header on kept-alive
// connections, not a full SDK client, so that benchmarks measure the
// server. It is for tests and benchmarks.
package mcptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/memory-operator/memory-operator/server/mcp"
	"github.com/memory-operator/memory-operator/server/memory"
)

// protocolVersion is the MCP revision the sessions initialize with.
const protocolVersion = "2025-06-18"

// Server is s served over streamable HTTP (the server's defaults).
type Server struct {
	// URL is the MCP endpoint.
	URL string
	hc  *http.Client
}

// Serve starts an HTTP server for s, closed when tb ends.
func Serve(tb testing.TB, s memory.Store) *Server {
	tb.Helper()
	return ServeMCP(tb, mcp.New(s, mcp.Options{Logger: slog.New(slog.DiscardHandler)}))
}

// ServeMCP starts an HTTP server for srv, closed when tb ends.
func ServeMCP(tb testing.TB, srv *mcp.Server) *Server {
	tb.Helper()
	hs := httptest.NewServer(srv.StreamableHandler(mcp.HTTPOptions{}))
	tb.Cleanup(hs.Close)
	return &Server{URL: hs.URL, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}}
}

// Session is one initialized MCP session. Its calls may run concurrently.
type Session struct {
	srv *Server
	id  string
	seq atomic.Int64
}

// NewSession initializes a session.
func (s *Server) NewSession(tb testing.TB) *Session {
	tb.Helper()
	ss := &Session{srv: s}
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + protocolVersion +
		`","capabilities":{},"clientInfo":{"name":"mcptest","version":"1"}}}`
	if _, err := ss.post(init); err != nil {
		tb.Fatalf("initializing an MCP session: %v", err)
	}
	if ss.id == "" {
		tb.Fatal("initializing an MCP session: no Mcp-Session-Id in the response")
	}
	if _, err := ss.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		tb.Fatalf("initializing an MCP session: %v", err)
	}
	return ss
}

// Call calls tool with args (a JSON object) and returns the JSON-RPC
// result; a JSON-RPC error or a tool error result is an error.
func (ss *Session) Call(tool, args string) (json.RawMessage, error) {
	name, err := json.Marshal(tool)
	if err != nil {
		return nil, err
	}
	body := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(ss.seq.Add(1), 10) +
		`,"method":"tools/call","params":{"name":` + string(name) + `,"arguments":` + args + `}}`
	out, err := ss.post(body)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", tool, err)
	}
	var resp struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("calling %s: decoding the response %q: %w", tool, out, err)
	}
	switch {
	case resp.Error != nil:
		return nil, fmt.Errorf("calling %s: JSON-RPC error: %s", tool, resp.Error.Message)
	case resp.Result == nil:
		return nil, fmt.Errorf("calling %s: no result in %q", tool, out)
	case resp.Result.IsError:
		return nil, fmt.Errorf("calling %s: error result %s", tool, out)
	}
	return out, nil
}

func (ss *Session) post(body string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, ss.srv.URL, bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if ss.id != "" {
		req.Header.Set("Mcp-Session-Id", ss.id)
		req.Header.Set("Mcp-Protocol-Version", protocolVersion)
	}
	resp, err := ss.srv.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %s: %s", resp.Status, out)
	}
	if ss.id == "" {
		ss.id = resp.Header.Get("Mcp-Session-Id")
	}
	return out, nil
}

// Pool lends sessions to concurrent callers, one call at a time each, as the
// load generator's clients use theirs.
type Pool struct{ free chan *Session }

// NewPool initializes n sessions.
func (s *Server) NewPool(tb testing.TB, n int) *Pool {
	tb.Helper()
	p := &Pool{free: make(chan *Session, n)}
	for range n {
		p.free <- s.NewSession(tb)
	}
	return p
}

// Call makes the call on a free session, waiting for one if none is.
func (p *Pool) Call(tool, args string) (json.RawMessage, error) {
	ss := <-p.free
	defer func() { p.free <- ss }()
	return ss.Call(tool, args)
}
