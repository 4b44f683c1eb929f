package neo4j

// The store's Cypher and parameter helpers, for the scripted Bolt stub tests
// in package neo4j_test.
var (
	SchemaStatements   = schemaStatements
	QAwaitIndexes      = qAwaitIndexes
	QProbe             = qProbe
	QReserve           = qReserve
	QCreateEntities    = qCreateEntities
	QEntitiesByName    = qEntitiesByName
	QSetObservations   = qSetObservations
	QCreateRelations   = qCreateRelations
	QDeleteEntities    = qDeleteEntities
	QDeleteRelations   = qDeleteRelations
	QDropOrphans       = qDropOrphans
	QAllEntities       = qAllEntities
	QAllRelations      = qAllRelations
	QRelationsTouching = qRelationsTouching
	QSearchNodes       = qSearchNodes
	QSearchMemories    = qSearchMemories
	QFindStart         = qFindStart
	QHop               = qHop
)

// NameKey is the key property of a name's node.
var NameKey = nameKey
