SELECT count(*) FROM chunks WHERE id >= ?1 AND id <= ?2
