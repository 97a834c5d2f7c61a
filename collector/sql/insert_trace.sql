-- A trace's row, made by its first part. The id is the writer's next row:
-- rows append.
INSERT INTO traces (id, trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, chunk)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
