SELECT count, errors, total_ns, self_ns, dur_hist, self_hist
FROM stage_rollups WHERE minute = ? AND run_id = ? AND stage = ?
