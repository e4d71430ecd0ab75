-- correlations: the best spec node of every evidence row, with its
--          noisy-OR confidence, match type and the rules that hold.
-- Spec:    telemetry-correlation §4 (rules COR-001..COR-102, noisy-OR in
--          rule-id order, ties to the lowest node id; a failed row gets a
--          null node, confidence 0, `none`, no rules).
-- Reads:   evidence.   Writes: correlations (evidence_id, spec_node_id,
--          confidence, match_type, rule_ids; the stage adds run_id and
--          partitions by date). The evidence columns after them are what
--          behavior_summary reads (§5), carried so the stage scans the
--          evidence once.
-- UDFs:    spec_correlate(signal, context, concept, regime_id, flow,
--          policy_id, service, name, http_route, correlation_status):
--          {spec_node_id, confidence, match_type, rule_ids}, scored in Rust
--          against the spec graph registered for this run
--          (telemetry::correlate); not in SQL_FILES, since it needs that UDF.
-- Params:  none
WITH scored AS (
    SELECT
        evidence_id, date, signal, trace_id, span_id, parent_span_id,
        CAST(timestamp AS BIGINT) AS ts_us, duration_ms, service, name, status,
        context, regime_id, flow, policy_id, correlation_status,
        spec_correlate(
            signal, context, concept, regime_id, flow, policy_id,
            service, name, http_route, correlation_status
        ) AS c
    FROM evidence
)
SELECT
    evidence_id,
    c['spec_node_id'] AS spec_node_id,
    c['confidence'] AS confidence,
    c['match_type'] AS match_type,
    c['rule_ids'] AS rule_ids,
    date, signal, trace_id, span_id, parent_span_id, ts_us, duration_ms,
    service, name, status, context, regime_id, flow, policy_id,
    correlation_status
FROM scored
ORDER BY evidence_id
