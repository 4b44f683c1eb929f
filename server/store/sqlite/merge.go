package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Background merging of the full-text index (memories_fts, search_memories).
//
// FTS5 writes one new index segment per transaction and merges them lazily
// (automerge, a little work at each write), so a stream of small writes
// leaves tens of segments, and every lookup seeks each of them: at 10,000
// entities a ranked search costs about 1.2x what it costs on a fully merged
// index (docs/benchmarks.md). So once IndexMergeWrites write transactions
// have committed (each adds a segment; under load the write queue commits
// several calls at once, so segments grow slower than calls), a background
// loop merges the segments into one ('merge' with a negative page count,
// FTS5's incremental optimize), in short steps of mergePages pages, each a
// request on the write queue (writer.go).
//
// It merges only while no tool call writes: a merge rewrites the whole
// index, and its steps, queued between writes, were the long tail of write
// latency under load (p99 47 ms with merges during the load test, 23 ms
// without). It starts after mergeIdle without a write call and stops at the
// first write call that arrives (what it merged so far stays merged); under
// constant writes, FTS5's automerge alone bounds the segments.
const (
	DefaultIndexMergeInterval = 2 * time.Second
	DefaultIndexMergeWrites   = 1000
	mergePages                = 32
	maxMergeSteps             = 10000
	mergeIdle                 = time.Second
)

// mergeTable is the FTS5 table the loop merges.
const mergeTable = "memories_fts"

// mergeSQL is the incremental-merge command of each table.
func mergeSQL(table string) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, rank) VALUES ('merge', -%d)`, table, table, mergePages)
}

func (s *Store) mergeLoop(ctx context.Context) {
	defer close(s.mergeDone)
	t := time.NewTicker(s.cfg.IndexMergeInterval)
	defer t.Stop()
	var merged int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := s.commits.Load()
		if c-merged < int64(s.cfg.IndexMergeWrites) || time.Since(time.Unix(0, s.lastWrite.Load())) < mergeIdle {
			continue
		}
		start := time.Now()
		writes := s.writes.Load()
		steps, complete, err := s.mergeIndexes(ctx, func() bool { return s.writes.Load() != writes })
		if err != nil && ctx.Err() == nil {
			s.log.Warn("merging the search index failed", "error", err)
			continue
		}
		if complete {
			merged = c
		}
		s.log.Debug("merged the search index", "steps", steps, "complete", complete, "duration", time.Since(start))
	}
}

// mergeIndexes merges the index segments into one, step by step, and
// returns the number of steps that did work and whether it finished. It
// stops before a step when yield (if not nil) returns true.
func (s *Store) mergeIndexes(ctx context.Context, yield func() bool) (int, bool, error) {
	done := 0
	q := mergeSQL(mergeTable)
	for range maxMergeSteps {
		if yield != nil && yield() {
			return done, false, nil
		}
		var changes int64
		err := s.submit(ctx, "merging the search index", s.cfg.QueryTimeout, false, func(ctx context.Context, tx txq) error {
			var before, after int64
			if err := tx.QueryRowContext(ctx, sqlTotalChanges).Scan(&before); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, sqlTotalChanges).Scan(&after); err != nil {
				return err
			}
			changes = after - before
			return nil
		})
		if err != nil {
			return done, false, err
		}
		// FTS5: fewer than two changes means there was nothing to merge.
		if changes < 2 {
			break
		}
		done++
		s.mergeSteps.Add(1)
	}
	return done, true, nil
}

const sqlTotalChanges = `SELECT total_changes()`
