package postgres

import (
	"context"
	"fmt"
)

// PlanCounts is a prepared statement's row in pg_prepared_statements.
type PlanCounts struct {
	SQL             string
	Generic, Custom int64
}

// PreparedStatements reads pg_prepared_statements on one pooled connection
// (with MaxConns 1: the one every call used).
func (s *Store) PreparedStatements(ctx context.Context) ([]PlanCounts, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement NOT LIKE '%pg_prepared_statements%'`)
	if err != nil {
		return nil, fmt.Errorf("while reading pg_prepared_statements: %w", err)
	}
	defer rows.Close()
	var out []PlanCounts
	for rows.Next() {
		var p PlanCounts
		if err := rows.Scan(&p.SQL, &p.Generic, &p.Custom); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
