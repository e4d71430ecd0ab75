-- trends_behavior: per time bucket, context and spec node: the worst and the
--          mean drift score, the worst level, the evidence behind them, and
--          an EWMA and a CV of the bucket's worst score over the buckets so
--          far, so a trend can be judged and not only plotted.
-- Spec:    lake.md §6 (bucket_start Timestamp µs UTC, interval 1h | 1d | 1w);
--          telemetry-correlation.md §5 (levels none < low < medium < high).
--          EWMA: α = 0.3, oldest to newest (as BASE-001 weighs windows); CV:
--          population sd / mean of the node's bucket scores up to this bucket
--          (NULL when the mean is 0). Only node rows: no-match rows have no
--          node to trend.
-- Reads:   behavior_summary.   Writes: nothing (`driftlake trends behavior`).
-- UDFs:    ewma_list(list, alpha).
-- Params:  $interval = 1d (1h | 1d | 1w), $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive), $context = * (one sea.domain, * for all)
WITH rows_in_window AS (
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
        context,
        spec_node_id,
        drift_score,
        CASE drift_level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END AS level_rank,
        evidence_count
    FROM behavior_summary
    WHERE spec_node_id IS NOT NULL
      AND date >= $from AND date <= $to
      AND ($context = '*' OR context = $context)
),
per_bucket AS (
    SELECT
        bucket_start,
        context,
        spec_node_id,
        max(drift_score) AS max_drift_score,
        avg(drift_score) AS avg_drift_score,
        max(level_rank) AS level_rank,
        sum(evidence_count) AS evidence_count,
        count(*) AS summary_rows
    FROM rows_in_window
    WHERE bucket_start IS NOT NULL
    GROUP BY bucket_start, context, spec_node_id
)
SELECT
    arrow_cast(bucket_start, 'Timestamp(µs, "UTC")') AS bucket_start,
    arrow_cast($interval, 'Utf8') AS "interval",
    context,
    spec_node_id,
    max_drift_score,
    avg_drift_score,
    CASE level_rank WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low' ELSE 'none' END AS drift_level,
    evidence_count,
    summary_rows,
    ewma_list(
        array_agg(max_drift_score) OVER (
            PARTITION BY context, spec_node_id ORDER BY bucket_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ),
        0.3
    ) AS ewma_drift_score,
    CASE
        WHEN avg(max_drift_score) OVER running > 0
        THEN stddev_pop(max_drift_score) OVER running / avg(max_drift_score) OVER running
    END AS cv_drift_score
FROM per_bucket
WINDOW running AS (
    PARTITION BY context, spec_node_id ORDER BY bucket_start
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
)
ORDER BY bucket_start, context, spec_node_id
