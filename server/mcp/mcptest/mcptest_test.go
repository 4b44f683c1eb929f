package mcptest_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/mcp/mcptest"
	"github.com/memory-operator/memory-operator/server/store"
)

func TestPoolCalls(t *testing.T) {
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "mcptest.db")
	st, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sessions := mcptest.Serve(t, st).NewPool(t, 4)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			_, err := sessions.Call("create_entities", `{"entities":[{"name":"e`+string(rune('a'+i))+`","entityType":"t","observations":["o"]}]}`)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	out, err := sessions.Call("open_nodes", `{"names":["ea","ep"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"name":"ea"`) || !strings.Contains(string(out), `"name":"ep"`) {
		t.Fatalf("open_nodes of two created entities: %s", out)
	}

	for _, c := range []struct{ tool, args, want string }{
		{"add_observations", `{"observations":[{"entityName":"nobody","contents":["x"]}]}`, "nobody not found"},
		{"open_nodes", `{"names":"not a list"}`, "names: expected array"},
		{"no_such_tool", `{}`, "JSON-RPC error"},
	} {
		if _, err := sessions.Call(c.tool, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s(%s): error %v, want one containing %q", c.tool, c.args, err, c.want)
		}
	}
}
