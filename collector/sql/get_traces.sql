SELECT trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, id, chunk, more_chunks, span_parts, event_parts
FROM traces WHERE id IN (SELECT value FROM json_each(?1))
