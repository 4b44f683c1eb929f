package neo4j

// The Cypher the store sends. Every value is a parameter; the only names in
// the text are the store's own labels, relationship type, properties and
// index names.

// schemaStatements set up the schema; each is idempotent and runs in its own
// transaction.
var schemaStatements = []string{
	// Names may be longer than a RANGE index key (8 KiB): uniqueness and
	// lookups go through key, the SHA-256 of the name.
	`CREATE CONSTRAINT memory_node_key IF NOT EXISTS FOR (n:MemoryNode) REQUIRE n.key IS UNIQUE`,
	`CREATE CONSTRAINT memory_sequence_id IF NOT EXISTS FOR (c:MemorySequence) REQUIRE c.id IS UNIQUE`,
	// Trigram TEXT index: serves `n.search CONTAINS $query` in SearchNodes.
	`CREATE TEXT INDEX memory_entity_search IF NOT EXISTS FOR (n:Entity) ON (n.search)`,
	`CREATE FULLTEXT INDEX memory_entity_fulltext IF NOT EXISTS FOR (n:Entity) ON EACH [n.name, n.type, n.observationText]`,
}

const qAwaitIndexes = `CALL db.awaitIndexes($seconds)`

// qProbe is the readiness probe's check that the configured database serves.
const qProbe = `RETURN 1 AS ok`

// qReserve locks the sequence node (serializing writers) and reserves $count
// sequence numbers, returning the first.
const qReserve = `MERGE (c:MemorySequence {id: 1})
ON CREATE SET c.lastSeq = 0
SET c.lastSeq = c.lastSeq + $count
RETURN c.lastSeq - $count AS base`

const qCreateEntities = `UNWIND $entities AS e
MERGE (n:MemoryNode {key: e.key})
ON CREATE SET n.name = e.name
WITH n, e WHERE NOT n:Entity
SET n:Entity, n.type = e.entityType, n.observations = e.observations, n.seq = e.seq,
    n.search = e.search, n.observationText = e.observationText
RETURN n.name AS name`

const qEntitiesByName = `UNWIND $keys AS k
MATCH (n:MemoryNode {key: k}) WHERE n:Entity
WITH DISTINCT n
RETURN n.name AS name, n.type AS entityType, n.observations AS observations
ORDER BY n.seq`

const qSetObservations = `UNWIND $updates AS u
MATCH (n:MemoryNode {key: u.key}) WHERE n:Entity
SET n.observations = u.observations, n.search = u.search, n.observationText = u.observationText`

const qCreateRelations = `UNWIND $relations AS r
MERGE (a:MemoryNode {key: r.sourceKey})
ON CREATE SET a.name = r.source
MERGE (b:MemoryNode {key: r.targetKey})
ON CREATE SET b.name = r.target
WITH a, b, r
WHERE NOT EXISTS { MATCH (a)-[x:RELATES]->(b) WHERE x.type = r.relationType }
CREATE (a)-[:RELATES {type: r.relationType, seq: r.seq}]->(b)
RETURN r.position AS position`

const qDeleteEntities = `UNWIND $keys AS k
MATCH (n:MemoryNode {key: k})
OPTIONAL MATCH (n)-[:RELATES]-(m:MemoryNode) WHERE NOT m:Entity
WITH collect(DISTINCT n) AS doomed, collect(DISTINCT m.key) AS neighbours
FOREACH (x IN doomed | DETACH DELETE x)
RETURN neighbours`

const qDeleteRelations = `UNWIND $relations AS r
MATCH (a:MemoryNode {key: r.sourceKey})-[x:RELATES]->(b:MemoryNode {key: r.targetKey})
WHERE x.type = r.relationType
DELETE x
RETURN a.key AS sourceKey, b.key AS targetKey`

// qDropOrphans removes the named non-entity nodes nothing refers to any more.
const qDropOrphans = `UNWIND $keys AS k
MATCH (n:MemoryNode {key: k})
WHERE NOT n:Entity AND NOT EXISTS { (n)--() }
DELETE n`

const qAllEntities = `MATCH (n:Entity)
RETURN n.name AS name, n.type AS entityType, n.observations AS observations
ORDER BY n.seq`

const qAllRelations = `MATCH (a:MemoryNode)-[r:RELATES]->(b:MemoryNode)
RETURN a.name AS source, b.name AS target, r.type AS relationType
ORDER BY r.seq`

const qRelationsTouching = `UNWIND $keys AS k
MATCH (:MemoryNode {key: k})-[r:RELATES]-()
WITH DISTINCT r
RETURN startNode(r).name AS source, endNode(r).name AS target, r.type AS relationType
ORDER BY r.seq`

// qSearchNodes finds candidates through the TEXT index on the folded search
// property; the store re-checks each field in Go.
const qSearchNodes = `MATCH (n:Entity)
WHERE n.search CONTAINS $query
RETURN n.name AS name, n.type AS entityType, n.observations AS observations
ORDER BY n.seq`

const qSearchMemories = `CALL db.index.fulltext.queryNodes('memory_entity_fulltext', $query) YIELD node, score
WHERE node:Entity
RETURN node.name AS name, node.type AS entityType, node.observations AS observations, score
ORDER BY score DESC, node.seq
LIMIT $limit`

const qFindStart = `MATCH (n:MemoryNode {key: $key}) WHERE n:Entity
RETURN n.name AS name`

// qHop follows one hop, either direction, from every name of the frontier.
const qHop = `UNWIND $frontier AS k
MATCH (:MemoryNode {key: k})-[r:RELATES]-()
WHERE size($types) = 0 OR r.type IN $types
WITH DISTINCT r
RETURN startNode(r).name AS source, endNode(r).name AS target, r.type AS relationType, r.seq AS seq`
