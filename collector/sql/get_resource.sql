SELECT attrs FROM resources WHERE id = ?1
