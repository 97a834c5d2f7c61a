-- Dictionaries of small chunks (collector/chunkdict.go). A chunk that a
-- small writer batch closes is compressed against a dictionary: the last
-- 1 MiB of the decompressed content of chunks first_chunk..last_chunk,
-- which were compressed without one and are kept while the dictionary is
-- used. Chunks name their dictionary in their first bytes; chunks written
-- before this migration have none and read as before.
CREATE TABLE chunk_dicts (
    id          INTEGER PRIMARY KEY,
    first_chunk INTEGER NOT NULL,
    last_chunk  INTEGER NOT NULL
);
