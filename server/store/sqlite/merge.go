package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Background merging of the full-text indexes.
//
// FTS5 writes one new index segment per transaction and merges them lazily,
// so a server's stream of small writes leaves tens of segments, and every
// lookup seeks each of them: at 10,000 entities a search costs about 1.7x
// the CPU it costs on a fully merged index (docs/benchmarks.md). So once
// IndexMergeWrites write transactions have committed (each adds a segment;
// under load the write queue commits several calls at once, so segments
// grow slower than calls), a background loop merges the
// segments into one ('merge' with a negative page count, FTS5's
// incremental optimize), in short steps of mergePages pages, each a request
// on the write queue (writer.go), so tool calls interleave with it.
const (
	DefaultIndexMergeInterval = 10 * time.Second
	DefaultIndexMergeWrites   = 1000
	mergePages                = 32
	maxMergeSteps             = 10000
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
	var notBefore time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w := s.commits.Load()
		if w-merged < int64(s.cfg.IndexMergeWrites) || time.Now().Before(notBefore) {
			continue
		}
		merged = w
		start := time.Now()
		steps, err := s.mergeIndexes(ctx)
		// A merge rewrites the whole index: on a large graph under constant
		// writes, rest four times as long as it took (at most a fifth of a
		// core on merging).
		notBefore = time.Now().Add(4 * time.Since(start))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("merging the search indexes failed", "error", err)
			continue
		}
		s.log.Debug("merged the search indexes", "steps", steps, "duration", time.Since(start))
	}
}

// mergeIndexes merges the index segments into one, step by step, and
// returns the number of steps that did work.
func (s *Store) mergeIndexes(ctx context.Context) (int, error) {
	done := 0
	q := mergeSQL(mergeTable)
	for range maxMergeSteps {
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
			return done, err
		}
		// FTS5: fewer than two changes means there was nothing to merge.
		if changes < 2 {
			break
		}
		done++
	}
	return done, nil
}

const sqlTotalChanges = `SELECT total_changes()`
