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
    id_sort_key, CorrelationStatus, EvidenceFact, Expect, MatchType, RuleFinding, Signal,
    SpanStatus, SpecGraph, SpecKind, SpecNode, StaleRef, SummaryRow,
};
use crate::drift::event::{level_cap, level_of, DriftType, Level, StaleKind};
use crate::extract::behave::numeric::{fsum, pstdev};
use crate::model::schema::{behavior_summary_schema, DAY_US};

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
/// (context, spec node).
type NodeKey<'a> = (&'a str, &'a str);
/// (context, spec node, window start): one summary row's evidence.
type GroupKey<'a> = (&'a str, &'a str, i64);
/// One window of a (context, node) pair: its start and its evidence.
type Window<'a> = (i64, Vec<Fact<'a>>);

/// Summarise `facts` (any order; failed ones are ignored) against `graph`.
pub fn summarize(facts: &[EvidenceFact], graph: &SpecGraph) -> Summary {
    // By time: (timestamp, evidence_id) is unique (ids are), so an
    // unstable sort gives the one order there is. The sort compares keys
    // held beside the references (the time and the id's first 16 bytes as
    // two big-endian integers, which order as the bytes do), and the whole
    // ids only when those tie.
    let mut keyed: Vec<(i64, u64, u64, Fact)> = facts
        .iter()
        .filter(|f| f.correlation_status != CorrelationStatus::Failed)
        .map(|f| {
            let (hi, lo) = id_sort_key(&f.evidence_id);
            (f.timestamp_us, hi, lo, f)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| a.3.evidence_id.cmp(&b.3.evidence_id))
    });
    let live: Vec<Fact> = keyed.into_iter().map(|k| k.3).collect();
    let input = Input::new(&live);
    let known = Known::new(graph);

    // Keyed (context, node, window): one pair's windows are adjacent and
    // ascending, which BASE-001 walks.
    // Gathered in hash maps (one lookup per fact), then put in key order:
    // the same groups in the same order as ordered maps would give.
    let mut node_groups: rustc_hash::FxHashMap<GroupKey, Vec<Fact>> = Default::default();
    let mut no_match: rustc_hash::FxHashMap<(i64, &str), Vec<Fact>> = Default::default();
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

    // One (context, node) pair's windows in order (BASE-001 walks them);
    // the pairs are independent, so they are summarised in parallel.
    let mut node_groups: Vec<(GroupKey, Vec<Fact>)> = node_groups.into_iter().collect();
    node_groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut no_match: Vec<((i64, &str), Vec<Fact>)> = no_match.into_iter().collect();
    no_match.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut pairs: Vec<(NodeKey, Vec<Window>)> = Vec::new();
    for ((ctx, node_id, w), evidence) in node_groups {
        match pairs.last_mut() {
            Some((p, windows)) if *p == (ctx, node_id) => windows.push((w, evidence)),
            _ => pairs.push(((ctx, node_id), vec![(w, evidence)])),
        }
    }
    let mut rows: Vec<SummaryRow> = {
        use rayon::prelude::*;
        pairs
            .into_par_iter()
            .flat_map_iter(|((ctx, node_id), windows)| {
                let mut history: Vec<WindowStats> = Vec::new();
                let mut out = Vec::with_capacity(windows.len());
                for (w, evidence) in windows {
                    let group = Group::new(evidence);
                    out.push(node_row(
                        ctx,
                        node_id,
                        w,
                        &group,
                        graph.node(node_id),
                        &input,
                        &history,
                    ));
                    if let Some(error_rate) = group.error_rate {
                        history.push(WindowStats {
                            p95: group.p95,
                            error_rate,
                        });
                    }
                }
                out
            })
            .collect()
    };
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
/// Lookups only (never iterated), so hashed: output order never depends on
/// them.
struct Input<'a> {
    traces: rustc_hash::FxHashMap<&'a str, Vec<Fact<'a>>>,
    children: rustc_hash::FxHashMap<(&'a str, &'a str), usize>,
}

impl<'a> Input<'a> {
    fn new(live: &[Fact<'a>]) -> Input<'a> {
        let mut traces: rustc_hash::FxHashMap<&str, Vec<Fact>> = Default::default();
        let mut children: rustc_hash::FxHashMap<(&str, &str), usize> = Default::default();
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
    /// (domain, flow) of flow nodes (lookups only).
    flows: rustc_hash::FxHashSet<(&'a str, &'a str)>,
    /// (domain, policy) of policy nodes (lookups only).
    policies: rustc_hash::FxHashSet<(Option<&'a str>, &'a str)>,
}

impl<'a> Known<'a> {
    fn new(graph: &'a SpecGraph) -> Known<'a> {
        let mut flows = rustc_hash::FxHashSet::default();
        let mut policies = rustc_hash::FxHashSet::default();
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_000_000; // one second into day 0

    /// A span of node `N` in context `shop`, day 0, confidence 1, regime r1.
    fn span(id: &str) -> EvidenceFact {
        EvidenceFact {
            evidence_id: id.into(),
            signal: Signal::Span,
            trace_id: Some(format!("t-{id}")),
            span_id: Some(format!("s-{id}")),
            parent_span_id: None,
            timestamp_us: T0,
            duration_ms: Some(10.0),
            service: Some("checkout".into()),
            name: Some(format!("op-{id}").into()),
            status: Some(SpanStatus::Ok),
            context: Some("shop".into()),
            regime_id: Some("r1".into()),
            flow: None,
            policy_id: None,
            correlation_status: CorrelationStatus::Ok,
            spec_node_id: Some("N".into()),
            confidence: 1.0,
            match_type: MatchType::Deterministic,
        }
    }

    fn with(id: &str, f: impl FnOnce(&mut EvidenceFact)) -> EvidenceFact {
        let mut e = span(id);
        f(&mut e);
        e
    }

    fn node(id: &str, kind: SpecKind, expect: Expect) -> SpecNode {
        SpecNode {
            id: id.into(),
            kind,
            title: None,
            domain: Some("shop".into()),
            concept: None,
            flow: None,
            policy: None,
            regime_id: None,
            derives_from: Vec::new(),
            expect,
            source: "specs/m.yaml".into(),
            content_hash: String::new(),
        }
    }

    fn graph(mut nodes: Vec<SpecNode>) -> SpecGraph {
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        SpecGraph { nodes }
    }

    fn graph_n(expect: Expect) -> SpecGraph {
        graph(vec![node("N", SpecKind::Flow, expect)])
    }

    /// The row of node `id` in window `day`.
    fn row<'a>(s: &'a Summary, id: &str, day: i64) -> &'a SummaryRow {
        s.rows
            .iter()
            .find(|r| r.spec_node_id.as_deref() == Some(id) && r.window_start_us == day * DAY_US)
            .expect("row present")
    }

    fn score(s: &Summary, rule: &str) -> f64 {
        row(s, "N", 0).rule_scores[rule]
    }

    fn ids_of(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    fn finding<'a>(r: &'a SummaryRow, rule: &str) -> &'a RuleFinding {
        r.findings
            .iter()
            .find(|f| f.rule_id == rule)
            .expect("finding")
    }

    #[test]
    fn p95_interpolates_hand_values() {
        assert_eq!(p95(&[]), None);
        assert_eq!(p95(&[7.0]), Some(7.0));
        // h = 0.95: 10 + 0.95·10
        assert!((p95(&[10.0, 20.0]).unwrap() - 19.5).abs() < 1e-12);
        // n = 20: h = 18.05 → 19 + 0.05·(20 − 19)
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert!((p95(&v).unwrap() - 19.05).abs() < 1e-9);
        // n = 21: h = 19 exactly → x[19]
        let v: Vec<f64> = (1..=21).map(f64::from).collect();
        assert_eq!(p95(&v), Some(20.0));
    }

    fn perf_summary(durations: &[f64], budget: f64) -> Summary {
        let facts: Vec<_> = durations
            .iter()
            .enumerate()
            .map(|(i, d)| with(&format!("e{i:02}"), |e| e.duration_ms = Some(*d)))
            .collect();
        let g = graph_n(Expect {
            latency_p95_ms: Some(budget),
            ..Expect::default()
        });
        summarize(&facts, &g)
    }

    #[test]
    fn perf_at_budget_scores_zero() {
        assert_eq!(score(&perf_summary(&[100.0], 100.0), "PERF-001"), 0.0);
        assert_eq!(score(&perf_summary(&[50.0, 80.0], 100.0), "PERF-001"), 0.0);
    }

    #[test]
    fn perf_triggers_at_exactly_point_two_and_not_below() {
        let s = perf_summary(&[120.0], 100.0);
        assert_eq!(score(&s, "PERF-001"), 0.20);
        assert_eq!(row(&s, "N", 0).triggered_rules, vec!["PERF-001"]);
        assert_eq!(row(&s, "N", 0).drift_level, Level::Low);
        let s = perf_summary(&[119.99999], 100.0);
        assert!(score(&s, "PERF-001") > 0.19);
        assert!(row(&s, "N", 0).triggered_rules.is_empty());
        assert_eq!(row(&s, "N", 0).drift_level, Level::None);
    }

    #[test]
    fn perf_uses_interpolated_p95_and_clamps() {
        // p95 of [100, 300] = 290 → (290 − 100)/100 clamped to 1.
        assert_eq!(
            score(&perf_summary(&[100.0, 300.0], 100.0), "PERF-001"),
            1.0
        );
        // p95 of [100, 200] = 195 → 0.95.
        let s = score(&perf_summary(&[100.0, 200.0], 100.0), "PERF-001");
        assert!((s - 0.95).abs() < 1e-12);
    }

    #[test]
    fn absent_expect_fields_score_zero() {
        let facts = vec![with("a", |e| {
            e.duration_ms = Some(1e9);
            e.status = Some(SpanStatus::Error);
            e.service = None;
        })];
        let s = summarize(&facts, &graph_n(Expect::default()));
        for rule in [
            "PERF-001", "REL-001", "POL-001", "FLOW-001", "FAN-001", "REG-001",
        ] {
            assert_eq!(score(&s, rule), 0.0, "{rule}");
        }
        assert_eq!(row(&s, "N", 0).rule_scores.len(), 8);
    }

    fn rel_summary(errors: usize, total: usize, max: f64) -> Summary {
        let facts: Vec<_> = (0..total)
            .map(|i| {
                with(&format!("e{i:02}"), |e| {
                    e.duration_ms = Some(i as f64);
                    if i < errors {
                        e.status = Some(SpanStatus::Error);
                    }
                })
            })
            .collect();
        summarize(
            &facts,
            &graph_n(Expect {
                error_rate_max: Some(max),
                ..Expect::default()
            }),
        )
    }

    #[test]
    fn rel_at_max_scores_zero_above_scores() {
        assert_eq!(score(&rel_summary(1, 4, 0.25), "REL-001"), 0.0);
        assert_eq!(score(&rel_summary(0, 4, 0.0), "REL-001"), 0.0);
        assert_eq!(score(&rel_summary(3, 4, 0.5), "REL-001"), 0.5);
        assert_eq!(score(&rel_summary(1, 4, 0.125), "REL-001"), 1.0);
        // m below 0.01 divides by 0.01: (0.25 − 0)/0.01 clamped.
        assert_eq!(score(&rel_summary(1, 4, 0.0), "REL-001"), 1.0);
    }

    #[test]
    fn rel_worst_is_error_spans_longest_first() {
        let s = rel_summary(3, 4, 0.5);
        let f = finding(row(&s, "N", 0), "REL-001");
        assert_eq!(ids_of(&f.evidence_refs), ["e02", "e01", "e00"]);
        assert_eq!(f.episode_id, "t-e02");
        assert_eq!(f.drift_type, DriftType::Outcome);
    }

    #[test]
    fn pol_judges_whole_traces_across_windows_and_correlations() {
        let pol = |id: &str, trace: &str, p: &str| {
            with(id, |e| {
                e.trace_id = Some(trace.into());
                e.policy_id = Some(p.into());
            })
        };
        let facts = vec![
            // A: auth on another day and node, audit on a match-none span.
            with("a1", |e| e.trace_id = Some("A".into())),
            with("a2", |e| {
                e.trace_id = Some("A".into());
                e.policy_id = Some("auth".into());
                e.timestamp_us = DAY_US + T0;
                e.spec_node_id = Some("M".into());
            }),
            with("a3", |e| {
                e.trace_id = Some("A".into());
                e.policy_id = Some("audit".into());
                e.match_type = MatchType::None;
                e.spec_node_id = None;
                e.context = Some("other".into());
            }),
            // B: lacks audit.
            pol("b1", "B", "auth"),
            // C: audit only on a failed span.
            pol("c1", "C", "auth"),
            with("c2", |e| {
                e.trace_id = Some("C".into());
                e.policy_id = Some("audit".into());
                e.correlation_status = CorrelationStatus::Failed;
            }),
            // D: audit only on a log.
            pol("d1", "D", "auth"),
            with("d2", |e| {
                e.signal = Signal::Log;
                e.trace_id = Some("D".into());
                e.policy_id = Some("audit".into());
                e.spec_node_id = Some("M".into());
            }),
        ];
        let g = graph_n(Expect {
            policies: Some(vec!["auth".into(), "audit".into()]),
            ..Expect::default()
        });
        let s = summarize(&facts, &g);
        assert_eq!(score(&s, "POL-001"), 0.75);
        let f = finding(row(&s, "N", 0), "POL-001");
        assert_eq!(ids_of(&f.evidence_refs), ["b1", "c1", "d1"]);
        assert_eq!(f.episode_id, "B");
        assert_eq!(f.drift_type, DriftType::Bypass);
    }

    #[test]
    fn flow_counts_null_service_as_unexpected() {
        let facts = vec![
            span("a"),
            with("b", |e| e.service = Some("evil".into())),
            with("c", |e| e.service = Some("evil".into())),
            with("d", |e| e.service = Some("evil".into())),
            with("e", |e| e.service = None),
        ];
        let g = graph_n(Expect {
            services: Some(vec!["checkout".into()]),
            ..Expect::default()
        });
        let s = summarize(&facts, &g);
        let r = row(&s, "N", 0);
        assert_eq!(r.rule_scores["FLOW-001"], 0.8);
        assert_eq!(r.drift_level, Level::Medium);
        assert_eq!(
            ids_of(&finding(r, "FLOW-001").evidence_refs),
            ["b", "c", "d", "e"]
        );
        let s = summarize(&facts[..1], &g);
        assert_eq!(score(&s, "FLOW-001"), 0.0);
    }

    fn fan_facts(children: usize) -> Vec<EvidenceFact> {
        let mut facts = vec![
            with("p", |e| e.trace_id = Some("T".into())),
            with("q", |e| e.trace_id = Some("T2".into())),
        ];
        for i in 0..children {
            facts.push(with(&format!("c{i}"), |e| {
                e.trace_id = Some("T".into());
                e.parent_span_id = Some("s-p".into());
                // Children from other correlations and days count.
                e.spec_node_id = Some("M".into());
                e.timestamp_us = i as i64 * DAY_US + T0;
            }));
        }
        // A failed child and a child in another trace do not count.
        facts.push(with("x", |e| {
            e.trace_id = Some("T".into());
            e.parent_span_id = Some("s-p".into());
            e.correlation_status = CorrelationStatus::Failed;
        }));
        facts.push(with("y", |e| {
            e.trace_id = Some("T9".into());
            e.parent_span_id = Some("s-p".into());
        }));
        facts
    }

    #[test]
    fn fan_at_max_scores_zero_above_scores() {
        let g = graph_n(Expect {
            max_fanout: Some(2.0),
            ..Expect::default()
        });
        assert_eq!(score(&summarize(&fan_facts(2), &g), "FAN-001"), 0.0);
        let s = summarize(&fan_facts(3), &g);
        assert_eq!(score(&s, "FAN-001"), 0.5);
        let f = finding(row(&s, "N", 0), "FAN-001");
        assert_eq!(f.evidence_refs[0], "p");
        assert_eq!(f.episode_id, "T");
        assert_eq!(f.drift_type, DriftType::Fanout);
    }

    /// `n` spans of trace T with one parent and one name, `errors` of them errors.
    fn con_facts(n: usize, errors: usize, parent: Option<&str>) -> Vec<EvidenceFact> {
        let mut facts: Vec<_> = (0..n)
            .map(|i| {
                with(&format!("r{i}"), |e| {
                    e.trace_id = Some("T".into());
                    e.parent_span_id = parent.map(String::from);
                    e.name = Some("charge".into());
                    e.timestamp_us = T0 + i as i64;
                    if i < errors {
                        e.status = Some(SpanStatus::Error);
                    }
                    // Only the first is the row's; the others are the trace's.
                    if i > 0 {
                        e.spec_node_id = Some("M".into());
                        e.timestamp_us += DAY_US;
                    }
                })
            })
            .collect();
        facts.push(with("other", |e| e.trace_id = Some("U".into())));
        facts
    }

    #[test]
    fn con_needs_three_same_parent_same_name_and_an_error() {
        let g = graph_n(Expect::default());
        assert_eq!(
            score(&summarize(&con_facts(2, 2, None), &g), "CON-001"),
            0.0
        );
        assert_eq!(
            score(&summarize(&con_facts(3, 0, None), &g), "CON-001"),
            0.0
        );
        // Roots share the null parent: a storm in T, none in U.
        let s = summarize(&con_facts(3, 1, None), &g);
        assert_eq!(score(&s, "CON-001"), 0.5);
        let f = finding(row(&s, "N", 0), "CON-001");
        assert_eq!(ids_of(&f.evidence_refs), ["r0"]);
        assert_eq!(f.drift_type, DriftType::Contention);
        let s = summarize(&con_facts(4, 2, Some("s-z")), &g);
        assert_eq!(score(&s, "CON-001"), 0.5);
        assert_eq!(
            ids_of(&finding(row(&s, "N", 0), "CON-001").evidence_refs),
            ["r0", "r1"]
        );
        // Different names are different groups.
        let mut facts = con_facts(3, 1, None);
        facts[2].name = Some("refund".into());
        assert_eq!(score(&summarize(&facts, &g), "CON-001"), 0.0);
    }

    /// Per day, (span count, errors, duration of each span).
    fn base_summary(days: &[(usize, usize, f64)]) -> Summary {
        let mut facts = Vec::new();
        for (d, &(n, errors, dur)) in days.iter().enumerate() {
            for i in 0..n {
                facts.push(with(&format!("d{d}-{i:03}"), |e| {
                    e.timestamp_us = d as i64 * DAY_US + T0;
                    e.duration_ms = Some(dur);
                    if i < errors {
                        e.status = Some(SpanStatus::Error);
                    }
                }));
            }
        }
        summarize(&facts, &graph_n(Expect::default()))
    }

    fn base_at(s: &Summary, day: i64) -> f64 {
        row(s, "N", day).rule_scores["BASE-001"]
    }

    #[test]
    fn base_without_earlier_windows_scores_zero() {
        let s = base_summary(&[(1, 0, 100.0)]);
        assert_eq!(base_at(&s, 0), 0.0);
    }

    #[test]
    fn base_shift_of_exactly_point_three_counts() {
        let s = base_summary(&[(1, 0, 100.0), (1, 0, 130.0)]);
        assert_eq!(base_at(&s, 1), 0.30);
        assert_eq!(row(&s, "N", 1).triggered_rules, vec!["BASE-001"]);
        let s = base_summary(&[(1, 0, 100.0), (1, 0, 129.99)]);
        assert_eq!(base_at(&s, 1), 0.0);
    }

    #[test]
    fn base_cv_of_exactly_one_does_not_fire_above_does() {
        // Error series [0, 0.002]: CV exactly 1; shift 0.002/0.01 < 0.30.
        let s = base_summary(&[(500, 0, 100.0), (500, 1, 100.0)]);
        assert_eq!(base_at(&s, 1), 0.0);
        // [0, 0, 0.002]: CV √2.
        let s = base_summary(&[(500, 0, 100.0), (500, 0, 100.0), (500, 1, 100.0)]);
        assert_eq!(base_at(&s, 2), 1.0);
    }

    #[test]
    fn base_uses_the_seven_most_recent_earlier_windows() {
        let mut days = vec![(1, 0, 10_000.0)];
        days.extend([(1, 0, 100.0); 8]);
        let s = base_summary(&days);
        assert_eq!(base_at(&s, 8), 0.0);
        // With the eighth-oldest in reach (day 7), it dominates.
        assert_eq!(base_at(&s, 7), 1.0);
    }

    #[test]
    fn base_series_edges() {
        assert!(!cv_exceeds(&[0.0, 2.0]));
        assert!(cv_exceeds(&[0.0, 0.0, 2.0]));
        assert!(!cv_exceeds(&[0.0, 0.0]));
        assert_eq!(series_shift(&[0.0], 0.0, None), 0.0);
        assert_eq!(series_shift(&[0.0], 5.0, None), 1.0);
        // Seeded with the oldest: 100, then 0.3·200 + 0.7·100 = 130.
        assert!((ewma(&[100.0, 200.0]) - 130.0).abs() < 1e-12);
        assert_eq!(series_shift(&[], 5.0, None), 0.0);
    }

    #[test]
    fn reg_counts_all_signals_and_null_regime() {
        let facts = vec![
            span("a"),
            with("b", |e| {
                e.signal = Signal::Log;
                e.regime_id = None;
            }),
            with("c", |e| {
                e.signal = Signal::Metric;
                e.regime_id = Some("r2".into());
            }),
            span("d"),
        ];
        let mut n = node("N", SpecKind::Flow, Expect::default());
        n.regime_id = Some("r1".into());
        let s = summarize(&facts, &graph(vec![n]));
        assert_eq!(score(&s, "REG-001"), 0.5);
        let f = finding(row(&s, "N", 0), "REG-001");
        assert_eq!(ids_of(&f.evidence_refs), ["b", "c"]);
        assert_eq!(f.drift_type, DriftType::Contradiction);
        // A node without a regime scores 0.
        let s = summarize(&facts, &graph_n(Expect::default()));
        assert_eq!(score(&s, "REG-001"), 0.0);
    }

    #[test]
    fn levels_and_gating_edges() {
        assert_eq!(gated(0.1999999, 1.0), Level::None);
        assert_eq!(gated(0.20, 1.0), Level::Low);
        assert_eq!(gated(0.50, 1.0), Level::Medium);
        assert_eq!(gated(0.80, 1.0), Level::Medium);
        assert_eq!(gated(0.8000001, 1.0), Level::High);
        assert_eq!(gated(1.0, 0.70), Level::High);
        assert_eq!(gated(1.0, 0.70 - 1e-10), Level::High);
        assert_eq!(gated(1.0, 0.6999), Level::Low);
        assert_eq!(gated(1.0, 0.30), Level::Low);
        assert_eq!(gated(1.0, 0.2999), Level::None);
    }

    #[test]
    fn row_level_is_gated_by_mean_confidence() {
        let run = |conf: &[f64], dur: f64| {
            let facts: Vec<_> = conf
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    with(&format!("e{i}"), |e| {
                        e.confidence = *c;
                        e.duration_ms = Some(dur);
                    })
                })
                .collect();
            let g = graph_n(Expect {
                latency_p95_ms: Some(1_000_000.0),
                ..Expect::default()
            });
            summarize(&facts, &g).rows[0].clone()
        };
        let high = 1_800_000.1; // (1800000.1 − 1e6)/1e6 ≈ 0.8000001
        let r = run(&[0.70 - 1e-10], high);
        assert_eq!(r.drift_level, Level::High);
        assert_eq!(r.findings[0].level, Level::High);
        let r = run(&[0.5, 0.9], high);
        assert!((r.confidence - 0.7).abs() < 1e-12);
        assert_eq!(r.drift_level, Level::High);
        assert_eq!(run(&[1.0], 1_800_000.0).drift_level, Level::Medium);
        assert_eq!(run(&[0.6999], high).drift_level, Level::Low);
        assert_eq!(run(&[0.30], high).drift_level, Level::Low);
        let r = run(&[0.2999], high);
        assert_eq!(r.drift_level, Level::None);
        // The finding is kept, with level none.
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].level, Level::None);
    }

    #[test]
    fn findings_cap_refs_and_top_rule_gives_evidence_ref() {
        let facts: Vec<_> = (0..25)
            .map(|i| {
                with(&format!("e{i:02}"), |e| {
                    e.duration_ms = Some(1000.0 + i as f64);
                    e.service = Some("evil".into());
                    e.timestamp_us = T0 - i as i64;
                })
            })
            .collect();
        let g = graph_n(Expect {
            latency_p95_ms: Some(10.0),
            services: Some(vec!["checkout".into()]),
            ..Expect::default()
        });
        let s = summarize(&facts, &g);
        let r = row(&s, "N", 0);
        // PERF and FLOW both 1: the tie goes to rule order.
        assert_eq!(r.triggered_rules, vec!["PERF-001", "FLOW-001"]);
        let perf = finding(r, "PERF-001");
        assert_eq!(perf.evidence_refs.len(), 20);
        assert_eq!(perf.evidence_refs[0], "e24");
        assert_eq!(perf.episode_id, "t-e24");
        assert_eq!(r.evidence_ref.as_deref(), Some("e24"));
        // FLOW: by time (e24 is the earliest).
        assert_eq!(finding(r, "FLOW-001").evidence_refs[..2], ["e24", "e23"]);
        // Nothing triggered: the latest evidence.
        let s = summarize(&facts, &graph_n(Expect::default()));
        assert_eq!(row(&s, "N", 0).evidence_ref.as_deref(), Some("e00"));
        assert_eq!(row(&s, "N", 0).last_seen_at_us, T0);
        assert_eq!(row(&s, "N", 0).evidence_count, 25);
    }

    fn stale_case() -> (Vec<EvidenceFact>, SpecGraph) {
        let none = |e: &mut EvidenceFact| {
            e.match_type = MatchType::None;
            e.spec_node_id = None;
            e.confidence = 0.0;
        };
        let facts = vec![
            with("e1", |e| e.flow = Some("place_order".into())),
            with("e2", |e| {
                e.flow = Some("old_flow".into());
                e.confidence = 0.9;
            }),
            with("e3", |e| {
                none(e);
                e.policy_id = Some("audit".into());
                e.timestamp_us = T0 + 5;
            }),
            with("e4", none),
            with("e5", |e| e.policy_id = Some("auth".into())),
            with("e6", |e| {
                e.flow = Some("ghost".into());
                e.correlation_status = CorrelationStatus::Failed;
            }),
            with("e7", |e| {
                e.flow = Some("old_flow".into());
                e.timestamp_us = DAY_US + T0;
            }),
            with("e8", |e| {
                none(e);
                e.context = None;
            }),
        ];
        let mut f = node("F", SpecKind::Flow, Expect::default());
        f.flow = Some("place_order".into());
        let mut p = node("P", SpecKind::Policy, Expect::default());
        p.policy = Some("auth".into());
        p.domain = None;
        let mut q = node("Q", SpecKind::Policy, Expect::default());
        q.policy = Some("audit".into());
        q.domain = Some("other".into());
        let n = node("N", SpecKind::Flow, Expect::default());
        (facts, graph(vec![f, p, q, n]))
    }

    #[test]
    fn no_match_and_stale_rows() {
        let (facts, g) = stale_case();
        let s = summarize(&facts, &g);
        let keys: Vec<_> = s
            .rows
            .iter()
            .map(|r| {
                (
                    r.window_start_us / DAY_US,
                    r.spec_node_id.as_deref(),
                    r.evidence_count,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                (0, Some("N"), 3),
                (0, None, 3),
                (1, Some("N"), 1),
                (1, None, 1)
            ]
        );
        let nm = &s.rows[1];
        assert_eq!(nm.context, "shop");
        assert_eq!(nm.drift_score, 0.0);
        assert_eq!(nm.drift_level, Level::None);
        assert!(nm.triggered_rules.is_empty() && nm.rule_scores.is_empty());
        assert!(nm.findings.is_empty());
        assert!((nm.confidence - 0.3).abs() < 1e-12);
        assert_eq!(nm.evidence_ref.as_deref(), Some("e3"));
        assert_eq!(nm.last_seen_at_us, T0 + 5);
        let stale: Vec<_> = s
            .stale
            .iter()
            .map(|r| {
                (
                    r.window_start_us / DAY_US,
                    r.kind,
                    r.name.as_str(),
                    ids_of(&r.evidence_refs),
                    r.episode_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            stale,
            [
                (0, StaleKind::Flow, "old_flow", vec!["e2"], "t-e2"),
                (0, StaleKind::Policy, "audit", vec!["e3"], "t-e3"),
                (1, StaleKind::Flow, "old_flow", vec!["e7"], "t-e7"),
            ]
        );
        assert_eq!(s.stale[0].window_end_us, DAY_US);
    }

    fn everything() -> (Vec<EvidenceFact>, SpecGraph) {
        let (mut facts, _) = stale_case();
        facts.extend(fan_facts(3));
        facts.extend(con_facts(4, 2, Some("s-z")));
        for f in &mut facts {
            f.evidence_id = format!("{}-{}", f.evidence_id, f.timestamp_us);
        }
        let mut days = Vec::new();
        for (d, dur) in [100.0, 150.0, 90.0].into_iter().enumerate() {
            days.push(with(&format!("b{d}"), |e| {
                e.timestamp_us = d as i64 * DAY_US + 7;
                e.duration_ms = Some(dur);
                e.regime_id = None;
            }));
        }
        facts.extend(days);
        let g = graph(vec![
            node(
                "N",
                SpecKind::Flow,
                Expect {
                    services: Some(vec!["checkout".into()]),
                    latency_p95_ms: Some(50.0),
                    error_rate_max: Some(0.1),
                    policies: Some(vec!["auth".into()]),
                    max_fanout: Some(1.0),
                },
            ),
            node("M", SpecKind::Concept, Expect::default()),
        ]);
        (facts, g)
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let (facts, g) = everything();
        let want = summarize(&facts, &g);
        assert!(want.rows.len() >= 5);
        let mut rev = facts.clone();
        rev.reverse();
        assert_eq!(summarize(&rev, &g), want);
        let n = facts.len();
        let stride = (2..n).find(|k| gcd(*k, n) == 1).unwrap();
        let shuffled: Vec<_> = (0..n).map(|i| facts[(i * stride) % n].clone()).collect();
        assert_eq!(summarize(&shuffled, &g), want);
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn summary_batch_matches_the_schema() {
        let (facts, g) = everything();
        let s = summarize(&facts, &g);
        let b = summary_batch(&s.rows, 3, None, "run-1").unwrap();
        assert_eq!(b.schema(), behavior_summary_schema());
        assert_eq!(b.num_rows(), s.rows.len());
        use datafusion::arrow::array::{Array, AsArray};
        let scores = b.column(11).as_string::<i32>();
        let node_ids = b.column(1).as_string::<i32>();
        for (i, r) in s.rows.iter().enumerate() {
            let json = scores.value(i);
            if r.spec_node_id.is_none() {
                assert_eq!(json, "{}");
                assert!(node_ids.is_null(i));
                continue;
            }
            let keys: Vec<usize> = Rule::ALL
                .iter()
                .map(|rule| json.find(&format!("\"{}\"", rule.id())).unwrap())
                .collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{json}");
            let parsed: BTreeMap<String, f64> = serde_json::from_str(json).unwrap();
            assert_eq!(parsed, r.rule_scores);
            let list = b.column(10).as_list::<i32>().value(i);
            let got: Vec<&str> = list.as_string::<i32>().iter().flatten().collect();
            assert_eq!(got, r.triggered_rules);
        }
        assert_eq!(b.column(14).as_string::<i32>().value(0), "run-1");
        assert!(b.column(13).is_null(0));
        let empty = summary_batch(&[], 1, Some(5), "r").unwrap();
        assert_eq!(empty.num_rows(), 0);
    }

    #[test]
    fn rule_scores_json_keeps_rule_order() {
        let m: BTreeMap<String, f64> = [("REG-001", 0.5), ("PERF-001", 0.0), ("X-1", 1.0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            rule_scores_json(&m),
            r#"{"PERF-001":0.0,"REG-001":0.5,"X-1":1.0}"#
        );
    }

    #[test]
    fn failed_facts_take_no_part() {
        let facts = vec![
            span("a"),
            with("b", |e| e.correlation_status = CorrelationStatus::Failed),
        ];
        let s = summarize(&facts, &graph_n(Expect::default()));
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].evidence_count, 1);
    }
}
