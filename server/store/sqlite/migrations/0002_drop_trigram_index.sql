-- search_nodes is answered by the store's in-memory graph and its trigram
-- index (graph.go, index.go), so the FTS5 trigram table is no longer read;
-- writing it was part of every write. memories_fts (search_memories)
-- stays.
DROP TRIGGER observations_search_delete;
DROP TRIGGER entities_search_delete;
DROP TABLE search_trgm;

CREATE TRIGGER observations_search_delete AFTER DELETE ON observations BEGIN
	DELETE FROM memories_fts WHERE rowid = old.id;
END;
CREATE TRIGGER entities_search_delete AFTER DELETE ON entities BEGIN
	DELETE FROM memories_fts WHERE rowid = -old.id;
END;
