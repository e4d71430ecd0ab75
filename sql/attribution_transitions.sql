-- attribution_transitions: every state change of every (identity, primitive)
--          series, with the observation that caused it: the input of the
--          attribution drift events.
-- Spec:    behave-shell §6.8 (the replay; a value change within one state is
--          not a change), §6.9 (the multi-actor correlator reads these);
--          issue 6 (transitions into drifting, conflicted or multi_actor are
--          drift events).
-- Reads:   observations.   Writes: nothing (drift::derive turns rows into
--          drift_events).
-- UDFs:    attribution_changes_agg(kind, value, ts, evidence_ref): the
--          replay's changes as a list of {seq, ts, state, prev_state,
--          confidence, evidence_ref}; it orders each group's series by
--          (ts, evidence_ref) itself, as attribution_agg does, so the result
--          does not depend on ingestion order. evidence_ref is the changing
--          observation's; prev_state the state left (NULL for the first).
-- Params:  none
-- Why an aggregate: array_agg(... ORDER BY ts, evidence_ref) gives the same
--          series but holds one ScalarValue per row; over 300,000
--          observations that took seconds per list.
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
)
SELECT
    identity_ref,
    primitive,
    change['seq'] AS seq,
    change['ts'] AS ts,
    change['state'] AS state,
    change['prev_state'] AS prev_state,
    change['confidence'] AS confidence,
    change['evidence_ref'] AS evidence_ref
FROM change_rows
ORDER BY identity_ref, ts, primitive, seq
