-- The knowledge graph. Identity columns give the creation order.
--
-- Names, observations and relation keys can be 64 KiB and more, beyond what a
-- btree index entry holds, so uniqueness and lookups go through SHA-256 keys
-- computed by the server (name_key, content_key, from_key, to_key, rel_key).
-- The *_fold columns hold the text case-folded by the server (Unicode simple
-- folding, storeutil.Fold) and carry the pg_trgm indexes of search_nodes.
-- The GIN indexes are built without fastupdate: its pending list is scanned
-- by every search until a vacuum flushes it, which made searches several
-- times slower under a steady stream of writes (docs/benchmarks.md).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE entities (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL,
	name_key bytea NOT NULL UNIQUE,
	entity_type text NOT NULL,
	name_fold text NOT NULL,
	type_fold text NOT NULL,
	tsv tsvector NOT NULL
);
CREATE INDEX entities_name_trgm ON entities USING gin (name_fold gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX entities_type_trgm ON entities USING gin (type_fold gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX entities_tsv ON entities USING gin (tsv) WITH (fastupdate = off);

CREATE TABLE observations (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_id bigint NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
	content text NOT NULL,
	content_key bytea NOT NULL,
	content_fold text NOT NULL,
	UNIQUE (entity_id, content_key)
);
CREATE INDEX observations_entity ON observations (entity_id, id);
CREATE INDEX observations_content_trgm ON observations USING gin (content_fold gin_trgm_ops) WITH (fastupdate = off);

CREATE TABLE relations (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	from_name text NOT NULL,
	to_name text NOT NULL,
	relation_type text NOT NULL,
	from_key bytea NOT NULL,
	to_key bytea NOT NULL,
	rel_key bytea NOT NULL UNIQUE
);
CREATE INDEX relations_from ON relations (from_key);
CREATE INDEX relations_to ON relations (to_key);
