INSERT INTO trace_blocks (id, first_trace, last_trace, bloom) VALUES (?1, ?2, ?3, ?4)
