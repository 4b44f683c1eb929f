package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFileAtomic: a successful export replaces the file; a file whose
// descriptor fails after the writes (as a full disk can fail at Sync or
// Close) is an error, and the old file stays intact.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "export.jsonl")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeFileAtomic(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, "partial\n"); err != nil {
			return err
		}
		// The descriptor fails after the data was accepted: Sync and Close
		// now return errors, which the old code (defer f.Close()) dropped.
		return w.(*os.File).Close()
	})
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("a failing Sync/Close reported %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("the old file was changed: %q", b)
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "new\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("after a good export: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
