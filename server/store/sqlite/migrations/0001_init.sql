-- The knowledge graph. Integer primary keys give the creation order.
CREATE TABLE entities (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	entity_type TEXT NOT NULL
);

CREATE TABLE observations (
	id INTEGER PRIMARY KEY,
	entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
	content TEXT NOT NULL,
	UNIQUE (entity_id, content)
);
-- (entity_id) implicitly ends with the rowid: observations in creation order.
CREATE INDEX observations_entity ON observations (entity_id);

CREATE TABLE relations (
	id INTEGER PRIMARY KEY,
	from_name TEXT NOT NULL,
	to_name TEXT NOT NULL,
	relation_type TEXT NOT NULL,
	UNIQUE (from_name, to_name, relation_type)
);
CREATE INDEX relations_to_name ON relations (to_name);

-- Substring search (search_nodes): trigram indexes over case-folded text.
-- The folding is done in Go (storeutil.Fold) so the index and the exact
-- re-check agree; the tables are contentless, they hold only the index.
CREATE VIRTUAL TABLE entities_trgm USING fts5 (
	name, entity_type,
	content = '', contentless_delete = 1,
	tokenize = 'trigram case_sensitive 1'
);
CREATE VIRTUAL TABLE observations_trgm USING fts5 (
	content,
	content = '', contentless_delete = 1,
	tokenize = 'trigram case_sensitive 1'
);

-- Ranked full-text search (search_memories): one document per entity.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
	name, entity_type, observations,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER observations_trgm_delete AFTER DELETE ON observations BEGIN
	DELETE FROM observations_trgm WHERE rowid = old.id;
END;
CREATE TRIGGER entities_fts_delete AFTER DELETE ON entities BEGIN
	DELETE FROM entities_trgm WHERE rowid = old.id;
	DELETE FROM memories_fts WHERE rowid = old.id;
END;
