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
