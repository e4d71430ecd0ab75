-- what_drifted: one row per drift pattern (fingerprint): how often and how
--          badly it drifted, when, in how many episodes, what to patch.
-- Spec:    telemetry-correlation.md §6 "What drifted" (a fingerprint seen in
--          ≥ 3 windows with worst severity red is patch_required); seed 002
--          (WHAT_DRIFTED aggregates events by fingerprint).
-- Reads:   drift_events.   Writes: nothing (`driftlake drifts`, the report).
-- Params:  $from = 0000-01-01 (first UTC day), $to = 9999-12-31 (last UTC day, inclusive), $min_severity = green (green | yellow | red)
WITH events AS (
    SELECT
        *,
        CASE severity WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 ELSE 1 END AS severity_rank,
        CASE origin
            WHEN 'telemetry' THEN
                coalesce(context, '') || ' / ' || coalesce(spec_node_id, '(no node)') || ' · ' || rule_id
            WHEN 'attribution' THEN
                coalesce(identity_ref, '') || ' · ' || coalesce(primitive, '') || ' · ' || rule_id
            WHEN 'agents' THEN 'agent ' || coalesce(agent_id, '') || ' · ' || rule_id
            ELSE rule_id
        END AS subject
    FROM drift_events
    WHERE date >= $from AND date <= $to
),
per_fingerprint AS (
    SELECT
        fingerprint_key,
        min(drift_type) AS drift_type,
        min(origin) AS origin,
        min(subject) AS subject,
        count(*) AS events,
        count(DISTINCT window_start) AS windows,
        max(severity_rank) AS worst_rank,
        -- When the drift was in the data (a window's start, an
        -- observation's time), not detected_at (a window's end).
        min(window_start) AS first_seen,
        max(window_start) AS last_seen,
        count(DISTINCT episode_id) AS episodes,
        array_sort(array_distinct(array_agg(recommended_patch_type))) AS patches
    FROM events
    GROUP BY fingerprint_key
)
SELECT
    fingerprint_key,
    drift_type,
    origin,
    subject,
    events,
    windows,
    CASE worst_rank WHEN 3 THEN 'red' WHEN 2 THEN 'yellow' ELSE 'green' END AS worst_severity,
    first_seen,
    last_seen,
    episodes,
    patches,
    windows >= 3 AND worst_rank = 3 AS patch_required
FROM per_fingerprint
WHERE worst_rank >= CASE $min_severity WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 ELSE 1 END
ORDER BY patch_required DESC, worst_rank DESC, events DESC, fingerprint_key
