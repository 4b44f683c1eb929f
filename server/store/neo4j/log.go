package neo4j

import (
	"context"
	"fmt"
	"log/slog"

	neo4jlog "github.com/neo4j/neo4j-go-driver/v5/neo4j/log"
)

// slogAdapter forwards the driver's log to an slog.Logger. The driver logs
// neither credentials nor query parameters at these levels.
type slogAdapter struct{ log *slog.Logger }

var _ neo4jlog.Logger = slogAdapter{}

// Error logs at warn level: the driver reports as errors what it retries.
func (a slogAdapter) Error(name, id string, err error) {
	a.log.Warn("neo4j driver", "component", name, "id", id, "error", err.Error())
}

// Warnf logs at warn level.
func (a slogAdapter) Warnf(name, id, msg string, args ...any) {
	a.log.Warn("neo4j driver: "+fmt.Sprintf(msg, args...), "component", name, "id", id)
}

// Infof logs at debug level: the driver's info messages are per connection.
func (a slogAdapter) Infof(name, id, msg string, args ...any) {
	a.debugf(name, id, msg, args...)
}

// Debugf logs at debug level.
func (a slogAdapter) Debugf(name, id, msg string, args ...any) {
	a.debugf(name, id, msg, args...)
}

func (a slogAdapter) debugf(name, id, msg string, args ...any) {
	if !a.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	a.log.Debug("neo4j driver: "+fmt.Sprintf(msg, args...), "component", name, "id", id)
}
