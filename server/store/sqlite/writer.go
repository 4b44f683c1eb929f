package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/memory-operator/memory-operator/server/memory"
)

// The write queue.
//
// Every write goes to one goroutine that owns the writer connection, through
// a FIFO channel: calls are served in arrival order (database/sql hands a
// released connection to a random waiter, which gave writes a long tail),
// and the next call starts as soon as the previous one ends, without waiting
// for the caller's goroutine to be scheduled to take the connection.
//
// Group commit: the goroutine takes the calls that are already queued (up to
// maxWriteBatch) into one transaction, each call inside its own SAVEPOINT,
// so a call that fails is rolled back to its savepoint and the others keep
// their writes: every call stays atomic and is acknowledged only after the
// COMMIT that made it durable. One commit per batch instead of one per call
// saves its WAL frames (pages that several calls touch are written once) and
// the fixed cost of BEGIN/COMMIT. If the batch's transaction itself breaks
// (SQLite rolled it back, a savepoint statement failed), the call that broke
// it gets its error and the others run again, each alone.
const maxWriteBatch = 16

// Request states: a request is claimed by the writer or abandoned by its
// caller (acquire timeout), never both.
const (
	reqQueued int32 = iota
	reqRunning
	reqAbandoned
)

// writeReq is one call waiting for the writer.
type writeReq struct {
	ctx   context.Context // the call's context, under QueryTimeout
	op    string
	fn    txFunc
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on it
}

var errClosed = fmt.Errorf("%w: sqlite store closed", memory.ErrUnavailable)

// submit queues fn for the writer and waits for its outcome. A call not
// started within acquireTimeout fails with memory.ErrBusy.
func (s *Store) submit(ctx context.Context, op string, acquireTimeout time.Duration, fn txFunc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("while %s: %w", op, mapError(ctx, err))
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	req := &writeReq{ctx: qctx, op: op, fn: fn, done: make(chan error, 1)}
	timer := time.NewTimer(acquireTimeout)
	defer timer.Stop()
	s.waiting.Add(1)
	giveUp := func() error {
		s.waiting.Add(-1)
		s.canceledAcq.Add(1)
		if qctx.Err() == nil {
			return fmt.Errorf("while %s: %w (sqlite: the writer was not free within %s)", op, memory.ErrBusy, acquireTimeout)
		}
		return fmt.Errorf("while %s: %w", op, mapError(qctx, qctx.Err()))
	}
	select {
	case s.queue <- req:
	case <-timer.C:
		return giveUp()
	case <-qctx.Done():
		return giveUp()
	case <-s.stopWriter:
		s.waiting.Add(-1)
		return fmt.Errorf("while %s: %w", op, errClosed)
	}
	select {
	case err := <-req.done:
		return err
	case <-timer.C:
	case <-qctx.Done():
	}
	if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
		return giveUp()
	}
	return <-req.done // running: its statements watch qctx
}

// writeLoop serves the queue until Close.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxWriteBatch)
	for {
		var first *writeReq
		select {
		case first = <-s.queue:
		case <-s.stopWriter:
			for {
				select {
				case r := <-s.queue:
					if s.claim(r) {
						r.done <- fmt.Errorf("while %s: %w", r.op, errClosed)
					}
				default:
					return
				}
			}
		}
		batch = batch[:0]
		if s.claim(first) {
			batch = append(batch, first)
		}
	fill:
		for len(batch) < maxWriteBatch {
			select {
			case r := <-s.queue:
				if s.claim(r) {
					batch = append(batch, r)
				}
			default:
				break fill
			}
		}
		switch len(batch) {
		case 0:
		case 1:
			s.runAlone(batch[0])
		default:
			s.runBatch(batch)
		}
		clear(batch)
	}
}

// claim marks r as running; false when its caller gave up or its context
// ended (then it is answered here).
func (s *Store) claim(r *writeReq) bool {
	if !r.state.CompareAndSwap(reqQueued, reqRunning) {
		return false
	}
	s.waiting.Add(-1)
	s.acquires.Add(1)
	if err := r.ctx.Err(); err != nil {
		r.done <- fmt.Errorf("while %s: %w", r.op, mapError(r.ctx, err))
		return false
	}
	return true
}

// runAlone runs one call in its own transaction.
func (s *Store) runAlone(r *writeReq) {
	r.done <- s.inTx(r.ctx, r.op, s.writer, s.writeStmts, r.fn)
}

// callError is what a call's fn error becomes, as in inTx.
func callError(r *writeReq, err error) error {
	var nf *memory.EntityNotFoundError
	if errors.As(err, &nf) || errors.Is(err, memory.ErrInvalidArgument) {
		return err
	}
	return fmt.Errorf("while %s: %w", r.op, mapError(r.ctx, err))
}

// runBatch runs several calls in one transaction, one savepoint each.
func (s *Store) runBatch(batch []*writeReq) {
	// The batch's own deadline: the latest of its calls' (each call's
	// statements still run under its own context).
	var deadline time.Time
	for _, r := range batch {
		if d, ok := r.ctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
	}
	bctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	failAll := func(err error) {
		for _, r := range batch {
			r.done <- fmt.Errorf("while %s: %w", r.op, mapError(r.ctx, err))
		}
	}
	conn, err := s.writer.Conn(bctx)
	if err != nil {
		failAll(err)
		return
	}
	defer conn.Close() //nolint:errcheck // returns the connection to its pool
	tx, err := conn.BeginTx(bctx, nil)
	if err != nil {
		failAll(fmt.Errorf("beginning: %w", err))
		return
	}
	results := make([]error, len(batch))
	for i, r := range batch {
		ferr, broken := runSavepoint(bctx, tx, s.writeStmts, r)
		if broken != nil {
			_ = tx.Rollback()
			// The call that broke the transaction gets its error; the
			// others, whose writes were rolled back with it, run again
			// alone.
			for j, o := range batch {
				switch {
				case j == i && ferr != nil:
					o.done <- callError(o, ferr)
				case j == i:
					o.done <- fmt.Errorf("while %s: %w", o.op, mapError(o.ctx, broken))
				default:
					s.runAlone(o)
				}
			}
			return
		}
		if ferr != nil {
			results[i] = callError(r, ferr)
		}
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("committing: %w", err))
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// runSavepoint runs r.fn inside a savepoint of tx. ferr is the call's own
// failure (its writes are rolled back); broken means the transaction itself
// is no longer usable.
func runSavepoint(bctx context.Context, tx *sql.Tx, stmts statements, r *writeReq) (ferr, broken error) {
	if _, err := tx.ExecContext(bctx, `SAVEPOINT call`); err != nil {
		return nil, fmt.Errorf("opening a savepoint: %w", err)
	}
	ferr = r.fn(r.ctx, txq{tx: tx, stmts: stmts})
	if ferr != nil {
		if _, err := tx.ExecContext(bctx, `ROLLBACK TO call`); err != nil {
			return ferr, fmt.Errorf("rolling back to the savepoint: %w", err)
		}
	}
	if _, err := tx.ExecContext(bctx, `RELEASE call`); err != nil {
		return ferr, fmt.Errorf("releasing the savepoint: %w", err)
	}
	return ferr, nil
}
