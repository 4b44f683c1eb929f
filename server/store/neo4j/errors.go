package neo4j

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
)

// unavailableError is a cause of unavailability that matches
// memory.ErrUnavailable with errors.Is while keeping its own message.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// Is makes errors.Is(err, memory.ErrUnavailable) true.
func (e *unavailableError) Is(target error) bool { return target == memory.ErrUnavailable }

// Causes of unavailability, each with its own message. All of them match
// memory.ErrUnavailable with errors.Is.
var (
	// ErrAuthentication: the server refused the credentials
	// (Neo.ClientError.Security.Unauthorized).
	ErrAuthentication error = &unavailableError{"neo4j authentication failed: check MEMORY_SERVER_NEO4J_USERNAME and MEMORY_SERVER_NEO4J_PASSWORD"}
	// ErrDatabaseNotFound: the configured database does not exist
	// (Neo.ClientError.Database.DatabaseNotFound).
	ErrDatabaseNotFound error = &unavailableError{"neo4j database not found: check MEMORY_SERVER_NEO4J_DATABASE"}
	// ErrUnreachable: no connection to the server could be made or kept.
	ErrUnreachable error = &unavailableError{"neo4j server unreachable"}
)

// Neo4j status codes the store tells apart.
const (
	codeUnauthorized        = "Neo.ClientError.Security.Unauthorized"
	codeAuthRateLimit       = "Neo.ClientError.Security.AuthenticationRateLimit"
	codeDatabaseNotFound    = "Neo.ClientError.Database.DatabaseNotFound"
	codeTxTimedOut          = "Neo.ClientError.Transaction.TransactionTimedOut"
	codeTxTimedOutClientCfg = "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"
	codeDatabaseUnavailable = "Neo.TransientError.General.DatabaseUnavailable"
)

// causes lists err and the errors a driver retry limit gathered, the last
// attempt first.
func causes(err error) []error {
	out := []error{err}
	var limit *neo4j.TransactionExecutionLimit
	if errors.As(err, &limit) {
		for i := len(limit.Errors) - 1; i >= 0; i-- {
			out = append(out, limit.Errors[i])
		}
	}
	return out
}

// classify turns a driver error into the domain errors of package memory.
// parent is the caller's context, qctx the one under the query timeout.
func (s *Store) classify(parent, qctx context.Context, op string, err error) error {
	if errors.Is(err, memory.ErrNotFound) || errors.Is(err, memory.ErrInvalidArgument) {
		return err // the store's own verdict, with the reference server's message
	}
	all := causes(err)
	for _, e := range all {
		var n4 *neo4j.Neo4jError
		if !errors.As(e, &n4) {
			continue
		}
		switch {
		case n4.Code == codeUnauthorized || n4.Code == codeAuthRateLimit:
			return fmt.Errorf("while doing %s: %w (user %q): %s", op, ErrAuthentication, s.cfg.Username, n4.Msg)
		case n4.Code == codeDatabaseNotFound:
			return fmt.Errorf("while doing %s: %w (database %q): %s", op, ErrDatabaseNotFound, s.cfg.Database, n4.Msg)
		case n4.Code == codeTxTimedOut || n4.Code == codeTxTimedOutClientCfg:
			return fmt.Errorf("while doing %s: %w (server-side transaction timeout %s): %s", op, memory.ErrTimeout, s.cfg.QueryTimeout, n4.Msg)
		case n4.Code == codeDatabaseUnavailable:
			return fmt.Errorf("while doing %s: %w: %s", op, memory.ErrUnavailable, n4.Msg)
		}
	}
	if errors.Is(parent.Err(), context.Canceled) {
		return fmt.Errorf("while doing %s: %w", op, parent.Err())
	}
	if errors.Is(qctx.Err(), context.DeadlineExceeded) {
		// The driver retries failed dials until the deadline: a deadline
		// reached after refused or failed dials means an unreachable server,
		// not a slow query.
		for _, e := range all {
			if dialFailure(e) {
				return fmt.Errorf("while doing %s: %w at %s: %s", op, ErrUnreachable, s.uri, innerMessage(e))
			}
		}
		if op == "ping" {
			return fmt.Errorf("while doing %s: %w: no answer from %s before the probe deadline", op, ErrUnreachable, s.uri)
		}
		return fmt.Errorf("while doing %s: %w (query timeout %s)", op, memory.ErrTimeout, s.cfg.QueryTimeout)
	}
	for _, e := range all {
		if connectivity(e) {
			return fmt.Errorf("while doing %s: %w at %s: %s", op, ErrUnreachable, s.uri, innerMessage(e))
		}
	}
	var limit *neo4j.TransactionExecutionLimit
	if errors.As(err, &limit) {
		return fmt.Errorf("while doing %s: %w: %s", op, memory.ErrUnavailable, err)
	}
	return fmt.Errorf("while doing %s: %w", op, err)
}

// connectivity reports a failure to reach or keep a connection (the driver
// leaves some of them unwrapped inside a retry limit).
func connectivity(err error) bool {
	var conn *neo4j.ConnectivityError
	var netErr net.Error
	return errors.As(err, &conn) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// dialFailure reports a connection that could not be opened at all.
func dialFailure(err error) bool {
	var conn *neo4j.ConnectivityError
	if errors.As(err, &conn) && conn.Inner != nil {
		err = conn.Inner // the driver's ConnectivityError does not unwrap
	}
	var opErr *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

func innerMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "ConnectivityError: ")
}
