package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/memory-operator/memory-operator/server/config"
	"github.com/memory-operator/memory-operator/server/memory"
	"github.com/memory-operator/memory-operator/server/store"
)

func TestOpenSQLite(t *testing.T) {
	cfg := config.Default()
	cfg.SQLite.Path = filepath.Join(t.TempDir(), "m.db")
	s, err := store.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backend() != "sqlite" {
		t.Errorf("Backend() = %q", s.Backend())
	}
	if _, err := s.CreateEntities(t.Context(), []memory.Entity{{Name: "a", EntityType: "t"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().MaxConnections; got != cfg.Pool.MaxConnections+1 {
		t.Errorf("MaxConnections = %d, want readers %d + 1 writer", got, cfg.Pool.MaxConnections)
	}
}

func TestSQLiteConfigMapping(t *testing.T) {
	cfg := config.Default()
	cfg.SQLite.Path = "/data/x.db"
	cfg.Pool.MaxConnections = 7
	cfg.Pool.AcquireTimeout = config.D(2 * time.Second)
	cfg.Pool.QueryTimeout = config.D(3 * time.Second)
	got := store.SQLiteConfig(cfg, nil)
	if got.Path != "/data/x.db" || got.MaxReaders != 7 || got.AcquireTimeout != 2*time.Second || got.QueryTimeout != 3*time.Second {
		t.Errorf("SQLiteConfig = %+v", got)
	}
}

func TestOpenUnknownAndUnbuilt(t *testing.T) {
	cfg := config.Default()
	cfg.Backend = "neo4j"
	if _, err := store.Open(t.Context(), cfg, nil); !errors.Is(err, store.ErrBackendNotBuilt) {
		t.Errorf("neo4j: %v", err)
	}
	cfg.Backend = "mongodb"
	if _, err := store.Open(t.Context(), cfg, nil); err == nil {
		t.Error("unknown backend accepted")
	}
}
