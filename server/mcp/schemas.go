package mcp

import "encoding/json"

// The published schemas. The nine reference tools use the reference server's
// schemas (@modelcontextprotocol/server-memory): every listed property
// required, no additionalProperties (so unknown properties are accepted and
// ignored, as there). The decoders in decode.go check exactly these.

const entitySchema = `{"type":"object","properties":{` +
	`"name":{"type":"string","description":"The name of the entity"},` +
	`"entityType":{"type":"string","description":"The type of the entity"},` +
	`"observations":{"type":"array","items":{"type":"string"},"description":"An array of observation contents associated with the entity"}},` +
	`"required":["name","entityType","observations"]}`

const relationSchema = `{"type":"object","properties":{` +
	`"from":{"type":"string","description":"The name of the entity where the relation starts"},` +
	`"to":{"type":"string","description":"The name of the entity where the relation ends"},` +
	`"relationType":{"type":"string","description":"The type of the relation"}},` +
	`"required":["from","to","relationType"]}`

const graphOutputSchema = `{"type":"object","properties":{` +
	`"entities":{"type":"array","items":` + entitySchema + `},` +
	`"relations":{"type":"array","items":` + relationSchema + `}},` +
	`"required":["entities","relations"]}`

const successOutputSchema = `{"type":"object","properties":{"success":{"type":"boolean"},"message":{"type":"string"}},"required":["success","message"]}`

type toolSpec struct {
	name, title, description string
	input, output            string
	readOnly, destructive    bool
	idempotent               bool
}

var toolSpecs = []toolSpec{
	{name: "create_entities", title: "Create Entities",
		description: "Create multiple new entities in the knowledge graph. An entity whose name already exists is skipped; the result lists the entities created.",
		input:       `{"type":"object","properties":{"entities":{"type":"array","items":` + entitySchema + `}},"required":["entities"]}`,
		output:      `{"type":"object","properties":{"entities":{"type":"array","items":` + entitySchema + `}},"required":["entities"]}`},
	{name: "create_relations", title: "Create Relations",
		description: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice. Existing relations are skipped; the result lists the relations created.",
		input:       `{"type":"object","properties":{"relations":{"type":"array","items":` + relationSchema + `}},"required":["relations"]}`,
		output:      `{"type":"object","properties":{"relations":{"type":"array","items":` + relationSchema + `}},"required":["relations"]}`},
	{name: "add_observations", title: "Add Observations",
		description: "Add new observations to existing entities in the knowledge graph. Fails, saving nothing, if an entity does not exist; observations already present are skipped.",
		input: `{"type":"object","properties":{"observations":{"type":"array","items":{"type":"object","properties":{` +
			`"entityName":{"type":"string","description":"The name of the entity to add the observations to"},` +
			`"contents":{"type":"array","items":{"type":"string"},"description":"An array of observation contents to add"}},` +
			`"required":["entityName","contents"]}}},"required":["observations"]}`,
		output: `{"type":"object","properties":{"results":{"type":"array","items":{"type":"object","properties":{` +
			`"entityName":{"type":"string"},"addedObservations":{"type":"array","items":{"type":"string"}}},` +
			`"required":["entityName","addedObservations"]}}},"required":["results"]}`},
	{name: "delete_entities", title: "Delete Entities",
		description: "Delete multiple entities and their associated relations from the knowledge graph",
		input:       `{"type":"object","properties":{"entityNames":{"type":"array","items":{"type":"string"},"description":"An array of entity names to delete"}},"required":["entityNames"]}`,
		output:      successOutputSchema, destructive: true, idempotent: true},
	{name: "delete_observations", title: "Delete Observations",
		description: "Delete specific observations from entities in the knowledge graph",
		input: `{"type":"object","properties":{"deletions":{"type":"array","items":{"type":"object","properties":{` +
			`"entityName":{"type":"string","description":"The name of the entity containing the observations"},` +
			`"observations":{"type":"array","items":{"type":"string"},"description":"An array of observations to delete"}},` +
			`"required":["entityName","observations"]}}},"required":["deletions"]}`,
		output: successOutputSchema, destructive: true, idempotent: true},
	{name: "delete_relations", title: "Delete Relations",
		description: "Delete multiple relations from the knowledge graph",
		input:       `{"type":"object","properties":{"relations":{"type":"array","items":` + relationSchema + `,"description":"An array of relations to delete"}},"required":["relations"]}`,
		output:      successOutputSchema, destructive: true, idempotent: true},
	{name: "read_graph", title: "Read Graph",
		description: "Read the entire knowledge graph",
		input:       `{"type":"object","properties":{}}`,
		output:      graphOutputSchema, readOnly: true, idempotent: true},
	{name: "search_nodes", title: "Search Nodes",
		description: "Search for nodes in the knowledge graph based on a query: a case-insensitive substring of entity names, types and observation content. Relations touching a found entity are included.",
		input:       `{"type":"object","properties":{"query":{"type":"string","description":"The search query to match against entity names, types, and observation content"}},"required":["query"]}`,
		output:      graphOutputSchema, readOnly: true, idempotent: true},
	{name: "open_nodes", title: "Open Nodes",
		description: "Open specific nodes in the knowledge graph by their names",
		input:       `{"type":"object","properties":{"names":{"type":"array","items":{"type":"string"},"description":"An array of entity names to retrieve"}},"required":["names"]}`,
		output:      graphOutputSchema, readOnly: true, idempotent: true},
	{name: "search_memories", title: "Search Memories",
		description: "Ranked full-text search over entity names, types and observations, best match first. Use it for words and phrases; use search_nodes for exact substrings.",
		input: `{"type":"object","properties":{` +
			`"query":{"type":"string","description":"Words to search for"},` +
			`"limit":{"type":"integer","minimum":1,"maximum":100,"description":"Maximum number of results (default 10)"}},` +
			`"required":["query"],"additionalProperties":false}`,
		output: `{"type":"object","properties":{"results":{"type":"array","items":{"type":"object","properties":{` +
			`"name":{"type":"string"},"entityType":{"type":"string"},"observations":{"type":"array","items":{"type":"string"}},"score":{"type":"number"}},` +
			`"required":["name","entityType","observations","score"]}}},"required":["results"]}`,
		readOnly: true, idempotent: true},
	{name: "find_related", title: "Find Related",
		description: "Find the entities connected to one entity within a few hops (relations followed in either direction), with the relations traversed.",
		input: `{"type":"object","properties":{` +
			`"name":{"type":"string","description":"The entity to start from"},` +
			`"depth":{"type":"integer","minimum":1,"maximum":3,"description":"Number of hops to follow (default 1)"},` +
			`"relationTypes":{"type":"array","items":{"type":"string"},"description":"Only follow relations of these types (default: all)"},` +
			`"limit":{"type":"integer","minimum":1,"maximum":1000,"description":"Maximum number of entities returned, the start entity included (default 100)"}},` +
			`"required":["name"],"additionalProperties":false}`,
		output: graphOutputSchema, readOnly: true, idempotent: true},
}

// schema parses one of the constants above; they are tested to be valid.
func schema(s string) json.RawMessage {
	if !json.Valid([]byte(s)) {
		panic("invalid built-in schema: " + s)
	}
	return json.RawMessage(s)
}
