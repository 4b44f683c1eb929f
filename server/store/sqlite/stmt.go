package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// statements are prepared once per handle at New; database/sql then prepares
// them on each further connection on first use inside a transaction
// (Tx.StmtContext reuses a connection's prepared statement), so a call
// does not re-parse its SQL. Preparing at New matters: preparing on the
// writer handle later would wait for its only connection.
type statements map[string]*sql.Stmt

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (statements, error) {
	st := make(statements, len(queries))
	for _, q := range queries {
		if _, ok := st[q]; ok {
			continue
		}
		p, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("while preparing %q: %w", q, err)
		}
		st[q] = p
	}
	return st, nil
}

// txq is one call's transaction, running known statements prepared.
type txq struct {
	tx    *sql.Tx
	stmts statements
	// index holds the full-text index rows of a write transaction until
	// flushIndex (nil on readers).
	index *pendingIndex
	// delta collects a write transaction's changes for the in-memory graph,
	// applied after its COMMIT (nil on readers).
	delta *delta
}

// pendingIndex defers a write transaction's full-text index inserts to its
// end. FTS5 turns its pending rows into a new index segment whenever a
// statement opens a statement savepoint, which every INSERT into entities
// or observations does; interleaved, a call with two observations wrote
// several segments, whose merging was the largest cost of a write.
// Deferred, all of a transaction's rows (a batch of calls: writer.go) go in
// at the end: one segment.
type pendingIndex struct {
	rows []indexRow
}

// indexRow is one deferred INSERT.
type indexRow struct {
	query string
	args  []any
}

// addIndex defers one index insert (run at once when there is no pending
// list).
func (q txq) addIndex(ctx context.Context, query string, args ...any) error {
	if q.index == nil {
		_, err := q.ExecContext(ctx, query, args...)
		return err
	}
	q.index.rows = append(q.index.rows, indexRow{query, args})
	return nil
}

// flushIndex runs the deferred index inserts. Statements that delete
// entities or observations call it first, so their triggers see every row
// they must remove.
func (q txq) flushIndex(ctx context.Context) error {
	if q.index == nil {
		return nil
	}
	for _, r := range q.index.rows {
		if _, err := q.ExecContext(ctx, r.query, r.args...); err != nil {
			return fmt.Errorf("indexing: %w", err)
		}
	}
	q.index.rows = q.index.rows[:0]
	return nil
}

// QueryContext runs a query in the transaction.
func (q txq) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if p := q.stmts[query]; p != nil {
		return q.tx.StmtContext(ctx, p).QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (q txq) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if p := q.stmts[query]; p != nil {
		return q.tx.StmtContext(ctx, p).QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement in the transaction.
func (q txq) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if p := q.stmts[query]; p != nil {
		return q.tx.StmtContext(ctx, p).ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}
