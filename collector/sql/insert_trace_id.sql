INSERT INTO trace_ids (block, trace_id, trace) VALUES (?1, ?2, ?3)
