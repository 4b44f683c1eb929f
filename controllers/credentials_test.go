package controllers

import (
	"bytes"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

func TestGeneratePassword(t *testing.T) {
	charset := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p, err := generatePassword()
		if err != nil {
			t.Fatalf("generatePassword: %v", err)
		}
		if !charset.MatchString(p) {
			t.Fatalf("password %d has length %d or characters outside base64url: %q", i, len(p), p)
		}
		if seen[p] {
			t.Fatalf("password %d repeats an earlier one", i)
		}
		seen[p] = true
	}
}

func TestGeneratePasswordFrom(t *testing.T) {
	// Deterministic input gives the base64url of exactly 32 bytes.
	src := bytes.Repeat([]byte{0xfb}, 40)
	p, err := generatePasswordFrom(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("-_v7", 10) + "-_s"; p != want {
		t.Errorf("password = %q, want %q", p, want)
	}
	// A short read is an error, never a short password.
	if _, err := generatePasswordFrom(bytes.NewReader(src[:31])); err == nil {
		t.Error("a source with 31 bytes must fail")
	}
}

func credentialsTestMS(backend mcpv1alpha1.BackendType) *mcpv1alpha1.MemoryServer {
	return managedTestMS(backend)
}

func TestDesiredPostgresCredentials(t *testing.T) {
	ms := credentialsTestMS(mcpv1alpha1.BackendPostgres)
	const pw = "pw-0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"
	s := credentialsDesired(ms, pw)
	if s.Name != "team-memory-postgres-credentials" || s.Namespace != "agents" {
		t.Errorf("secret %s/%s", s.Namespace, s.Name)
	}
	if s.Immutable == nil || !*s.Immutable {
		t.Error("the credentials Secret must be immutable")
	}
	if s.Labels[mcpv1alpha1.LabelComponent] != mcpv1alpha1.ComponentDatabase || s.Labels[mcpv1alpha1.LabelInstance] != "team-memory" {
		t.Errorf("labels %v", s.Labels)
	}
	want := map[string]string{
		"username": "memory",
		"password": pw,
		"database": "memory",
		"dsn":      "postgres://memory:" + pw + "@team-memory-postgres.agents.svc:5432/memory?sslmode=disable",
	}
	if len(s.Data) != len(want) {
		t.Errorf("keys %v, want %v", len(s.Data), len(want))
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("%s = %q, want %q", k, s.Data[k], v)
		}
	}
	if k := credentialsMissingKey(ms, s); k != "" {
		t.Errorf("a fresh Secret misses key %q", k)
	}
	delete(s.Data, "dsn")
	if k := credentialsMissingKey(ms, s); k != "dsn" {
		t.Errorf("missing key = %q, want dsn", k)
	}
	// The DSN the server gets parses back to the same credentials with pgx.
	cfg, err := pgconn.ParseConfig(want["dsn"])
	if err != nil {
		t.Fatalf("pgx refuses the generated DSN: %v", err)
	}
	if cfg.User != "memory" || cfg.Password != pw || cfg.Database != "memory" || cfg.Host != "team-memory-postgres.agents.svc" || cfg.Port != 5432 {
		t.Errorf("pgx reads %s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	}
}

func TestDesiredNeo4jCredentials(t *testing.T) {
	ms := credentialsTestMS(mcpv1alpha1.BackendNeo4j)
	s := credentialsDesired(ms, "secretpw")
	if s.Name != "team-memory-neo4j-credentials" {
		t.Errorf("name %s", s.Name)
	}
	for k, v := range map[string]string{"username": "neo4j", "password": "secretpw", "auth": "neo4j/secretpw"} {
		if string(s.Data[k]) != v {
			t.Errorf("%s = %q, want %q", k, s.Data[k], v)
		}
	}
	if _, ok := s.Data["dsn"]; ok {
		t.Error("a Neo4j Secret has no dsn")
	}
	if k := credentialsMissingKey(ms, s); k != "" {
		t.Errorf("missing %q", k)
	}
	delete(s.Data, "auth")
	if k := credentialsMissingKey(ms, s); k != "auth" {
		t.Errorf("missing key = %q, want auth", k)
	}
}

func TestManagedPostgresDSNEscapes(t *testing.T) {
	// Generated passwords need no escaping, but a hand-made Secret's might:
	// the DSN builder must round-trip any password.
	ms := credentialsTestMS(mcpv1alpha1.BackendPostgres)
	pw := `p@ss:w/rd?#%&=`
	u, err := url.Parse(ManagedPostgresDSN(ms, pw))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.User.Password(); got != pw {
		t.Errorf("password round-trips as %q", got)
	}
}

func TestManagedServerEnv(t *testing.T) {
	for _, tt := range []struct {
		backend mcpv1alpha1.BackendType
		want    map[string]string // env -> secret key
	}{
		{mcpv1alpha1.BackendPostgres, map[string]string{"MEMORY_SERVER_POSTGRES_DSN": "dsn"}},
		{mcpv1alpha1.BackendNeo4j, map[string]string{"MEMORY_SERVER_NEO4J_USERNAME": "username", "MEMORY_SERVER_NEO4J_PASSWORD": "password"}},
	} {
		ms := credentialsTestMS(tt.backend)
		env := ManagedServerEnv(ms)
		if len(env) != len(tt.want) {
			t.Errorf("%s: %d env vars, want %d", tt.backend, len(env), len(tt.want))
		}
		for _, e := range env {
			ref := e.ValueFrom
			if e.Value != "" || ref == nil || ref.SecretKeyRef == nil {
				t.Errorf("%s: %s is not a secretKeyRef", tt.backend, e.Name)
				continue
			}
			if ref.SecretKeyRef.Name != CredentialsSecretName(ms) || ref.SecretKeyRef.Key != tt.want[e.Name] {
				t.Errorf("%s: %s from %s/%s", tt.backend, e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
			}
		}
	}
	if env := ManagedServerEnv(budgetMS{backend: "sqlite"}.build()); env != nil {
		t.Errorf("sqlite has no managed credentials, got %v", env)
	}
}

func TestCredentialsValidatePostgresDSN(t *testing.T) {
	const secretValue = "hunter2-SECRET"
	tests := []struct {
		name string
		dsn  string
		why  string // "" = valid
		host string // of a valid DSN
	}{
		{"url", "postgres://u:" + secretValue + "@db.example:5432/app?sslmode=require", "", "db.example"},
		{"postgresql scheme", "postgresql://u:" + secretValue + "@db/app", "", "db"},
		{"host in query", "postgres:///app?host=/var/run/postgresql&password=" + secretValue, "", "/var/run/postgresql"},
		{"ipv6 host", "postgres://u:" + secretValue + "@[::1]:5432/app", "", "::1"},
		{"several hosts", "postgres://u:" + secretValue + "@db1.example:5432,db2.example:5433/app", "", "db1.example"},
		{"empty", "", "it is empty", ""},
		{"keyword form", "host=db user=u password=" + secretValue, "the scheme must be", ""},
		{"mysql", "mysql://u:" + secretValue + "@db/app", "the scheme must be", ""},
		{"no host", "postgres:///app?sslmode=disable", "it names no host", ""},
		{"bad escape", "postgres://u:" + secretValue + "%zz@db/app", "does not parse as a URL", ""},
		{"control character", "postgres://u:" + secretValue + "@db/app\n", "does not parse as a URL", ""},
		{"bad port", "postgres://u:" + secretValue + "@db:99999/app", "parameters are not valid", ""},
		{"port not a number", "postgres://u:" + secretValue + "@db:port/app", "does not parse as a URL", ""},
		{"bad sslmode", "postgres://u:" + secretValue + "@db/app?sslmode=sometimes", "parameters are not valid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, err := credentialsValidatePostgresDSN("pg", "dsn", []byte(tt.dsn))
			if tt.why == "" {
				if err != nil {
					t.Fatalf("valid DSN refused: %v", err)
				}
				if host != tt.host {
					t.Errorf("host %q, want %q", host, tt.host)
				}
				if strings.Contains(host, secretValue) || strings.Contains(host, "u:") {
					t.Errorf("host %q holds credentials", host)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid DSN %q accepted", tt.name)
			}
			msg := err.Error()
			if !errors.Is(err, errInvalidDSN) {
				t.Errorf("error does not wrap errInvalidDSN: %v", err)
			}
			if !strings.Contains(msg, tt.why) || !strings.Contains(msg, `key "dsn" of Secret "pg"`) {
				t.Errorf("message %q should name the key and say %q", msg, tt.why)
			}
			if strings.Contains(msg, secretValue) || (tt.dsn != "" && strings.Contains(msg, tt.dsn)) {
				t.Errorf("message leaks the value: %q", msg)
			}
		})
	}
}
