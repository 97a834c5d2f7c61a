SELECT span_parts FROM traces WHERE trace_id = ?1
