package memory

import (
	"errors"
	"fmt"
)

// Domain errors. Stores wrap them; callers test with errors.Is.
var (
	// ErrNotFound: a named entity does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy: no database connection became free within the acquire timeout.
	ErrBusy = errors.New("database busy: no connection available within the acquire timeout")
	// ErrTimeout: the query timeout expired before the transaction finished.
	ErrTimeout = errors.New("database query timed out")
	// ErrUnavailable: the backend cannot be reached.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalidArgument: the input is refused (empty name, depth out of range...).
	ErrInvalidArgument = errors.New("invalid argument")
)

// EntityNotFoundError names the entity that does not exist. It matches
// ErrNotFound with errors.Is. Its message is the reference server's.
type EntityNotFoundError struct {
	Name string
}

func (e *EntityNotFoundError) Error() string {
	return fmt.Sprintf("Entity with name %s not found", e.Name)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *EntityNotFoundError) Is(target error) bool { return target == ErrNotFound }

// InvalidArgument returns an error wrapping ErrInvalidArgument with a message.
func InvalidArgument(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
