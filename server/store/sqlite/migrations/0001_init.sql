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

CREATE TABLE relations (
	id INTEGER PRIMARY KEY,
	from_name TEXT NOT NULL,
	to_name TEXT NOT NULL,
	relation_type TEXT NOT NULL,
	UNIQUE (from_name, to_name, relation_type)
);
CREATE INDEX relations_to_name ON relations (to_name);

-- Search indexes: each is one FTS5 table whose rows are the entities (rowid
-- = minus the entity id: name and type) and the observations (rowid = the
-- observation id), so a write flushes two full-text indexes at most.
--
-- search_trgm (search_nodes): trigrams of case-folded text. The folding is
-- done in Go (storeutil.Fold) so that the index and the exact re-check agree.
-- Contentless (the text is in the tables above) and detail=none: lookups are
-- ANDs of trigrams, re-checked exactly in Go.
CREATE VIRTUAL TABLE search_trgm USING fts5 (
	a, b,
	content = '', contentless_delete = 1, detail = none,
	tokenize = 'trigram case_sensitive 1'
);

-- memories_fts (search_memories): words, ranked with bm25.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
	name, entity_type, content,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER observations_search_delete AFTER DELETE ON observations BEGIN
	DELETE FROM search_trgm WHERE rowid = old.id;
	DELETE FROM memories_fts WHERE rowid = old.id;
END;
CREATE TRIGGER entities_search_delete AFTER DELETE ON entities BEGIN
	DELETE FROM search_trgm WHERE rowid = -old.id;
	DELETE FROM memories_fts WHERE rowid = -old.id;
END;

