package neo4j

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// allQueries is every Cypher text the store sends.
func allQueries() []string {
	qs := append([]string{}, schemaStatements...)
	return append(qs, qAwaitIndexes, qProbe, qReserve, qCreateEntities, qEntitiesByName, qSetObservations,
		qCreateRelations, qDeleteEntities, qDeleteRelations, qDropOrphans, qAllEntities, qAllRelations,
		qRelationsTouching, qSearchNodes, qSearchMemories, qFindStart, qHop)
}

type diagnostic struct {
	Severity int    `json:"severity"`
	Message  string `json:"message"`
}

// TestCypherIsValid lints every query of the store with Neo4j's own Cypher
// front-end (the npm package @neo4j-cypher/language-support, pinned in
// testdata/cypherlint): syntax and semantic analysis, with no server. The
// stub tests check what is sent, this checks that Neo4j would parse it. It
// needs node and npm (installed once into the user cache) and skips without
// them.
func TestCypherIsValid(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Cypher lint (node)")
	}
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		t.Skip("node and npm are needed to lint the Cypher with Neo4j's front-end")
	}
	dir := lintDir(t, npm)
	// A broken query first: the check must be able to fail.
	queries := append([]string{"MATCH (n) RETRUN n", "MATCH (n) RETURN m"}, allQueries()...)
	in, err := json.Marshal(queries)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "lint.js"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node lint.js: %v\n%s", err, stderr.String())
	}
	var results [][]diagnostic
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(queries) {
		t.Fatalf("lint output (%v): %s", err, out)
	}
	for i := range 2 {
		if len(results[i]) == 0 {
			t.Errorf("the linter accepts the broken query %q", queries[i])
		}
	}
	for i, q := range queries[2:] {
		for _, d := range results[i+2] {
			t.Errorf("Neo4j's Cypher front-end refuses a store query:\n%s\n%s", q, d.Message)
		}
	}
}

// lintDir returns a folder holding lint.js and the pinned npm package,
// installing it with npm ci into the user cache on first use.
func lintDir(t *testing.T, npm string) string {
	t.Helper()
	src := filepath.Join("testdata", "cypherlint")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "memory-operator", "cypherlint-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@neo4j-cypher", "language-support")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		// Install beside, then rename: concurrent runs never see half a tree.
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		for _, f := range []string{"package.json", "package-lock.json"} {
			copyFile(t, filepath.Join(src, f), filepath.Join(tmp, f))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("npm ci of the Cypher linter failed (no registry?): %v\n%s", err, out)
		}
		if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
			if _, statErr := os.Stat(dir); statErr != nil {
				t.Fatalf("installing the linter: %v", err)
			}
		}
	}
	copyFile(t, filepath.Join(src, "lint.js"), filepath.Join(dir, "lint.js"))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
