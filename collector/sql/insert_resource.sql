INSERT INTO resources (hash, attrs) VALUES (?1, ?2)
