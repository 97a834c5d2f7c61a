SELECT first_chunk, last_chunk FROM chunk_dicts WHERE id = ?
