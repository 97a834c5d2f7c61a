-- Per-minute, per-run, per-stage aggregates kept by the writer, so that a
-- stage breakdown over millions of spans reads a few thousand rows. Stage 255
-- is the whole trace (root spans): end-to-end latency for time series.
CREATE TABLE stage_rollups (
    minute    INTEGER NOT NULL, -- Unix minute of the span's start
    run_id    TEXT    NOT NULL DEFAULT '',
    stage     INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    errors    INTEGER NOT NULL,
    total_ns  INTEGER NOT NULL,
    self_ns   INTEGER NOT NULL, -- duration minus the union of the children's intervals
    dur_hist  BLOB,             -- log-scale histogram of durations (collector's encoding)
    self_hist BLOB,             -- log-scale histogram of self times
    PRIMARY KEY (minute, run_id, stage)
) WITHOUT ROWID;

-- What the collector could not keep, per minute: spans and events dropped by
-- the in-process handler on a full queue or lost to a failed write, and
-- spans refused to OTLP clients (who retry).
CREATE TABLE drops (
    minute  INTEGER PRIMARY KEY,
    spans   INTEGER NOT NULL DEFAULT 0,
    events  INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0
);
