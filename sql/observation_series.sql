-- observation_series: one primitive over time for one identity, oldest first:
--          the series attribution_state merges, with a running EWMA.
-- Spec:    lake.md §3 observations (order: ts, ties by evidence_ref);
--          behave-shell §6.5 (EWMA, alpha 0.3) for numeric primitives.
-- Reads:   observations.   Writes: nothing (exploration view).
-- Params:  $identity (identity_ref, e.g. 203.0.113.7), $primitive (dotted name).
-- UDFs:    ewma_list over the running array_agg of value_num (NULL for
--          non-numeric primitives).
SELECT
    ts,
    arrow_cast(to_timestamp_micros(CAST(round(ts * 1000000) AS BIGINT)), 'Timestamp(µs, "UTC")') AS observed_at,
    value,
    value_str,
    value_num,
    confidence,
    ewma_list(
        array_agg(value_num) OVER (
            ORDER BY ts, evidence_ref ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ),
        0.3
    ) AS running_ewma,
    evidence_ref
FROM observations
WHERE identity_ref = $identity AND primitive = $primitive
ORDER BY ts, evidence_ref
