INSERT INTO events (id, trace_id, span_id, time_ns, name, stage, body)
VALUES (?, ?, ?, ?, ?, ?, ?)
