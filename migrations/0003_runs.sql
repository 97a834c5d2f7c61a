-- Benchmark runs: a named span of time whose traces carry the run's id in
-- the stagescope.run_id attribute or tag.
CREATE TABLE runs (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    config      TEXT,             -- JSON
    started_ns  INTEGER NOT NULL,
    finished_ns INTEGER,
    summary     TEXT              -- JSON
);

-- Only traces of a run are indexed; within a run start times grow, so this
-- index appends too.
CREATE INDEX traces_by_run ON traces (run_id, start_ns) WHERE run_id IS NOT NULL;
