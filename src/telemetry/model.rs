//! Types shared by the telemetry stage's parts (spec/telemetry-correlation.md).
//!
//! Pure data, no I/O. The decoder produces evidence rows, the spec loader a
//! [`SpecGraph`], the correlator a [`Correlation`] per evidence row, and the
//! summary reads one [`EvidenceFact`] per evidence row (the row joined with
//! its correlation).

use std::collections::BTreeMap;
use std::sync::Arc;

/// One OTLP signal, as the `evidence.signal` column spells it (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// A span (`TracesData`).
    Span,
    /// A log record (`LogsData`).
    Log,
    /// A metric data point (`MetricsData`).
    Metric,
}

impl Signal {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Span => "span",
            Signal::Log => "log",
            Signal::Metric => "metric",
        }
    }

    /// Parse a column value, or a job file's `signal` setting (which also
    /// accepts the collector's plural names `traces`, `logs`, `metrics`).
    pub fn parse(s: &str) -> Option<Signal> {
        match s {
            "span" | "spans" | "trace" | "traces" => Some(Signal::Span),
            "log" | "logs" => Some(Signal::Log),
            "metric" | "metrics" => Some(Signal::Metric),
            _ => None,
        }
    }
}

/// `evidence.correlation_status` (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CorrelationStatus {
    /// Required and at least one optional `sea.*` attribute present.
    Ok,
    /// Required present, both `sea.flow` and `sea.policy` missing.
    Partial,
    /// A required `sea.*` attribute missing (or a `sea.*` value too long).
    Failed,
}

impl CorrelationStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationStatus::Ok => "ok",
            CorrelationStatus::Partial => "partial",
            CorrelationStatus::Failed => "failed",
        }
    }

    /// Parse a column value.
    pub fn parse(s: &str) -> Option<CorrelationStatus> {
        match s {
            "ok" => Some(CorrelationStatus::Ok),
            "partial" => Some(CorrelationStatus::Partial),
            "failed" => Some(CorrelationStatus::Failed),
            _ => None,
        }
    }
}

/// `correlations.match_type` (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchType {
    /// A deterministic rule other than `COR-004` holds for the best node.
    Deterministic,
    /// Some rule holds for the best node, none of the above.
    Heuristic,
    /// No node.
    None,
}

impl MatchType {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Deterministic => "deterministic",
            MatchType::Heuristic => "heuristic",
            MatchType::None => "none",
        }
    }

    /// Parse a column value.
    pub fn parse(s: &str) -> Option<MatchType> {
        match s {
            "deterministic" => Some(MatchType::Deterministic),
            "heuristic" => Some(MatchType::Heuristic),
            "none" => Some(MatchType::None),
            _ => None,
        }
    }
}

/// A spec node's kind (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecKind {
    /// Architecture decision record.
    Adr,
    /// Product requirements.
    Prd,
    /// Software design spec.
    Sds,
    /// A SEA flow: a correlation candidate.
    Flow,
    /// A policy: a correlation candidate.
    Policy,
    /// A domain concept: a correlation candidate.
    Concept,
}

impl SpecKind {
    /// The manifest / `kg_nodes.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::Adr => "adr",
            SpecKind::Prd => "prd",
            SpecKind::Sds => "sds",
            SpecKind::Flow => "flow",
            SpecKind::Policy => "policy",
            SpecKind::Concept => "concept",
        }
    }

    /// Parse a manifest value.
    pub fn parse(s: &str) -> Option<SpecKind> {
        match s {
            "adr" => Some(SpecKind::Adr),
            "prd" => Some(SpecKind::Prd),
            "sds" => Some(SpecKind::Sds),
            "flow" => Some(SpecKind::Flow),
            "policy" => Some(SpecKind::Policy),
            "concept" => Some(SpecKind::Concept),
            _ => None,
        }
    }

    /// True for the kinds evidence can correlate with (§4).
    pub fn is_candidate(self) -> bool {
        matches!(self, SpecKind::Flow | SpecKind::Policy | SpecKind::Concept)
    }
}

/// What a spec node expects of runtime behaviour (§3 `expect`). An absent
/// field makes the rule that reads it score 0 (§5).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expect {
    /// Services allowed to take part (`COR-101`, `FLOW-001`).
    pub services: Option<Vec<String>>,
    /// Latency budget for the p95 (`PERF-001`).
    pub latency_p95_ms: Option<f64>,
    /// Highest acceptable error rate (`REL-001`).
    pub error_rate_max: Option<f64>,
    /// Policies every trace must pass (`POL-001`).
    pub policies: Option<Vec<String>>,
    /// Most children one span may have (`FAN-001`).
    pub max_fanout: Option<f64>,
}

/// One node of the spec truth chain (§3), after validation.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecNode {
    /// Unique across all manifests.
    pub id: String,
    /// Kind.
    pub kind: SpecKind,
    /// Title, when given.
    pub title: Option<String>,
    /// `domain` (matched against evidence `context` = `sea.domain`).
    pub domain: Option<String>,
    /// `concept`.
    pub concept: Option<String>,
    /// `flow`.
    pub flow: Option<String>,
    /// `policy`.
    pub policy: Option<String>,
    /// The node's regime: its own `regime_id`, else its manifest's.
    pub regime_id: Option<String>,
    /// Parents (ids), in manifest order.
    pub derives_from: Vec<String>,
    /// Expectations.
    pub expect: Expect,
    /// The manifest's object URL (data only).
    pub source: String,
    /// sha256 hex of the node's canonical JSON (changes when the node does).
    pub content_hash: String,
}

/// Every node of every manifest, sorted by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpecGraph {
    /// The nodes, sorted by id (ids are unique).
    pub nodes: Vec<SpecNode>,
}

impl SpecGraph {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&SpecNode> {
        self.nodes
            .binary_search_by(|n| n.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// The correlation candidates (flow, policy, concept), in id order.
    pub fn candidates(&self) -> impl Iterator<Item = &SpecNode> {
        self.nodes.iter().filter(|n| n.kind.is_candidate())
    }
}

/// The fields of one evidence row the correlator reads (§4).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvidenceKeys<'a> {
    /// `signal` (COR-102 is for spans only); `None` reads as not a span.
    pub signal: Option<Signal>,
    /// `context` (`sea.domain`).
    pub context: Option<&'a str>,
    /// `concept` (`sea.concept`).
    pub concept: Option<&'a str>,
    /// `regime_id` (`sea.regime_id`).
    pub regime_id: Option<&'a str>,
    /// `flow` (`sea.flow`).
    pub flow: Option<&'a str>,
    /// `policy_id` (`sea.policy`).
    pub policy_id: Option<&'a str>,
    /// `service`.
    pub service: Option<&'a str>,
    /// `name`.
    pub name: Option<&'a str>,
    /// `http_route`.
    pub http_route: Option<&'a str>,
}

/// The correlation of one evidence row (§4).
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// The best node, `None` when no rule holds for any candidate (or the
    /// row failed).
    pub spec_node_id: Option<String>,
    /// Noisy-OR of the weights of the rules that hold; 0 without a node.
    pub confidence: f64,
    /// Match type.
    pub match_type: MatchType,
    /// The rules that hold for the best node, in rule-id order.
    pub rule_ids: Vec<&'static str>,
}

impl Correlation {
    /// The correlation of a failed row, or of a row no rule links to a node.
    pub fn none() -> Correlation {
        Correlation {
            spec_node_id: None,
            confidence: 0.0,
            match_type: MatchType::None,
            rule_ids: Vec::new(),
        }
    }
}

/// Span status as the `evidence.status` column spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanStatus {
    /// `STATUS_CODE_OK`.
    Ok,
    /// `STATUS_CODE_ERROR`.
    Error,
    /// Unset (or absent).
    Unset,
}

impl SpanStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Ok => "ok",
            SpanStatus::Error => "error",
            SpanStatus::Unset => "unset",
        }
    }

    /// Parse a column value.
    pub fn parse(s: &str) -> Option<SpanStatus> {
        match s {
            "ok" => Some(SpanStatus::Ok),
            "error" => Some(SpanStatus::Error),
            "unset" => Some(SpanStatus::Unset),
            _ => None,
        }
    }
}

/// A sort key of an evidence id: its first 16 bytes (zeros past its end)
/// as two big-endian integers. Where keys differ they order as the ids do;
/// where they tie, the ids decide.
pub(crate) fn id_sort_key(id: &str) -> (u64, u64) {
    let mut b = [0u8; 16];
    let n = id.len().min(16);
    b[..n].copy_from_slice(&id.as_bytes()[..n]);
    let (hi, lo) = b.split_at(8);
    (
        u64::from_be_bytes(hi.try_into().unwrap_or_default()),
        u64::from_be_bytes(lo.try_into().unwrap_or_default()),
    )
}

/// One evidence row joined with its correlation: what the summary reads
/// (§5). Failed rows may be passed in; the summary ignores them. The
/// columns with few distinct values are shared (`Arc<str>`, one per
/// distinct value of a partition) rather than copied per row.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceFact {
    /// `evidence_id`.
    pub evidence_id: String,
    /// `signal`.
    pub signal: Signal,
    /// Lowercase hex, spans and logs that carry one.
    pub trace_id: Option<String>,
    /// Lowercase hex.
    pub span_id: Option<String>,
    /// Lowercase hex; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// µs since the epoch, UTC.
    pub timestamp_us: i64,
    /// Spans only.
    pub duration_ms: Option<f64>,
    /// `service`.
    pub service: Option<Arc<str>>,
    /// `name`.
    pub name: Option<Arc<str>>,
    /// Spans: ok / error / unset. Other signals: `None`.
    pub status: Option<SpanStatus>,
    /// `context` (`sea.domain`).
    pub context: Option<Arc<str>>,
    /// `regime_id`.
    pub regime_id: Option<Arc<str>>,
    /// `flow`.
    pub flow: Option<Arc<str>>,
    /// `policy_id`.
    pub policy_id: Option<Arc<str>>,
    /// `correlation_status`.
    pub correlation_status: CorrelationStatus,
    /// The best node of its correlation.
    pub spec_node_id: Option<Arc<str>>,
    /// Its correlation confidence.
    pub confidence: f64,
    /// Its match type.
    pub match_type: MatchType,
}

/// A `behavior_summary` row (§5) with the findings its drift events are
/// made of (§6).
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// `context`.
    pub context: String,
    /// `spec_node_id`; `None` for the no-match row.
    pub spec_node_id: Option<String>,
    /// Window start, µs UTC (midnight).
    pub window_start_us: i64,
    /// Window end, µs UTC (next midnight).
    pub window_end_us: i64,
    /// max sᵢ (0 for a no-match row).
    pub drift_score: f64,
    /// The gated level of `drift_score`.
    pub drift_level: crate::drift::event::Level,
    /// Mean correlation confidence of the row's evidence.
    pub confidence: f64,
    /// Evidence rows in the row (all signals).
    pub evidence_count: i64,
    /// Latest evidence timestamp, µs UTC.
    pub last_seen_at_us: i64,
    /// The evidence_id of the worst evidence of the top rule.
    pub evidence_ref: Option<String>,
    /// Rules with sᵢ ≥ 0.20, in rule order.
    pub triggered_rules: Vec<String>,
    /// Every rule's sᵢ (rule id → score); empty for a no-match row.
    pub rule_scores: BTreeMap<String, f64>,
    /// One finding per triggered rule, in rule order.
    pub findings: Vec<RuleFinding>,
}

/// A triggered rule of a summary row, with what a drift event needs (§6).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFinding {
    /// `PERF-001`, …
    pub rule_id: String,
    /// The rule's drift type (§5 table).
    pub drift_type: crate::drift::event::DriftType,
    /// sᵢ.
    pub score: f64,
    /// The level of sᵢ capped by the row's gating (`None`: no event).
    pub level: crate::drift::event::Level,
    /// Worst evidence first, at most 20 evidence ids (§6 order).
    pub evidence_refs: Vec<String>,
    /// Trace id of the first worst evidence that has one, else its id.
    pub episode_id: String,
}

/// A stale reference seen in one (context, window) (§5 no-match, §6).
#[derive(Clone, Debug, PartialEq)]
pub struct StaleRef {
    /// `context`.
    pub context: String,
    /// Window start, µs UTC.
    pub window_start_us: i64,
    /// Window end, µs UTC.
    pub window_end_us: i64,
    /// A flow or a policy.
    pub kind: crate::drift::event::StaleKind,
    /// The flow or policy name the evidence carries.
    pub name: String,
    /// Its evidence, by time then evidence_id, at most 20.
    pub evidence_refs: Vec<String>,
    /// Trace id of the first of them that has one, else its evidence id.
    pub episode_id: String,
}
