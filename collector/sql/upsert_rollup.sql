INSERT OR REPLACE INTO stage_rollups (minute, run_id, stage, count, errors, total_ns, self_ns, dur_hist, self_hist)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
