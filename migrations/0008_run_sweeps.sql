-- The sweep a benchmark run belongs to: runs made by one `stagescope bench`
-- invocation share a sweep id, so the Runs page groups them without
-- guessing from their configs. NULL for runs made before, or outside a
-- sweep (a demo session).
ALTER TABLE runs ADD COLUMN sweep_id TEXT;
