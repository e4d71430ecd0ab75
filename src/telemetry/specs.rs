//! Spec manifests → the spec graph, `kg_nodes` and `kg_edges`
//! (spec/telemetry-correlation.md §3).
//!
//! Pure: the caller lists the `specs/` source and passes each object's URL
//! and bytes; nothing here touches the object store or the clock (the
//! caller passes `last_synced_at` and `run_id`).
//!
//! **Format.** `.yaml`/`.yml` is YAML and `.json` is JSON; any other name is
//! sniffed (first non-blank byte `{` → JSON, else YAML).
//!
//! **Validation** (every failure stops the job before anything is written,
//! §3: a bad spec must never silently drop correlations). A manifest is
//! rejected, naming its file, the node (its id, else its position) and the
//! line when the parser gives one, for: a parse failure; an unknown key at
//! any level (manifest, node, `expect`); `version` other than 1; an unknown
//! `kind`; an empty id; a candidate lacking the field its kind is matched
//! on (a `flow` node without `flow`, a `policy` node without `policy`, a
//! `concept` node without `concept`; an empty string counts as missing); an
//! `expect` number that is negative, NaN or infinite; an id used twice
//! (naming both files); a `derives_from` parent that no manifest defines; a
//! `derives_from` cycle (a node deriving from itself included).
//!
//! **Defaults.** A node without `regime_id` takes its manifest's.
//!
//! **Hashes.** `content_hash` is the sha256 hex of the node's canonical JSON:
//! keys sorted, compact, absent fields left out, after defaults (so the
//! inherited regime counts) and without `source` (the hash is the node's
//! content, not where it is written; moving a node to another file changes
//! only `kg_nodes.source`). [`graph_fingerprint`] hashes the sorted content
//! hashes, so it changes exactly when some node's content, or the node set,
//! does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Expect, SpecGraph, SpecKind, SpecNode};

/// The manifest `version` this loader reads.
pub const MANIFEST_VERSION: i64 = 1;

/// `kg_edges.edge` of a `derives_from` edge (child → parent).
pub const EDGE_DERIVES_FROM: &str = "derives_from";

/// `kg_edges.edge` of an `observed_behavior` edge (spec node → trace id).
pub const EDGE_OBSERVED_BEHAVIOR: &str = "observed_behavior";

/// Why the manifests were rejected (§3). Messages name the file, the node
/// and, when the parser gives one, the line; they never quote file content
/// beyond ids and key names.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    /// Not valid YAML/JSON, or a key of the wrong type or unknown.
    #[error("{file}{}{}: {message}", line_col(*line, *column), node_part(node.as_deref()))]
    Parse {
        /// The manifest's URL.
        file: String,
        /// The node being read (its id, else `#<position>`), when known.
        node: Option<String>,
        /// 1-based line, when the parser gives one.
        line: Option<usize>,
        /// 1-based column, when the parser gives one.
        column: Option<usize>,
        /// The parser's message (names the key for an unknown key).
        message: String,
    },
    /// `version` is not [`MANIFEST_VERSION`].
    #[error("{file}: unsupported manifest version {version} (this driftlake reads version 1)")]
    UnsupportedVersion {
        /// The manifest's URL.
        file: String,
        /// The version it declares.
        version: i64,
    },
    /// `kind` is not one of adr, prd, sds, flow, policy, concept.
    #[error("{file}: node {node}: unknown kind {kind:?} (expected adr, prd, sds, flow, policy or concept)")]
    UnknownKind {
        /// The manifest's URL.
        file: String,
        /// The node's id.
        node: String,
        /// The kind given.
        kind: String,
    },
    /// `id` is empty (or only blanks).
    #[error("{file}: node #{index}: empty id")]
    EmptyId {
        /// The manifest's URL.
        file: String,
        /// 1-based position of the node in the manifest's `nodes`.
        index: usize,
    },
    /// A candidate node lacks the field its kind is matched on.
    #[error("{file}: node {node}: a {kind} node needs a non-empty `{field}`")]
    MissingField {
        /// The manifest's URL.
        file: String,
        /// The node's id.
        node: String,
        /// `flow`, `policy` or `concept`.
        kind: &'static str,
        /// The field it needs.
        field: &'static str,
    },
    /// An `expect` number is negative, NaN or infinite.
    #[error("{file}: node {node}: expect.{field} must be a finite number ≥ 0, got {value}")]
    BadExpect {
        /// The manifest's URL.
        file: String,
        /// The node's id.
        node: String,
        /// `latency_p95_ms`, `error_rate_max` or `max_fanout`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// Two nodes share an id (ids are unique across all manifests).
    #[error("node {node}: id defined twice, in {first} and in {second}")]
    DuplicateId {
        /// The id.
        node: String,
        /// The first file defining it (URL order).
        first: String,
        /// The second file defining it (may equal `first`).
        second: String,
    },
    /// A `derives_from` parent no manifest defines.
    #[error("{file}: node {node}: derives_from names {parent}, which no manifest defines")]
    MissingParent {
        /// The manifest's URL.
        file: String,
        /// The child's id.
        node: String,
        /// The missing parent's id.
        parent: String,
    },
    /// `derives_from` edges form a cycle.
    #[error("{file}: node {node}: derives_from cycle {}", cycle.join(" → "))]
    Cycle {
        /// The manifest of the node the cycle is reported at.
        file: String,
        /// The lowest id on the cycle.
        node: String,
        /// The cycle, from `node` back to `node`.
        cycle: Vec<String>,
    },
}

fn line_col(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn node_part(node: Option<&str>) -> String {
    node.map(|n| format!(": node {n}")).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// The manifest as written (serde view)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    version: i64,
    #[serde(default)]
    regime_id: Option<String>,
    nodes: Vec<RawNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: String,
    kind: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    concept: Option<String>,
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    regime_id: Option<String>,
    #[serde(default)]
    derives_from: Vec<String>,
    #[serde(default)]
    expect: Option<RawExpect>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    services: Option<Vec<String>>,
    #[serde(default)]
    latency_p95_ms: Option<f64>,
    #[serde(default)]
    error_rate_max: Option<f64>,
    #[serde(default)]
    policies: Option<Vec<String>>,
    #[serde(default)]
    max_fanout: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Yaml,
    Json,
}

fn format_of(url: &str, bytes: &[u8]) -> Format {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        return Format::Yaml;
    }
    if lower.ends_with(".json") {
        return Format::Json;
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::Json,
        _ => Format::Yaml,
    }
}

/// Parse one manifest. On a typed parse failure, parse again loosely to
/// find the node the failure is in (the typed parsers give the line but not
/// the node).
fn parse_manifest(file: &str, bytes: &[u8]) -> Result<RawManifest, SpecError> {
    let format = format_of(file, bytes);
    let (message, line, column) = match format {
        Format::Yaml => match serde_yaml_ng::from_slice::<RawManifest>(bytes) {
            Ok(m) => return Ok(m),
            Err(e) => {
                let loc = e.location();
                (
                    strip_location(&e.to_string()).to_owned(),
                    loc.as_ref().map(|l| l.line()),
                    loc.as_ref().map(|l| l.column()),
                )
            }
        },
        Format::Json => match serde_json::from_slice::<RawManifest>(bytes) {
            Ok(m) => return Ok(m),
            Err(e) => {
                let (l, c) = (e.line(), e.column());
                let msg = strip_location(&e.to_string()).to_owned();
                (msg, (l > 0).then_some(l), (l > 0).then_some(c))
            }
        },
    };
    Err(SpecError::Parse {
        file: file.to_owned(),
        node: failing_node(format, bytes),
        line,
        column,
        message,
    })
}

/// `msg` without the trailing ` at line L column C` both parsers append:
/// [`SpecError::Parse`] prints the location once, as `file:L:C`.
fn strip_location(msg: &str) -> &str {
    let Some(i) = msg.rfind(" at line ") else {
        return msg;
    };
    let tail = &msg[i + " at line ".len()..];
    let is_loc = tail.split_once(" column ").is_some_and(|(l, c)| {
        !l.is_empty()
            && !c.is_empty()
            && l.bytes().all(|b| b.is_ascii_digit())
            && c.bytes().all(|b| b.is_ascii_digit())
    });
    if is_loc {
        &msg[..i]
    } else {
        msg
    }
}

/// The first node (id, else `#position`) that does not deserialize on its
/// own, when the document is at least loosely well formed.
fn failing_node(format: Format, bytes: &[u8]) -> Option<String> {
    fn label(i: usize, id: Option<&str>) -> String {
        match id {
            Some(id) if !id.trim().is_empty() => id.to_owned(),
            _ => format!("#{}", i + 1),
        }
    }
    match format {
        Format::Yaml => {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_slice(bytes).ok()?;
            let nodes = v.get("nodes")?.as_sequence()?;
            nodes.iter().enumerate().find_map(|(i, n)| {
                serde_yaml_ng::from_value::<RawNode>(n.clone())
                    .is_err()
                    .then(|| label(i, n.get("id").and_then(|x| x.as_str())))
            })
        }
        Format::Json => {
            let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            let nodes = v.get("nodes")?.as_array()?;
            nodes.iter().enumerate().find_map(|(i, n)| {
                serde_json::from_value::<RawNode>(n.clone())
                    .is_err()
                    .then(|| label(i, n.get("id").and_then(|x| x.as_str())))
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Loading

/// Load every manifest into one validated [`SpecGraph`], nodes sorted by id.
///
/// `files` are (object URL, bytes); their order does not matter (they are
/// read in URL order, so errors are deterministic).
///
/// # Errors
/// The first [`SpecError`] found (see the module docs for the list).
pub fn load_manifests(files: &[(String, &[u8])]) -> Result<SpecGraph, SpecError> {
    let mut order: Vec<&(String, &[u8])> = files.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut nodes: BTreeMap<String, SpecNode> = BTreeMap::new();
    for (file, bytes) in order {
        let manifest = parse_manifest(file, bytes)?;
        if manifest.version != MANIFEST_VERSION {
            return Err(SpecError::UnsupportedVersion {
                file: file.clone(),
                version: manifest.version,
            });
        }
        for (i, raw) in manifest.nodes.into_iter().enumerate() {
            let node = validate_node(file, i, raw, manifest.regime_id.as_deref())?;
            if let Some(prev) = nodes.get(&node.id) {
                return Err(SpecError::DuplicateId {
                    node: node.id,
                    first: prev.source.clone(),
                    second: file.clone(),
                });
            }
            nodes.insert(node.id.clone(), node);
        }
    }
    check_parents(&nodes)?;
    check_acyclic(&nodes)?;
    Ok(SpecGraph {
        nodes: nodes.into_values().collect(),
    })
}

/// One node: kind, required fields, expect numbers, defaults, hash.
fn validate_node(
    file: &str,
    index: usize,
    raw: RawNode,
    manifest_regime: Option<&str>,
) -> Result<SpecNode, SpecError> {
    if raw.id.trim().is_empty() {
        return Err(SpecError::EmptyId {
            file: file.to_owned(),
            index: index + 1,
        });
    }
    let Some(kind) = SpecKind::parse(&raw.kind) else {
        return Err(SpecError::UnknownKind {
            file: file.to_owned(),
            node: raw.id,
            kind: raw.kind,
        });
    };
    let needs = match kind {
        SpecKind::Flow => Some(("flow", &raw.flow)),
        SpecKind::Policy => Some(("policy", &raw.policy)),
        SpecKind::Concept => Some(("concept", &raw.concept)),
        SpecKind::Adr | SpecKind::Prd | SpecKind::Sds => None,
    };
    if let Some((field, value)) = needs {
        if value.as_deref().is_none_or(str::is_empty) {
            return Err(SpecError::MissingField {
                file: file.to_owned(),
                node: raw.id,
                kind: kind.as_str(),
                field,
            });
        }
    }
    let e = raw.expect.unwrap_or_default();
    for (field, value) in [
        ("latency_p95_ms", e.latency_p95_ms),
        ("error_rate_max", e.error_rate_max),
        ("max_fanout", e.max_fanout),
    ] {
        if let Some(v) = value {
            if !v.is_finite() || v < 0.0 {
                return Err(SpecError::BadExpect {
                    file: file.to_owned(),
                    node: raw.id,
                    field,
                    value: v,
                });
            }
        }
    }
    let mut node = SpecNode {
        id: raw.id,
        kind,
        title: raw.title,
        domain: raw.domain,
        concept: raw.concept,
        flow: raw.flow,
        policy: raw.policy,
        regime_id: raw.regime_id.or_else(|| manifest_regime.map(str::to_owned)),
        derives_from: raw.derives_from,
        expect: Expect {
            services: e.services,
            latency_p95_ms: e.latency_p95_ms,
            error_rate_max: e.error_rate_max,
            policies: e.policies,
            max_fanout: e.max_fanout,
        },
        source: file.to_owned(),
        content_hash: String::new(),
    };
    node.content_hash = content_hash(&node);
    Ok(node)
}

fn check_parents(nodes: &BTreeMap<String, SpecNode>) -> Result<(), SpecError> {
    for n in nodes.values() {
        if let Some(p) = n.derives_from.iter().find(|p| !nodes.contains_key(*p)) {
            return Err(SpecError::MissingParent {
                file: n.source.clone(),
                node: n.id.clone(),
                parent: p.clone(),
            });
        }
    }
    Ok(())
}

/// Depth-first search in id order (iterative: a long chain must not
/// overflow the stack). Reports the first cycle found, rotated to start at
/// its lowest id.
fn check_acyclic(nodes: &BTreeMap<String, SpecNode>) -> Result<(), SpecError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark: BTreeMap<&str, Mark> = nodes.keys().map(|k| (k.as_str(), Mark::New)).collect();
    for start in nodes.keys() {
        if mark[start.as_str()] != Mark::New {
            continue;
        }
        // (node, index of the next parent to visit)
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        mark.insert(start.as_str(), Mark::Open);
        while let Some(&mut (id, ref mut next)) = stack.last_mut() {
            let parents = &nodes[id].derives_from;
            if *next == parents.len() {
                mark.insert(id, Mark::Done);
                stack.pop();
                continue;
            }
            let p = parents[*next].as_str();
            *next += 1;
            match mark[p] {
                Mark::Done => {}
                Mark::New => {
                    mark.insert(p, Mark::Open);
                    stack.push((p, 0));
                }
                Mark::Open => {
                    let from = stack
                        .iter()
                        .position(|(s, _)| *s == p)
                        .expect("open is on stack");
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|(s, _)| (*s).to_owned()).collect();
                    let low = (0..cycle.len())
                        .min_by(|a, b| cycle[*a].cmp(&cycle[*b]))
                        .expect("cycle is not empty");
                    cycle.rotate_left(low);
                    cycle.push(cycle[0].clone());
                    let node = cycle[0].clone();
                    return Err(SpecError::Cycle {
                        file: nodes[&node].source.clone(),
                        node,
                        cycle,
                    });
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Hashes

/// A node's canonical JSON: fields in sorted key order (declaration order
/// here), absent fields left out, no `source`, no hash.
#[derive(Serialize)]
struct CanonNode<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    concept: Option<&'a str>,
    derives_from: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect: Option<CanonExpect<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<&'a str>,
    id: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regime_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

/// `expect` in canonical form (keys sorted).
#[derive(Serialize)]
struct CanonExpect<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error_rate_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_fanout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    services: Option<&'a [String]>,
}

fn canon_expect(e: &Expect) -> Option<CanonExpect<'_>> {
    (*e != Expect::default()).then_some(CanonExpect {
        error_rate_max: e.error_rate_max,
        latency_p95_ms: e.latency_p95_ms,
        max_fanout: e.max_fanout,
        policies: e.policies.as_deref(),
        services: e.services.as_deref(),
    })
}

/// The node's canonical JSON (keys sorted, compact).
pub fn canonical_json(node: &SpecNode) -> String {
    let c = CanonNode {
        concept: node.concept.as_deref(),
        derives_from: &node.derives_from,
        domain: node.domain.as_deref(),
        expect: canon_expect(&node.expect),
        flow: node.flow.as_deref(),
        id: &node.id,
        kind: node.kind.as_str(),
        policy: node.policy.as_deref(),
        regime_id: node.regime_id.as_deref(),
        title: node.title.as_deref(),
    };
    serde_json::to_string(&c).expect("strings and finite numbers serialize")
}

/// sha256 hex of [`canonical_json`].
pub fn content_hash(node: &SpecNode) -> String {
    hex::encode(Sha256::digest(canonical_json(node).as_bytes()))
}

/// sha256 hex over the graph's content hashes, sorted, one per line: equal
/// exactly when the graphs' node contents are.
pub fn graph_fingerprint(graph: &SpecGraph) -> String {
    let hashes: BTreeSet<&str> = graph
        .nodes
        .iter()
        .map(|n| n.content_hash.as_str())
        .collect();
    let mut h = Sha256::new();
    for x in hashes {
        h.update(x.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

// ---------------------------------------------------------------------------
// Arrow tables

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// The `kg_nodes` table (§3): one row per spec node, in id order.
pub fn kg_nodes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("kind", false),
        utf8("title", true),
        utf8("domain", true),
        utf8("concept", true),
        utf8("flow", true),
        utf8("policy", true),
        utf8("regime_id", true),
        Field::new("derives_from", utf8_list(), false),
        utf8("expect", true),
        utf8("source", false),
        utf8("content_hash", false),
        Field::new("kg_version", DataType::Int64, false),
        Field::new("last_synced_at", ts_type(), false),
        utf8("run_id", false),
    ]))
}

/// `expect` as JSON text (keys sorted), `None` when the node expects nothing.
fn expect_json(e: &Expect) -> Option<String> {
    canon_expect(e).map(|c| serde_json::to_string(&c).expect("finite numbers serialize"))
}

/// The `kg_nodes` rows of `graph`.
///
/// # Errors
/// Arrow's error if the batch cannot be assembled (a bug).
pub fn kg_nodes_batch(
    graph: &SpecGraph,
    kg_version: i64,
    last_synced_at_us: i64,
    run_id: &str,
) -> Result<RecordBatch, ArrowError> {
    let n = graph.nodes.len();
    let mut s: Vec<StringBuilder> = (0..8)
        .map(|_| StringBuilder::with_capacity(n, n * 16))
        .collect();
    let mut derives = ListBuilder::new(StringBuilder::new());
    let mut expect = StringBuilder::with_capacity(n, n * 32);
    let mut source = StringBuilder::with_capacity(n, n * 32);
    let mut hash = StringBuilder::with_capacity(n, n * 64);
    let mut version = Int64Builder::with_capacity(n);
    let mut synced = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut run = StringBuilder::with_capacity(n, n * run_id.len());
    for node in &graph.nodes {
        s[0].append_value(&node.id);
        s[1].append_value(node.kind.as_str());
        s[2].append_option(node.title.as_deref());
        s[3].append_option(node.domain.as_deref());
        s[4].append_option(node.concept.as_deref());
        s[5].append_option(node.flow.as_deref());
        s[6].append_option(node.policy.as_deref());
        s[7].append_option(node.regime_id.as_deref());
        for p in &node.derives_from {
            derives.values().append_value(p);
        }
        derives.append(true);
        expect.append_option(expect_json(&node.expect));
        source.append_value(&node.source);
        hash.append_value(&node.content_hash);
        version.append_value(kg_version);
        synced.append_value(last_synced_at_us);
        run.append_value(run_id);
    }
    let mut cols: Vec<ArrayRef> = s
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    cols.push(Arc::new(derives.finish()));
    cols.push(Arc::new(expect.finish()));
    cols.push(Arc::new(source.finish()));
    cols.push(Arc::new(hash.finish()));
    cols.push(Arc::new(version.finish()));
    cols.push(Arc::new(synced.finish()));
    cols.push(Arc::new(run.finish()));
    // The list builder names its child "item", nullable: as the schema does.
    RecordBatch::try_new(kg_nodes_schema(), cols)
}

/// The `kg_edges` table (§3): `src` is the child (or the spec node), `dst`
/// the parent (or the trace id), `edge` is `derives_from` or
/// `observed_behavior`.
pub fn kg_edges_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("src", false),
        utf8("dst", false),
        utf8("edge", false),
        Field::new("kg_version", DataType::Int64, false),
        Field::new("last_synced_at", ts_type(), false),
        utf8("run_id", false),
    ]))
}

/// The `kg_edges` rows: every `derives_from` edge of `graph` plus one
/// `observed_behavior` edge per distinct (spec node id, trace id) in
/// `observed`; sorted by (edge, src, dst), duplicates removed.
///
/// # Errors
/// Arrow's error if the batch cannot be assembled (a bug).
pub fn kg_edges_batch(
    graph: &SpecGraph,
    observed: &[(String, String)],
    kg_version: i64,
    last_synced_at_us: i64,
    run_id: &str,
) -> Result<RecordBatch, ArrowError> {
    let mut edges: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for n in &graph.nodes {
        for p in &n.derives_from {
            edges.insert((EDGE_DERIVES_FROM, n.id.as_str(), p.as_str()));
        }
    }
    for (node, trace) in observed {
        edges.insert((EDGE_OBSERVED_BEHAVIOR, node.as_str(), trace.as_str()));
    }
    let n = edges.len();
    let mut src = StringBuilder::with_capacity(n, n * 16);
    let mut dst = StringBuilder::with_capacity(n, n * 32);
    let mut edge = StringBuilder::with_capacity(n, n * 16);
    let mut version = Int64Builder::with_capacity(n);
    let mut synced = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut run = StringBuilder::with_capacity(n, n * run_id.len());
    for (e, s, d) in edges {
        src.append_value(s);
        dst.append_value(d);
        edge.append_value(e);
        version.append_value(kg_version);
        synced.append_value(last_synced_at_us);
        run.append_value(run_id);
    }
    RecordBatch::try_new(
        kg_edges_schema(),
        vec![
            Arc::new(src.finish()),
            Arc::new(dst.finish()),
            Arc::new(edge.finish()),
            Arc::new(version.finish()),
            Arc::new(synced.finish()),
            Arc::new(run.finish()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray, Int64Array};

    const SPEC_YAML: &str = r#"version: 1
regime_id: commerce-v3            # default for the nodes below
nodes:
  - {id: ADR-012, kind: adr, title: Payments are idempotent}
  - {id: PRD-031, kind: prd, title: Checkout, derives_from: [ADR-012]}
  - {id: SDS-050, kind: sds, title: Checkout design, derives_from: [PRD-031]}
  - id: SEA-FLOW-commerce.place_order
    kind: flow
    domain: commerce
    concept: Order
    flow: place_order
    derives_from: [SDS-050]
    expect:
      services: [checkout, payments]
      latency_p95_ms: 300
      error_rate_max: 0.01
      policies: [auth_required]
      max_fanout: 6
  - {id: SDS-POL-auth_required, kind: policy, domain: commerce, policy: auth_required, derives_from: [SDS-050], regime_id: commerce-v4}
"#;

    const SPEC_JSON: &str = r#"{"version": 1, "regime_id": "commerce-v3", "nodes": [
  {"id": "ADR-012", "kind": "adr", "title": "Payments are idempotent"},
  {"id": "PRD-031", "kind": "prd", "title": "Checkout", "derives_from": ["ADR-012"]},
  {"id": "SDS-050", "kind": "sds", "title": "Checkout design", "derives_from": ["PRD-031"]},
  {"id": "SEA-FLOW-commerce.place_order", "kind": "flow", "domain": "commerce", "concept": "Order",
   "flow": "place_order", "derives_from": ["SDS-050"],
   "expect": {"services": ["checkout", "payments"], "latency_p95_ms": 300, "error_rate_max": 0.01,
              "policies": ["auth_required"], "max_fanout": 6}},
  {"id": "SDS-POL-auth_required", "kind": "policy", "domain": "commerce", "policy": "auth_required",
   "derives_from": ["SDS-050"], "regime_id": "commerce-v4"}
]}"#;

    fn load(files: &[(&str, &str)]) -> Result<SpecGraph, SpecError> {
        let owned: Vec<(String, &[u8])> = files
            .iter()
            .map(|(u, t)| ((*u).to_owned(), t.as_bytes()))
            .collect();
        load_manifests(&owned)
    }

    fn err(files: &[(&str, &str)]) -> (SpecError, String) {
        let e = load(files).expect_err("rejected");
        let msg = e.to_string();
        (e, msg)
    }

    fn one(node: &str) -> String {
        format!("version: 1\nnodes:\n{node}")
    }

    #[test]
    fn loads_the_spec_example_sorted_with_defaults() {
        let g = load(&[("s3://b/specs/commerce.yaml", SPEC_YAML)]).expect("loads");
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ADR-012",
                "PRD-031",
                "SDS-050",
                "SDS-POL-auth_required",
                "SEA-FLOW-commerce.place_order"
            ]
        );
        let flow = g.node("SEA-FLOW-commerce.place_order").expect("flow");
        assert_eq!(flow.kind, SpecKind::Flow);
        assert_eq!(flow.regime_id.as_deref(), Some("commerce-v3"), "inherited");
        assert_eq!(flow.expect.latency_p95_ms, Some(300.0));
        assert_eq!(flow.expect.max_fanout, Some(6.0));
        assert_eq!(
            flow.expect.services,
            Some(vec!["checkout".to_owned(), "payments".to_owned()])
        );
        assert_eq!(flow.source, "s3://b/specs/commerce.yaml");
        let pol = g.node("SDS-POL-auth_required").expect("policy");
        assert_eq!(
            pol.regime_id.as_deref(),
            Some("commerce-v4"),
            "own regime wins"
        );
        assert_eq!(
            g.node("ADR-012").expect("adr").regime_id.as_deref(),
            Some("commerce-v3")
        );
        assert_eq!(g.candidates().count(), 2);
    }

    #[test]
    fn no_manifest_regime_leaves_node_regime_absent() {
        let g = load(&[("a.yaml", &one("  - {id: A, kind: adr}\n"))]).expect("loads");
        assert_eq!(g.nodes[0].regime_id, None);
        assert_eq!(g.nodes[0].expect, Expect::default());
    }

    #[test]
    fn yaml_and_json_give_the_same_graph() {
        let y = load(&[("specs/x.yaml", SPEC_YAML)]).expect("yaml");
        let j = load(&[("specs/x.json", SPEC_JSON)]).expect("json");
        assert_eq!(y.nodes.len(), j.nodes.len());
        for (a, b) in y.nodes.iter().zip(&j.nodes) {
            let mut b = b.clone();
            b.source = a.source.clone();
            assert_eq!(a, &b, "content hash included");
        }
        assert_eq!(graph_fingerprint(&y), graph_fingerprint(&j));
        // Sniffed when the name says nothing.
        let y2 = load(&[("specs/x", SPEC_YAML)]).expect("sniffed yaml");
        let j2 = load(&[("specs/x", SPEC_JSON)]).expect("sniffed json");
        assert_eq!(graph_fingerprint(&y2), graph_fingerprint(&j2));
        assert_eq!(graph_fingerprint(&y2), graph_fingerprint(&y));
    }

    #[test]
    fn content_hash_is_sha256_of_sorted_compact_json() {
        let g = load(&[("x.yaml", SPEC_YAML)]).expect("loads");
        let pol = g.node("SDS-POL-auth_required").expect("policy");
        let want = r#"{"derives_from":["SDS-050"],"domain":"commerce","id":"SDS-POL-auth_required","kind":"policy","policy":"auth_required","regime_id":"commerce-v4"}"#;
        assert_eq!(canonical_json(pol), want);
        assert_eq!(
            pol.content_hash,
            hex::encode(Sha256::digest(want.as_bytes()))
        );
        let flow = g.node("SEA-FLOW-commerce.place_order").expect("flow");
        assert!(canonical_json(flow).contains(
            r#""expect":{"error_rate_max":0.01,"latency_p95_ms":300.0,"max_fanout":6.0,"policies":["auth_required"],"services":["checkout","payments"]}"#
        ));
    }

    #[test]
    fn fingerprint_changes_with_content_only() {
        let a = load(&[("x.yaml", SPEC_YAML)]).expect("loads");
        let moved = load(&[("y.yaml", SPEC_YAML)]).expect("loads");
        assert_eq!(graph_fingerprint(&a), graph_fingerprint(&moved));
        let changed = SPEC_YAML.replace("latency_p95_ms: 300", "latency_p95_ms: 301");
        let b = load(&[("x.yaml", &changed)]).expect("loads");
        assert_ne!(graph_fingerprint(&a), graph_fingerprint(&b));
        let regime = SPEC_YAML.replace("regime_id: commerce-v3 ", "regime_id: commerce-v9 ");
        let c = load(&[("x.yaml", &regime)]).expect("loads");
        assert_ne!(
            graph_fingerprint(&a),
            graph_fingerprint(&c),
            "inherited regime counts"
        );
    }

    #[test]
    fn nodes_across_files_link() {
        let g = load(&[
            (
                "specs/b.yaml",
                &one("  - {id: B, kind: prd, derives_from: [A]}\n"),
            ),
            (
                "specs/a.json",
                r#"{"version":1,"nodes":[{"id":"A","kind":"adr"}]}"#,
            ),
        ])
        .expect("loads");
        assert_eq!(g.nodes.len(), 2);
    }

    #[test]
    fn rejects_yaml_syntax_with_file_and_line() {
        let (e, msg) = err(&[(
            "specs/bad.yaml",
            "version: 1\nnodes:\n  - {id: A, kind: adr\n",
        )]);
        assert!(matches!(e, SpecError::Parse { line: Some(_), .. }), "{e:?}");
        assert!(msg.starts_with("specs/bad.yaml:"), "{msg}");
        assert_eq!(strip_location("x at line 3 column 14"), "x");
        assert_eq!(strip_location("x at line three"), "x at line three");
    }

    #[test]
    fn rejects_json_syntax_with_file_and_line() {
        let (e, msg) = err(&[("specs/bad.json", "{\"version\": 1,\n \"nodes\": [\n}")]);
        assert!(matches!(e, SpecError::Parse { line: Some(3), .. }), "{e:?}");
        assert!(msg.starts_with("specs/bad.json:3:"), "{msg}");
        assert!(!msg.contains(" at line "), "{msg}");
    }

    #[test]
    fn rejects_unknown_node_key_naming_file_node_and_line() {
        let text = one("  - {id: A, kind: adr}\n  - id: B\n    kind: adr\n    titel: typo\n");
        let (e, msg) = err(&[("specs/k.yaml", &text)]);
        assert!(
            matches!(&e, SpecError::Parse { node: Some(n), line: Some(_), .. } if n == "B"),
            "{e:?}"
        );
        assert!(
            msg.starts_with("specs/k.yaml:6:") && msg.contains("node B") && msg.contains("titel"),
            "{msg}"
        );
        assert!(!msg.contains(" at line "), "location printed once: {msg}");
        let json = r#"{"version":1,"nodes":[{"id":"J","kind":"adr","colour":"red"}]}"#;
        let (_, msg) = err(&[("specs/k.json", json)]);
        assert!(
            msg.contains("specs/k.json:1:") && msg.contains("node J") && msg.contains("colour"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_unknown_expect_key() {
        let text = one("  - {id: F, kind: flow, flow: f, expect: {services: [a], p99: 3}}\n");
        let (e, msg) = err(&[("specs/e.yaml", &text)]);
        assert!(
            matches!(&e, SpecError::Parse { node: Some(n), .. } if n == "F"),
            "{e:?}"
        );
        assert!(msg.contains("p99"), "{msg}");
    }

    #[test]
    fn rejects_unknown_manifest_key() {
        let (e, msg) = err(&[("specs/m.yaml", "version: 1\nregime: x\nnodes: []\n")]);
        assert!(
            matches!(
                e,
                SpecError::Parse {
                    node: None,
                    line: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            msg.starts_with("specs/m.yaml:") && msg.contains("regime"),
            "{msg}"
        );
    }

    #[test]
    fn names_a_node_without_id_by_position() {
        let (e, _) = err(&[(
            "specs/p.yaml",
            &one("  - {id: A, kind: adr}\n  - {kind: adr}\n"),
        )]);
        assert!(
            matches!(&e, SpecError::Parse { node: Some(n), .. } if n == "#2"),
            "{e:?}"
        );
    }

    #[test]
    fn rejects_unsupported_version() {
        let (e, msg) = err(&[("specs/v.yaml", "version: 2\nnodes: []\n")]);
        assert!(matches!(
            e,
            SpecError::UnsupportedVersion { version: 2, .. }
        ));
        assert!(
            msg.starts_with("specs/v.yaml:") && msg.contains("version 2"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_unknown_kind() {
        let (e, msg) = err(&[("specs/u.yaml", &one("  - {id: X-1, kind: rfc}\n"))]);
        assert!(matches!(e, SpecError::UnknownKind { .. }));
        assert!(
            msg.contains("specs/u.yaml") && msg.contains("X-1") && msg.contains("\"rfc\""),
            "{msg}"
        );
    }

    #[test]
    fn rejects_repeated_id_naming_both_files() {
        let (e, msg) = err(&[
            ("specs/b.yaml", &one("  - {id: A, kind: adr}\n")),
            ("specs/a.yaml", &one("  - {id: A, kind: prd}\n")),
        ]);
        assert_eq!(
            e,
            SpecError::DuplicateId {
                node: "A".into(),
                first: "specs/a.yaml".into(),
                second: "specs/b.yaml".into()
            }
        );
        assert!(
            msg.contains("specs/a.yaml") && msg.contains("specs/b.yaml") && msg.contains("node A")
        );
        let (e, _) = err(&[(
            "specs/s.yaml",
            &one("  - {id: A, kind: adr}\n  - {id: A, kind: adr}\n"),
        )]);
        assert!(matches!(e, SpecError::DuplicateId { .. }), "same file");
    }

    #[test]
    fn rejects_missing_parent() {
        let (e, msg) = err(&[(
            "specs/p.yaml",
            &one("  - {id: B, kind: prd, derives_from: [NOPE]}\n"),
        )]);
        assert!(matches!(e, SpecError::MissingParent { .. }));
        assert!(
            msg.contains("specs/p.yaml") && msg.contains("node B") && msg.contains("NOPE"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_cycles_including_self_reference() {
        let text = one(
            "  - {id: A, kind: adr}\n  - {id: C, kind: sds, derives_from: [B, A]}\n  - {id: B, kind: prd, derives_from: [D]}\n  - {id: D, kind: prd, derives_from: [C]}\n",
        );
        let (e, msg) = err(&[("specs/c.yaml", &text)]);
        assert_eq!(
            e,
            SpecError::Cycle {
                file: "specs/c.yaml".into(),
                node: "B".into(),
                cycle: vec!["B".into(), "D".into(), "C".into(), "B".into()],
            }
        );
        assert!(
            msg.contains("node B") && msg.contains("B → D → C → B"),
            "{msg}"
        );
        let (e, _) = err(&[(
            "specs/s.yaml",
            &one("  - {id: S, kind: adr, derives_from: [S]}\n"),
        )]);
        assert!(matches!(e, SpecError::Cycle { .. }), "self");
        // A diamond is not a cycle.
        let diamond = one(
            "  - {id: A, kind: adr}\n  - {id: B, kind: prd, derives_from: [A]}\n  - {id: C, kind: prd, derives_from: [A]}\n  - {id: D, kind: sds, derives_from: [B, C]}\n",
        );
        assert!(load(&[("specs/d.yaml", &diamond)]).is_ok());
    }

    #[test]
    fn rejects_empty_id() {
        let (e, msg) = err(&[(
            "specs/i.yaml",
            &one("  - {id: A, kind: adr}\n  - {id: ' ', kind: adr}\n"),
        )]);
        assert_eq!(
            e,
            SpecError::EmptyId {
                file: "specs/i.yaml".into(),
                index: 2
            }
        );
        assert!(
            msg.contains("specs/i.yaml") && msg.contains("node #2"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_candidates_without_their_field() {
        for (node, field) in [
            ("  - {id: F, kind: flow, domain: d}\n", "flow"),
            ("  - {id: F, kind: flow, flow: ''}\n", "flow"),
            ("  - {id: F, kind: policy, flow: x}\n", "policy"),
            ("  - {id: F, kind: concept, domain: d}\n", "concept"),
        ] {
            let (e, msg) = err(&[("specs/f.yaml", &one(node))]);
            assert!(
                matches!(e, SpecError::MissingField { field: f, .. } if f == field),
                "{node}"
            );
            assert!(
                msg.contains("specs/f.yaml") && msg.contains("node F") && msg.contains(field),
                "{msg}"
            );
        }
        assert!(load(&[(
            "ok.yaml",
            &one("  - {id: C, kind: concept, concept: Order}\n")
        )])
        .is_ok());
    }

    #[test]
    fn rejects_negative_and_non_finite_expect_numbers() {
        for (exp, field) in [
            ("{latency_p95_ms: -1}", "latency_p95_ms"),
            ("{error_rate_max: .nan}", "error_rate_max"),
            ("{max_fanout: .inf}", "max_fanout"),
        ] {
            let text = one(&format!(
                "  - {{id: F, kind: flow, flow: f, expect: {exp}}}\n"
            ));
            let (e, msg) = err(&[("specs/n.yaml", &text)]);
            assert!(
                matches!(e, SpecError::BadExpect { field: f, .. } if f == field),
                "{exp}"
            );
            assert!(
                msg.contains("specs/n.yaml") && msg.contains("node F") && msg.contains(field),
                "{msg}"
            );
        }
        let zero = one("  - {id: F, kind: flow, flow: f, expect: {latency_p95_ms: 0}}\n");
        assert!(load(&[("z.yaml", &zero)]).is_ok());
    }

    #[test]
    fn kg_nodes_batch_matches_schema() {
        let g = load(&[("x.yaml", SPEC_YAML)]).expect("loads");
        let b = kg_nodes_batch(&g, 7, 1_000_000, "run-1").expect("batch");
        assert_eq!(b.schema(), kg_nodes_schema());
        assert_eq!(b.num_rows(), 5);
        let ids = b.column(0).as_string::<i32>();
        assert_eq!(ids.value(0), "ADR-012");
        let expect = b.column(9).as_string::<i32>();
        assert!(expect.is_null(0));
        assert_eq!(
            expect.value(4),
            r#"{"error_rate_max":0.01,"latency_p95_ms":300.0,"max_fanout":6.0,"policies":["auth_required"],"services":["checkout","payments"]}"#
        );
        let derives = b.column(8).as_list::<i32>();
        assert_eq!(derives.value(4).as_string::<i32>().value(0), "SDS-050");
        let v = b
            .column(12)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("i64");
        assert_eq!(v.value(0), 7);
    }

    #[test]
    fn kg_edges_batch_sorted_and_deduplicated() {
        let g = load(&[("x.yaml", SPEC_YAML)]).expect("loads");
        let obs = vec![
            ("SEA-FLOW-commerce.place_order".to_owned(), "bb".to_owned()),
            ("SDS-POL-auth_required".to_owned(), "aa".to_owned()),
            ("SEA-FLOW-commerce.place_order".to_owned(), "bb".to_owned()),
        ];
        let b = kg_edges_batch(&g, &obs, 3, 5, "r").expect("batch");
        assert_eq!(b.schema(), kg_edges_schema());
        let col = |i: usize| -> Vec<String> {
            b.column(i)
                .as_string::<i32>()
                .iter()
                .map(|s| s.expect("non-null").to_owned())
                .collect()
        };
        let rows: Vec<String> = (0..b.num_rows())
            .map(|r| format!("{} {}->{}", col(2)[r], col(0)[r], col(1)[r]))
            .collect();
        assert_eq!(
            rows,
            [
                "derives_from PRD-031->ADR-012",
                "derives_from SDS-050->PRD-031",
                "derives_from SDS-POL-auth_required->SDS-050",
                "derives_from SEA-FLOW-commerce.place_order->SDS-050",
                "observed_behavior SDS-POL-auth_required->aa",
                "observed_behavior SEA-FLOW-commerce.place_order->bb",
            ]
        );
    }
}
