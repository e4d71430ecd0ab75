//! Correlation: evidence rows → their best spec node
//! (spec/telemetry-correlation.md §4).
//!
//! [`RULES`] is the one rule table (ids, kinds, default weights);
//! [`CorrelationWeights`] holds the run's weights (the job file may override
//! any of them). [`CandidateIndex`] scores one evidence row against every
//! candidate node (flow, policy, concept) without scanning them all: it
//! looks candidates up by the keys each rule compares, and the result is the
//! brute-force definition's (a test checks that on random graphs and rows).
//! [`SpecCorrelateUdf`] is the DataFusion adapter, and [`correlation_batches`]
//! runs `sql/correlations.sql`.
//!
//! Pure: no I/O, no clock. Decisions where §4 is silent:
//! * `COR-102` reads the node's `flow`: a candidate without `flow` (in
//!   practice a policy or concept node) never holds it. A name, route or flow
//!   with no `[a-z0-9]` run has no tokens, and a Jaccard index over two empty
//!   sets is 0 (does not hold).
//! * `COR-002` with a node domain and a row without `context` does not hold;
//!   a node without domain holds for any context, absent included.
//! * A rule whose weight is overridden to 0 still "holds": it is listed in
//!   `rule_ids` and counts for the match type, contributing nothing.
//! * Values are compared as written (case-sensitive, no trimming).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
    StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, internal_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext as DfContext;
use serde::{Deserialize, Deserializer};

use super::model::{
    Correlation, CorrelationStatus, EvidenceKeys, MatchType, Signal, SpecGraph, SpecKind, SpecNode,
};

/// `sql/correlations.sql`. Not in `engine::sql::SQL_FILES`: that list's
/// tests plan every file against the session lake with only the built-in
/// UDFs, and this statement needs `evidence` and `spec_correlate`, which
/// exist only inside the telemetry stage.
pub const CORRELATIONS_SQL: &str = include_str!("../../sql/correlations.sql");

/// A rule's kind (§4 table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Exact key equality.
    Deterministic,
    /// Service membership or name similarity.
    Heuristic,
}

impl RuleKind {
    /// `deterministic` or `heuristic`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Deterministic => "deterministic",
            RuleKind::Heuristic => "heuristic",
        }
    }
}

/// One row of the §4 rule table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorrelationRule {
    /// `COR-001`, … (rule-id order is the table's order).
    pub id: &'static str,
    /// Its kind.
    pub kind: RuleKind,
    /// True when holding it makes the match `deterministic` (every
    /// deterministic rule but `COR-004`).
    pub decides_match: bool,
    /// The weight it contributes (for `COR-102`, multiplied by J).
    pub default_weight: f64,
    /// When it holds, in words (for docs and `--help`).
    pub holds_when: &'static str,
}

/// The rule table of §4, in rule-id order. The one place weights are written.
pub const RULES: [CorrelationRule; 6] = [
    CorrelationRule {
        id: "COR-001",
        kind: RuleKind::Deterministic,
        decides_match: true,
        default_weight: 0.95,
        holds_when: "context = node.domain and flow = node.flow (flow node)",
    },
    CorrelationRule {
        id: "COR-002",
        kind: RuleKind::Deterministic,
        decides_match: true,
        default_weight: 0.95,
        holds_when: "policy_id = node.policy, and node.domain absent or = context (policy node)",
    },
    CorrelationRule {
        id: "COR-003",
        kind: RuleKind::Deterministic,
        decides_match: true,
        default_weight: 0.60,
        holds_when: "context = node.domain and concept = node.concept (concept or flow node)",
    },
    CorrelationRule {
        id: "COR-004",
        kind: RuleKind::Deterministic,
        decides_match: false,
        default_weight: 0.30,
        holds_when: "regime_id = the node's regime",
    },
    CorrelationRule {
        id: "COR-101",
        kind: RuleKind::Heuristic,
        decides_match: false,
        default_weight: 0.35,
        holds_when: "service ∈ node.expect.services",
    },
    CorrelationRule {
        id: "COR-102",
        kind: RuleKind::Heuristic,
        decides_match: false,
        default_weight: 0.40,
        holds_when: "spans only: J = max(Jaccard(name, flow), Jaccard(http_route, flow)) ≥ 0.5 \
                     over lower-cased [a-z0-9]+ tokens; contributes weight × J",
    },
];

const COR_001: usize = 0;
const COR_002: usize = 1;
const COR_003: usize = 2;
const COR_004: usize = 3;
const COR_101: usize = 4;
const COR_102: usize = 5;

/// The lowest Jaccard index at which `COR-102` holds.
pub const COR_102_MIN_JACCARD: f64 = 0.5;

/// The weights of the [`RULES`] for one run: the table's defaults, or the job
/// file's overrides (a map of rule id → weight, e.g. `[correlation]`
/// `COR-003 = 0.7` or `cor_003 = 0.7`; unknown keys and weights outside
/// [0, 1] are errors).
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationWeights {
    weights: [f64; RULES.len()],
}

impl Default for CorrelationWeights {
    fn default() -> Self {
        CorrelationWeights {
            weights: RULES.map(|r| r.default_weight),
        }
    }
}

impl CorrelationWeights {
    /// The position of `key` (`COR-001` or `cor_001`, any case) in [`RULES`].
    fn position(key: &str) -> Option<usize> {
        let norm = key.trim().to_ascii_uppercase().replace('_', "-");
        RULES.iter().position(|r| r.id == norm)
    }

    /// The weight of rule `key` (`COR-001` or `cor_001`).
    pub fn get(&self, key: &str) -> Option<f64> {
        Self::position(key).map(|i| self.weights[i])
    }

    /// Override the weight of rule `key` (`COR-001` or `cor_001`).
    ///
    /// # Errors
    /// A message naming the key when it is not a rule id, or the value when
    /// it is not in [0, 1].
    pub fn set(&mut self, key: &str, value: f64) -> Result<(), String> {
        let Some(i) = Self::position(key) else {
            let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
            return Err(format!(
                "unknown correlation rule {key:?} (expected one of {})",
                ids.join(", ")
            ));
        };
        if !(0.0..=1.0).contains(&value) {
            return Err(format!(
                "weight of {} must be in [0, 1], got {value}",
                RULES[i].id
            ));
        }
        self.weights[i] = value;
        Ok(())
    }

    /// Every rule with its weight, in rule-id order.
    pub fn list(&self) -> impl Iterator<Item = (&'static CorrelationRule, f64)> + '_ {
        RULES.iter().zip(self.weights.iter().copied())
    }

    /// Weights as bits, for equality of UDF instances.
    fn key(&self) -> [u64; RULES.len()] {
        self.weights.map(f64::to_bits)
    }
}

impl<'de> Deserialize<'de> for CorrelationWeights {
    /// A map of rule id → weight; absent rules keep their default.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let given = std::collections::BTreeMap::<String, f64>::deserialize(d)?;
        let mut w = CorrelationWeights::default();
        for (k, v) in given {
            w.set(&k, v).map_err(serde::de::Error::custom)?;
        }
        Ok(w)
    }
}

/// The lower-cased maximal `[a-z0-9]+` runs of `s` (lower-case first, then
/// take runs), sorted and deduplicated.
pub fn tokens(s: &str) -> Vec<String> {
    let lower = s.to_lowercase();
    let mut out: Vec<String> = lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard index of two sorted, deduplicated token lists (0 when both are
/// empty).
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// One candidate node, with what the rules read.
#[derive(Debug)]
struct Candidate {
    id: String,
    kind: SpecKind,
    domain: Option<String>,
    concept: Option<String>,
    flow: Option<String>,
    policy: Option<String>,
    regime_id: Option<String>,
    services: Vec<String>,
    flow_tokens: Vec<String>,
}

impl Candidate {
    fn new(n: &SpecNode) -> Candidate {
        let mut services = n.expect.services.clone().unwrap_or_default();
        services.sort_unstable();
        services.dedup();
        Candidate {
            id: n.id.clone(),
            kind: n.kind,
            domain: n.domain.clone(),
            concept: n.concept.clone(),
            flow: n.flow.clone(),
            policy: n.policy.clone(),
            regime_id: n.regime_id.clone(),
            services,
            flow_tokens: n.flow.as_deref().map(tokens).unwrap_or_default(),
        }
    }
}

/// The evidence row's values the rules read, tokenised once.
struct Row<'a> {
    keys: &'a EvidenceKeys<'a>,
    /// Name and route tokens (spans only; empty otherwise).
    name_tokens: Vec<String>,
    route_tokens: Vec<String>,
}

impl<'a> Row<'a> {
    fn new(keys: &'a EvidenceKeys<'a>) -> Row<'a> {
        let span = keys.signal == Some(Signal::Span);
        let tok = |v: Option<&str>| v.filter(|_| span).map(tokens).unwrap_or_default();
        Row {
            keys,
            name_tokens: tok(keys.name),
            route_tokens: tok(keys.http_route),
        }
    }
}

/// The score of one node for one row: which rules hold (bit i = `RULES[i]`)
/// and the noisy-OR of their weights.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Score {
    node: usize,
    confidence: f64,
    rules: u8,
}

impl Score {
    /// True when `self` beats `other`: higher confidence, ties to the lower
    /// node (candidates are in id order, so the lower index is the lower id).
    fn beats(&self, other: &Score) -> bool {
        self.confidence > other.confidence
            || (self.confidence == other.confidence && self.node < other.node)
    }
}

/// Candidate ids by one key.
type Lookup = HashMap<String, Vec<usize>>;

/// The candidate nodes of a spec graph, indexed by the keys the rules
/// compare, with the run's weights.
#[derive(Debug)]
pub struct CandidateIndex {
    candidates: Vec<Candidate>,
    weights: CorrelationWeights,
    /// COR-001: flow nodes by domain, then flow.
    by_domain_flow: HashMap<String, Lookup>,
    /// COR-002: policy nodes by policy (domain checked when scoring).
    by_policy: Lookup,
    /// COR-003: concept and flow nodes by domain, then concept.
    by_domain_concept: HashMap<String, Lookup>,
    /// COR-004: candidates by regime, in id order.
    by_regime: Lookup,
    /// COR-101: candidates by expected service.
    by_service: Lookup,
    /// COR-102: candidates with a flow, by flow token.
    by_flow_token: Lookup,
}

fn push(map: &mut Lookup, key: &str, i: usize) {
    map.entry(key.to_owned()).or_default().push(i);
}

fn push2(map: &mut HashMap<String, Lookup>, a: &str, b: &str, i: usize) {
    push(map.entry(a.to_owned()).or_default(), b, i);
}

impl CandidateIndex {
    /// Index the flow, policy and concept nodes of `graph` (its node order is
    /// id order) for scoring with `weights`.
    pub fn new(graph: &SpecGraph, weights: CorrelationWeights) -> CandidateIndex {
        let candidates: Vec<Candidate> = graph.candidates().map(Candidate::new).collect();
        let mut ix = CandidateIndex {
            candidates: Vec::new(),
            weights,
            by_domain_flow: HashMap::new(),
            by_policy: HashMap::new(),
            by_domain_concept: HashMap::new(),
            by_regime: HashMap::new(),
            by_service: HashMap::new(),
            by_flow_token: HashMap::new(),
        };
        // Pushed in index order, so every list is sorted.
        for (i, c) in candidates.iter().enumerate() {
            if let (SpecKind::Flow, Some(d), Some(f)) = (c.kind, &c.domain, &c.flow) {
                push2(&mut ix.by_domain_flow, d, f, i);
            }
            if let (SpecKind::Policy, Some(p)) = (c.kind, &c.policy) {
                push(&mut ix.by_policy, p, i);
            }
            if let (SpecKind::Concept | SpecKind::Flow, Some(d), Some(k)) =
                (c.kind, &c.domain, &c.concept)
            {
                push2(&mut ix.by_domain_concept, d, k, i);
            }
            if let Some(r) = &c.regime_id {
                push(&mut ix.by_regime, r, i);
            }
            for s in &c.services {
                push(&mut ix.by_service, s, i);
            }
            for t in &c.flow_tokens {
                push(&mut ix.by_flow_token, t, i);
            }
        }
        ix.candidates = candidates;
        ix
    }

    /// The weights this index scores with.
    pub fn weights(&self) -> &CorrelationWeights {
        &self.weights
    }

    /// Number of candidate nodes.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// True when the graph has no candidate node.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The correlation of one evidence row (§4): `Correlation::none()` for a
    /// failed row or when no rule holds for any candidate.
    pub fn correlate(&self, keys: &EvidenceKeys<'_>, status: CorrelationStatus) -> Correlation {
        match self.best(keys, status) {
            None => Correlation::none(),
            Some(s) => Correlation {
                spec_node_id: Some(self.candidates[s.node].id.clone()),
                confidence: s.confidence,
                match_type: match_type(s.rules),
                rule_ids: rule_ids(s.rules).collect(),
            },
        }
    }

    /// The best node's score, `None` for a failed row or no rule holding.
    fn best(&self, keys: &EvidenceKeys<'_>, status: CorrelationStatus) -> Option<Score> {
        if status == CorrelationStatus::Failed {
            return None;
        }
        let row = Row::new(keys);
        // Every node for which a rule other than COR-004 can hold.
        let mut gathered: Vec<usize> = Vec::new();
        let mut extend = |list: Option<&Vec<usize>>| gathered.extend(list.into_iter().flatten());
        if let (Some(d), Some(f)) = (keys.context, keys.flow) {
            extend(self.by_domain_flow.get(d).and_then(|m| m.get(f)));
        }
        if let Some(p) = keys.policy_id {
            extend(self.by_policy.get(p));
        }
        if let (Some(d), Some(k)) = (keys.context, keys.concept) {
            extend(self.by_domain_concept.get(d).and_then(|m| m.get(k)));
        }
        if let Some(s) = keys.service {
            extend(self.by_service.get(s));
        }
        for t in row.name_tokens.iter().chain(&row.route_tokens) {
            extend(self.by_flow_token.get(t));
        }
        gathered.sort_unstable();
        gathered.dedup();
        let mut best: Option<Score> = None;
        let mut consider = |s: Option<Score>| {
            if let Some(s) = s {
                if best.is_none_or(|b| s.beats(&b)) {
                    best = Some(s);
                }
            }
        };
        for &i in &gathered {
            consider(self.score(i, &row));
        }
        // The other nodes of the row's regime hold COR-004 alone, so they
        // tie: only the lowest id among them can win.
        if let Some(list) = keys.regime_id.and_then(|r| self.by_regime.get(r)) {
            let first = list.iter().find(|i| gathered.binary_search(i).is_err());
            consider(first.and_then(|&i| self.score(i, &row)));
        }
        best
    }

    /// Score candidate `i` against `row` by the §4 definition; `None` when
    /// no rule holds.
    fn score(&self, i: usize, row: &Row<'_>) -> Option<Score> {
        let c = &self.candidates[i];
        let k = row.keys;
        let eq = |a: Option<&str>, b: &Option<String>| a.is_some() && a == b.as_deref();
        let mut holds = [false; RULES.len()];
        holds[COR_001] =
            c.kind == SpecKind::Flow && eq(k.context, &c.domain) && eq(k.flow, &c.flow);
        holds[COR_002] = c.kind == SpecKind::Policy
            && eq(k.policy_id, &c.policy)
            && (c.domain.is_none() || eq(k.context, &c.domain));
        holds[COR_003] = matches!(c.kind, SpecKind::Concept | SpecKind::Flow)
            && eq(k.context, &c.domain)
            && eq(k.concept, &c.concept);
        holds[COR_004] = eq(k.regime_id, &c.regime_id);
        holds[COR_101] = k
            .service
            .is_some_and(|s| c.services.binary_search_by(|x| x.as_str().cmp(s)).is_ok());
        let j = if c.flow.is_some() {
            jaccard(&row.name_tokens, &c.flow_tokens)
                .max(jaccard(&row.route_tokens, &c.flow_tokens))
        } else {
            0.0
        };
        holds[COR_102] = j >= COR_102_MIN_JACCARD;
        if !holds.contains(&true) {
            return None;
        }
        // Noisy-OR, multiplied in rule-id order (§4).
        let mut keep = 1.0_f64;
        let mut rules = 0u8;
        for (r, &h) in holds.iter().enumerate() {
            if h {
                let w = self.weights.weights[r];
                let w = if r == COR_102 { w * j } else { w };
                keep *= 1.0 - w;
                rules |= 1 << r;
            }
        }
        Some(Score {
            node: i,
            confidence: 1.0 - keep,
            rules,
        })
    }
}

/// The match type of a rule set (bit i = `RULES[i]`).
fn match_type(rules: u8) -> MatchType {
    if rules == 0 {
        MatchType::None
    } else if RULES
        .iter()
        .enumerate()
        .any(|(i, r)| r.decides_match && rules & (1 << i) != 0)
    {
        MatchType::Deterministic
    } else {
        MatchType::Heuristic
    }
}

/// The ids of a rule set, in rule-id order.
fn rule_ids(rules: u8) -> impl Iterator<Item = &'static str> {
    RULES
        .iter()
        .enumerate()
        .filter(move |(i, _)| rules & (1 << i) != 0)
        .map(|(_, r)| r.id)
}

// ---------------------------------------------------------------------------
// The UDF

/// `spec_correlate(signal, context, concept, regime_id, flow, policy_id,
/// service, name, http_route, correlation_status)`: the §4 correlation of an
/// evidence row against the run's spec graph, as
/// `{spec_node_id, confidence, match_type, rule_ids}`.
///
/// Arguments are strings (Utf8; Utf8View, LargeUtf8 and NULL are cast). A
/// NULL or unknown `signal` reads as not a span; a NULL or unknown
/// `correlation_status` is an execution error (the decoder always writes
/// one).
#[derive(Debug)]
pub struct SpecCorrelateUdf {
    signature: Signature,
    index: Arc<CandidateIndex>,
}

impl SpecCorrelateUdf {
    /// The function over `index`.
    pub fn new(index: Arc<CandidateIndex>) -> Self {
        SpecCorrelateUdf {
            signature: Signature::user_defined(Volatility::Immutable),
            index,
        }
    }

    /// The output struct's fields, in `correlations` column order.
    pub fn fields() -> Fields {
        Fields::from(vec![
            Field::new("spec_node_id", DataType::Utf8, true),
            Field::new("confidence", DataType::Float64, false),
            Field::new("match_type", DataType::Utf8, false),
            Field::new(
                "rule_ids",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                false,
            ),
        ])
    }
}

/// Two instances are equal when they score with the same index object and
/// weights (DataFusion compares UDFs when deduplicating plans).
impl PartialEq for SpecCorrelateUdf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.index, &other.index)
    }
}

impl Eq for SpecCorrelateUdf {}

impl std::hash::Hash for SpecCorrelateUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.index) as usize).hash(state);
        self.index.weights.key().hash(state);
    }
}

/// The argument names, in order.
const ARGS: [&str; 10] = [
    "signal",
    "context",
    "concept",
    "regime_id",
    "flow",
    "policy_id",
    "service",
    "name",
    "http_route",
    "correlation_status",
];

impl ScalarUDFImpl for SpecCorrelateUdf {
    fn name(&self) -> &str {
        "spec_correlate"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != ARGS.len() {
            return plan_err!(
                "spec_correlate({}) takes {} arguments, got {}",
                ARGS.join(", "),
                ARGS.len(),
                arg_types.len()
            );
        }
        for (t, name) in arg_types.iter().zip(ARGS) {
            if !matches!(
                t,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
            ) {
                return plan_err!("spec_correlate: {name} must be a string, got {t}");
            }
        }
        Ok(vec![DataType::Utf8; ARGS.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::engine::udf::invoke_rowwise(&args.args, |arrays| correlate_rows(&self.index, arrays))
    }
}

/// The §4 correlation of every row of `evidence` (a batch holding the
/// evidence columns named in `ARGS`), row for row: the columns of the
/// `spec_correlate` struct (`spec_node_id`, `confidence`, `match_type`,
/// `rule_ids`). It is the UDF's own kernel, called without the engine, so
/// the telemetry stage scores its in-memory evidence exactly as
/// `sql/correlations.sql` would.
///
/// # Errors
/// A missing argument column, one that is not a string, or a
/// `correlation_status` other than ok, partial or failed.
pub fn correlate_batch(index: &CandidateIndex, evidence: &RecordBatch) -> Result<StructArray> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(ARGS.len());
    for name in ARGS {
        let Some(col) = evidence.column_by_name(name) else {
            return exec_err!("spec_correlate: the evidence has no {name} column");
        };
        let col = match col.data_type() {
            DataType::Utf8 => Arc::clone(col),
            DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => {
                datafusion::arrow::compute::cast(col, &DataType::Utf8)?
            }
            t => return exec_err!("spec_correlate: {name} must be a string, got {t}"),
        };
        arrays.push(col);
    }
    let out = correlate_rows(index, &arrays)?;
    match out.as_any().downcast_ref::<StructArray>() {
        Some(s) => Ok(s.clone()),
        None => internal_err!("spec_correlate: the kernel did not build a struct"),
    }
}

/// What a row's correlation depends on: failed, span, and its context,
/// concept, regime, flow, policy, service, and (spans) name and route.
type MemoKey<'a> = (bool, bool, [Option<&'a str>; 8]);

/// The per-batch work: downcast once, score each row, build the struct.
fn correlate_rows(index: &CandidateIndex, arrays: &[ArrayRef]) -> Result<ArrayRef> {
    let cols: Vec<&StringArray> = arrays
        .iter()
        .filter_map(|a| a.as_string_opt::<i32>())
        .collect();
    let [signal, context, concept, regime, flow, policy, service, name, route, status] =
        cols.as_slice()
    else {
        return internal_err!("spec_correlate: arguments not coerced to 10 Utf8 arrays");
    };
    fn get(a: &StringArray, i: usize) -> Option<&str> {
        (!a.is_null(i)).then(|| a.value(i))
    }
    let n = signal.len();
    let mut node = StringBuilder::with_capacity(n, n * 24);
    let mut confidence = Float64Builder::with_capacity(n);
    let mut match_ty = StringBuilder::with_capacity(n, n * 12);
    let mut rules = ListBuilder::new(StringBuilder::new());
    // Rows repeat their keys (a service's spans name the same few flows),
    // and a row's correlation depends on its keys alone: each distinct key
    // set is scored once per batch. A non-span row's name and route take
    // no part (COR-102 is for spans), so they are left out of its key.
    let mut memo: rustc_hash::FxHashMap<MemoKey<'_>, Option<Score>> = Default::default();
    for i in 0..n {
        let Some(st) = get(status, i).and_then(CorrelationStatus::parse) else {
            return exec_err!(
                "spec_correlate: correlation_status must be ok, partial or failed, got {:?}",
                get(status, i)
            );
        };
        let keys = EvidenceKeys {
            signal: get(signal, i).and_then(Signal::parse),
            context: get(context, i),
            concept: get(concept, i),
            regime_id: get(regime, i),
            flow: get(flow, i),
            policy_id: get(policy, i),
            service: get(service, i),
            name: get(name, i),
            http_route: get(route, i),
        };
        let span = keys.signal == Some(Signal::Span);
        let key: MemoKey<'_> = (
            st == CorrelationStatus::Failed,
            span,
            [
                keys.context,
                keys.concept,
                keys.regime_id,
                keys.flow,
                keys.policy_id,
                keys.service,
                keys.name.filter(|_| span),
                keys.http_route.filter(|_| span),
            ],
        );
        let best = *memo.entry(key).or_insert_with(|| index.best(&keys, st));
        match best {
            Some(s) => {
                node.append_value(&index.candidates[s.node].id);
                confidence.append_value(s.confidence);
                match_ty.append_value(match_type(s.rules).as_str());
                for id in rule_ids(s.rules) {
                    rules.values().append_value(id);
                }
            }
            None => {
                node.append_null();
                confidence.append_value(0.0);
                match_ty.append_value(MatchType::None.as_str());
            }
        }
        rules.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(node.finish()),
        Arc::new(confidence.finish()),
        Arc::new(match_ty.finish()),
        Arc::new(rules.finish()),
    ];
    Ok(Arc::new(StructArray::try_new(
        SpecCorrelateUdf::fields(),
        columns,
        None,
    )?))
}

/// Register `spec_correlate` over `index` (replacing an earlier one).
pub fn register(ctx: &DfContext, index: Arc<CandidateIndex>) {
    ctx.register_udf(ScalarUDF::from(SpecCorrelateUdf::new(index)));
}

/// Run `sql/correlations.sql` against the registered `evidence` table (and
/// `spec_correlate`, see [`register`]): columns `evidence_id`,
/// `spec_node_id`, `confidence`, `match_type`, `rule_ids`, by evidence_id.
///
/// # Errors
/// DataFusion's error (no `evidence` table, no `spec_correlate`, a bad
/// `correlation_status`).
pub async fn correlation_batches(ctx: &DfContext) -> crate::engine::Result<Vec<RecordBatch>> {
    crate::engine::context::run_statement(ctx, CORRELATIONS_SQL, &Default::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::model::Expect;
    use crate::telemetry::specs::load_manifests;
    use datafusion::arrow::array::{Float64Array, StringViewArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;

    fn graph(yaml_nodes: &str) -> SpecGraph {
        let text = format!("version: 1\nnodes:\n{yaml_nodes}");
        load_manifests(&[("specs/t.yaml".to_owned(), text.as_bytes())]).expect("valid manifest")
    }

    fn index(yaml_nodes: &str) -> CandidateIndex {
        CandidateIndex::new(&graph(yaml_nodes), CorrelationWeights::default())
    }

    fn ok(ix: &CandidateIndex, keys: EvidenceKeys<'_>) -> Correlation {
        ix.correlate(&keys, CorrelationStatus::Ok)
    }

    /// 1 − Π(1 − w) in the order given.
    fn noisy_or(ws: &[f64]) -> f64 {
        1.0 - ws.iter().fold(1.0, |keep, w| keep * (1.0 - w))
    }

    fn span<'a>() -> EvidenceKeys<'a> {
        EvidenceKeys {
            signal: Some(Signal::Span),
            ..EvidenceKeys::default()
        }
    }

    const FLOW: &str =
        "  - {id: F, kind: flow, domain: commerce, concept: Order, flow: place_order}\n";

    #[test]
    fn cor_001_holds_on_domain_and_flow_of_a_flow_node() {
        let ix = index(FLOW);
        let c = ok(
            &ix,
            EvidenceKeys {
                context: Some("commerce"),
                flow: Some("place_order"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c.spec_node_id.as_deref(), Some("F"));
        assert_eq!(c.rule_ids, ["COR-001"]);
        assert_eq!(c.match_type, MatchType::Deterministic);
        assert_eq!(c.confidence, noisy_or(&[0.95]));
        for (ctx, flow) in [("billing", "place_order"), ("commerce", "place_Order")] {
            let c = ok(
                &ix,
                EvidenceKeys {
                    context: Some(ctx),
                    flow: Some(flow),
                    ..EvidenceKeys::default()
                },
            );
            assert_eq!(c, Correlation::none(), "{ctx} {flow}");
        }
        // A concept node carrying a flow is not a flow node.
        let ix = index(
            "  - {id: C, kind: concept, domain: commerce, concept: Order, flow: place_order}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                context: Some("commerce"),
                flow: Some("place_order"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c, Correlation::none());
    }

    #[test]
    fn cor_002_policy_node_domain_absent_or_equal() {
        let ix = index(
            "  - {id: P1, kind: policy, policy: auth_required}\n  - {id: P2, kind: policy, domain: commerce, policy: mfa}\n",
        );
        let keys = |ctx, pol| EvidenceKeys {
            context: ctx,
            policy_id: Some(pol),
            ..EvidenceKeys::default()
        };
        for ctx in [None, Some("commerce"), Some("other")] {
            let c = ok(&ix, keys(ctx, "auth_required"));
            assert_eq!(c.spec_node_id.as_deref(), Some("P1"), "{ctx:?}");
            assert_eq!(c.rule_ids, ["COR-002"]);
            assert_eq!(c.match_type, MatchType::Deterministic);
        }
        assert_eq!(
            ok(&ix, keys(Some("commerce"), "mfa"))
                .spec_node_id
                .as_deref(),
            Some("P2")
        );
        assert_eq!(
            ok(&ix, keys(Some("billing"), "mfa")),
            Correlation::none(),
            "other domain"
        );
        assert_eq!(
            ok(&ix, keys(None, "mfa")),
            Correlation::none(),
            "no context"
        );
        // A flow node with the same `policy` is not a policy node.
        let ix = index("  - {id: F, kind: flow, flow: f, policy: mfa}\n");
        assert_eq!(ok(&ix, keys(None, "mfa")), Correlation::none());
    }

    #[test]
    fn cor_003_concept_or_flow_node_not_policy() {
        let ix = index(
            "  - {id: A, kind: policy, domain: commerce, concept: Order, policy: p}\n  - {id: B, kind: concept, domain: commerce, concept: Order}\n  - {id: C, kind: flow, domain: commerce, concept: Order, flow: f}\n",
        );
        let keys = EvidenceKeys {
            context: Some("commerce"),
            concept: Some("Order"),
            ..EvidenceKeys::default()
        };
        let c = ok(&ix, keys);
        // B and C tie (COR-003 only); A is not eligible.
        assert_eq!(c.spec_node_id.as_deref(), Some("B"));
        assert_eq!(c.rule_ids, ["COR-003"]);
        assert_eq!(c.confidence, noisy_or(&[0.60]));
        assert_eq!(c.match_type, MatchType::Deterministic);
        let wrong_ctx = EvidenceKeys {
            context: Some("billing"),
            ..keys
        };
        assert_eq!(ok(&ix, wrong_ctx), Correlation::none());
        let ix = index("  - {id: C, kind: flow, concept: Order, flow: f}\n");
        assert_eq!(ok(&ix, keys), Correlation::none(), "node without domain");
    }

    #[test]
    fn cor_004_alone_is_heuristic() {
        let ix = index(
            "  - {id: Z, kind: concept, concept: x, regime_id: r1}\n  - {id: Y, kind: policy, policy: y, regime_id: r1}\n  - {id: X, kind: policy, policy: y, regime_id: r2}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                regime_id: Some("r1"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(
            c.spec_node_id.as_deref(),
            Some("Y"),
            "lowest id of the regime"
        );
        assert_eq!(c.rule_ids, ["COR-004"]);
        assert_eq!(c.match_type, MatchType::Heuristic);
        assert_eq!(c.confidence, noisy_or(&[0.30]));
        let none = ok(
            &ix,
            EvidenceKeys {
                regime_id: Some("r3"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(none, Correlation::none());
    }

    #[test]
    fn manifest_regime_counts_for_cor_004() {
        let text = "version: 1\nregime_id: r9\nnodes:\n  - {id: C, kind: concept, concept: x}\n";
        let g = load_manifests(&[("s.yaml".to_owned(), text.as_bytes())]).expect("valid");
        let ix = CandidateIndex::new(&g, CorrelationWeights::default());
        let c = ok(
            &ix,
            EvidenceKeys {
                regime_id: Some("r9"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c.rule_ids, ["COR-004"]);
    }

    #[test]
    fn cor_101_service_in_expected_services() {
        let ix = index(
            "  - {id: C, kind: concept, concept: x, expect: {services: [checkout, payments]}}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                service: Some("payments"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c.spec_node_id.as_deref(), Some("C"));
        assert_eq!(c.rule_ids, ["COR-101"]);
        assert_eq!(c.match_type, MatchType::Heuristic);
        assert_eq!(c.confidence, noisy_or(&[0.35]));
        let c = ok(
            &ix,
            EvidenceKeys {
                service: Some("Payments"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c, Correlation::none());
    }

    #[test]
    fn cor_102_jaccard_edge() {
        let ix = index(FLOW);
        // {place} vs {order, place}: J = 1/2 exactly: holds, 0.40 × 0.5.
        let c = ok(
            &ix,
            EvidenceKeys {
                name: Some("PLACE"),
                ..span()
            },
        );
        assert_eq!(c.rule_ids, ["COR-102"]);
        assert_eq!(c.match_type, MatchType::Heuristic);
        assert_eq!(c.confidence, noisy_or(&[0.40 * 0.5]));
        // Just below: 4/9.
        let ix2 = index("  - {id: G, kind: flow, flow: a.b.c.d.e.f.g}\n");
        assert_eq!(
            jaccard(&tokens("a b c d x y"), &tokens("a.b.c.d.e.f.g")),
            4.0 / 9.0
        );
        let c = ok(
            &ix2,
            EvidenceKeys {
                name: Some("a b c d x y"),
                ..span()
            },
        );
        assert_eq!(c, Correlation::none());
        // The route counts too; the better of the two is J.
        let c = ok(
            &ix,
            EvidenceKeys {
                name: Some("zzz"),
                http_route: Some("/api/place-order"),
                ..span()
            },
        );
        assert_eq!(c.confidence, noisy_or(&[0.40 * (2.0 / 3.0)]));
        // Spans only.
        let log = EvidenceKeys {
            signal: Some(Signal::Log),
            name: Some("place_order"),
            ..EvidenceKeys::default()
        };
        assert_eq!(ok(&ix, log), Correlation::none());
        let unknown = EvidenceKeys {
            signal: None,
            ..log
        };
        assert_eq!(ok(&ix, unknown), Correlation::none());
    }

    #[test]
    fn cor_102_never_holds_without_a_flow() {
        let ix = index("  - {id: C, kind: concept, concept: place_order}\n");
        let c = ok(
            &ix,
            EvidenceKeys {
                name: Some("place_order"),
                ..span()
            },
        );
        assert_eq!(c, Correlation::none());
        // A policy node with a flow field is scored on it.
        let ix = index("  - {id: P, kind: policy, policy: p, flow: place_order}\n");
        let c = ok(
            &ix,
            EvidenceKeys {
                name: Some("place_order"),
                ..span()
            },
        );
        assert_eq!(c.rule_ids, ["COR-102"]);
    }

    #[test]
    fn tokens_lower_case_first_then_runs() {
        assert_eq!(
            tokens("POST /api/v2/Place-Order"),
            ["api", "order", "place", "post", "v2"]
        );
        // U+212A KELVIN SIGN lower-cases to ASCII `k`, so it joins the run.
        assert_eq!(tokens("\u{212A}ey_\u{e9}t\u{e9}"), ["key", "t"]);
        assert!(tokens("--- /").is_empty());
        assert_eq!(jaccard(&[], &[]), 0.0);
    }

    #[test]
    fn noisy_or_by_hand_in_rule_id_order() {
        let ix = index(
            "  - {id: F, kind: flow, domain: commerce, concept: Order, flow: place_order, regime_id: r, expect: {services: [checkout]}}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                context: Some("commerce"),
                concept: Some("Order"),
                flow: Some("place_order"),
                regime_id: Some("r"),
                service: Some("checkout"),
                name: Some("place order"),
                ..span()
            },
        );
        assert_eq!(
            c.rule_ids,
            ["COR-001", "COR-003", "COR-004", "COR-101", "COR-102"]
        );
        let keep = (1.0 - 0.95) * (1.0 - 0.60) * (1.0 - 0.30) * (1.0 - 0.35) * (1.0 - 0.40 * 1.0);
        assert_eq!(c.confidence.to_bits(), (1.0_f64 - keep).to_bits());
        assert_eq!(c.match_type, MatchType::Deterministic);
    }

    #[test]
    fn ties_go_to_the_lowest_id() {
        let ix = index(
            "  - {id: N-2, kind: concept, domain: d, concept: c}\n  - {id: N-10, kind: concept, domain: d, concept: c}\n  - {id: N-1, kind: concept, domain: d, concept: c}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                context: Some("d"),
                concept: Some("c"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c.spec_node_id.as_deref(), Some("N-1"));
    }

    #[test]
    fn higher_confidence_beats_lower_id() {
        let ix = index(
            "  - {id: A, kind: concept, domain: d, concept: c}\n  - {id: B, kind: flow, domain: d, concept: c, flow: f}\n",
        );
        let c = ok(
            &ix,
            EvidenceKeys {
                context: Some("d"),
                concept: Some("c"),
                flow: Some("f"),
                ..EvidenceKeys::default()
            },
        );
        assert_eq!(c.spec_node_id.as_deref(), Some("B"));
        assert_eq!(c.confidence, noisy_or(&[0.95, 0.60]));
    }

    #[test]
    fn failed_rows_get_none_and_partial_rows_are_scored() {
        let ix = index(FLOW);
        let keys = EvidenceKeys {
            context: Some("commerce"),
            concept: Some("Order"),
            ..EvidenceKeys::default()
        };
        assert_eq!(
            ix.correlate(&keys, CorrelationStatus::Failed),
            Correlation::none()
        );
        let c = ix.correlate(&keys, CorrelationStatus::Partial);
        assert_eq!(c.rule_ids, ["COR-003"]);
    }

    #[test]
    fn weight_override_changes_the_result() {
        let nodes = "  - {id: A, kind: concept, domain: d, concept: c}\n  - {id: B, kind: policy, policy: p, expect: {services: [s]}}\n";
        let keys = EvidenceKeys {
            context: Some("d"),
            concept: Some("c"),
            service: Some("s"),
            ..EvidenceKeys::default()
        };
        let c = ok(&index(nodes), keys);
        assert_eq!(c.spec_node_id.as_deref(), Some("A"));
        let mut w = CorrelationWeights::default();
        w.set("cor_003", 0.2).expect("valid");
        let c = ok(&CandidateIndex::new(&graph(nodes), w), keys);
        assert_eq!(c.spec_node_id.as_deref(), Some("B"));
        assert_eq!(c.confidence, noisy_or(&[0.35]));
        assert_eq!(c.match_type, MatchType::Heuristic);
        let mut w = CorrelationWeights::default();
        w.set("COR-102", 0.8).expect("valid");
        let ix = CandidateIndex::new(&graph(FLOW), w);
        let c = ok(
            &ix,
            EvidenceKeys {
                name: Some("place"),
                ..span()
            },
        );
        assert_eq!(c.confidence, noisy_or(&[0.8 * 0.5]));
    }

    #[test]
    fn weights_table_set_get_list_and_deserialize() {
        let w = CorrelationWeights::default();
        let listed: Vec<(&str, f64)> = w.list().map(|(r, v)| (r.id, v)).collect();
        assert_eq!(
            listed,
            [
                ("COR-001", 0.95),
                ("COR-002", 0.95),
                ("COR-003", 0.60),
                ("COR-004", 0.30),
                ("COR-101", 0.35),
                ("COR-102", 0.40)
            ]
        );
        let mut w = CorrelationWeights::default();
        w.set("COR-004", 0.0).expect("0 is allowed");
        w.set("cor_101", 1.0).expect("1 is allowed");
        assert_eq!(w.get("cor-004"), Some(0.0));
        assert_eq!(w.get("COR_101"), Some(1.0));
        let e = w.set("COR-005", 0.5).expect_err("unknown");
        assert!(e.contains("COR-005"), "{e}");
        for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
            let e = w.set("COR-001", bad).expect_err("out of range");
            assert!(e.contains("COR-001"), "{e}");
        }
        let parsed: CorrelationWeights =
            toml::from_str("cor_003 = 0.7\n\"COR-101\" = 0.1\n").expect("toml");
        assert_eq!(parsed.get("COR-003"), Some(0.7));
        assert_eq!(parsed.get("COR-101"), Some(0.1));
        assert_eq!(parsed.get("COR-001"), Some(0.95));
        let e = toml::from_str::<CorrelationWeights>("cor_009 = 0.7\n").expect_err("unknown");
        assert!(e.to_string().contains("cor_009"), "{e}");
    }

    // -----------------------------------------------------------------------
    // Index == brute force

    /// The §4 definition, written out without the index.
    fn brute_force(
        g: &SpecGraph,
        w: &CorrelationWeights,
        k: &EvidenceKeys<'_>,
        status: CorrelationStatus,
    ) -> Correlation {
        if status == CorrelationStatus::Failed {
            return Correlation::none();
        }
        let ws: Vec<f64> = w.list().map(|(_, v)| v).collect();
        let same = |a: Option<&str>, b: &Option<String>| a.is_some() && a == b.as_deref();
        let mut best: Option<(f64, &str, Vec<&'static str>)> = None;
        for n in g.candidates() {
            let mut held: Vec<(&'static str, f64)> = Vec::new();
            if n.kind == SpecKind::Flow && same(k.context, &n.domain) && same(k.flow, &n.flow) {
                held.push(("COR-001", ws[0]));
            }
            if n.kind == SpecKind::Policy
                && same(k.policy_id, &n.policy)
                && (n.domain.is_none() || same(k.context, &n.domain))
            {
                held.push(("COR-002", ws[1]));
            }
            if matches!(n.kind, SpecKind::Concept | SpecKind::Flow)
                && same(k.context, &n.domain)
                && same(k.concept, &n.concept)
            {
                held.push(("COR-003", ws[2]));
            }
            if same(k.regime_id, &n.regime_id) {
                held.push(("COR-004", ws[3]));
            }
            let services = n.expect.services.clone().unwrap_or_default();
            if k.service.is_some_and(|s| services.iter().any(|x| x == s)) {
                held.push(("COR-101", ws[4]));
            }
            if let (Some(Signal::Span), Some(flow)) = (k.signal, &n.flow) {
                let ft = tokens(flow);
                let j = [k.name, k.http_route]
                    .iter()
                    .map(|v| v.map_or(0.0, |v| jaccard(&tokens(v), &ft)))
                    .fold(0.0, f64::max);
                if j >= 0.5 {
                    held.push(("COR-102", ws[5] * j));
                }
            }
            if held.is_empty() {
                continue;
            }
            let conf = 1.0 - held.iter().fold(1.0, |keep, (_, w)| keep * (1.0 - w));
            let ids: Vec<&'static str> = held.iter().map(|(id, _)| *id).collect();
            // Candidates come in id order: only a strictly higher score wins.
            if best.as_ref().is_none_or(|(b, _, _)| conf > *b) {
                best = Some((conf, &n.id, ids));
            }
        }
        match best {
            None => Correlation::none(),
            Some((confidence, id, rule_ids)) => Correlation {
                spec_node_id: Some(id.to_owned()),
                confidence,
                match_type: if rule_ids
                    .iter()
                    .any(|r| ["COR-001", "COR-002", "COR-003"].contains(r))
                {
                    MatchType::Deterministic
                } else {
                    MatchType::Heuristic
                },
                rule_ids,
            },
        }
    }

    /// xorshift64*: a fixed-seed generator, so the test is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
        fn maybe<'a>(&mut self, xs: &[&'a str]) -> Option<&'a str> {
            (!self.next().is_multiple_of(4)).then(|| self.pick(xs))
        }
    }

    const DOMAINS: &[&str] = &["commerce", "billing", "auth"];
    const CONCEPTS: &[&str] = &["Order", "Invoice", "User"];
    const FLOWS: &[&str] = &[
        "place_order",
        "order",
        "refund-order",
        "login",
        "place.item",
        "a_b_c",
    ];
    const POLICIES: &[&str] = &["auth_required", "mfa", "rate_limit"];
    const REGIMES: &[&str] = &["r1", "r2"];
    const SERVICES: &[&str] = &["checkout", "payments", "gateway"];
    const NAMES: &[&str] = &[
        "place order",
        "POST /order",
        "login",
        "Refund",
        "a b",
        "x",
        "ORDER place now",
    ];

    fn random_graph(rng: &mut Rng, n: usize) -> SpecGraph {
        let kinds = [
            SpecKind::Flow,
            SpecKind::Policy,
            SpecKind::Concept,
            SpecKind::Adr,
        ];
        let mut nodes: Vec<SpecNode> = (0..n)
            .map(|i| {
                let kind = kinds[(rng.next() % 4) as usize];
                let services = (!rng.next().is_multiple_of(3)).then(|| {
                    (0..rng.next() % 3)
                        .map(|_| rng.pick(SERVICES).to_owned())
                        .collect()
                });
                SpecNode {
                    id: format!("N{:03}", rng.next() % 1000 * 1000 + i as u64),
                    kind,
                    title: None,
                    domain: rng.maybe(DOMAINS).map(str::to_owned),
                    concept: rng.maybe(CONCEPTS).map(str::to_owned),
                    flow: rng.maybe(FLOWS).map(str::to_owned),
                    policy: rng.maybe(POLICIES).map(str::to_owned),
                    regime_id: rng.maybe(REGIMES).map(str::to_owned),
                    derives_from: Vec::new(),
                    expect: Expect {
                        services,
                        ..Expect::default()
                    },
                    source: "gen".into(),
                    content_hash: String::new(),
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        SpecGraph { nodes }
    }

    #[test]
    fn index_equals_brute_force_on_random_graphs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let signals = [
            Some(Signal::Span),
            Some(Signal::Log),
            Some(Signal::Metric),
            None,
        ];
        let statuses = [
            CorrelationStatus::Ok,
            CorrelationStatus::Partial,
            CorrelationStatus::Failed,
        ];
        let mut matched = 0;
        for round in 0..8 {
            let g = random_graph(&mut rng, 5 + round * 6);
            let mut w = CorrelationWeights::default();
            if round % 2 == 1 {
                // Overrides, ties included (equal weights, a zero weight).
                w.set("COR-001", 0.6).expect("valid");
                w.set("COR-004", 0.0).expect("valid");
                w.set("COR-101", 0.6).expect("valid");
            }
            let ix = CandidateIndex::new(&g, w.clone());
            for _ in 0..100 {
                let keys = EvidenceKeys {
                    signal: signals[(rng.next() % 4) as usize],
                    context: rng.maybe(DOMAINS),
                    concept: rng.maybe(CONCEPTS),
                    regime_id: rng.maybe(REGIMES),
                    flow: rng.maybe(FLOWS),
                    policy_id: rng.maybe(POLICIES),
                    service: rng.maybe(SERVICES),
                    name: rng.maybe(NAMES),
                    http_route: rng.maybe(&["/api/place-order", "/login", "/v1/a/b"]),
                };
                let status = statuses[(rng.next() % 3) as usize];
                let want = brute_force(&g, &w, &keys, status);
                let got = ix.correlate(&keys, status);
                assert_eq!(got, want, "round {round}: {keys:?}");
                assert_eq!(got.confidence.to_bits(), want.confidence.to_bits());
                matched += usize::from(got.spec_node_id.is_some());
            }
        }
        assert!(
            matched > 200,
            "the generator must produce matches ({matched})"
        );
    }

    // -----------------------------------------------------------------------
    // The UDF and the SQL file

    type EvRow = (&'static str, [Option<&'static str>; 10]);

    fn evidence_rows() -> Vec<EvRow> {
        vec![
            (
                "e3",
                [
                    Some("span"),
                    Some("commerce"),
                    Some("Order"),
                    Some("r"),
                    Some("place_order"),
                    None,
                    Some("checkout"),
                    Some("place order"),
                    None,
                    Some("ok"),
                ],
            ),
            (
                "e1",
                [
                    Some("log"),
                    Some("commerce"),
                    Some("Order"),
                    Some("r"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some("partial"),
                ],
            ),
            (
                "e2",
                [
                    Some("span"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some("failed"),
                ],
            ),
            (
                "e5",
                [
                    Some("metric"),
                    Some("x"),
                    Some("y"),
                    Some("zz"),
                    None,
                    Some("mfa"),
                    None,
                    None,
                    None,
                    Some("ok"),
                ],
            ),
            (
                "e4",
                [
                    Some("span"),
                    Some("auth"),
                    Some("User"),
                    Some("r"),
                    None,
                    Some("mfa"),
                    Some("gateway"),
                    Some("zzz"),
                    Some("/api/PLACE-order"),
                    Some("ok"),
                ],
            ),
        ]
    }

    const UDF_NODES: &str = "  - {id: F, kind: flow, domain: commerce, concept: Order, flow: place_order, regime_id: r, expect: {services: [checkout]}}\n  - {id: P, kind: policy, domain: auth, policy: mfa}\n  - {id: C, kind: concept, domain: commerce, concept: Order}\n";

    fn evidence_table() -> MemTable {
        let batch = evidence_batch();
        MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("memtable")
    }

    fn evidence_batch() -> RecordBatch {
        let rows = evidence_rows();
        let mut fields = vec![Field::new("evidence_id", DataType::Utf8, false)];
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0),
        ))];
        for (c, name) in ARGS.iter().enumerate() {
            let values = rows.iter().map(|r| r.1[c]);
            // `name` as Utf8View: the UDF casts it.
            if *name == "name" {
                fields.push(Field::new(*name, DataType::Utf8View, true));
                cols.push(Arc::new(values.collect::<StringViewArray>()));
            } else {
                fields.push(Field::new(*name, DataType::Utf8, true));
                cols.push(Arc::new(values.collect::<StringArray>()));
            }
        }
        // The evidence columns the SQL carries on for behavior_summary.
        let n = rows.len();
        for name in ["date", "trace_id", "span_id", "parent_span_id", "status"] {
            fields.push(Field::new(name, DataType::Utf8, true));
            cols.push(Arc::new(StringArray::from(vec![None::<&str>; n])));
        }
        fields.push(Field::new(
            "timestamp",
            DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Microsecond,
                Some("UTC".into()),
            ),
            false,
        ));
        cols.push(Arc::new(
            datafusion::arrow::array::TimestampMicrosecondArray::from(vec![0i64; n])
                .with_timezone("UTC"),
        ));
        fields.push(Field::new("duration_ms", DataType::Float64, true));
        cols.push(Arc::new(Float64Array::from(vec![None; n])));
        let schema = Arc::new(Schema::new(fields));
        RecordBatch::try_new(schema, cols).expect("batch")
    }

    #[tokio::test]
    async fn correlate_batch_gives_what_the_sql_file_gives() {
        let ix = Arc::new(index(UDF_NODES));
        let ctx = DfContext::new();
        register(&ctx, ix.clone());
        ctx.register_table("evidence", Arc::new(evidence_table()))
            .expect("register");
        let sql = correlation_batches(&ctx).await.expect("runs");
        let batch = evidence_batch();
        let direct = correlate_batch(&ix, &batch).expect("scores");
        assert_eq!(direct.len(), batch.num_rows());
        // The SQL sorts by evidence_id; the kernel keeps the batch's order.
        let ids = batch.column(0).as_string::<i32>();
        let mut want = Vec::new();
        for b in &sql {
            for r in 0..b.num_rows() {
                let cols: Vec<String> = (1..5)
                    .map(|c| {
                        datafusion::arrow::util::display::array_value_to_string(b.column(c), r)
                            .expect("shown")
                    })
                    .collect();
                want.push((b.column(0).as_string::<i32>().value(r).to_owned(), cols));
            }
        }
        let mut got = Vec::new();
        for r in 0..direct.len() {
            let cols: Vec<String> = (0..4)
                .map(|c| {
                    datafusion::arrow::util::display::array_value_to_string(direct.column(c), r)
                        .expect("shown")
                })
                .collect();
            got.push((ids.value(r).to_owned(), cols));
        }
        got.sort();
        want.sort();
        assert!(!got.is_empty());
        assert_eq!(got, want);
        assert!(
            got.iter().any(|(_, c)| c[2] == "deterministic"),
            "the fixture reaches a deterministic match"
        );
    }

    #[test]
    fn correlate_batch_rejects_a_non_string_argument() {
        let ix = index(UDF_NODES);
        let batch = evidence_batch();
        let i = batch.schema().index_of("context").expect("context");
        let mut cols = batch.columns().to_vec();
        cols[i] = Arc::new(Float64Array::from(vec![1.0; batch.num_rows()]));
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[i] = Field::new("context", DataType::Float64, true);
        let bad = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("batch");
        let err = correlate_batch(&ix, &bad).expect_err("a float context");
        assert!(
            err.to_string().contains("context must be a string"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sql_file_gives_what_correlate_gives() {
        let ix = Arc::new(index(UDF_NODES));
        let ctx = DfContext::new();
        register(&ctx, ix.clone());
        ctx.register_table("evidence", Arc::new(evidence_table()))
            .expect("register");
        let batches = correlation_batches(&ctx).await.expect("runs");
        let names: Vec<String> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names[..5],
            [
                "evidence_id",
                "spec_node_id",
                "confidence",
                "match_type",
                "rule_ids"
            ]
        );
        let mut got = Vec::new();
        for b in &batches {
            let id = b.column(0).as_string::<i32>();
            let node = b.column(1).as_string::<i32>();
            let conf = b
                .column(2)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("f64");
            let mt = b.column(3).as_string::<i32>();
            let rules = b.column(4).as_list::<i32>();
            for r in 0..b.num_rows() {
                let ids: Vec<String> = rules
                    .value(r)
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.expect("id").to_owned())
                    .collect();
                got.push((
                    id.value(r).to_owned(),
                    (!node.is_null(r)).then(|| node.value(r).to_owned()),
                    conf.value(r).to_bits(),
                    mt.value(r).to_owned(),
                    ids,
                ));
            }
        }
        let mut want: Vec<_> = evidence_rows()
            .into_iter()
            .map(|(id, v)| {
                let keys = EvidenceKeys {
                    signal: v[0].and_then(Signal::parse),
                    context: v[1],
                    concept: v[2],
                    regime_id: v[3],
                    flow: v[4],
                    policy_id: v[5],
                    service: v[6],
                    name: v[7],
                    http_route: v[8],
                };
                let status = v[9].and_then(CorrelationStatus::parse).expect("status");
                let c = ix.correlate(&keys, status);
                (
                    id.to_owned(),
                    c.spec_node_id,
                    c.confidence.to_bits(),
                    c.match_type.as_str().to_owned(),
                    c.rule_ids
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
        // And the rows say what §4 says.
        let by_id = |id: &str| got.iter().find(|r| r.0 == id).expect("row").clone();
        assert_eq!(by_id("e2").1, None, "failed");
        assert_eq!(by_id("e2").3, "none");
        assert_eq!(
            by_id("e1").1.as_deref(),
            Some("F"),
            "COR-003 + COR-004 beats C's COR-003"
        );
        assert_eq!(
            by_id("e3").4,
            ["COR-001", "COR-003", "COR-004", "COR-101", "COR-102"]
        );
        assert_eq!(by_id("e4").1.as_deref(), Some("P"));
        assert_eq!(by_id("e5").1, None, "P's domain is auth, the row's x");
    }

    #[tokio::test]
    async fn scalar_arguments_give_a_scalar() {
        let ctx = DfContext::new();
        register(&ctx, Arc::new(index(UDF_NODES)));
        let b = ctx
            .sql("SELECT spec_correlate('log', 'commerce', 'Order', 'r', NULL, NULL, NULL, NULL, NULL, 'ok') AS c")
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let s = b[0].column(0).as_struct();
        assert_eq!(s.column(0).as_string::<i32>().value(0), "F");
        let bad = ctx
            .sql("SELECT spec_correlate('log', 'c', 'o', 'r', NULL, NULL, NULL, NULL, NULL, 'nope') AS c")
            .await
            .expect("plans")
            .collect()
            .await;
        assert!(bad.is_err());
    }
}
