// Package memory holds the domain of the memory server: the knowledge graph's
// types, the Store interface every backend implements, and the domain errors
// that the MCP layer turns into tool error results.
//
// The semantics follow the reference memory server
// (@modelcontextprotocol/server-memory) so that the server is a drop-in
// replacement, with one deliberate difference: every Store method is a single
// database transaction, so concurrent writers never lose updates.
package memory

// Entity is a node of the knowledge graph. Name is its identity.
type Entity struct {
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

// Relation is a directed, typed edge between two entity names. Either end may
// name an entity that does not exist (the reference server allows it).
type Relation struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
}

// Graph is a set of entities and the relations among them. Both slices are
// never nil once returned by a Store, so they encode as [] rather than null.
type Graph struct {
	Entities  []Entity   `json:"entities"`
	Relations []Relation `json:"relations"`
}

// ObservationAddition asks to append Contents to the entity EntityName.
type ObservationAddition struct {
	EntityName string   `json:"entityName"`
	Contents   []string `json:"contents"`
}

// ObservationResult reports which observations were actually added to an
// entity (those already present are skipped).
type ObservationResult struct {
	EntityName        string   `json:"entityName"`
	AddedObservations []string `json:"addedObservations"`
}

// ObservationDeletion asks to remove Observations from EntityName. An unknown
// entity or observation is ignored, as in the reference server.
type ObservationDeletion struct {
	EntityName   string   `json:"entityName"`
	Observations []string `json:"observations"`
}

// ScoredEntity is one hit of a ranked full-text search.
type ScoredEntity struct {
	Entity
	Score float64 `json:"score"`
}

// MaxDepth is the largest FindRelatedQuery.Depth a Store accepts.
const MaxDepth = 3

// FindRelatedQuery describes a bounded traversal from one entity.
type FindRelatedQuery struct {
	// Name of the entity to start from. Unknown: ErrNotFound.
	Name string
	// Depth is the number of hops to follow in either direction, 1..MaxDepth.
	// Zero means 1.
	Depth int
	// RelationTypes, when not empty, restricts the traversal to these types.
	RelationTypes []string
	// Limit caps the number of entities returned (the start entity included).
	// Zero means the store's default (100).
	Limit int
}

// ImportResult counts what an Import wrote.
type ImportResult struct {
	Entities     int `json:"entities"`
	Observations int `json:"observations"`
	Relations    int `json:"relations"`
}

// PoolStats is a point-in-time view of a backend's connection pool, exported
// as the memory_server_pool_* metrics and in /readyz.
type PoolStats struct {
	// MaxConnections is the configured pool size.
	MaxConnections int32 `json:"maxConnections"`
	// Acquired connections are in use by tool calls.
	Acquired int32 `json:"acquired"`
	// Idle connections are open and available.
	Idle int32 `json:"idle"`
	// Constructing connections are being opened.
	Constructing int32 `json:"constructing"`
	// Waiting is the number of callers currently blocked on an acquire.
	Waiting int32 `json:"waiting"`
	// AcquireCount is the cumulative number of successful acquires.
	AcquireCount int64 `json:"acquireCount"`
	// EmptyAcquireCount counts acquires that had to wait for a connection.
	EmptyAcquireCount int64 `json:"emptyAcquireCount"`
	// CanceledAcquireCount counts acquires abandoned (deadline or cancel).
	CanceledAcquireCount int64 `json:"canceledAcquireCount"`
	// AcquireWaitSeconds is the cumulative time spent waiting to acquire.
	AcquireWaitSeconds float64 `json:"acquireWaitSeconds"`
}

// Saturated reports whether callers are waiting for a connection.
func (s PoolStats) Saturated() bool { return s.Waiting > 0 }
