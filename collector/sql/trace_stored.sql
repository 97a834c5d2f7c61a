SELECT chunk, more_chunks, span_parts FROM traces WHERE id = ?1
