-- ?3 = '' selects every run.
SELECT minute, stage, model, calls, prompt, completion, embedding
FROM token_rollups
WHERE minute >= ?1 AND minute <= ?2 AND (?3 = '' OR run_id = ?3)
