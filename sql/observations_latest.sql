-- observations_latest: the latest observation per (identity_ref, primitive):
--          every identity's current value of every primitive.
-- Spec:    lake.md §3 observations. "Latest" is the greatest (ts, evidence_ref),
--          the attribution series order, so this is the last element of the
--          series attribution_state merges.
-- Reads:   observations.   Writes: nothing (exploration view).
-- Params:  none.
WITH ranked AS (
    SELECT
        identity_ref,
        primitive,
        value_kind,
        value,
        value_str,
        value_num,
        confidence,
        ts,
        evidence_ref,
        row_number() OVER (
            PARTITION BY identity_ref, primitive
            ORDER BY ts DESC, evidence_ref DESC
        ) AS recency
    FROM observations
    WHERE identity_ref IS NOT NULL
)
SELECT
    identity_ref,
    primitive,
    value_kind,
    value,
    value_str,
    value_num,
    confidence,
    ts,
    evidence_ref
FROM ranked
WHERE recency = 1
ORDER BY identity_ref, primitive
