package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store/deferred"
)

// openForCommand opens the store a command needs.
//
// Serving over HTTP (streamable-http, sse) does not wait for the database:
// the listener starts at once (/livez 200, /readyz 503 with verdict
// "starting" and the last open error) while the store opens and migrates in
// the background, retried with back-off from 250 ms doubling up to 10 s
// until ctx ends. A tool call during the first attempt waits for it (at
// most the pool's acquire timeout); tool calls after a failed attempt get an
// isError result "database unavailable: ..." at once (an MCP client shows
// it and can retry; a 503 on /mcp would fail its initialize handshake
// instead). So a pod whose database is
// still starting (a managed PostgreSQL in initdb) becomes ready by itself
// instead of crash-looping.
//
// stdio, import and export fail fast with the open error: a person or a
// script is waiting for them.
func openForCommand(ctx context.Context, cmd string, cfg config.Config, log *slog.Logger) (memory.Store, error) {
	if cmd == "serve" && cfg.Transport != config.TransportStdio {
		return deferred.New(ctx, deferred.Config{
			Backend: cfg.Backend, Logger: log, FirstOpenWait: cfg.Pool.AcquireTimeout.Duration,
			Open: func(ctx context.Context) (memory.Store, error) { return openStore(ctx, cfg, log) },
		})
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("while opening the %s backend: %w", cfg.Backend, err)
	}
	return st, nil
}

// writeFileAtomic writes path through write: into a temporary file next to
// it, synced and closed with their errors checked (a full disk can first
// fail at Sync or Close), then renamed over path. On any error path is left
// as it was and the temporary file is removed.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("while creating the export file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	return nil
}
