SELECT trace_id, span_id, parent_id, name, stage, start_ns, end_ns, status, body
FROM spans WHERE id >= ?1 AND id < ?2 AND trace_id = ?3
