-- memory_search_candidates in PL/pgSQL. A SQL-language function with a SET
-- clause is never inlined, and PostgreSQL before 18 plans its statements
-- again on every call: about a fifth of a search's database time at 10,000
-- entities. PL/pgSQL keeps the plan for the session (a generic plan when the
-- store's sessions run with plan_cache_mode = force_generic_plan). Same
-- result set, same enable_seqscan = off (see migration 0002).
CREATE OR REPLACE FUNCTION memory_search_candidates(pattern text) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 10
SET enable_seqscan = off
AS $$
BEGIN
	RETURN QUERY
		SELECT id FROM entities WHERE name_fold LIKE pattern
		UNION
		SELECT id FROM entities WHERE type_fold LIKE pattern
		UNION
		SELECT entity_id FROM observations WHERE content_fold LIKE pattern;
END
$$;
