INSERT INTO chunk_dicts (id, first_chunk, last_chunk) VALUES (?1, ?2, ?3)
