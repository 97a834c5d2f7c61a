INSERT INTO chunks (id, data) VALUES (?1, ?2)
