-- How many of one service's traces started in [?2, ?3], counted in
-- traces_by_service alone and stopping at ?4.
SELECT count(*) FROM (
    SELECT 1 FROM traces WHERE service = ?1 AND start_ns >= ?2 AND start_ns <= ?3 LIMIT ?4
)
