INSERT INTO chunks (id, data, span_keys) VALUES (?1, ?2, ?3)
