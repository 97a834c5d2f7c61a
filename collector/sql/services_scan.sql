-- Services of the newest ?3 traces that started in [?1, ?2], along
-- traces_by_start (for databases without traces_by_service). A NULL
-- service is counted as '' so that the scanned total stays exact.
SELECT coalesce(service, ''), count(*), min(start_ns) FROM (
    SELECT service, start_ns FROM traces WHERE start_ns >= ?1 AND start_ns <= ?2
    ORDER BY start_ns DESC LIMIT ?3
) GROUP BY 1
