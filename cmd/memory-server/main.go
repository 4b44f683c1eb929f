// Command memory-server is the MCP knowledge-graph memory server.
//
//	memory-server [flags]                       serve MCP (default: streamable HTTP on :8080/mcp, SQLite ./memory.db)
//	memory-server [flags] import --file F.jsonl  merge a reference-server memory.jsonl file
//	memory-server [flags] export [--file F]      write the graph as JSONL (default: stdout)
//
// Every flag is also read from MEMORY_SERVER_<FLAG> and from --config FILE;
// precedence flag > env > file > default. `memory-server -h` lists them.
//
// GC: unless GOGC is set, the collector runs at GOGC=400 (the MCP layer
// allocates a lot per call; a larger heap target halves the GC cost). Set
// GOMEMLIMIT (the operator sets it to 90% of the container's memory limit)
// so the heap never outgrows the container.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/memory-operator/memory-operator/server/app"
	"github.com/memory-operator/memory-operator/server/config"
)

// defaultGOGC applies when the GOGC environment variable is unset.
const defaultGOGC = 400

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "memory-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	cmd, file, rest, err := splitCommand(args)
	if err != nil {
		return err
	}
	cfg, extra, err := config.Load(config.Source{Args: rest})
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return err
	}
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("unexpected arguments %q (commands: serve, import --file F, export [--file F])", extra)
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	st, err := openForCommand(ctx, cmd, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("while closing the store", "err", err)
		}
	}()

	switch cmd {
	case "import":
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("while opening the import file: %w", err)
		}
		defer f.Close()
		res, err := app.Import(ctx, st, f)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		log.Info("imported", "file", file, "entities", res.Entities, "observations", res.Observations, "relations", res.Relations)
		return nil
	case "export":
		if file != "" && file != "-" {
			return writeFileAtomic(file, func(w io.Writer) error { return app.Export(ctx, st, w) })
		}
		return app.Export(ctx, st, os.Stdout)
	default:
		return app.Serve(ctx, cfg, st, app.Options{Logger: log, Stdin: os.Stdin, Stdout: os.Stdout})
	}
}

// splitCommand takes the subcommand (serve, import, export: the first
// positional argument) and its --file out of args; the rest are flags.
func splitCommand(args []string) (cmd, file string, rest []string, err error) {
	cmd = "serve"
	sawCmd := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--file" || a == "-file":
			if i+1 >= len(args) {
				return "", "", nil, errors.New("--file needs a value")
			}
			file = args[i+1]
			i++
		case strings.HasPrefix(a, "--file=") || strings.HasPrefix(a, "-file="):
			file = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-"):
			rest = append(rest, a)
			// Every flag takes a value; keep "--flag value" together.
			if !strings.Contains(a, "=") && a != "-h" && a != "-help" && a != "--help" && i+1 < len(args) {
				rest = append(rest, args[i+1])
				i++
			}
		case !sawCmd && (a == "serve" || a == "import" || a == "export"):
			cmd, sawCmd = a, true
		default:
			rest = append(rest, a)
		}
	}
	if cmd == "import" && file == "" {
		return "", "", nil, errors.New("import needs --file FILE (a memory.jsonl of the reference memory server)")
	}
	if cmd == "serve" && file != "" {
		return "", "", nil, errors.New("--file belongs to the import and export commands")
	}
	return cmd, file, rest, nil
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func usage() {
	fs, _, _ := config.NewFlagSet("memory-server")
	fs.SetOutput(os.Stderr)
	fmt.Fprint(os.Stderr, `memory-server: the MCP knowledge-graph memory server.

Usage:
  memory-server [flags]                        serve MCP (default: streamable HTTP on :8080/mcp, SQLite ./memory.db)
  memory-server [flags] import --file F.jsonl  merge a reference memory.jsonl (validated first; nothing written if malformed)
  memory-server [flags] export [--file F]      write the graph as reference JSONL (default: stdout)

Secrets come only from the environment: MEMORY_SERVER_POSTGRES_DSN (or DATABASE_URL),
MEMORY_SERVER_NEO4J_USERNAME, MEMORY_SERVER_NEO4J_PASSWORD, each also as <NAME>_FILE.
GOGC defaults to 400 when unset; set GOMEMLIMIT to bound the heap.

Flags (each also MEMORY_SERVER_<FLAG> and a --config file key; flag > env > file > default):
`)
	fs.PrintDefaults()
}
