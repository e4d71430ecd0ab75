-- agent_profiles: per agent and window, the operation counts, the entropy of
--          the (event type, target) symbols, the anomaly score and the tier.
-- Spec:    agent-monitor.md "Profiles". Windows are [start, start + window)
--          with starts at multiples of the hop since the Unix epoch (date_bin;
--          tumbling when hop = window); an event on a boundary belongs to the
--          window that starts there; only windows with events get a row.
--          F = min(1, ln(1 + file_ops) / ln(101)), N likewise for network_ops;
--          E = Shannon entropy in bits of the window's symbol multiset divided
--          by log2(k), k distinct symbols, 0 when k < 2 (the symbol_entropy
--          aggregate: it counts the symbols and sorts the counts before
--          summing, so reruns give the same bits; exactly 1 when all counts
--          are equal);
--          score = clamp(wF*F + wN*N + wE*E, 0, 1);
--          tier 3 (anomalous) above $anomaly_threshold, 2 above
--          $elevated_threshold, else 1; prev_tier is the agent's previous row.
-- UDFs:    symbol_entropy(event_type, target_hash) (aggregate).
-- Reads:   agent_events.   Writes: agent_profiles (plus `date`, the UTC day of
--          window_start, which the runner turns into the partition).
-- Params:  $window_secs = 300, $hop_secs = 300, $windows_per_event = 1 (ceil(window / hop)), $weight_file = 0.4, $weight_network = 0.3, $weight_entropy = 0.3, $anomaly_threshold = 0.7, $elevated_threshold = 0.5
WITH binned AS (
    SELECT
        agent_id,
        event_type,
        op,
        target_hash,
        arrow_cast(ts, 'Int64') AS ts_us,
        arrow_cast(
            arrow_cast(
                date_bin(
                    CAST($hop_secs || ' seconds' AS INTERVAL),
                    ts,
                    arrow_cast(TIMESTAMP '1970-01-01T00:00:00', 'Timestamp(µs, "UTC")')
                ),
                'Timestamp(µs, "UTC")'
            ),
            'Int64'
        ) AS last_start_us
    FROM agent_events
),
-- Every window an event falls in: the last one starting at or before it,
-- and up to windows_per_event - 1 earlier ones that still cover it. Tumbling
-- windows (one per event) skip the expansion: the bound parameter folds one
-- branch of the UNION ALL away.
windowed AS (
    SELECT agent_id, event_type, op, target_hash, last_start_us AS start_us
    FROM binned
    WHERE CAST($windows_per_event AS BIGINT) = 1
    UNION ALL
    SELECT
        b.agent_id,
        b.event_type,
        b.op,
        b.target_hash,
        b.last_start_us - h.k * CAST($hop_secs AS BIGINT) * 1000000 AS start_us
    FROM binned b
    CROSS JOIN (SELECT unnest(range(0, CAST($windows_per_event AS BIGINT))) AS k) h
    WHERE CAST($windows_per_event AS BIGINT) > 1
      AND b.last_start_us - h.k * CAST($hop_secs AS BIGINT) * 1000000
          + CAST($window_secs AS BIGINT) * 1000000 > b.ts_us
),
counts AS (
    SELECT
        agent_id,
        start_us,
        count(*) FILTER (WHERE op = 'file') AS file_ops,
        count(*) FILTER (WHERE op = 'network') AS network_ops,
        count(*) FILTER (WHERE op = 'other') AS other_ops,
        count(*) AS events,
        symbol_entropy(event_type, target_hash) AS entropy
    FROM windowed
    GROUP BY agent_id, start_us
),
terms AS (
    SELECT
        agent_id,
        start_us,
        coalesce(file_ops, 0) AS file_ops,
        coalesce(network_ops, 0) AS network_ops,
        coalesce(other_ops, 0) AS other_ops,
        events,
        least(1.0, ln(1.0 + coalesce(file_ops, 0)) / ln(101.0)) AS f,
        least(1.0, ln(1.0 + coalesce(network_ops, 0)) / ln(101.0)) AS n,
        entropy
    FROM counts
),
scored AS (
    SELECT
        agent_id,
        start_us,
        file_ops,
        network_ops,
        other_ops,
        events,
        entropy,
        greatest(0.0, least(1.0,
            CAST($weight_file AS DOUBLE) * f
            + CAST($weight_network AS DOUBLE) * n
            + CAST($weight_entropy AS DOUBLE) * entropy
        )) AS anomaly_score
    FROM terms
),
tiered AS (
    SELECT
        *,
        anomaly_score > CAST($anomaly_threshold AS DOUBLE) AS anomalous,
        CASE
            WHEN anomaly_score > CAST($anomaly_threshold AS DOUBLE) THEN 3
            WHEN anomaly_score > CAST($elevated_threshold AS DOUBLE) THEN 2
            ELSE 1
        END AS tier
    FROM scored
)
SELECT
    agent_id,
    arrow_cast(to_timestamp_micros(start_us), 'Timestamp(µs, "UTC")') AS window_start,
    arrow_cast(
        to_timestamp_micros(start_us + CAST($window_secs AS BIGINT) * 1000000),
        'Timestamp(µs, "UTC")'
    ) AS window_end,
    arrow_cast(file_ops, 'Int64') AS file_ops,
    arrow_cast(network_ops, 'Int64') AS network_ops,
    arrow_cast(other_ops, 'Int64') AS other_ops,
    arrow_cast(events, 'Int64') AS events,
    entropy,
    anomaly_score,
    anomalous,
    arrow_cast(tier, 'Int32') AS tier,
    arrow_cast(lag(tier) OVER (PARTITION BY agent_id ORDER BY start_us), 'Int32') AS prev_tier,
    coalesce(lag(tier) OVER (PARTITION BY agent_id ORDER BY start_us) <> tier, false) AS tier_changed,
    to_char(arrow_cast(to_timestamp_micros(start_us), 'Timestamp(µs, "UTC")'), '%Y-%m-%d') AS date
FROM tiered
ORDER BY agent_id, window_start
