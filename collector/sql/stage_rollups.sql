-- ?3 = '' selects every run.
SELECT minute, stage, count, errors, total_ns, self_ns, dur_hist, self_hist
FROM stage_rollups
WHERE minute >= ?1 AND minute <= ?2 AND (?3 = '' OR run_id = ?3)
