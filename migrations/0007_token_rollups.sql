-- Tokens per minute, run, stage and model, kept by the writer beside
-- stage_rollups, so that cost over time reads a few rows per minute instead
-- of every model call's span. Tokens are stored, not dollars: the cost is
-- priced when read, with the price table in force then, so changing a price
-- reprices the past too. A span's tokens count when no span below it
-- reports any (a parent repeating its children's totals is not counted
-- twice), the rule of the bottleneck report. model is 'unknown' for spans
-- that name none.
CREATE TABLE token_rollups (
    minute     INTEGER NOT NULL, -- Unix minute of the span's start
    run_id     TEXT    NOT NULL DEFAULT '',
    stage      INTEGER NOT NULL,
    model      TEXT    NOT NULL,
    calls      INTEGER NOT NULL, -- spans whose tokens were counted
    prompt     INTEGER NOT NULL, -- input tokens of model calls
    completion INTEGER NOT NULL, -- output tokens
    embedding  INTEGER NOT NULL, -- input tokens of embedding calls
    PRIMARY KEY (minute, run_id, stage, model)
) WITHOUT ROWID;
