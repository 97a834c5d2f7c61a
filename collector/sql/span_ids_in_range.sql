SELECT span_id FROM spans WHERE id >= ?1 AND id < ?2 AND trace_id = ?3
