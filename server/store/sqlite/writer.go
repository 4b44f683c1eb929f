package sqlite

import (
	"context"
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
// maxWriteBatch) into one transaction, run one after the other, and
// acknowledges them only after the COMMIT that made them durable. One commit
// per batch instead of one per call saves the fixed cost of BEGIN/COMMIT,
// writes the pages that several calls touch to the WAL once, and above all
// flushes the full-text indexes once: FTS5 writes one index segment per
// flush (and a SAVEPOINT flushes, so calls are not wrapped in savepoints)
// and merging those segments was the largest single cost of a write. A call
// that fails rolls the batch back; it gets its error and the others run
// again (runBatch), so every call stays atomic and its own.
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
	write bool // a tool call's write (not an index merge): it adds an index segment
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on it
}

var errClosed = fmt.Errorf("%w: sqlite store closed", memory.ErrUnavailable)

// submit queues fn for the writer and waits for its outcome. A call not
// started within acquireTimeout fails with memory.ErrBusy.
func (s *Store) submit(ctx context.Context, op string, acquireTimeout time.Duration, write bool, fn txFunc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("while %s: %w", op, mapError(ctx, err))
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	req := &writeReq{ctx: qctx, op: op, fn: fn, write: write, done: make(chan error, 1)}
	timer := time.NewTimer(acquireTimeout)
	defer timer.Stop()
	select {
	case <-s.stopWriter:
		return fmt.Errorf("while %s: %w", op, errClosed)
	default:
	}
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
	closed := false
	select {
	case err := <-req.done:
		return err
	case <-timer.C:
	case <-qctx.Done():
	case <-s.writerDone: // queued as the store closed: nobody will serve it
		closed = true
	}
	if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
		if closed {
			s.waiting.Add(-1)
			return fmt.Errorf("while %s: %w", op, errClosed)
		}
		return giveUp()
	}
	return <-req.done // running (or answered): its statements watch qctx
}

// writeLoop serves the queue until Close.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxWriteBatch)
	idle := time.NewTicker(externalCheckInterval)
	defer idle.Stop()
	for {
		var first *writeReq
		select {
		case first = <-s.queue:
		case <-idle.C:
			s.syncGraph()
			continue
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
		s.runQueued(batch)
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
	err := s.inTx(r.ctx, r.op, s.writer, s.writeStmts, r.fn)
	if err == nil {
		s.txCommits.Add(1)
		if r.write {
			s.commits.Add(1)
		}
	}
	r.done <- err
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
	// The connection goes back before any call runs again alone (runAlone
	// takes it from the pool of one).
	defer conn.Close() //nolint:errcheck // returns the connection to its pool; a second Close is a no-op
	tx, err := conn.BeginTx(bctx, nil)
	if err != nil {
		failAll(fmt.Errorf("beginning: %w", err))
		return
	}
	q := txq{tx: tx, stmts: s.writeStmts, index: &pendingIndex{}, delta: &delta{}}
	for i, r := range batch {
		if ferr := r.fn(r.ctx, q); ferr != nil {
			// The failing call's writes may be partial: roll the whole
			// batch back. The call gets its error; the calls before it,
			// rolled back with it, run again alone in the same order (on
			// the same state, so with the same effects: the failure stays
			// the one they would have seen one by one); the calls after it
			// form the next batch.
			_ = tx.Rollback()
			_ = conn.Close()
			r.done <- callError(r, ferr)
			for _, o := range batch[:i] {
				s.runAlone(o)
			}
			s.runQueued(batch[i+1:])
			return
		}
	}
	if err := q.flushIndex(bctx); err != nil {
		_ = tx.Rollback()
		failAll(err)
		return
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("committing: %w", err))
		return
	}
	s.graph.Load().apply(q.delta)
	s.txCommits.Add(1)
	for _, r := range batch {
		if r.write {
			s.commits.Add(1)
			break
		}
	}
	for _, r := range batch {
		r.done <- nil
	}
}

// runQueued runs claimed calls, batched when more than one.
func (s *Store) runQueued(batch []*writeReq) {
	switch len(batch) {
	case 0:
	case 1:
		s.runAlone(batch[0])
	default:
		s.runBatch(batch)
	}
}
