package memory

import "context"

// Store is the storage of the knowledge graph. Every method that touches data
// runs as exactly one database transaction under the store's query timeout:
// it either applies entirely or not at all. Implementations are safe for
// concurrent use.
//
// Ordering: entities, relations and observations are returned in the order
// they were created.
//
// Errors: methods return the sentinel errors of this package (wrapped, test
// with errors.Is): ErrNotFound, ErrBusy when no connection could be acquired
// within the acquire timeout, ErrTimeout when the query timeout expired,
// ErrUnavailable when the backend cannot be reached, ErrInvalidArgument for
// input the store refuses.
type Store interface {
	// CreateEntities creates the entities whose name does not exist yet and
	// returns those it created, in input order. Existing names are skipped,
	// as are later duplicates within the same call.
	CreateEntities(ctx context.Context, entities []Entity) ([]Entity, error)
	// CreateRelations creates the relations that do not exist yet and returns
	// those it created. Endpoints need not exist.
	CreateRelations(ctx context.Context, relations []Relation) ([]Relation, error)
	// AddObservations appends observations not already present. If any named
	// entity does not exist it returns an error wrapping ErrNotFound (an
	// *EntityNotFoundError) and saves nothing.
	AddObservations(ctx context.Context, additions []ObservationAddition) ([]ObservationResult, error)
	// DeleteEntities deletes the named entities and every relation that has
	// one of them as an endpoint. Unknown names are ignored.
	DeleteEntities(ctx context.Context, names []string) error
	// DeleteObservations removes the given observations. Unknown entities and
	// observations are ignored.
	DeleteObservations(ctx context.Context, deletions []ObservationDeletion) error
	// DeleteRelations removes the given relations. Unknown ones are ignored.
	DeleteRelations(ctx context.Context, relations []Relation) error
	// ReadGraph returns the whole graph.
	ReadGraph(ctx context.Context) (Graph, error)
	// SearchNodes returns the entities whose name, type or any observation
	// contains query as a case-insensitive (Unicode) substring, where %, _ and
	// quotes are plain characters, plus the relations with at least one
	// endpoint among them. It uses an index; it does not scan the graph
	// (except for queries of one or two characters, which no trigram index
	// can answer). An empty query matches every entity, as in the reference.
	SearchNodes(ctx context.Context, query string) (Graph, error)
	// OpenNodes returns the named entities (unknown names are ignored) and the
	// relations with at least one endpoint among them.
	OpenNodes(ctx context.Context, names []string) (Graph, error)
	// SearchMemories is a ranked full-text search over name, type and
	// observations, best first, at most limit hits (0: 10).
	SearchMemories(ctx context.Context, query string, limit int) ([]ScoredEntity, error)
	// FindRelated returns the entities reachable from q.Name within q.Depth
	// hops (either direction) and the relations traversed.
	FindRelated(ctx context.Context, q FindRelatedQuery) (Graph, error)
	// Import merges a graph in one transaction: absent entities are created,
	// absent observations appended to existing ones, absent relations created.
	Import(ctx context.Context, g Graph) (ImportResult, error)

	// Ping checks the backend for the readiness prober, under ctx's deadline,
	// through a path that does not compete with tool calls for pooled
	// connections.
	Ping(ctx context.Context) error
	// Stats returns the pool statistics.
	Stats() PoolStats
	// Backend names the backend: "sqlite", "postgres" or "neo4j".
	Backend() string
	// Close releases every resource. It is idempotent.
	Close() error
}
