-- agent_tier_changes: every agent profile row whose tier differs from the
--          agent's previous row: the input of the agent drift events.
-- Spec:    agent-monitor.md (a tier change is a drift event: outcome,
--          severity by the new tier, AGT-001).
-- Reads:   agent_profiles.   Writes: nothing (drift::derive turns rows into
--          drift_events).
-- Params:  none
SELECT
    agent_id,
    window_start,
    window_end,
    prev_tier,
    tier,
    anomaly_score,
    file_ops,
    network_ops,
    other_ops,
    events
FROM agent_profiles
WHERE tier_changed
ORDER BY agent_id, window_start
