// Package app runs the memory server: the MCP layer over one Store on the
// configured transport, the readiness prober, /livez, /readyz and /metrics,
// and graceful shutdown. It also implements the import and export commands.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/health"
	"github.com/memory-operator/memory-operator/server/jsonl"
	"github.com/memory-operator/memory-operator/server/mcp"
	"github.com/memory-operator/memory-operator/server/memory"
)

// Version is reported in the MCP serverInfo; main may set it at build time
// (-ldflags -X). While it is "dev" the binary's build info gives the version
// (module version or VCS revision, see effectiveVersion).
var Version = "dev"

// Options are the parts of Serve that are not configuration.
type Options struct {
	// Logger is required.
	Logger *slog.Logger
	// Stdin and Stdout carry the stdio transport.
	Stdin  io.Reader
	Stdout io.Writer
	// Listener, if set, is used instead of listening on cfg.Listen (tests).
	Listener net.Listener
}

// Serve runs the server until ctx ends (SIGTERM, SIGINT), then shuts down
// gracefully: it reports unready at once, stops accepting connections, lets
// in-flight tool calls finish for up to cfg.ShutdownGracePeriod and returns.
// The caller closes the store afterwards.
func Serve(ctx context.Context, cfg config.Config, store memory.Store, o Options) error {
	log := o.Logger
	var tokens []string
	if cfg.Auth.TokensFile != "" {
		var err error
		if tokens, err = mcp.LoadTokens(cfg.Auth.TokensFile); err != nil {
			return err
		}
	}
	prober, err := health.NewProber(store, health.Config{
		Period: cfg.Pool.HealthCheckPeriod.Duration, Timeout: min(cfg.Pool.AcquireTimeout.Duration, cfg.Pool.HealthCheckPeriod.Duration),
		FailureThreshold: cfg.Readiness.FailureThreshold,
	}, log)
	if err != nil {
		return err
	}
	metrics := health.NewMetrics(prober, mcp.ToolNames(), mcp.Outcomes)
	srv := mcp.New(store, mcp.Options{Logger: log, Observer: metrics, Version: effectiveVersion()})

	if cfg.PprofListen != "" {
		stop := servePprof(cfg.PprofListen, log)
		defer stop()
	}
	probeCtx, stopProbe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProbe()
	go prober.Run(probeCtx)

	if cfg.Transport == config.TransportStdio {
		log.Info("serving MCP on stdio", "backend", store.Backend())
		err := srv.SDK().Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(o.Stdin), Writer: nopWriteCloser{o.Stdout}, MaxLineLength: int(cfg.MaxRequestBytes)})
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("while serving stdio: %w", err)
		}
		drain(srv, cfg, log)
		return nil
	}

	mux := http.NewServeMux()
	hopts := mcp.HTTPOptions{MaxRequestBytes: cfg.MaxRequestBytes, Tokens: tokens}
	mux.Handle("/mcp", srv.StreamableHandler(hopts))
	if cfg.Transport == config.TransportSSE {
		mux.Handle("/sse", srv.SSEHandler(hopts))
	}
	mux.Handle("/livez", health.Livez())
	mux.Handle("/readyz", health.Readyz(prober))
	mux.Handle("/metrics", metrics.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("while listening on %s: %w", cfg.Listen, err)
		}
	}
	log.Info("serving MCP", "transport", cfg.Transport, "addr", ln.Addr().String(), "backend", store.Backend(),
		"endpoints", map[bool]string{true: "/mcp /sse", false: "/mcp"}[cfg.Transport == config.TransportSSE], "auth", len(tokens) > 0)
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("while serving HTTP: %w", err)
	case <-ctx.Done():
	}
	prober.SetShuttingDown()
	log.Info("shutting down: unready, no new connections, draining in-flight calls", "grace", cfg.ShutdownGracePeriod.Duration, "inFlight", srv.InFlight())
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGracePeriod.Duration)
	defer cancel()
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- hs.Shutdown(graceCtx) }()
	if err := srv.Drain(graceCtx); err != nil {
		log.Warn("grace period over with tool calls still running", "err", err)
	}
	// Long-lived streams (standalone SSE GETs) never end by themselves.
	for ss := range srv.SDK().Sessions() {
		_ = ss.Close()
	}
	// With no call left, what remains are idle or never-used connections
	// (net/http waits 5 s before it counts a new, unused connection as
	// idle): give them a moment, then close them.
	select {
	case err := <-shutdownDone:
		if err != nil {
			log.Warn("forcing the remaining connections closed", "err", err)
			_ = hs.Close()
		}
	case <-time.After(time.Second):
		_ = hs.Close()
		<-shutdownDone
	}
	log.Info("shut down")
	return nil
}

func drain(srv *mcp.Server, cfg config.Config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGracePeriod.Duration)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		log.Warn("grace period over with tool calls still running", "err", err)
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func servePprof(addr string, log *slog.Logger) func() {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server failed", "err", err)
		}
	}()
	log.Info("serving pprof", "addr", addr)
	return func() { _ = hs.Close() }
}

// Import validates a whole reference-format JSONL file and then merges it in
// one Store.Import transaction. A malformed file writes nothing.
func Import(ctx context.Context, store memory.Store, r io.Reader) (memory.ImportResult, error) {
	g, err := jsonl.Read(r)
	if err != nil {
		return memory.ImportResult{}, fmt.Errorf("refusing the import, nothing was written: %w", err)
	}
	res, err := store.Import(ctx, g)
	if err != nil {
		return memory.ImportResult{}, fmt.Errorf("while importing: %w", err)
	}
	return res, nil
}

// Export writes the whole graph in the reference JSONL format.
func Export(ctx context.Context, store memory.Store, w io.Writer) error {
	g, err := store.ReadGraph(ctx)
	if err != nil {
		return fmt.Errorf("while reading the graph: %w", err)
	}
	return jsonl.Write(w, g)
}
