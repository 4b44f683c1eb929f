package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// EnvPrefix starts every environment variable that mirrors a flag:
// --pool-max-connections is MEMORY_SERVER_POOL_MAX_CONNECTIONS.
const EnvPrefix = "MEMORY_SERVER_"

// Option is one setting that can come from a flag, the environment and the
// configuration file.
type Option struct {
	// Flag is the flag name without dashes, e.g. "pool-max-connections".
	Flag string
	// Key is the YAML path in the configuration file, e.g. "pool.maxConnections".
	Key string
	// Usage is the flag's help text.
	Usage string
	// Type names the value's type in --help: string, int or duration.
	Type string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

// Env is the environment variable of the option.
func (o Option) Env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(o.Flag, "-", "_"))
}

func strOpt(flagName, key, usage string, f func(c *Config) *string) Option {
	return Option{Flag: flagName, Key: key, Usage: usage, Type: "string",
		set: func(c *Config, v string) error { *f(c) = v; return nil },
		get: func(c *Config) string { return *f(c) }}
}

func durOpt(flagName, key, usage string, f func(c *Config) *Duration) Option {
	return Option{Flag: flagName, Key: key, Usage: usage, Type: "duration",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a Go duration such as 30s or 1m30s", v)
			}
			if d <= 0 {
				return fmt.Errorf("must be a positive duration, got %s", v)
			}
			f(c).Duration = d
			return nil
		},
		get: func(c *Config) string { return f(c).Duration.String() }}
}

func intOpt[T int | int32 | int64](flagName, key, usage string, bits int, f func(c *Config) *T) Option {
	return Option{Flag: flagName, Key: key, Usage: usage, Type: "int",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*f(c) = T(n)
			return nil
		},
		get: func(c *Config) string { return strconv.FormatInt(int64(*f(c)), 10) }}
}

// Options lists every setting with its flag, environment variable and YAML
// key, in the order `--help` shows them.
func Options() []Option {
	return []Option{
		strOpt("transport", "transport", "MCP transport: streamable-http, sse or stdio", func(c *Config) *string { return &c.Transport }),
		strOpt("listen", "listen", "HTTP listen address (MCP, /livez, /readyz, /metrics)", func(c *Config) *string { return &c.Listen }),
		strOpt("backend", "backend", "storage backend: sqlite, postgres or neo4j", func(c *Config) *string { return &c.Backend }),
		strOpt("sqlite-path", "sqlite.path", "SQLite database file", func(c *Config) *string { return &c.SQLite.Path }),
		strOpt("postgres-statement-mode", "postgres.statementMode", "pgx query mode: prepare, cache_statement, cache_describe, describe, exec or simple (PgBouncer)", func(c *Config) *string { return &c.Postgres.StatementMode }),
		strOpt("neo4j-uri", "neo4j.uri", "Neo4j URI, e.g. neo4j://graph:7687", func(c *Config) *string { return &c.Neo4j.URI }),
		strOpt("neo4j-database", "neo4j.database", "Neo4j database (empty: the server's default)", func(c *Config) *string { return &c.Neo4j.Database }),
		intOpt("pool-max-connections", "pool.maxConnections", "connection pool size", 32, func(c *Config) *int32 { return &c.Pool.MaxConnections }),
		intOpt("pool-min-connections", "pool.minConnections", "connections kept open", 32, func(c *Config) *int32 { return &c.Pool.MinConnections }),
		durOpt("pool-max-connection-lifetime", "pool.maxConnectionLifetime", "recycle connections older than this", func(c *Config) *Duration { return &c.Pool.MaxConnectionLifetime }),
		durOpt("pool-max-connection-idle-time", "pool.maxConnectionIdleTime", "close connections idle longer than this", func(c *Config) *Duration { return &c.Pool.MaxConnectionIdleTime }),
		durOpt("pool-health-check-period", "pool.healthCheckPeriod", "how often the readiness prober checks the backend", func(c *Config) *Duration { return &c.Pool.HealthCheckPeriod }),
		durOpt("pool-acquire-timeout", "pool.acquireTimeout", "a call that cannot get a connection within this fails (database busy)", func(c *Config) *Duration { return &c.Pool.AcquireTimeout }),
		durOpt("pool-query-timeout", "pool.queryTimeout", "deadline of one tool call's transaction", func(c *Config) *Duration { return &c.Pool.QueryTimeout }),
		intOpt("readiness-failure-threshold", "readiness.failureThreshold", "consecutive failed probes before /readyz reports 503", 64, func(c *Config) *int { return &c.Readiness.FailureThreshold }),
		strOpt("auth-tokens-file", "auth.tokensFile", "file of accepted bearer tokens, one per line (empty: no authentication)", func(c *Config) *string { return &c.Auth.TokensFile }),
		intOpt("max-request-bytes", "maxRequestBytes", "largest accepted HTTP request body", 64, func(c *Config) *int64 { return &c.MaxRequestBytes }),
		durOpt("shutdown-grace-period", "shutdownGracePeriod", "how long in-flight calls may finish after SIGTERM", func(c *Config) *Duration { return &c.ShutdownGracePeriod }),
		strOpt("log-level", "logLevel", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
		strOpt("log-format", "logFormat", "json or text", func(c *Config) *string { return &c.LogFormat }),
		strOpt("pprof-listen", "pprofListen", "if set, serve net/http/pprof on this address (e.g. 127.0.0.1:6060)", func(c *Config) *string { return &c.PprofListen }),
	}
}

// Secret environment variables. Each also has a _FILE variant naming a file
// that holds the value (a mounted Secret), e.g. MEMORY_SERVER_POSTGRES_DSN_FILE.
const (
	EnvPostgresDSN   = "MEMORY_SERVER_POSTGRES_DSN"
	EnvDatabaseURL   = "DATABASE_URL"
	EnvNeo4jUsername = "MEMORY_SERVER_NEO4J_USERNAME"
	EnvNeo4jPassword = "MEMORY_SERVER_NEO4J_PASSWORD"
	// EnvConfigFile names the configuration file when --config is not given.
	EnvConfigFile = "MEMORY_SERVER_CONFIG"
)

// Source says where Load found the configuration; it is only used to build
// error messages.
type Source struct {
	// Args are the command-line arguments (without the program name).
	Args []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// ReadFile reads a file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// NewFlagSet returns a FlagSet with every Option as a string flag plus
// --config. Load uses it; main uses it for --help, which shows each flag's
// real type (string, int, duration) through the back-quoted name in its usage.
func NewFlagSet(name string) (*flag.FlagSet, map[string]*string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := make(map[string]*string)
	def := Default()
	for _, o := range Options() {
		usage := fmt.Sprintf("%s (`%s`; env %s, file key %s, default %q)", o.Usage, o.Type, o.Env(), o.Key, o.get(&def))
		vals[o.Flag] = fs.String(o.Flag, "", usage)
	}
	cfgFile := fs.String("config", "", "YAML configuration `file` (env "+EnvConfigFile+")")
	return fs, vals, cfgFile
}

// Load builds the configuration with precedence flag > environment > file >
// default, reads the secrets from the environment (or the files their _FILE
// variables name), applies defaults and validates. An invalid value gives an
// error naming the flag, variable or file key. It returns the remaining
// positional arguments.
func Load(src Source) (Config, []string, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	readFile := src.ReadFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	fs, vals, cfgFile := NewFlagSet("memory-server")
	if err := fs.Parse(src.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, nil, err
		}
		return Config{}, nil, fmt.Errorf("while parsing flags: %w", err)
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })

	var c Config
	origin := map[string]string{} // YAML key -> where its value came from
	// minSet: pool.minConnections was given by some source, so an explicit
	// 0 stays 0 instead of taking the default (SetDefaults cannot tell).
	minSet := false
	path := *cfgFile
	if !setFlags["config"] {
		path = getenv(EnvConfigFile)
	}
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return Config{}, nil, fmt.Errorf("while reading the configuration file: %w", err)
		}
		c, err = Parse(data)
		if err != nil {
			return Config{}, nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, o := range Options() {
			origin[o.Key] = "key " + o.Key + " in " + path
		}
		minSet = hasKey(data, keyMinConnections)
	}
	for _, o := range Options() {
		if v := getenv(o.Env()); v != "" {
			if err := o.set(&c, v); err != nil {
				return Config{}, nil, &FieldError{Key: o.Env(), Reason: err.Error()}
			}
			origin[o.Key] = o.Env()
			minSet = minSet || o.Key == keyMinConnections
		}
	}
	for _, o := range Options() {
		if setFlags[o.Flag] {
			if err := o.set(&c, *vals[o.Flag]); err != nil {
				return Config{}, nil, &FieldError{Key: "--" + o.Flag, Reason: err.Error()}
			}
			origin[o.Key] = "--" + o.Flag
			minSet = minSet || o.Key == keyMinConnections
		}
	}
	if err := loadSecrets(&c, getenv, readFile); err != nil {
		return Config{}, nil, err
	}
	explicitMin := c.Pool.MinConnections
	c.SetDefaults()
	if minSet && explicitMin == 0 {
		c.Pool.MinConnections = 0
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, annotate(err, origin)
	}
	return c, fs.Args(), nil
}

const keyMinConnections = "pool.minConnections"

// hasKey reports whether the YAML document holds the dotted key (with any
// value, 0 included).
func hasKey(data []byte, key string) bool {
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil {
		return false
	}
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[part]; !ok {
			return false
		}
	}
	return true
}

// annotate adds where a bad value came from to each FieldError.
func annotate(err error, origin map[string]string) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var out []error
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			if src, ok := origin[fe.Key]; ok && !strings.HasPrefix(src, "key ") {
				e = &FieldError{Key: fe.Key + " (from " + src + ")", Reason: fe.Reason}
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// secret reads name, or the file named by name_FILE. The value is never part
// of an error message.
func secret(name string, getenv func(string) string, readFile func(string) ([]byte, error)) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	if p := getenv(name + "_FILE"); p != "" {
		b, err := readFile(p)
		if err != nil {
			return "", &FieldError{Key: name + "_FILE", Reason: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))}
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

func loadSecrets(c *Config, getenv func(string) string, readFile func(string) ([]byte, error)) error {
	var err error
	for _, name := range []string{EnvPostgresDSN, EnvDatabaseURL} {
		if c.Postgres.DSN, err = secret(name, getenv, readFile); err != nil || c.Postgres.DSN != "" {
			break
		}
	}
	if err != nil {
		return err
	}
	if c.Neo4j.Username, err = secret(EnvNeo4jUsername, getenv, readFile); err != nil {
		return err
	}
	if c.Neo4j.Password, err = secret(EnvNeo4jPassword, getenv, readFile); err != nil {
		return err
	}
	return nil
}
