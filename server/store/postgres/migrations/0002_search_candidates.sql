-- The candidate ids of search_nodes for a LIKE pattern of three characters
-- or more. The planner's estimate for '%fragment%' knows nothing of how
-- selective a trigram lookup is, and on small tables (tens of thousands of
-- rows) it often picks sequential scans that evaluate LIKE on every row,
-- 4-8 ms per search at 10,000 entities. The trigram indexes are the point,
-- so this function plans its lookups without sequential scans; each branch
-- is a separate index scan (one OR across columns would combine them).
CREATE FUNCTION memory_search_candidates(pattern text) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10
SET enable_seqscan = off
AS $$
	SELECT id FROM entities WHERE name_fold LIKE pattern
	UNION
	SELECT id FROM entities WHERE type_fold LIKE pattern
	UNION
	SELECT entity_id FROM observations WHERE content_fold LIKE pattern
$$;
