package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSNEnv names the variable holding a superuser DSN for tests.
const PostgresDSNEnv = "MEMORY_SERVER_TEST_POSTGRES_DSN"

// DefaultTestPostgresDSN is tried when PostgresDSNEnv is unset.
const DefaultTestPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresAdminDSN returns a DSN of a PostgreSQL server where the test may
// create databases: $MEMORY_SERVER_TEST_POSTGRES_DSN, else the server on
// 127.0.0.1:5432 if it answers. Under -short the test is skipped; when no
// server answers it fails if $CI is set and is skipped otherwise.
func PostgresAdminDSN(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping a PostgreSQL test under -short")
	}
	dsn := os.Getenv(PostgresDSNEnv)
	source := PostgresDSNEnv
	if dsn == "" {
		dsn, source = DefaultTestPostgresDSN, "the default test server (127.0.0.1:5432)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
		_ = conn.Close(ctx)
	}
	if err != nil {
		msg := "PostgreSQL from " + source + " does not answer (set " + PostgresDSNEnv + "; `make test` provides one): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// CreateDatabase creates a fresh database memtest_<random> on the server of
// adminDSN, drops it (forcibly) when the test ends, and returns its DSN.
func CreateDatabase(t testing.TB, adminDSN string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "memtest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			t.Errorf("connecting to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil || u.Scheme == "" {
		t.Fatalf("the test DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}
