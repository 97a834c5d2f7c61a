SELECT minute, count, errors, dur_hist
FROM stage_rollups
WHERE minute >= ?1 AND minute <= ?2 AND stage = 255
