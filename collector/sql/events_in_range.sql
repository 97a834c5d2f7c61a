SELECT trace_id, span_id, time_ns, name, stage, body
FROM events WHERE id >= ?1 AND id < ?2 AND trace_id = ?3
