// Package mcp registers the memory server's MCP tools and resource on the
// official Go SDK (github.com/modelcontextprotocol/go-sdk) and serves them
// over streamable HTTP, legacy SSE and stdio.
//
// The tools are registered with the SDK's raw Server.AddTool: each handler
// decodes and validates its own arguments against the published input schema
// (decode.go) in one pass, which is about twice as fast as the SDK's typed
// handlers. Validation is never skipped: a bad argument is a tool result with
// isError set and a message naming the property.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Outcomes of a tool call, the outcome label of memory_server_tool_calls_total.
const (
	OutcomeOK              = "ok"
	OutcomeInvalidArgument = "invalid_argument"
	OutcomeNotFound        = "not_found"
	OutcomeBusy            = "busy"
	OutcomeTimeout         = "timeout"
	OutcomeUnavailable     = "unavailable"
	OutcomeCanceled        = "canceled"
	OutcomeError           = "error"
)

// Outcomes lists every outcome label.
var Outcomes = []string{OutcomeOK, OutcomeInvalidArgument, OutcomeNotFound, OutcomeBusy,
	OutcomeTimeout, OutcomeUnavailable, OutcomeCanceled, OutcomeError}

// ResourceURI is the URI of the whole-graph resource, as in the reference.
const ResourceURI = "memory://knowledge-graph"

// Observer records tool calls (the health package's metrics implement it).
type Observer interface {
	ObserveToolCall(tool, outcome string, d time.Duration)
}

// Options configures New.
type Options struct {
	// Logger receives errors that are not the caller's fault. Required.
	Logger *slog.Logger
	// Observer, if set, records every tool call.
	Observer Observer
	// Version is reported in serverInfo.
	Version string
}

// Server is the memory server's MCP layer around one Store.
type Server struct {
	store    memory.Store
	log      *slog.Logger
	obs      Observer
	sdk      *sdk.Server
	inFlight atomic.Int64
	// subs are the sessions subscribed to ResourceURI (per session: the SDK
	// calls the unsubscribe handler for any unsubscribe, even from a session
	// that never subscribed). nSubs is len(subs), read on every write so
	// that writes skip the notification (and the SDK's log line per
	// notification) when nobody listens.
	subMu sync.Mutex
	subs  map[*sdk.ServerSession]struct{}
	nSubs atomic.Int64
}

// ToolNames lists the tools in registration order.
func ToolNames() []string {
	names := make([]string, len(toolSpecs))
	for i, t := range toolSpecs {
		names[i] = t.name
	}
	return names
}

// New registers the tools and the resource on a new SDK server.
func New(store memory.Store, opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{store: store, log: opts.Logger, obs: opts.Observer}
	s.sdk = sdk.NewServer(&sdk.Implementation{Name: "memory-server", Title: "Knowledge-graph memory", Version: opts.Version},
		&sdk.ServerOptions{Logger: opts.Logger, SubscribeHandler: s.subscribe, UnsubscribeHandler: s.unsubscribe, Instructions: "A persistent knowledge graph: entities with observations, connected by relations. " +
			"Use search_nodes or search_memories to recall, open_nodes and find_related to explore, and the create_/add_/delete_ tools to remember and forget."})
	handlers := map[string]handlerFunc{
		"create_entities":     s.createEntities,
		"create_relations":    s.createRelations,
		"add_observations":    s.addObservations,
		"delete_entities":     s.deleteEntities,
		"delete_observations": s.deleteObservations,
		"delete_relations":    s.deleteRelations,
		"read_graph":          s.readGraph,
		"search_nodes":        s.searchNodes,
		"open_nodes":          s.openNodes,
		"search_memories":     s.searchMemories,
		"find_related":        s.findRelated,
	}
	for _, t := range toolSpecs {
		f := false
		tool := &sdk.Tool{
			Name: t.name, Title: t.title, Description: t.description,
			InputSchema: schema(t.input), OutputSchema: schema(t.output),
			Annotations: &sdk.ToolAnnotations{ReadOnlyHint: t.readOnly, DestructiveHint: &t.destructive,
				IdempotentHint: t.idempotent, OpenWorldHint: &f},
		}
		s.sdk.AddTool(tool, s.wrap(t.name, handlers[t.name]))
	}
	s.sdk.AddResource(&sdk.Resource{URI: ResourceURI, Name: "knowledge-graph", Title: "Knowledge Graph",
		Description: "The full knowledge graph with all entities and relations", MIMEType: "application/json"}, s.readResource)
	return s
}

// subscribe accepts subscriptions to the knowledge-graph resource, as the
// reference server does.
func (s *Server) subscribe(_ context.Context, req *sdk.SubscribeRequest) error {
	if req.Params.URI != ResourceURI {
		return fmt.Errorf("unknown resource %q (this server has %s)", req.Params.URI, ResourceURI)
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.subs == nil {
		s.subs = map[*sdk.ServerSession]struct{}{}
	}
	s.subs[req.Session] = struct{}{}
	s.nSubs.Store(int64(len(s.subs)))
	return nil
}

// unsubscribe forgets the calling session's subscription only: a session
// that never subscribed changes nothing.
func (s *Server) unsubscribe(_ context.Context, req *sdk.UnsubscribeRequest) error {
	if req.Params.URI != ResourceURI {
		return nil
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	delete(s.subs, req.Session)
	s.nSubs.Store(int64(len(s.subs)))
	return nil
}

// pruneSubscribers forgets subscribed sessions that have ended without
// unsubscribing (the SDK drops them from its own list on disconnect). The
// SDK's session list is read under subMu: a session that subscribes is in
// that list before its subscribe handler runs, so a subscription made while
// pruning is never taken for a dead one. (The SDK calls the handlers without
// holding its own lock, so the two locks are never taken the other way.)
func (s *Server) pruneSubscribers() {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	live := map[*sdk.ServerSession]bool{}
	for ss := range s.sdk.Sessions() {
		live[ss] = true
	}
	for ss := range s.subs {
		if !live[ss] {
			delete(s.subs, ss)
		}
	}
	s.nSubs.Store(int64(len(s.subs)))
}

// graphChanged sends notifications/resources/updated for ResourceURI to the
// sessions of this replica that subscribed (writes through other replicas
// are not seen here).
func (s *Server) graphChanged(ctx context.Context) {
	if s.nSubs.Load() == 0 {
		return
	}
	if err := s.sdk.ResourceUpdated(ctx, &sdk.ResourceUpdatedNotificationParams{URI: ResourceURI}); err != nil {
		s.log.Warn("while notifying resource subscribers", "err", err)
	}
	s.pruneSubscribers()
}

// SDK returns the underlying SDK server (for transports).
func (s *Server) SDK() *sdk.Server { return s.sdk }

// InFlight is the number of tool calls and resource reads running now.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// Drain waits until no tool call or resource read is running, or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("while waiting for %d in-flight tool calls: %w", s.inFlight.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

type handlerFunc func(ctx context.Context, raw json.RawMessage) (*sdk.CallToolResult, error)

// wrap turns a handler into an SDK ToolHandler: it counts the call, times it
// and turns every error into a tool error result (never a protocol error).
func (s *Server) wrap(name string, h handlerFunc) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		start := time.Now()
		res, err := h(ctx, req.Params.Arguments)
		outcome := OutcomeOK
		if err != nil {
			outcome, res = s.errorResult(name, err)
		}
		if s.obs != nil {
			s.obs.ObserveToolCall(name, outcome, time.Since(start))
		}
		return res, nil
	}
}

// errorResult maps an error to its outcome and an isError result whose text
// says what went wrong.
func (s *Server) errorResult(tool string, err error) (string, *sdk.CallToolResult) {
	var argErr *ArgError
	var outcome, msg string
	switch {
	case errors.As(err, &argErr):
		outcome, msg = OutcomeInvalidArgument, fmt.Sprintf("Invalid arguments for tool %s: %s", tool, argErr.Error())
	case errors.Is(err, memory.ErrInvalidArgument):
		outcome, msg = OutcomeInvalidArgument, err.Error()
	case errors.Is(err, memory.ErrNotFound):
		outcome, msg = OutcomeNotFound, err.Error()
	case errors.Is(err, memory.ErrBusy):
		outcome, msg = OutcomeBusy, err.Error()
	case errors.Is(err, memory.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		outcome, msg = OutcomeTimeout, err.Error()
	case errors.Is(err, memory.ErrUnavailable):
		outcome, msg = OutcomeUnavailable, err.Error()
	case errors.Is(err, context.Canceled):
		outcome, msg = OutcomeCanceled, "the call was canceled"
	default:
		outcome, msg = OutcomeError, fmt.Sprintf("internal error in %s: %v", tool, err)
	}
	if outcome != OutcomeInvalidArgument && outcome != OutcomeNotFound && outcome != OutcomeCanceled {
		s.log.Warn("tool call failed", "tool", tool, "outcome", outcome, "err", err)
	}
	return outcome, &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encode marshals v compactly without HTML escaping; the bytes are owned by
// the caller.
func encode(v any) ([]byte, error) {
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	b.Reset()
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("while encoding the result: %w", err)
	}
	out := bytes.TrimRight(b.Bytes(), "\n")
	return bytes.Clone(out), nil
}

// indented renders compact JSON with two-space indentation, as the reference
// server's text content (JSON.stringify(v, null, 2)).
func indented(compact []byte) string {
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	b.Reset()
	if err := json.Indent(b, compact, "", "  "); err != nil {
		return string(compact)
	}
	return b.String()
}

// jsonResult is a result whose text is textValue as indented JSON and whose
// structuredContent is {key: textValue}, or textValue itself when key is "".
func jsonResult(key string, textValue any) (*sdk.CallToolResult, error) {
	var body []byte
	var text string
	if c, t, ok := renderValue(textValue); ok {
		body, text = c, t
	} else {
		var err error
		if body, err = encode(textValue); err != nil {
			return nil, err
		}
		text = indented(body)
	}
	structured := json.RawMessage(body)
	if key != "" {
		buf := make([]byte, 0, len(body)+len(key)+5)
		buf = append(buf, `{"`...)
		buf = append(buf, key...)
		buf = append(buf, `":`...)
		buf = append(buf, body...)
		buf = append(buf, '}')
		structured = buf
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}, StructuredContent: structured}, nil
}

// messageResult is the reference's result of the delete tools.
func messageResult(msg string) *sdk.CallToolResult {
	return &sdk.CallToolResult{
		Content:           []sdk.Content{&sdk.TextContent{Text: msg}},
		StructuredContent: json.RawMessage(`{"success":true,"message":"` + msg + `"}`),
	}
}

func (s *Server) readResource(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	g, err := s.store.ReadGraph(ctx)
	if err != nil {
		return nil, fmt.Errorf("while reading the knowledge graph: %w", err)
	}
	body, err := encode(normalizeGraph(g))
	if err != nil {
		return nil, err
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: indented(body)}}}, nil
}
