-- Spans and events are appended in arrival order. The INTEGER PRIMARY KEY is
-- the rowid, assigned increasing by the single writer, and there is no
-- secondary index on either table: every insert lands on the last page.
-- A writer batch is sorted by trace, so the spans of one trace in one batch
-- are a contiguous id range; traces.span_parts lists those ranges, which is
-- how a trace finds its spans without a per-span index.
CREATE TABLE spans (
    id        INTEGER PRIMARY KEY,
    trace_id  BLOB    NOT NULL,
    span_id   BLOB    NOT NULL,
    parent_id BLOB,             -- NULL for a root span
    name      TEXT    NOT NULL,
    stage     INTEGER NOT NULL, -- spans.Stage
    start_ns  INTEGER NOT NULL, -- Unix nanoseconds, 0 for the zero time
    end_ns    INTEGER NOT NULL,
    status    INTEGER NOT NULL, -- spans.Status
    service   TEXT,
    body      BLOB              -- scope, error text, attributes, tags, links (collector's compact encoding)
);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    trace_id BLOB    NOT NULL,
    span_id  BLOB    NOT NULL,
    time_ns  INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    stage    INTEGER NOT NULL,
    body     BLOB              -- attributes and tags
);

-- One row per trace, upserted once per (trace, writer batch): the only
-- random-key B-tree the hot path touches, about one row per ten spans.
CREATE TABLE traces (
    trace_id    BLOB    PRIMARY KEY,
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER NOT NULL,
    root_name   TEXT,             -- NULL until the root span arrives
    root_status INTEGER,
    service     TEXT,
    span_count  INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    stages      INTEGER NOT NULL, -- bit i set when a span of spans.Stage(i) is in the trace
    run_id      TEXT,
    span_parts  BLOB,             -- varint pairs (first id, count) into spans
    event_parts BLOB              -- varint pairs (first id, count) into events
) WITHOUT ROWID;

CREATE INDEX traces_by_start ON traces (start_ns);
