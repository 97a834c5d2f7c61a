-- The first part of a trace. Inserts nothing when the trace already has a
-- row: the writer then checks the batch's spans against the ones stored
-- (a retried delivery) and merges with upsert_trace.sql. New traces, almost
-- all of them, pay no more than the upsert.
INSERT INTO traces (trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, span_parts, event_parts)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (trace_id) DO NOTHING
