-- trends_primitives: per time bucket, primitive and value: how many
--          observations carried the value and from how many identities.
-- Spec:    lake.md §6 (bucket_start Timestamp µs UTC, interval 1h | 1d | 1w).
--          Buckets come from date_bin over the observation ts (session end),
--          aligned to Monday 1970-01-05 so weekly buckets are ISO weeks.
-- Reads:   observations.   Writes: trends_primitives (recomputed whole).
-- Params:  $interval = 1d (1h | 1d | 1w; anything else gives no rows), $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive)
WITH binned AS (
    SELECT
        date_bin(
            CASE $interval
                WHEN '1h' THEN INTERVAL '1 hour'
                WHEN '1d' THEN INTERVAL '1 day'
                WHEN '1w' THEN INTERVAL '7 days'
            END,
            arrow_cast(to_timestamp_micros(CAST(round(ts * 1000000) AS BIGINT)), 'Timestamp(µs, "UTC")'),
            arrow_cast(TIMESTAMP '1970-01-05T00:00:00', 'Timestamp(µs, "UTC")')
        ) AS bucket_start,
        primitive,
        value,
        identity_ref
    FROM observations
    WHERE date >= $from AND date <= $to
)
SELECT
    arrow_cast(bucket_start, 'Timestamp(µs, "UTC")') AS bucket_start,
    arrow_cast($interval, 'Utf8') AS "interval",
    primitive,
    value,
    count(*) AS observations,
    count(DISTINCT identity_ref) AS identities
FROM binned
WHERE bucket_start IS NOT NULL
GROUP BY bucket_start, primitive, value
ORDER BY bucket_start, primitive, value
