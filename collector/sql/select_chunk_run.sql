SELECT id, data FROM chunks WHERE id >= ? AND id <= ? ORDER BY id
