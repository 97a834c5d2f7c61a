SELECT id, attrs FROM resources WHERE hash = ?1
