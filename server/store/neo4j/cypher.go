package neo4j

// The Cypher the store sends. Every value is a parameter; the only names in
// the text are the store's own labels, relationship type, properties and
// index names.

// schemaStatements set up the schema; each is idempotent and runs in its own
// transaction.
var schemaStatements = []string{
	`CREATE CONSTRAINT memory_node_name IF NOT EXISTS FOR (n:MemoryNode) REQUIRE n.name IS UNIQUE`,
	`CREATE CONSTRAINT memory_sequence_id IF NOT EXISTS FOR (c:MemorySequence) REQUIRE c.id IS UNIQUE`,
	// Trigram TEXT index: serves `n.search CONTAINS $query` in SearchNodes.
	`CREATE TEXT INDEX memory_entity_search IF NOT EXISTS FOR (n:Entity) ON (n.search)`,
	`CREATE FULLTEXT INDEX memory_entity_fulltext IF NOT EXISTS FOR (n:Entity) ON EACH [n.name, n.type, n.observationText]`,
}

const qAwaitIndexes = `CALL db.awaitIndexes($seconds)`

// qReserve locks the sequence node (serializing writers) and reserves $count
// sequence numbers, returning the first.
const qReserve = `MERGE (c:MemorySequence {id: 1})
ON CREATE SET c.next = 0
SET c.next = c.next + $count
RETURN c.next - $count AS base`

const qCreateEntities = `UNWIND $entities AS e
MERGE (n:MemoryNode {name: e.name})
WITH n, e WHERE NOT n:Entity
SET n:Entity, n.type = e.entityType, n.observations = e.observations, n.seq = e.seq,
    n.search = e.search, n.observationText = e.observationText
RETURN n.name AS name`

const qEntitiesByName = `UNWIND $names AS name
MATCH (n:MemoryNode {name: name}) WHERE n:Entity
WITH DISTINCT n
RETURN n.name AS name, n.type AS entityType, n.observations AS observations
ORDER BY n.seq`

const qSetObservations = `UNWIND $updates AS u
MATCH (n:MemoryNode {name: u.name}) WHERE n:Entity
SET n.observations = u.observations, n.search = u.search, n.observationText = u.observationText`

const qCreateRelations = `UNWIND $relations AS r
MERGE (a:MemoryNode {name: r.from})
MERGE (b:MemoryNode {name: r.to})
WITH a, b, r
WHERE NOT EXISTS { MATCH (a)-[x:RELATES]->(b) WHERE x.type = r.relationType }
CREATE (a)-[:RELATES {type: r.relationType, seq: r.seq}]->(b)
RETURN r.position AS position`

const qDeleteEntities = `UNWIND $names AS name
MATCH (n:MemoryNode {name: name})
OPTIONAL MATCH (n)-[:RELATES]-(m:MemoryNode) WHERE NOT m:Entity
WITH collect(DISTINCT n) AS doomed, collect(DISTINCT m.name) AS neighbours
FOREACH (x IN doomed | DETACH DELETE x)
RETURN neighbours`

const qDeleteRelations = `UNWIND $relations AS r
MATCH (a:MemoryNode {name: r.from})-[x:RELATES]->(b:MemoryNode {name: r.to})
WHERE x.type = r.relationType
DELETE x
RETURN a.name AS source, b.name AS target`

// qDropOrphans removes the named non-entity nodes nothing refers to any more.
const qDropOrphans = `UNWIND $names AS name
MATCH (n:MemoryNode {name: name})
WHERE NOT n:Entity AND NOT EXISTS { (n)--() }
DELETE n`

const qAllEntities = `MATCH (n:Entity)
RETURN n.name AS name, n.type AS entityType, n.observations AS observations
ORDER BY n.seq`

const qAllRelations = `MATCH (a:MemoryNode)-[r:RELATES]->(b:MemoryNode)
RETURN a.name AS source, b.name AS target, r.type AS relationType
ORDER BY r.seq`

const qRelationsTouching = `UNWIND $names AS name
MATCH (:MemoryNode {name: name})-[r:RELATES]-()
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

const qFindStart = `MATCH (n:MemoryNode {name: $name}) WHERE n:Entity
RETURN n.name AS name`

// qHop follows one hop, either direction, from every name of the frontier.
const qHop = `UNWIND $frontier AS name
MATCH (:MemoryNode {name: name})-[r:RELATES]-()
WHERE size($types) = 0 OR r.type IN $types
WITH DISTINCT r
RETURN startNode(r).name AS source, endNode(r).name AS target, r.type AS relationType, r.seq AS seq`
