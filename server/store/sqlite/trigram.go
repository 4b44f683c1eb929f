package sqlite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Substring search over the FTS5 trigram index (search_trgm).
//
// A phrase query over every trigram of the query walks the posting list of
// each of them, and in a graph of similar names ("entity-000123") the common
// trigrams list nearly every row: a millisecond per search at 10,000
// entities. So the store looks up only the query's rarest trigrams (an AND
// of at most maxTrigramTerms), which already narrows the candidates to a few
// rows; the exact re-check in Go removes the rest. Any subset of the query's
// trigrams selects a superset of the true matches, so the choice affects
// speed only, never the result.
//
// Two terms measured best: one leaves more candidates to re-check, each
// further term walks another posting list (docs/benchmarks.md).
//
// Rarity comes from trigramStats: per trigram, the number of rows (capped at
// probeCap) found by one cheap probe the first time the trigram is seen,
// cached, and forgotten after resetAfterWrites writes.
const (
	maxTrigramTerms  = 2
	probeCap         = 4096
	resetAfterWrites = 20000
	maxCachedStats   = 200000
)

// sqlTrigramProbe counts the rows holding one trigram, up to probeCap.
var sqlTrigramProbe = `SELECT count(*) FROM (SELECT 1 FROM search_trgm WHERE search_trgm MATCH ? LIMIT ` + fmt.Sprint(probeCap) + `)`

type trigramStats struct {
	writes *atomic.Int64

	mu        sync.Mutex
	counts    map[string]int // trigram -> rows holding it, capped
	resetMark int64
}

func newTrigramStats(writes *atomic.Int64) *trigramStats {
	return &trigramStats{writes: writes, counts: map[string]int{}}
}

func (ts *trigramStats) get(k string) (int, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if w := ts.writes.Load(); w-ts.resetMark > resetAfterWrites || len(ts.counts) > maxCachedStats {
		ts.counts = map[string]int{}
		ts.resetMark = w
	}
	n, ok := ts.counts[k]
	return n, ok
}

func (ts *trigramStats) put(k string, n int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.counts[k] = n
}

// trigramsOf returns the distinct trigrams (three runes) of folded.
func trigramsOf(folded string) []string {
	runes := []rune(folded)
	seen := make(map[string]bool, len(runes))
	var out []string
	for i := 0; i+3 <= len(runes); i++ {
		t := string(runes[i : i+3])
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// matchRarest returns the FTS5 query (an AND of quoted trigrams) selecting
// the rows that may contain folded.
func (ts *trigramStats) matchRarest(ctx context.Context, tx txq, folded string) (string, error) {
	type scored struct {
		tri string
		n   int
	}
	tris := trigramsOf(folded)
	all := make([]scored, 0, len(tris))
	for _, t := range tris {
		n, ok := ts.get(t)
		if !ok {
			if err := tx.QueryRowContext(ctx, sqlTrigramProbe, ftsPhrase(t)).Scan(&n); err != nil {
				return "", fmt.Errorf("probing the trigram index: %w", err)
			}
			ts.put(t, n)
		}
		all = append(all, scored{t, n})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].n < all[j].n })
	terms := make([]string, 0, maxTrigramTerms)
	for _, s := range all[:min(len(all), maxTrigramTerms)] {
		terms = append(terms, ftsPhrase(s.tri))
	}
	return strings.Join(terms, " AND "), nil
}
