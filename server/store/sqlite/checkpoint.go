package sqlite

import (
	"context"
	"time"
)

// WAL checkpoints off the write path.
//
// By default SQLite checkpoints in the connection whose commit makes the WAL
// exceed 1,000 pages: that commit copies the pages into the database file
// and fsyncs both files before it returns, while every queued write waits.
// The writer connection therefore runs with wal_autocheckpoint(0) and this
// loop runs PASSIVE checkpoints on a connection of its own every
// checkpointInterval: a passive checkpoint copies what no reader still needs
// and never waits for (nor blocks) readers or the writer. Durability is
// unchanged: commits are in the WAL either way (synchronous=NORMAL), and the
// checkpoint fsyncs as before. The last connection to close checkpoints what
// is left.
const checkpointInterval = 500 * time.Millisecond

func (s *Store) checkpointLoop(ctx context.Context) {
	defer close(s.checkpointDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c := s.txCommits.Load(); c == seen {
			continue // nothing new in the WAL
		} else {
			seen = c
		}
		cctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		_, err := s.checkpointer.ExecContext(cctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("checkpointing the WAL failed", "error", err)
		}
	}
}
