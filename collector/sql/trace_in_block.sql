SELECT trace FROM trace_ids WHERE block = ?1 AND trace_id = ?2
