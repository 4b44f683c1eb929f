package config_test

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/config"
)

func src(args []string, env map[string]string, files map[string]string) config.Source {
	return config.Source{
		Args:   args,
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
		},
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := map[string]string{"/c.yaml": "listen: \":7000\"\npool:\n  maxConnections: 7\n  acquireTimeout: 7s\nbackend: sqlite\nsqlite:\n  path: /file.db\n"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantMax  int32
		wantAcq  time.Duration
		wantList string
		wantPath string
	}{
		{name: "defaults", wantMax: 10, wantAcq: 5 * time.Second, wantList: ":8080", wantPath: "./memory.db"},
		{name: "file over default", args: []string{"--config", "/c.yaml"}, wantMax: 7, wantAcq: 7 * time.Second, wantList: ":7000", wantPath: "/file.db"},
		{name: "file from env", env: map[string]string{"MEMORY_SERVER_CONFIG": "/c.yaml"}, wantMax: 7, wantAcq: 7 * time.Second, wantList: ":7000", wantPath: "/file.db"},
		{name: "env over file", args: []string{"--config", "/c.yaml"},
			env:     map[string]string{"MEMORY_SERVER_POOL_MAX_CONNECTIONS": "8", "MEMORY_SERVER_SQLITE_PATH": "/env.db"},
			wantMax: 8, wantAcq: 7 * time.Second, wantList: ":7000", wantPath: "/env.db"},
		{name: "flag over env over file", args: []string{"--config", "/c.yaml", "--pool-max-connections", "9", "--pool-acquire-timeout=2s"},
			env:     map[string]string{"MEMORY_SERVER_POOL_MAX_CONNECTIONS": "8", "MEMORY_SERVER_LISTEN": ":7500"},
			wantMax: 9, wantAcq: 2 * time.Second, wantList: ":7500", wantPath: "/file.db"},
		{name: "env over default without file", env: map[string]string{"MEMORY_SERVER_POOL_ACQUIRE_TIMEOUT": "250ms"},
			wantMax: 10, wantAcq: 250 * time.Millisecond, wantList: ":8080", wantPath: "./memory.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := config.Load(src(tt.args, tt.env, file))
			if err != nil {
				t.Fatal(err)
			}
			if c.Pool.MaxConnections != tt.wantMax || c.Pool.AcquireTimeout.Duration != tt.wantAcq || c.Listen != tt.wantList || c.SQLite.Path != tt.wantPath {
				t.Errorf("got max=%d acquire=%s listen=%s path=%s", c.Pool.MaxConnections, c.Pool.AcquireTimeout.Duration, c.Listen, c.SQLite.Path)
			}
		})
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	files := map[string]string{
		"/bad-dur.yaml":  "pool:\n  healthCheckPeriod: 10 seconds\n",
		"/bad-key.yaml":  "pool:\n  maxConections: 3\n",
		"/bad-min.yaml":  "pool:\n  maxConnections: 2\n  minConnections: 5\n",
		"/bad-type.yaml": "pool:\n  maxConnections: lots\n",
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad flag int", []string{"--pool-max-connections", "ten"}, nil, "--pool-max-connections"},
		{"bad flag duration", []string{"--pool-query-timeout", "3"}, nil, "--pool-query-timeout"},
		{"negative flag duration", []string{"--pool-acquire-timeout", "-1s"}, nil, "--pool-acquire-timeout"},
		{"bad env", nil, map[string]string{"MEMORY_SERVER_READINESS_FAILURE_THRESHOLD": "x"}, "MEMORY_SERVER_READINESS_FAILURE_THRESHOLD"},
		{"validation names flag", []string{"--pool-max-connections", "-1"}, nil, "pool.maxConnections (from --pool-max-connections)"},
		{"validation names env", nil, map[string]string{"MEMORY_SERVER_TRANSPORT": "carrier-pigeon"}, "transport (from MEMORY_SERVER_TRANSPORT)"},
		{"file bad duration", []string{"--config", "/bad-dur.yaml"}, nil, "pool.healthCheckPeriod"},
		{"file unknown key", []string{"--config", "/bad-key.yaml"}, nil, "maxConections"},
		{"file min over max", []string{"--config", "/bad-min.yaml"}, nil, "pool.minConnections"},
		{"file bad type", []string{"--config", "/bad-type.yaml"}, nil, "maxConnections"},
		{"missing file", []string{"--config", "/nope.yaml"}, nil, "/nope.yaml"},
		{"unknown flag", []string{"--pool-size", "3"}, nil, "pool-size"},
		{"postgres without dsn", []string{"--backend", "postgres"}, nil, "MEMORY_SERVER_POSTGRES_DSN"},
		{"secret file missing", nil, map[string]string{"MEMORY_SERVER_NEO4J_PASSWORD_FILE": "/nope"}, "MEMORY_SERVER_NEO4J_PASSWORD_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Load(src(tt.args, tt.env, files))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

func TestLoadSecrets(t *testing.T) {
	files := map[string]string{"/run/dsn": "postgres://u:hunter2@db/x\n", "/run/pw": "s3cret\n"}
	c, _, err := config.Load(src([]string{"--backend", "postgres"},
		map[string]string{"MEMORY_SERVER_POSTGRES_DSN_FILE": "/run/dsn", "MEMORY_SERVER_NEO4J_PASSWORD_FILE": "/run/pw", "MEMORY_SERVER_NEO4J_USERNAME": "neo"}, files))
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.DSN != "postgres://u:hunter2@db/x" || c.Neo4j.Password != "s3cret" || c.Neo4j.Username != "neo" {
		t.Errorf("secrets: %+v %+v", c.Postgres, c.Neo4j)
	}
	// DATABASE_URL is the fallback; MEMORY_SERVER_POSTGRES_DSN wins.
	c, _, err = config.Load(src(nil, map[string]string{"DATABASE_URL": "postgres://a/b", "MEMORY_SERVER_POSTGRES_DSN": "postgres://c/d"}, nil))
	if err != nil || c.Postgres.DSN != "postgres://c/d" {
		t.Errorf("dsn %q err %v", c.Postgres.DSN, err)
	}
	c, _, err = config.Load(src(nil, map[string]string{"DATABASE_URL": "postgres://a/b"}, nil))
	if err != nil || c.Postgres.DSN != "postgres://a/b" {
		t.Errorf("dsn %q err %v", c.Postgres.DSN, err)
	}
	// Secrets are never rendered.
	out, err := config.Marshal(c)
	if err != nil || strings.Contains(string(out), "postgres://") {
		t.Errorf("rendered secret: %s %v", out, err)
	}
	// There is no flag for a secret.
	if _, _, err := config.Load(src([]string{"--postgres-dsn", "x"}, nil, nil)); err == nil {
		t.Error("a DSN flag was accepted")
	}
}

func TestLoadPositionalAndHelp(t *testing.T) {
	_, rest, err := config.Load(src([]string{"--listen", ":9", "import", "--file", "x"}, nil, nil))
	if err != nil || strings.Join(rest, " ") != "import --file x" {
		t.Errorf("rest %v err %v", rest, err)
	}
	if _, _, err := config.Load(src([]string{"-h"}, nil, nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("help: %v", err)
	}
}

func TestEveryOptionHasEnvAndKey(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range config.Options() {
		if o.Flag == "" || o.Key == "" || o.Usage == "" || seen[o.Flag] {
			t.Errorf("option %+v incomplete or duplicated", o)
		}
		seen[o.Flag] = true
		if !strings.HasPrefix(o.Env(), "MEMORY_SERVER_") || strings.Contains(o.Env(), "-") {
			t.Errorf("env %s", o.Env())
		}
	}
	for _, f := range []string{"transport", "listen", "backend", "sqlite-path", "pool-max-connections", "pool-min-connections",
		"pool-max-connection-lifetime", "pool-max-connection-idle-time", "pool-health-check-period", "pool-acquire-timeout",
		"pool-query-timeout", "readiness-failure-threshold", "auth-tokens-file"} {
		if !seen[f] {
			t.Errorf("DESIGN flag --%s missing", f)
		}
	}
}

// TestLoadMinConnectionsZero: pool.minConnections 0 is a real value (connect
// only on demand), so an explicit 0 from any source is kept; only an absent
// value takes the default 2.
func TestLoadMinConnectionsZero(t *testing.T) {
	files := map[string]string{
		"/zero.yaml":  "pool:\n  minConnections: 0\n",
		"/three.yaml": "pool:\n  minConnections: 3\n",
		"/other.yaml": "pool:\n  maxConnections: 5\n",
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int32
	}{
		{name: "unset", want: 2},
		{name: "file without the key", args: []string{"--config", "/other.yaml"}, want: 2},
		{name: "flag 0", args: []string{"--pool-min-connections", "0"}, want: 0},
		{name: "flag 0 with =", args: []string{"--pool-min-connections=0"}, want: 0},
		{name: "env 0", env: map[string]string{"MEMORY_SERVER_POOL_MIN_CONNECTIONS": "0"}, want: 0},
		{name: "file 0", args: []string{"--config", "/zero.yaml"}, want: 0},
		{name: "flag 0 over file 3", args: []string{"--config", "/three.yaml", "--pool-min-connections", "0"}, want: 0},
		{name: "env 0 over file 3", args: []string{"--config", "/three.yaml"}, env: map[string]string{"MEMORY_SERVER_POOL_MIN_CONNECTIONS": "0"}, want: 0},
		{name: "flag 4 over file 0", args: []string{"--config", "/zero.yaml", "--pool-min-connections", "4"}, want: 4},
		{name: "file 3", args: []string{"--config", "/three.yaml"}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := config.Load(src(tt.args, tt.env, files))
			if err != nil {
				t.Fatal(err)
			}
			if c.Pool.MinConnections != tt.want {
				t.Errorf("minConnections = %d, want %d", c.Pool.MinConnections, tt.want)
			}
		})
	}
	// A rendered 0 (what the operator writes) reads back as 0.
	c := config.Default()
	c.Pool.MinConnections = 0
	data, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := config.Load(src([]string{"--config", "/r.yaml"}, nil, map[string]string{"/r.yaml": string(data)}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool.MinConnections != 0 {
		t.Errorf("a rendered minConnections 0 read back as %d:\n%s", got.Pool.MinConnections, data)
	}
}

// TestHelpShowsTypes: -h names each flag's real type, not "string" for all.
func TestHelpShowsTypes(t *testing.T) {
	fs, _, _ := config.NewFlagSet("memory-server")
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	out := b.String()
	for _, want := range []string{"-pool-max-connections int\n", "-pool-acquire-timeout duration\n", "-readiness-failure-threshold int\n",
		"-max-request-bytes int\n", "-listen string\n", "-config file\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-h lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-pool-query-timeout string") {
		t.Errorf("-h shows a duration flag as string:\n%s", out)
	}
}
