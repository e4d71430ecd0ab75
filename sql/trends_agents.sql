-- trends_agents: per time bucket and tier: how many agents had a window in
--          that tier, how many windows, their mean anomaly score, and how
--          many of those windows changed the agent's tier.
-- Spec:    lake.md §6 (bucket_start Timestamp µs UTC, interval 1h | 1d | 1w);
--          agent-monitor.md (tiers). Buckets come from date_bin over
--          window_start, aligned to Monday 1970-01-05 (weekly = ISO weeks).
-- Reads:   agent_profiles.   Writes: trends_agents (recomputed whole).
-- Params:  $interval = 1d (1h | 1d | 1w; anything else gives no rows), $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive)
WITH binned AS (
    SELECT
        date_bin(
            CASE $interval
                WHEN '1h' THEN INTERVAL '1 hour'
                WHEN '1d' THEN INTERVAL '1 day'
                WHEN '1w' THEN INTERVAL '7 days'
            END,
            window_start,
            arrow_cast(TIMESTAMP '1970-01-05T00:00:00', 'Timestamp(µs, "UTC")')
        ) AS bucket_start,
        agent_id,
        tier,
        anomaly_score,
        tier_changed
    FROM agent_profiles
    WHERE date >= $from AND date <= $to
)
SELECT
    arrow_cast(bucket_start, 'Timestamp(µs, "UTC")') AS bucket_start,
    arrow_cast($interval, 'Utf8') AS "interval",
    tier,
    count(DISTINCT agent_id) AS agents,
    count(*) AS windows,
    avg(anomaly_score) AS mean_anomaly_score,
    sum(CASE WHEN tier_changed THEN 1 ELSE 0 END) AS tier_changes
FROM binned
WHERE bucket_start IS NOT NULL
GROUP BY bucket_start, tier
ORDER BY bucket_start, tier
