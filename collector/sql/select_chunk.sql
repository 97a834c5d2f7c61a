SELECT data FROM chunks WHERE id = ?1
