INSERT INTO spans (id, trace_id, span_id, parent_id, name, stage, start_ns, end_ns, status, service, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
