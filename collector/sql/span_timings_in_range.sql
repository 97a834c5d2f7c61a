-- What a stage breakdown needs of a trace's spans, without their bodies.
SELECT span_id, parent_id, stage, start_ns, end_ns, status
FROM spans WHERE id >= ?1 AND id < ?2 AND trace_id = ?3
