package mcp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/mcp"
	"github.com/memory-operator/memory-operator/server/store"
)

// TestStrayUnsubscribeKeepsOtherSubscribers: session A subscribes to the
// knowledge graph, session B unsubscribes without ever subscribing (the SDK
// passes every unsubscribe to the handler); a write must still notify A.
func TestStrayUnsubscribeKeepsOtherSubscribers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard, not a timing
	defer cancel()
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "sub.db")
	st, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := mcp.New(st, mcp.Options{Logger: slog.New(slog.DiscardHandler)})

	updated := make(chan string, 16)
	connect := func(name string, notify bool) *sdkmcp.ClientSession {
		t.Helper()
		opts := &sdkmcp.ClientOptions{}
		if notify {
			opts.ResourceUpdatedHandler = func(_ context.Context, req *sdkmcp.ResourceUpdatedNotificationRequest) {
				updated <- req.Params.URI
			}
		}
		ct, stt := sdkmcp.NewInMemoryTransports()
		ss, err := srv.SDK().Connect(ctx, stt, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ss.Close() })
		cs, err := sdkmcp.NewClient(&sdkmcp.Implementation{Name: name, Version: "1"}, opts).Connect(ctx, ct, &sdkmcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}
	a := connect("a", true)
	b := connect("b", false)
	if err := a.Subscribe(ctx, &sdkmcp.SubscribeParams{URI: mcp.ResourceURI}); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctx, &sdkmcp.UnsubscribeParams{URI: mcp.ResourceURI}); err != nil {
		t.Fatal(err)
	}
	res, err := b.CallTool(ctx, &sdkmcp.CallToolParams{Name: "create_entities",
		Arguments: json.RawMessage(`{"entities":[{"name":"n","entityType":"t","observations":[]}]}`)})
	if err != nil || res.IsError {
		t.Fatalf("create_entities: %v %+v", err, res)
	}
	select {
	case uri := <-updated:
		if uri != mcp.ResourceURI {
			t.Errorf("notification for %q", uri)
		}
	case <-ctx.Done():
		t.Fatal("session A got no notifications/resources/updated after B's stray unsubscribe")
	}

}
