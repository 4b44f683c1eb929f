package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/memory-operator/memory-operator/server/memory"
)

// PostgreSQL error codes the store reacts to.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014"
	codeTooManyConnections   = "53300"
	codeCannotConnectNow     = "57P03"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
)

// retryable reports whether a transaction failed only because of
// concurrency and may be run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// notExecuted reports whether a statement that failed on a dead connection
// certainly did not take effect: nothing was sent, or the server terminated
// the session (admin or crash shutdown), which aborts its transaction.
func notExecuted(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeAdminShutdown || pe.Code == codeCrashShutdown || pe.Code == codeCannotConnectNow)
}

func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// mapError wraps err with the memory domain error it stands for.
func mapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, memory.ErrBusy) || errors.Is(err, memory.ErrTimeout) || errors.Is(err, memory.ErrUnavailable) {
		return err
	}
	var pe *pgconn.PgError
	isPg := errors.As(err, &pe)
	switch {
	case errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded),
		pastDeadline(ctx), pgconn.Timeout(err), isPg && pe.Code == codeQueryCanceled:
		return fmt.Errorf("%w: %w", memory.ErrTimeout, err)
	case isPg && (pe.Code == codeTooManyConnections):
		return fmt.Errorf("%w: %w", memory.ErrBusy, err)
	case isPg && (strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == codeCannotConnectNow):
		return fmt.Errorf("%w: %w", memory.ErrUnavailable, err)
	case isPg:
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ce) || errors.As(err, &oe) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%w: %w", memory.ErrUnavailable, err)
	}
	return err
}
