//! `behavior_summary` rows (spec/telemetry-correlation.md §5) and the
//! findings drift events are made of (§6).
//!
//! Pure: evidence facts and the spec graph in, rows out; no I/O, no clock.
//! The output depends only on the facts as a set: they are sorted by
//! (timestamp, evidence_id) first and every grouping is a `BTreeMap`.
//!
//! Choices the spec leaves open, made here:
//!
//! * **Row order**: (window_start, context, spec_node_id), the no-match row
//!   (`spec_node_id` null) **last** within its (window, context).
//! * **Facts without a context** form no row (the `context` column is not
//!   null); as non-failed spans they still belong to trace populations.
//! * A fact with a node but match_type `none`, or with match_type ≠ `none`
//!   but no node, goes to the no-match row.
//! * A node id missing from the graph reads as a node with no `expect` and no
//!   regime: only `CON-001` and `BASE-001` can score.
//! * A non-positive budget (`latency_p95_ms`, `max_fanout`) cannot divide:
//!   the rule scores 1 when the value exceeds it, else 0.
//! * p95 is `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`, h = (n−1)·0.95, over
//!   the durations present (a span without `duration_ms` takes no part).
//! * Means (row confidence, CV) use `fsum` (exactly rounded), the standard
//!   deviation `pstdev` (correctly rounded), so no summation order shows.
//! * `BASE-001`: the EWMA is seeded with the oldest value of the series; the
//!   earlier windows are the up to 7 most recent earlier windows of the pair
//!   that have spans (the p95 series skips those without any duration).
//! * Scores are compared with the thresholds exactly (0.20, 0.30, CV 1.0);
//!   only the confidence gating has a 1e-9 tolerance (`level_cap`).
//! * `evidence_ref` of a row with no triggered rule (and of a no-match row)
//!   is its latest evidence: the last by (timestamp, evidence_id).
//! * Findings are kept even when their gated level is `none` (the caller
//!   skips those); a row's `findings` has one per triggered rule.
//! * Worst evidence: `POL-001` lists the row's spans of bypassing traces;
//!   `CON-001` the error spans of the storm groups of the row's traces (from
//!   the whole trace, any row); `FAN-001` every row span by child count.
//!   `episode_id` is the trace id of the first evidence of the full worst
//!   list that has one (not only of the ≤ 20 kept), else its evidence_id.
//! * A storm group needs a name: spans without one form no group.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::error::ArrowError;

use super::model::{
    CorrelationStatus, EvidenceFact, Expect, MatchType, RuleFinding, Signal, SpanStatus, SpecGraph,
    SpecKind, SpecNode, StaleRef, SummaryRow,
};
use crate::drift::event::{level_cap, level_of, DriftType, Level, StaleKind};
use crate::extract::behave::numeric::{fsum, pstdev};
use crate::model::schema::behavior_summary_schema;

/// One UTC day in µs: the window.
const DAY_US: i64 = 86_400_000_000;
/// At most this many evidence ids per finding or stale reference (§6).
const MAX_REFS: usize = 20;
/// A rule triggers at this score (the `low` threshold).
const TRIGGER: f64 = 0.20;
/// `BASE-001`: earlier windows in the baseline.
const BASE_WINDOWS: usize = 7;
/// `BASE-001`: EWMA weight of the newer value.
const BASE_ALPHA: f64 = 0.3;
/// `BASE-001`: a shift below this counts 0.
const BASE_MIN_SHIFT: f64 = 0.30;
/// `BASE-001`: a coefficient of variation above this scores 1.
const BASE_MAX_CV: f64 = 1.0;

/// The summary of one run's evidence: the `behavior_summary` rows and the
/// stale references seen (§5, §6).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Node rows and no-match rows, by (window_start, context, spec_node_id),
    /// the no-match row last.
    pub rows: Vec<SummaryRow>,
    /// Stale flows and policies, by (window_start, context, kind, name).
    pub stale: Vec<StaleRef>,
}

/// The component rules, in rule order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Perf,
    Rel,
    Pol,
    Flow,
    Fan,
    Con,
    Base,
    Reg,
}

impl Rule {
    const ALL: [Rule; 8] = [
        Rule::Perf,
        Rule::Rel,
        Rule::Pol,
        Rule::Flow,
        Rule::Fan,
        Rule::Con,
        Rule::Base,
        Rule::Reg,
    ];

    fn id(self) -> &'static str {
        match self {
            Rule::Perf => "PERF-001",
            Rule::Rel => "REL-001",
            Rule::Pol => "POL-001",
            Rule::Flow => "FLOW-001",
            Rule::Fan => "FAN-001",
            Rule::Con => "CON-001",
            Rule::Base => "BASE-001",
            Rule::Reg => "REG-001",
        }
    }

    fn drift_type(self) -> DriftType {
        match self {
            Rule::Perf => DriftType::Time,
            Rule::Rel | Rule::Flow | Rule::Base => DriftType::Outcome,
            Rule::Pol => DriftType::Bypass,
            Rule::Fan => DriftType::Fanout,
            Rule::Con => DriftType::Contention,
            Rule::Reg => DriftType::Contradiction,
        }
    }
}

type Fact<'a> = &'a EvidenceFact;

/// Summarise `facts` (any order; failed ones are ignored) against `graph`.
pub fn summarize(facts: &[EvidenceFact], graph: &SpecGraph) -> Summary {
    let mut live: Vec<Fact> = facts
        .iter()
        .filter(|f| f.correlation_status != CorrelationStatus::Failed)
        .collect();
    live.sort_by(|a, b| by_time(a, b));
    let input = Input::new(&live);
    let known = Known::new(graph);

    // Keyed (context, node, window): one pair's windows are adjacent and
    // ascending, which BASE-001 walks.
    let mut node_groups: BTreeMap<(&str, &str, i64), Vec<Fact>> = BTreeMap::new();
    let mut no_match: BTreeMap<(i64, &str), Vec<Fact>> = BTreeMap::new();
    let mut stale: BTreeMap<(i64, &str, StaleKind, &str), Vec<Fact>> = BTreeMap::new();
    for &f in &live {
        let Some(ctx) = f.context.as_deref() else {
            continue;
        };
        let w = window_start(f.timestamp_us);
        let refs = known.stale_refs(f, ctx);
        let node = f
            .spec_node_id
            .as_deref()
            .filter(|_| f.match_type != MatchType::None);
        if let Some(node) = node {
            node_groups.entry((ctx, node, w)).or_default().push(f);
        }
        if node.is_none() || !refs.is_empty() {
            no_match.entry((w, ctx)).or_default().push(f);
        }
        for (kind, name) in refs {
            stale.entry((w, ctx, kind, name)).or_default().push(f);
        }
    }

    let mut rows = Vec::with_capacity(node_groups.len() + no_match.len());
    let mut history: Vec<WindowStats> = Vec::new();
    let mut pair: Option<(&str, &str)> = None;
    for ((ctx, node_id, w), evidence) in node_groups {
        if pair != Some((ctx, node_id)) {
            pair = Some((ctx, node_id));
            history.clear();
        }
        let group = Group::new(evidence);
        let row = node_row(
            ctx,
            node_id,
            w,
            &group,
            graph.node(node_id),
            &input,
            &history,
        );
        if let Some(error_rate) = group.error_rate {
            history.push(WindowStats {
                p95: group.p95,
                error_rate,
            });
        }
        rows.push(row);
    }
    for ((w, ctx), evidence) in no_match {
        rows.push(no_match_row(ctx, w, &evidence));
    }
    rows.sort_by(|a, b| {
        (
            a.window_start_us,
            &a.context,
            a.spec_node_id.is_none(),
            &a.spec_node_id,
        )
            .cmp(&(
                b.window_start_us,
                &b.context,
                b.spec_node_id.is_none(),
                &b.spec_node_id,
            ))
    });

    let stale = stale
        .into_iter()
        .map(|((w, ctx, kind, name), evidence)| StaleRef {
            context: ctx.to_string(),
            window_start_us: w,
            window_end_us: w + DAY_US,
            kind,
            name: name.to_string(),
            evidence_refs: ids(&evidence),
            episode_id: episode(&evidence),
        })
        .collect();
    Summary { rows, stale }
}

/// The rows as one `behavior_summary` batch ([`behavior_summary_schema`]):
/// `rule_scores` a JSON object with the rules in rule order (any other key
/// after them, in key order), `triggered_rules` a `List<Utf8>`.
///
/// # Errors
/// Arrow errors (none for rows made by [`summarize`]).
pub fn summary_batch(
    rows: &[SummaryRow],
    kg_version: i64,
    last_synced_at_us: Option<i64>,
    run_id: &str,
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let text = |f: &dyn Fn(&SummaryRow) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let time = |f: &dyn Fn(&SummaryRow) -> Option<i64>| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let num = |f: &dyn Fn(&SummaryRow) -> f64| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(n);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let int = |f: &dyn Fn(&SummaryRow) -> i64| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(n);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let mut triggered = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for t in &r.triggered_rules {
            triggered.values().append_value(t);
        }
        triggered.append(true);
    }
    let scores: Vec<String> = rows
        .iter()
        .map(|r| rule_scores_json(&r.rule_scores))
        .collect();
    let cols: Vec<ArrayRef> = vec![
        text(&|r| Some(&r.context)),
        text(&|r| r.spec_node_id.as_deref()),
        time(&|r| Some(r.window_start_us)),
        time(&|r| Some(r.window_end_us)),
        num(&|r| r.drift_score),
        text(&|r| Some(r.drift_level.as_str())),
        num(&|r| r.confidence),
        int(&|r| r.evidence_count),
        time(&|r| Some(r.last_seen_at_us)),
        text(&|r| r.evidence_ref.as_deref()),
        Arc::new(triggered.finish()),
        {
            let mut b = StringBuilder::with_capacity(n, scores.iter().map(String::len).sum());
            for s in &scores {
                b.append_value(s);
            }
            Arc::new(b.finish())
        },
        int(&|_| kg_version),
        time(&|_| last_synced_at_us),
        Arc::new(StringArray::from(vec![run_id; n])),
    ];
    RecordBatch::try_new(behavior_summary_schema(), cols)
}

/// `rule_scores` as a JSON object string, rules in rule order. serde_json's
/// map would sort the keys, so the object is written by hand; keys and
/// numbers go through serde_json (escaping, shortest round-trip floats;
/// a non-finite score, which the rules never give, becomes `null`).
fn rule_scores_json(scores: &BTreeMap<String, f64>) -> String {
    let known = Rule::ALL.iter().map(|r| r.id());
    let ordered = known.clone().filter(|id| scores.contains_key(*id)).chain(
        scores
            .keys()
            .map(String::as_str)
            .filter(|k| !Rule::ALL.iter().any(|r| r.id() == *k)),
    );
    let mut out = String::from("{");
    for (i, k) in ordered.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(k).to_string());
        out.push(':');
        out.push_str(&serde_json::Value::from(scores[k]).to_string());
    }
    out.push('}');
    out
}

/// Midnight UTC of the day holding `ts_us`.
fn window_start(ts_us: i64) -> i64 {
    ts_us.div_euclid(DAY_US) * DAY_US
}

/// Time, then evidence_id: the order of ties everywhere.
fn by_time(a: &EvidenceFact, b: &EvidenceFact) -> Ordering {
    a.timestamp_us
        .cmp(&b.timestamp_us)
        .then_with(|| a.evidence_id.cmp(&b.evidence_id))
}

/// Longest span first (no duration last), then [`by_time`].
fn longest_first(a: &EvidenceFact, b: &EvidenceFact) -> Ordering {
    let d = match (a.duration_ms, b.duration_ms) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    d.then_with(|| by_time(a, b))
}

/// The first [`MAX_REFS`] evidence ids.
fn ids(worst: &[Fact]) -> Vec<String> {
    worst
        .iter()
        .take(MAX_REFS)
        .map(|f| f.evidence_id.clone())
        .collect()
}

/// Trace id of the first evidence that has one, else the first's id.
fn episode(worst: &[Fact]) -> String {
    worst
        .iter()
        .find_map(|f| f.trace_id.clone())
        .or_else(|| worst.first().map(|f| f.evidence_id.clone()))
        .unwrap_or_default()
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// clamp((x − b)/b, 0, 1); a non-positive b scores 1 when x exceeds it.
fn over_budget(x: f64, b: f64) -> f64 {
    if b > 0.0 {
        clamp01((x - b) / b)
    } else if x > b {
        1.0
    } else {
        0.0
    }
}

/// Mean through `fsum`: no summation order shows.
fn mean(xs: &[f64]) -> f64 {
    fsum(xs) / xs.len() as f64
}

/// p95 of ascending `xs` by linear interpolation, h = (n−1)·0.95.
fn p95(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * 0.95;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo]))
}

/// The row's gated level of `score`.
fn gated(score: f64, confidence: f64) -> Level {
    level_of(score).min(level_cap(confidence))
}

/// The whole input seen from one trace: every non-failed span by trace id,
/// and child counts by (trace id, parent span id).
struct Input<'a> {
    traces: BTreeMap<&'a str, Vec<Fact<'a>>>,
    children: BTreeMap<(&'a str, &'a str), usize>,
}

impl<'a> Input<'a> {
    fn new(live: &[Fact<'a>]) -> Input<'a> {
        let mut traces: BTreeMap<&str, Vec<Fact>> = BTreeMap::new();
        let mut children = BTreeMap::new();
        for &f in live.iter().filter(|f| f.signal == Signal::Span) {
            let Some(t) = f.trace_id.as_deref() else {
                continue;
            };
            traces.entry(t).or_default().push(f);
            if let Some(p) = f.parent_span_id.as_deref() {
                *children.entry((t, p)).or_insert(0) += 1;
            }
        }
        Input { traces, children }
    }

    fn trace(&self, t: &str) -> &[Fact<'a>] {
        self.traces.get(t).map_or(&[], Vec::as_slice)
    }

    fn children_of(&self, f: &EvidenceFact) -> usize {
        match (f.trace_id.as_deref(), f.span_id.as_deref()) {
            (Some(t), Some(s)) => self.children.get(&(t, s)).copied().unwrap_or(0),
            _ => 0,
        }
    }
}

/// The flow and policy nodes evidence may name (stale check, §5).
struct Known<'a> {
    /// (domain, flow) of flow nodes.
    flows: BTreeSet<(&'a str, &'a str)>,
    /// (domain, policy) of policy nodes.
    policies: BTreeSet<(Option<&'a str>, &'a str)>,
}

impl<'a> Known<'a> {
    fn new(graph: &'a SpecGraph) -> Known<'a> {
        let mut flows = BTreeSet::new();
        let mut policies = BTreeSet::new();
        for n in &graph.nodes {
            match (
                n.kind,
                n.domain.as_deref(),
                n.flow.as_deref(),
                n.policy.as_deref(),
            ) {
                (SpecKind::Flow, Some(d), Some(fl), _) => {
                    flows.insert((d, fl));
                }
                (SpecKind::Policy, d, _, Some(p)) => {
                    policies.insert((d, p));
                }
                _ => {}
            }
        }
        Known { flows, policies }
    }

    /// The stale references `f` (of context `ctx`) carries.
    fn stale_refs<'f>(&self, f: &'f EvidenceFact, ctx: &str) -> Vec<(StaleKind, &'f str)> {
        let mut out = Vec::new();
        if let Some(flow) = f.flow.as_deref() {
            if !self.flows.contains(&(ctx, flow)) {
                out.push((StaleKind::Flow, flow));
            }
        }
        if let Some(p) = f.policy_id.as_deref() {
            if !self.policies.contains(&(None, p)) && !self.policies.contains(&(Some(ctx), p)) {
                out.push((StaleKind::Policy, p));
            }
        }
        out
    }
}

/// One row's evidence and its populations.
struct Group<'a> {
    /// All signals, by time.
    evidence: Vec<Fact<'a>>,
    /// The span evidence, by time.
    spans: Vec<Fact<'a>>,
    /// Distinct trace ids of the spans, ascending.
    traces: Vec<&'a str>,
    /// p95 of the spans' durations.
    p95: Option<f64>,
    /// Error spans / spans; `None` without spans.
    error_rate: Option<f64>,
}

impl<'a> Group<'a> {
    fn new(evidence: Vec<Fact<'a>>) -> Group<'a> {
        let spans: Vec<Fact> = evidence
            .iter()
            .copied()
            .filter(|f| f.signal == Signal::Span)
            .collect();
        let traces: BTreeSet<&str> = spans.iter().filter_map(|f| f.trace_id.as_deref()).collect();
        let mut durations: Vec<f64> = spans.iter().filter_map(|f| f.duration_ms).collect();
        durations.sort_by(f64::total_cmp);
        let errors = spans.iter().filter(|f| is_error(f)).count();
        let error_rate = (!spans.is_empty()).then(|| errors as f64 / spans.len() as f64);
        Group {
            p95: p95(&durations),
            evidence,
            spans,
            traces: traces.into_iter().collect(),
            error_rate,
        }
    }
}

fn is_error(f: &EvidenceFact) -> bool {
    f.status == Some(SpanStatus::Error)
}

/// One (context, node) window with spans, for `BASE-001`.
#[derive(Clone, Copy, Debug)]
struct WindowStats {
    p95: Option<f64>,
    error_rate: f64,
}

/// A rule's score and its evidence, worst first.
struct Component<'a> {
    score: f64,
    worst: Vec<Fact<'a>>,
}

impl Component<'_> {
    fn zero() -> Self {
        Component {
            score: 0.0,
            worst: Vec::new(),
        }
    }
}

fn node_row(
    ctx: &str,
    node_id: &str,
    w: i64,
    g: &Group,
    node: Option<&SpecNode>,
    input: &Input,
    history: &[WindowStats],
) -> SummaryRow {
    let no_expect = Expect::default();
    let expect = node.map_or(&no_expect, |n| &n.expect);
    let components = [
        perf(g, expect.latency_p95_ms),
        rel(g, expect.error_rate_max),
        pol(g, expect.policies.as_deref(), input),
        flow(g, expect.services.as_deref()),
        fan(g, expect.max_fanout, input),
        con(g, input),
        base(g, history),
        reg(g, node.and_then(|n| n.regime_id.as_deref())),
    ];
    let confidence = mean(&g.evidence.iter().map(|f| f.confidence).collect::<Vec<_>>());
    let mut findings = Vec::new();
    let mut top: Option<&Component> = None;
    for (rule, c) in Rule::ALL.into_iter().zip(&components) {
        if c.score < TRIGGER {
            continue;
        }
        if top.is_none_or(|t| c.score > t.score) {
            top = Some(c);
        }
        findings.push(RuleFinding {
            rule_id: rule.id().to_string(),
            drift_type: rule.drift_type(),
            score: c.score,
            level: gated(c.score, confidence),
            evidence_refs: ids(&c.worst),
            episode_id: episode(&c.worst),
        });
    }
    let drift_score = components.iter().map(|c| c.score).fold(0.0, f64::max);
    let evidence_ref = top
        .and_then(|t| t.worst.first())
        .or(g.evidence.last())
        .map(|f| f.evidence_id.clone());
    SummaryRow {
        context: ctx.to_string(),
        spec_node_id: Some(node_id.to_string()),
        window_start_us: w,
        window_end_us: w + DAY_US,
        drift_score,
        drift_level: gated(drift_score, confidence),
        confidence,
        evidence_count: g.evidence.len() as i64,
        last_seen_at_us: last_seen(&g.evidence),
        evidence_ref,
        triggered_rules: findings.iter().map(|f| f.rule_id.clone()).collect(),
        rule_scores: Rule::ALL
            .into_iter()
            .zip(&components)
            .map(|(r, c)| (r.id().to_string(), c.score))
            .collect(),
        findings,
    }
}

fn no_match_row(ctx: &str, w: i64, evidence: &[Fact]) -> SummaryRow {
    SummaryRow {
        context: ctx.to_string(),
        spec_node_id: None,
        window_start_us: w,
        window_end_us: w + DAY_US,
        drift_score: 0.0,
        drift_level: Level::None,
        confidence: mean(&evidence.iter().map(|f| f.confidence).collect::<Vec<_>>()),
        evidence_count: evidence.len() as i64,
        last_seen_at_us: last_seen(evidence),
        evidence_ref: evidence.last().map(|f| f.evidence_id.clone()),
        triggered_rules: Vec::new(),
        rule_scores: BTreeMap::new(),
        findings: Vec::new(),
    }
}

fn last_seen(evidence: &[Fact]) -> i64 {
    evidence.iter().map(|f| f.timestamp_us).max().unwrap_or(0)
}

/// `PERF-001`: p95 of the row's span durations against the budget.
fn perf<'a>(g: &Group<'a>, budget: Option<f64>) -> Component<'a> {
    let (Some(b), Some(p)) = (budget, g.p95) else {
        return Component::zero();
    };
    let mut worst = g.spans.clone();
    worst.sort_by(|a, b| longest_first(a, b));
    Component {
        score: over_budget(p, b),
        worst,
    }
}

/// `REL-001`: the row's span error rate against the highest acceptable one.
fn rel<'a>(g: &Group<'a>, max: Option<f64>) -> Component<'a> {
    let (Some(m), Some(r)) = (max, g.error_rate) else {
        return Component::zero();
    };
    let mut worst: Vec<Fact> = g.spans.iter().copied().filter(|f| is_error(f)).collect();
    worst.sort_by(|a, b| longest_first(a, b));
    Component {
        score: clamp01((r - m) / m.max(0.01)),
        worst,
    }
}

/// `POL-001`: share of the row's traces lacking any one required policy.
fn pol<'a>(g: &Group<'a>, policies: Option<&[String]>, input: &Input<'a>) -> Component<'a> {
    let Some(required) = policies else {
        return Component::zero();
    };
    if g.traces.is_empty() {
        return Component::zero();
    }
    let bypassing: BTreeSet<&str> = g
        .traces
        .iter()
        .copied()
        .filter(|t| {
            let seen: BTreeSet<&str> = input
                .trace(t)
                .iter()
                .filter_map(|f| f.policy_id.as_deref())
                .collect();
            required.iter().any(|p| !seen.contains(p.as_str()))
        })
        .collect();
    let worst = g
        .spans
        .iter()
        .copied()
        .filter(|f| f.trace_id.as_deref().is_some_and(|t| bypassing.contains(t)))
        .collect();
    Component {
        score: bypassing.len() as f64 / g.traces.len() as f64,
        worst,
    }
}

/// `FLOW-001`: share of the row's spans from a service not expected (a
/// span without a service is not expected).
fn flow<'a>(g: &Group<'a>, services: Option<&[String]>) -> Component<'a> {
    let Some(services) = services else {
        return Component::zero();
    };
    if g.spans.is_empty() {
        return Component::zero();
    }
    let worst: Vec<Fact> = g
        .spans
        .iter()
        .copied()
        .filter(|f| {
            f.service
                .as_deref()
                .is_none_or(|s| !services.iter().any(|x| x == s))
        })
        .collect();
    Component {
        score: worst.len() as f64 / g.spans.len() as f64,
        worst,
    }
}

/// `FAN-001`: the most children of one row span against `max_fanout`.
fn fan<'a>(g: &Group<'a>, max: Option<f64>, input: &Input<'a>) -> Component<'a> {
    let Some(f) = max else {
        return Component::zero();
    };
    let mut counted: Vec<(usize, Fact)> =
        g.spans.iter().map(|&s| (input.children_of(s), s)).collect();
    let Some(c) = counted.iter().map(|(n, _)| *n).max() else {
        return Component::zero();
    };
    counted.sort_by(|(na, a), (nb, b)| nb.cmp(na).then_with(|| by_time(a, b)));
    Component {
        score: over_budget(c as f64, f),
        worst: counted.into_iter().map(|(_, s)| s).collect(),
    }
}

/// The error spans of `trace`'s storm groups: ≥ 3 spans with the same
/// parent (roots share the null parent) and name, at least one an error.
fn storm_errors<'a>(trace: &[Fact<'a>]) -> Vec<Fact<'a>> {
    let mut groups: BTreeMap<(Option<&str>, &str), Vec<Fact>> = BTreeMap::new();
    for &f in trace {
        if let Some(name) = f.name.as_deref() {
            groups
                .entry((f.parent_span_id.as_deref(), name))
                .or_default()
                .push(f);
        }
    }
    groups
        .into_values()
        .filter(|g| g.len() >= 3)
        .flat_map(|g| g.into_iter().filter(|f| is_error(f)))
        .collect()
}

/// `CON-001`: share of the row's traces holding a storm.
fn con<'a>(g: &Group<'a>, input: &Input<'a>) -> Component<'a> {
    if g.traces.is_empty() {
        return Component::zero();
    }
    let mut stormy = 0;
    let mut worst = Vec::new();
    for t in &g.traces {
        let errors = storm_errors(input.trace(t));
        if !errors.is_empty() {
            stormy += 1;
            worst.extend(errors);
        }
    }
    worst.sort_by(|a, b| by_time(a, b));
    Component {
        score: stormy as f64 / g.traces.len() as f64,
        worst,
    }
}

/// EWMA, α = 0.3, oldest to newest, seeded with the oldest value.
fn ewma(series: &[f64]) -> f64 {
    let mut it = series.iter();
    let first = it.next().copied().unwrap_or(0.0);
    it.fold(first, |base, &x| BASE_ALPHA * x + (1.0 - BASE_ALPHA) * base)
}

/// Population CV (sd/mean) of `values` is above 1.0 (only when mean > 0).
fn cv_exceeds(values: &[f64]) -> bool {
    let m = mean(values);
    m > 0.0 && pstdev(values) / m > BASE_MAX_CV
}

/// One `BASE-001` series: the shift of `cur` from the EWMA of `earlier`
/// (0 below 0.30), or 1 when the CV of earlier + current is above 1.0.
/// `floor`: the least divisor (error rate); `None`: p95 (base 0 → 0 or 1).
fn series_shift(earlier: &[f64], cur: f64, floor: Option<f64>) -> f64 {
    if earlier.is_empty() {
        return 0.0;
    }
    let mut all = earlier.to_vec();
    all.push(cur);
    if cv_exceeds(&all) {
        return 1.0;
    }
    let base = ewma(earlier);
    let shift = match floor {
        Some(fl) => (cur - base).abs() / base.max(fl),
        None if base == 0.0 => f64::from(u8::from(cur != 0.0)),
        None => (cur - base).abs() / base,
    };
    if shift < BASE_MIN_SHIFT {
        0.0
    } else {
        clamp01(shift)
    }
}

/// `BASE-001`: the row's p95 and error rate against the EWMA of the pair's
/// up to 7 most recent earlier windows with spans.
fn base<'a>(g: &Group<'a>, history: &[WindowStats]) -> Component<'a> {
    let Some(cur_err) = g.error_rate else {
        return Component::zero();
    };
    let recent = &history[history.len().saturating_sub(BASE_WINDOWS)..];
    if recent.is_empty() {
        return Component::zero();
    }
    let errs: Vec<f64> = recent.iter().map(|w| w.error_rate).collect();
    let p95s: Vec<f64> = recent.iter().filter_map(|w| w.p95).collect();
    let s_err = series_shift(&errs, cur_err, Some(0.01));
    let s_p95 = g.p95.map_or(0.0, |cur| series_shift(&p95s, cur, None));
    let mut worst = g.spans.clone();
    worst.sort_by(|a, b| longest_first(a, b));
    Component {
        score: clamp01(s_err.max(s_p95)),
        worst,
    }
}

/// `REG-001`: share of the row's evidence whose regime is not the node's.
fn reg<'a>(g: &Group<'a>, regime: Option<&str>) -> Component<'a> {
    let Some(regime) = regime else {
        return Component::zero();
    };
    if g.evidence.is_empty() {
        return Component::zero();
    }
    let worst: Vec<Fact> = g
        .evidence
        .iter()
        .copied()
        .filter(|f| f.regime_id.as_deref() != Some(regime))
        .collect();
    Component {
        score: worst.len() as f64 / g.evidence.len() as f64,
        worst,
    }
}
