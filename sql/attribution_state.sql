-- attribution_state: one row per (identity_ref, primitive): the attribution
--          state of the identity's whole observation series for the primitive.
-- Spec:    behave-shell §6.3-6.8 (merger choice, mergers, replay for
--          last_change_ts); lake.md §3 attribution_state (columns; series
--          ordered by ts, ties by evidence_ref).
-- Reads:   observations.   Writes: attribution_state (whole table replaced;
--          the runner adds run_id).
-- UDFs:    primitive_value_kind(primitive): registry kind, NULL (= categorical)
--          for a primitive the registry does not know (§6.3);
--          attribution_agg(kind, value, ts, evidence_ref): the merge as an
--          aggregate; it orders each group's series by (ts, evidence_ref)
--          itself, so the result does not depend on ingestion order.
-- Params:  none.
-- Why SQL: grouping is relational; the merge rules stay in Rust
--          (extract::attribution). (ts, evidence_ref) is unique within a group
--          (one observation per evidence_ref and primitive).
WITH merged AS (
    SELECT
        identity_ref,
        primitive,
        -- The registry's kind; for a primitive it does not know, the
        -- smallest stored one (the FILTER skips the rows it would not use).
        coalesce(
            primitive_value_kind(primitive),
            min(value_kind) FILTER (WHERE primitive_value_kind(primitive) IS NULL)
        ) AS value_kind,
        attribution_agg(primitive_value_kind(primitive), value, ts, evidence_ref) AS m
    FROM observations
    WHERE identity_ref IS NOT NULL
    GROUP BY identity_ref, primitive
)
SELECT
    identity_ref,
    primitive,
    value_kind,
    m['current_value'] AS current_value,
    m['state'] AS state,
    m['confidence'] AS confidence,
    m['observation_count'] AS observation_count,
    m['last_observation_ts'] AS last_observation_ts,
    m['last_change_ts'] AS last_change_ts
FROM merged
WHERE m IS NOT NULL
ORDER BY identity_ref, primitive
