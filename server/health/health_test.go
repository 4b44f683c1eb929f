package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/health"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/deferred"
	"github.com/memory-operator/memory-operator/server/store/sqlite"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

var discard = slog.New(slog.DiscardHandler)

// scriptedPing is a real SQLite store whose Ping answers from a script, to
// drive the hysteresis through every transition.
type scriptedPing struct {
	*sqlite.Store
	results []error
}

func (s *scriptedPing) Ping(context.Context) error {
	err := s.results[0]
	s.results = s.results[1:]
	return err
}

func TestHysteresis(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name      string
		threshold int
		pings     []error
		want      []bool // Ready after each probe
	}{
		{"ready after first success", 3, []error{nil}, []bool{true}},
		{"not ready before any success", 3, []error{down, down}, []bool{false, false}},
		{"stays ready below threshold", 3, []error{nil, down, down, nil, down, down}, []bool{true, true, true, true, true, true}},
		{"unready at threshold", 3, []error{nil, down, down, down, down}, []bool{true, true, true, false, false}},
		{"one success recovers", 2, []error{nil, down, down, nil}, []bool{true, true, false, true}},
		{"threshold one", 1, []error{nil, down, nil}, []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &scriptedPing{Store: openSQLite(t), results: tt.pings}
			p, err := health.NewProber(st, health.Config{Period: time.Second, FailureThreshold: tt.threshold}, discard)
			if err != nil {
				t.Fatal(err)
			}
			if p.Ready() || p.Status().Verdict != health.VerdictStarting {
				t.Fatal("ready before the first probe")
			}
			for i, want := range tt.want {
				p.ProbeOnce(context.Background())
				if got := p.Ready(); got != want {
					t.Fatalf("after probe %d: ready=%v want %v (%+v)", i+1, got, want, p.Status())
				}
				if s := p.Status(); s.BackendUp != (tt.pings[i] == nil) || (tt.pings[i] != nil && s.LastError != down.Error()) {
					t.Fatalf("probe %d: status %+v", i+1, s)
				}
			}
		})
	}
}

func TestNewProberRefusesBadConfig(t *testing.T) {
	st := openSQLite(t)
	if _, err := health.NewProber(st, health.Config{Period: 0, FailureThreshold: 1}, discard); err == nil {
		t.Error("zero period accepted")
	}
	if _, err := health.NewProber(st, health.Config{Period: time.Second}, discard); err == nil {
		t.Error("zero threshold accepted")
	}
}

func get(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestReadyzOnRealSQLite: ready on a healthy store; a closed store (every
// Ping fails for real) turns unready after the threshold while /livez,
// which never touches the database, stays 200; shutting down is unready.
func TestReadyzOnRealSQLite(t *testing.T) {
	st := openSQLite(t)
	p, err := health.NewProber(st, health.Config{Period: 50 * time.Millisecond, FailureThreshold: 2}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, health.Readyz(p)); code != http.StatusServiceUnavailable {
		t.Errorf("before the first probe: %d", code)
	}
	p.ProbeOnce(context.Background())
	code, body := get(t, health.Readyz(p))
	var s health.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || s.Backend != "sqlite" || s.Verdict != health.VerdictReady || !s.BackendUp || s.Pool.MaxConnections == 0 || s.Saturated {
		t.Errorf("healthy: %d %s", code, body)
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	p.ProbeOnce(context.Background())
	if code, _ := get(t, health.Readyz(p)); code != http.StatusOK {
		t.Errorf("unready after one failure below the threshold: %d", code)
	}
	p.ProbeOnce(context.Background())
	code, body = get(t, health.Readyz(p))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"verdict": "unready"`) || !strings.Contains(body, `"lastError": "`) {
		t.Errorf("closed store: %d %s", code, body)
	}
	if code, _ := get(t, health.Livez()); code != http.StatusOK {
		t.Errorf("/livez: %d", code)
	}
	p.SetShuttingDown()
	if _, body := get(t, health.Readyz(p)); !strings.Contains(body, health.VerdictShuttingDown) {
		t.Errorf("shutting down: %s", body)
	}
}

func TestRunProbesPeriodically(t *testing.T) {
	st := openSQLite(t)
	p, err := health.NewProber(st, health.Config{Period: 10 * time.Millisecond, FailureThreshold: 1}, discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !p.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	first := p.Status().LastProbe
	for p.Status().LastProbe.Equal(first) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if !p.Ready() || p.Status().LastProbe.Equal(first) {
		t.Errorf("Run did not keep probing: %+v", p.Status())
	}
}

func TestMetrics(t *testing.T) {
	st := openSQLite(t)
	p, _ := health.NewProber(st, health.Config{Period: time.Second, FailureThreshold: 1}, discard)
	p.ProbeOnce(context.Background())
	if _, err := st.CreateEntities(context.Background(), []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{}}}); err != nil {
		t.Fatal(err)
	}
	m := health.NewMetrics(p, []string{"create_entities"}, []string{"ok", "busy"})
	m.ObserveToolCall("create_entities", "ok", 3*time.Millisecond)
	m.ObserveToolCall("create_entities", "ok", time.Millisecond)
	m.ObserveToolCall("create_entities", "busy", time.Second)
	m.ObserveToolCall("unlisted", "weird", time.Millisecond) // still counted

	_, body := get(t, m.Handler())
	for _, line := range []string{
		`memory_server_tool_calls_total{outcome="busy",tool="create_entities"} 1`,
		`memory_server_tool_calls_total{outcome="ok",tool="create_entities"} 2`,
		`memory_server_tool_calls_total{outcome="weird",tool="unlisted"} 1`,
		`memory_server_tool_duration_seconds_count{tool="create_entities"} 3`,
		`memory_server_tool_duration_seconds_bucket{tool="create_entities",le="0.001"} 1`,
		`memory_server_tool_duration_seconds_bucket{tool="create_entities",le="0.005"} 2`,
		`memory_server_tool_duration_seconds_count{tool="unlisted"} 1`,
		"memory_server_ready 1", "memory_server_backend_up 1",
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	stats := st.Stats()
	for _, name := range []string{
		`memory_server_pool_connections{state="acquired"}`, `memory_server_pool_connections{state="idle"}`,
		`memory_server_pool_connections{state="constructing"}`, "memory_server_pool_max_connections",
		"memory_server_pool_acquires_total", "memory_server_pool_empty_acquires_total",
		"memory_server_pool_canceled_acquires_total", "memory_server_pool_acquire_wait_seconds_total",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if stats.AcquireCount < 1 || !strings.Contains(body, "memory_server_pool_acquires_total ") {
		t.Errorf("pool acquires not exported: %+v", stats)
	}
}

// TestStartingWhileTheStoreOpens: a Store still opening in the background
// (server/store/deferred) keeps the verdict "starting", 503, with the open
// error in lastError; once it opens, one probe makes the server ready.
func TestStartingWhileTheStoreOpens(t *testing.T) {
	release := make(chan struct{})
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := deferred.New(context.Background(), deferred.Config{Backend: "postgres", InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Open: func(ctx context.Context) (memory.Store, error) {
			select {
			case <-release:
				return sqlite.New(ctx, sqlite.Config{Path: path})
			default:
				return nil, errors.New("dial tcp 10.0.0.1:5432: connect: connection refused")
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := health.NewProber(st, health.Config{Period: time.Second, FailureThreshold: 1}, discard)
	if err != nil {
		t.Fatal(err)
	}
	h := health.Readyz(p)
	get := func() (int, health.Status) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var s health.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return rec.Code, s
	}
	// Wait (hang guard only) until an open attempt has failed, then probe.
	guard := time.After(30 * time.Second)
	for !strings.Contains(st.Ping(context.Background()).Error(), "connection refused") {
		select {
		case <-guard:
			t.Fatal("no failed open attempt")
		case <-time.After(time.Millisecond):
		}
	}
	for range 3 {
		p.ProbeOnce(context.Background())
	}
	code, s := get()
	if code != http.StatusServiceUnavailable || s.Verdict != health.VerdictStarting || s.Ready ||
		!strings.Contains(s.LastError, "database unavailable") || !strings.Contains(s.LastError, "connection refused") {
		t.Fatalf("while opening: %d %+v", code, s)
	}
	close(release)
	select {
	case <-st.Opened():
	case <-time.After(30 * time.Second):
		t.Fatal("never opened")
	}
	p.ProbeOnce(context.Background())
	if code, s := get(); code != http.StatusOK || s.Verdict != health.VerdictReady {
		t.Fatalf("after open: %d %+v", code, s)
	}
}
