-- A later part of a stored trace (row ?1): widens the time range, adds
-- counts, fills what the root span brings, and lists the part's chunk (?12,
-- and ?13 as a uvarint). ?2 (the trace id) is not needed: the row is known.
UPDATE traces SET
    start_ns    = min(start_ns, ?3),
    end_ns      = max(end_ns, ?4),
    root_name   = coalesce(?5, root_name),
    root_status = coalesce(?6, root_status),
    service     = coalesce(service, ?7),
    span_count  = span_count + ?8,
    error_count = error_count + ?9,
    stages      = stages | ?10,
    run_id      = coalesce(run_id, ?11),
    more_chunks = CASE WHEN chunk IS NULL THEN more_chunks ELSE CAST(coalesce(more_chunks, x'') || ?13 AS BLOB) END,
    chunk       = coalesce(chunk, ?12)
WHERE id = ?1
