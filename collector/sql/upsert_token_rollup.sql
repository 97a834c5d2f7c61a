INSERT OR REPLACE INTO token_rollups (minute, run_id, stage, model, calls, prompt, completion, embedding)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
