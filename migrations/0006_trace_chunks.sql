-- Storage that stays fast as it grows (issue 11). Spans and events are no
-- longer a row each: the spans and events of one trace that arrive in one
-- writer batch are encoded together, and the parts of a few dozen traces
-- are compressed into one chunks row. traces gets an INTEGER PRIMARY KEY in
-- arrival order, so the hot path only appends: no B-tree keyed by a random
-- trace id is written per trace any more.
--
-- A trace is found by its id through blocks: the traces of the unsealed
-- head block are in the writer's memory (rebuilt from traces at start), and
-- when the head is full its ids are written once, sorted, to trace_ids with
-- a Bloom filter in trace_blocks, so lookups probe a few small sorted runs.
-- Retention drops the oldest traces and chunks by id range.
--
-- Rows written before this migration keep their spans and events tables and
-- their id ranges (span_parts, event_parts); they are copied into the new
-- traces table in start order and indexed as block 1.
CREATE TABLE traces_v5 (
    id          INTEGER PRIMARY KEY, -- arrival order
    trace_id    BLOB    NOT NULL,
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER NOT NULL,
    root_name   TEXT,
    root_status INTEGER,
    service     TEXT,
    span_count  INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    stages      INTEGER NOT NULL,
    run_id      TEXT,
    chunk       INTEGER,             -- the chunks row of the trace's first part; NULL for rows made before 0006
    more_chunks BLOB,                -- uvarint chunk ids of later parts, in order
    span_parts  BLOB,                -- rows made before 0006: varint (first id, count) pairs into spans
    event_parts BLOB                 -- rows made before 0006: pairs into events
);

INSERT INTO traces_v5 (trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, span_parts, event_parts)
SELECT trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id,
       CAST(span_parts AS BLOB), CAST(event_parts AS BLOB)
FROM traces ORDER BY start_ns, trace_id;

DROP TABLE traces;
ALTER TABLE traces_v5 RENAME TO traces;

-- Start times grow with arrival, so these indexes append too. The trace id
-- closes each key: it is the tie-breaker of the trace list's order.
CREATE INDEX traces_by_start ON traces (start_ns, trace_id);
CREATE INDEX traces_by_run ON traces (run_id, start_ns, trace_id) WHERE run_id IS NOT NULL;
CREATE INDEX traces_by_service ON traces (service, start_ns, trace_id) WHERE service IS NOT NULL;

-- The encoded, compressed trace parts (collector's chunk encoding), and
-- uncompressed, per part, its trace id and a 4-byte key of each span id:
-- the duplicate check of a later part of a trace reads the keys and
-- decompresses the chunk only when a key matches.
CREATE TABLE chunks (
    id        INTEGER PRIMARY KEY,
    data      BLOB NOT NULL,
    span_keys BLOB
);

-- Sealed blocks of traces: rows first_trace..last_trace of traces, their
-- ids sorted in trace_ids, and a Bloom filter of them (NULL until the store
-- builds it, for the block this migration makes).
CREATE TABLE trace_blocks (
    id          INTEGER PRIMARY KEY,
    first_trace INTEGER NOT NULL,
    last_trace  INTEGER NOT NULL,
    bloom       BLOB
);

CREATE TABLE trace_ids (
    block    INTEGER NOT NULL,
    trace_id BLOB    NOT NULL,
    trace    INTEGER NOT NULL, -- traces.id
    PRIMARY KEY (block, trace_id)
) WITHOUT ROWID;

INSERT INTO trace_blocks (id, first_trace, last_trace)
SELECT 1, min(id), max(id) FROM traces HAVING count(*) > 0;

INSERT INTO trace_ids (block, trace_id, trace)
SELECT 1, trace_id, id FROM traces ORDER BY trace_id;

-- Retention deletes the chunks below the smallest first chunk of the traces
-- it keeps. Chunk ids grow with rows, so this index appends as well.
CREATE INDEX traces_by_chunk ON traces (chunk) WHERE chunk IS NOT NULL;
