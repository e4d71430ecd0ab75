-- attribution_transitions: every state change of every (identity, primitive)
--          series, with the observation that caused it: the input of the
--          attribution drift events.
-- Spec:    behave-shell §6.8 (the replay; a value change within one state is
--          not a change), §6.9 (the multi-actor correlator reads these);
--          issue 6 (transitions into drifting, conflicted or multi_actor are
--          drift events).
-- Reads:   observations.   Writes: nothing (drift::derive turns rows into
--          drift_events).
-- UDFs:    attribution_changes(kind, values, ts): the replay's changes as a
--          list of {seq, ts, state, idx, confidence}; idx is the position of
--          the changing observation in the ordered series.
-- Params:  none
WITH series AS (
    SELECT
        identity_ref,
        primitive,
        attribution_changes(
            primitive_value_kind(primitive),
            array_agg(value ORDER BY ts, evidence_ref),
            array_agg(ts ORDER BY ts, evidence_ref)
        ) AS changes,
        array_agg(evidence_ref ORDER BY ts, evidence_ref) AS evidence_refs
    FROM observations
    WHERE identity_ref IS NOT NULL
    GROUP BY identity_ref, primitive
),
change_rows AS (
    SELECT identity_ref, primitive, evidence_refs, unnest(changes) AS change
    FROM series
)
SELECT
    identity_ref,
    primitive,
    change['seq'] AS seq,
    change['ts'] AS ts,
    change['state'] AS state,
    lag(change['state']) OVER (
        PARTITION BY identity_ref, primitive ORDER BY change['seq']
    ) AS prev_state,
    change['confidence'] AS confidence,
    array_element(evidence_refs, change['idx'] + 1) AS evidence_ref
FROM change_rows
ORDER BY identity_ref, ts, primitive, seq
