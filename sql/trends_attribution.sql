-- trends_attribution: per time bucket, primitive and state: how many
--          identities were in that state at the end of the bucket.
-- Spec:    lake.md §6 (bucket_start Timestamp µs UTC, interval 1h | 1d | 1w);
--          behave-shell §6.8: the state at a time is the state after the last
--          observation at or before it (the replay's state changes). An
--          identity counts in every bucket from its first observation to the
--          last bucket of the data, in the state it then held.
-- Reads:   observations.   Writes: trends_attribution (recomputed whole).
-- UDFs:    attribution_changes_agg(kind, value, ts, evidence_ref): the
--          replay's state changes as a list of {seq, ts, state, …}; it orders
--          each group's series by (ts, evidence_ref) itself.
-- Params:  $interval = 1d (1h | 1d | 1w; anything else gives no rows), $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive; buckets that overlap the days are kept, and states come from the whole history)
WITH series AS (
    SELECT
        identity_ref,
        primitive,
        attribution_changes_agg(
            primitive_value_kind(primitive), value, ts, evidence_ref
        ) AS changes
    FROM observations
    WHERE identity_ref IS NOT NULL
    GROUP BY identity_ref, primitive
),
change_rows AS (
    SELECT identity_ref, primitive, unnest(changes) AS change
    FROM series
),
binned_changes AS (
    SELECT
        identity_ref,
        primitive,
        change['seq'] AS seq,
        change['state'] AS state,
        date_bin(
            CASE $interval
                WHEN '1h' THEN INTERVAL '1 hour'
                WHEN '1d' THEN INTERVAL '1 day'
                WHEN '1w' THEN INTERVAL '7 days'
            END,
            arrow_cast(to_timestamp_micros(CAST(round(change['ts'] * 1000000) AS BIGINT)), 'Timestamp(µs, "UTC")'),
            arrow_cast(TIMESTAMP '1970-01-05T00:00:00', 'Timestamp(µs, "UTC")')
        ) AS bucket
    FROM change_rows
),
state_at_bucket_end AS (
    SELECT
        identity_ref,
        primitive,
        bucket,
        state,
        row_number() OVER (PARTITION BY identity_ref, primitive, bucket ORDER BY seq DESC) AS recency
    FROM binned_changes
    WHERE bucket IS NOT NULL
),
state_spans AS (
    SELECT
        identity_ref,
        primitive,
        state,
        bucket AS span_start,
        lead(bucket) OVER (PARTITION BY identity_ref, primitive ORDER BY bucket) AS next_span_start
    FROM state_at_bucket_end
    WHERE recency = 1
),
last_bucket AS (
    SELECT max(bucket) AS bucket FROM binned_changes
),
state_per_bucket AS (
    SELECT
        s.identity_ref,
        s.primitive,
        s.state,
        unnest(generate_series(
            s.span_start,
            coalesce(
                s.next_span_start - CASE $interval
                    WHEN '1h' THEN INTERVAL '1 hour'
                    WHEN '1d' THEN INTERVAL '1 day'
                    WHEN '1w' THEN INTERVAL '7 days'
                END,
                l.bucket
            ),
            CASE $interval
                WHEN '1h' THEN INTERVAL '1 hour'
                WHEN '1d' THEN INTERVAL '1 day'
                WHEN '1w' THEN INTERVAL '7 days'
            END
        )) AS bucket_start
    FROM state_spans s
    CROSS JOIN last_bucket l
)
SELECT
    arrow_cast(bucket_start, 'Timestamp(µs, "UTC")') AS bucket_start,
    arrow_cast($interval, 'Utf8') AS "interval",
    primitive,
    state,
    count(DISTINCT identity_ref) AS identities
FROM state_per_bucket
WHERE to_char(bucket_start, '%Y-%m-%d') <= $to
  AND to_char(
          bucket_start + CASE $interval
              WHEN '1h' THEN INTERVAL '1 hour'
              WHEN '1d' THEN INTERVAL '1 day'
              WHEN '1w' THEN INTERVAL '7 days'
          END - INTERVAL '1 microsecond',
          '%Y-%m-%d'
      ) >= $from
GROUP BY bucket_start, primitive, state
ORDER BY bucket_start, primitive, state
