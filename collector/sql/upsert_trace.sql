-- One row per (trace, writer batch). A later part of a trace widens the time
-- range, adds counts and id ranges, and fills what the root span brings.
INSERT INTO traces (trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, span_parts, event_parts)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns    = min(start_ns, excluded.start_ns),
    end_ns      = max(end_ns, excluded.end_ns),
    root_name   = coalesce(excluded.root_name, root_name),
    root_status = coalesce(excluded.root_status, root_status),
    service     = coalesce(service, excluded.service),
    span_count  = span_count + excluded.span_count,
    error_count = error_count + excluded.error_count,
    stages      = stages | excluded.stages,
    run_id      = coalesce(run_id, excluded.run_id),
    -- || yields TEXT: cast back so the id ranges stay BLOBs (rows merged
    -- before this cast are TEXT; readers take either).
    span_parts  = CASE WHEN excluded.span_parts IS NULL THEN span_parts ELSE CAST(coalesce(span_parts, x'') || excluded.span_parts AS BLOB) END,
    event_parts = CASE WHEN excluded.event_parts IS NULL THEN event_parts ELSE CAST(coalesce(event_parts, x'') || excluded.event_parts AS BLOB) END
