-- Each entity's search_memories document (its weighted tsvector) in a table
-- of its own. add_observations appends to the document; while it was a
-- column of entities, every such update wrote a new version of the entity
-- row, and so new entries in every index of entities (the primary key,
-- name_key, both trigram indexes and the tsvector's): a quarter of an
-- addition's database time, and dead entity rows that every lookup by name
-- stepped over until a vacuum. The entity rows are now written once.
CREATE TABLE entity_documents (
	entity_id bigint PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
	tsv tsvector NOT NULL
);
INSERT INTO entity_documents (entity_id, tsv) SELECT id, tsv FROM entities;
CREATE INDEX entity_documents_tsv ON entity_documents USING gin (tsv) WITH (fastupdate = off);
ALTER TABLE entities DROP COLUMN tsv;
