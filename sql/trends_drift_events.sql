-- trends_drift_events: per time bucket, drift type and severity: how many
--          drift events and how many distinct patterns (fingerprints), by
--          origin, with an EWMA and a CV of the event count over the buckets
--          so far.
-- Spec:    lake.md §6 (bucket_start Timestamp µs UTC, interval 1h | 1d | 1w);
--          telemetry-correlation.md §6. Buckets come from date_bin over
--          detected_at, aligned to Monday 1970-01-05 (weekly = ISO weeks).
--          EWMA α = 0.3 and population CV over the (type, severity, origin)
--          series' buckets with events; a bucket without events has no row.
-- Reads:   drift_events.   Writes: nothing (`driftlake trends drift_events`).
-- UDFs:    ewma_list(list, alpha).
-- Params:  $interval = 1d (1h | 1d | 1w), $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive), $context = * (one sea.domain, * for all)
WITH binned AS (
    SELECT
        date_bin(
            CASE $interval
                WHEN '1h' THEN INTERVAL '1 hour'
                WHEN '1d' THEN INTERVAL '1 day'
                WHEN '1w' THEN INTERVAL '7 days'
            END,
            detected_at,
            arrow_cast(TIMESTAMP '1970-01-05T00:00:00', 'Timestamp(µs, "UTC")')
        ) AS bucket_start,
        drift_type,
        severity,
        origin,
        fingerprint_key
    FROM drift_events
    WHERE date >= $from AND date <= $to
      AND ($context = '*' OR context = $context)
),
per_bucket AS (
    SELECT
        bucket_start,
        drift_type,
        severity,
        origin,
        count(*) AS events,
        count(DISTINCT fingerprint_key) AS fingerprints
    FROM binned
    WHERE bucket_start IS NOT NULL
    GROUP BY bucket_start, drift_type, severity, origin
)
SELECT
    arrow_cast(bucket_start, 'Timestamp(µs, "UTC")') AS bucket_start,
    arrow_cast($interval, 'Utf8') AS "interval",
    drift_type,
    severity,
    origin,
    events,
    fingerprints,
    ewma_list(
        array_agg(CAST(events AS DOUBLE)) OVER running,
        0.3
    ) AS ewma_events,
    stddev_pop(CAST(events AS DOUBLE)) OVER running / avg(CAST(events AS DOUBLE)) OVER running AS cv_events
FROM per_bucket
WINDOW running AS (
    PARTITION BY drift_type, severity, origin ORDER BY bucket_start
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
)
ORDER BY bucket_start, drift_type, severity, origin
