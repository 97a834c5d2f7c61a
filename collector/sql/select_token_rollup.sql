SELECT model, calls, prompt, completion, embedding
FROM token_rollups WHERE minute = ? AND run_id = ? AND stage = ?
