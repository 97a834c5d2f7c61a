SELECT span_keys FROM chunks WHERE id = ?1
