package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/app"
	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store"
)

func openStore(t *testing.T) (config.Config, memory.Store) {
	t.Helper()
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "m.db")
	cfg.Pool.HealthCheckPeriod = config.D(50 * time.Millisecond)
	cfg.ShutdownGracePeriod = config.D(5 * time.Second)
	st, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return cfg, st
}

func TestServeThenShutDown(t *testing.T) {
	cfg, st := openStore(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, cfg, st, app.Options{Logger: slog.New(slog.DiscardHandler), Listener: ln})
	}()
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "create_entities", Arguments: json.RawMessage(`{"entities":[{"name":"a","entityType":"t","observations":[]}]}`)})
	if err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(base + "/livez"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
	// The write went through the store that the caller still owns.
	g, err := st.OpenNodes(context.Background(), []string{"a"})
	if err != nil || len(g.Entities) != 1 {
		t.Errorf("%+v %v", g, err)
	}
}

func TestServeRefusesMissingTokensFile(t *testing.T) {
	cfg, st := openStore(t)
	cfg.Auth.TokensFile = filepath.Join(t.TempDir(), "absent")
	err := app.Serve(context.Background(), cfg, st, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "auth tokens file") {
		t.Errorf("%v", err)
	}
}

func TestImportExport(t *testing.T) {
	_, st := openStore(t)
	ctx := context.Background()
	bad := `{"type":"entity","name":"a","entityType":"t","observations":["x"]}` + "\n" + `{"type":"relation","from":"a"}` + "\n"
	if _, err := app.Import(ctx, st, strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("malformed import: %v", err)
	}
	if g, _ := st.ReadGraph(ctx); len(g.Entities) != 0 {
		t.Fatalf("the malformed import wrote %+v", g)
	}
	good := `{"type":"entity","name":"a","entityType":"t","observations":["x","y"]}` + "\n" +
		`{"type":"entity","name":"b","entityType":"t","observations":[]}` + "\n" +
		`{"type":"relation","from":"a","to":"b","relationType":"r"}` + "\n"
	res, err := app.Import(ctx, st, strings.NewReader(good))
	if err != nil || res.Entities != 2 || res.Relations != 1 || res.Observations != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	var out bytes.Buffer
	if err := app.Export(ctx, st, &out); err != nil || out.String() != good {
		t.Fatalf("export %v:\n%s", err, out.String())
	}
	// Importing again merges: nothing new.
	if res, err := app.Import(ctx, st, strings.NewReader(good)); err != nil || res != (memory.ImportResult{}) {
		t.Errorf("re-import: %+v %v", res, err)
	}
}
