//! The telemetry stage's glue between the pure parts and the lake
//! (spec/telemetry-correlation.md, lake.md §2, §4):
//!
//! 1. [`load_graph`]: every spec manifest is fetched and validated before
//!    anything is written; a bad manifest stops the job (§3).
//! 2. [`merge_evidence`]: one `evidence` partition from the rows of the
//!    inputs read this run and the committed rows of the others, one row
//!    per `evidence_id` (a retried export is one row).
//! 3. [`recompute`]: from the committed `evidence` and the spec graph,
//!    `correlations` (the `spec_correlate` UDF over the table, §4),
//!    `behavior_summary` (§5), and `kg_nodes`/`kg_edges` with a
//!    `kg_version` that grows only when the graph (nodes or observed
//!    edges) changes, so a rerun writes nothing.
//!
//! Like the other derived tables, all of it is recomputed whole from the
//! lake on every run: reruns and backfills give the same rows whatever was
//! read when, and BASE-001's earlier windows and POL/CON's trace
//! populations see all the evidence there is.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
use datafusion::arrow::error::ArrowError;
use datafusion::prelude::SessionContext;

use super::correlate::{CandidateIndex, CorrelationWeights};
use super::evidence::{correlations_schema, evidence_schema};
use super::model::{CorrelationStatus, EvidenceFact, MatchType, Signal, SpanStatus, SpecGraph};
use super::specs::{self, SpecError};
use super::summary::{self, Summary};
use crate::engine::rows::Rows;
use crate::engine::EngineError;
use crate::sink::merge_partition;
use crate::source::{InputRef, SourceError, StoreUrl};

/// The tables this stage writes.
pub const TABLES: [&str; 5] = [
    "evidence",
    "correlations",
    "behavior_summary",
    "kg_nodes",
    "kg_edges",
];

/// Why spec loading stopped the job.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A manifest could not be fetched.
    #[error(transparent)]
    Fetch(#[from] SourceError),
    /// A manifest is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// Fetch every manifest and validate them together. Returns the graph and
/// the number of nodes each input defines (in input order).
///
/// # Errors
/// The first manifest that cannot be read, or the validation error (which
/// names file and node).
pub async fn load_graph(
    inputs: &[(&StoreUrl, &InputRef)],
) -> Result<(SpecGraph, Vec<u64>), GraphError> {
    let mut files = Vec::with_capacity(inputs.len());
    for (su, i) in inputs {
        let bytes = crate::source::fetch(su, i).await?;
        files.push((i.url.clone(), bytes));
    }
    let refs: Vec<(String, &[u8])> = files.iter().map(|(u, b)| (u.clone(), &b[..])).collect();
    let graph = specs::load_manifests(&refs)?;
    let counts = inputs
        .iter()
        .map(|(_, i)| graph.nodes.iter().filter(|n| n.source == i.url).count() as u64)
        .collect();
    Ok((graph, counts))
}

/// One `evidence` partition: `new` rows (of inputs read this run) sorted by
/// `evidence_id` with repeats dropped, plus the `old` rows whose `source`
/// was not read this run. A row of a re-read input that is gone from it is
/// gone from the lake.
///
/// # Errors
/// Arrow errors (schema mismatch of an old file).
pub fn merge_evidence(
    old: &[RecordBatch],
    new: &[RecordBatch],
    reread: &HashSet<String>,
) -> Result<Vec<RecordBatch>, ArrowError> {
    let schema = evidence_schema();
    let new = if new.is_empty() {
        Vec::new()
    } else {
        let all = concat_batches(&schema, new)?;
        let idx = sort_to_indices(all.column(0), None, None)?;
        let sorted = take_record_batch(&all, &idx)?;
        vec![dedup_sorted(&sorted)?]
    };
    let keep_old = |b: &RecordBatch, row: usize| {
        b.column_by_name("source")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .is_none_or(|s| s.is_null(row) || !reread.contains(s.value(row)))
    };
    Ok(merge_partition(&schema, old, &new, "evidence_id", &keep_old)?.batches)
}

/// Drop rows whose first column repeats the previous row's (input sorted).
fn dedup_sorted(b: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let ids = b
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::SchemaError("evidence_id is not Utf8".into()))?;
    let keep: Vec<u32> = (0..b.num_rows())
        .filter(|&i| i == 0 || ids.value(i) != ids.value(i - 1))
        .map(|i| i as u32)
        .collect();
    if keep.len() == b.num_rows() {
        return Ok(b.clone());
    }
    take_record_batch(b, &datafusion::arrow::array::UInt32Array::from(keep))
}

/// The kg version state of a lake.
#[derive(Clone, Debug, PartialEq)]
pub struct KgVersion {
    /// Grows with every run that changes the graph.
    pub version: i64,
    /// When the graph last changed (µs UTC).
    pub synced_at_us: i64,
}

/// What [`recompute`] produced.
#[derive(Debug, Default)]
pub struct Recomputed {
    /// `correlations` partitions by date.
    pub correlations: BTreeMap<String, Vec<RecordBatch>>,
    /// `behavior_summary` partitions by date.
    pub summary_parts: BTreeMap<String, Vec<RecordBatch>>,
    /// `kg_nodes` (whole table).
    pub kg_nodes: Vec<RecordBatch>,
    /// `kg_edges` (whole table).
    pub kg_edges: Vec<RecordBatch>,
    /// The summary rows and stale references (for drift events).
    pub summary: Summary,
    /// Evidence rows correlated.
    pub evidence_rows: u64,
}

/// Recompute correlations, the summary and the kg tables from the committed
/// `evidence` of the lake registered in `ctx` (its table names `tables`).
///
/// # Errors
/// DataFusion or Arrow errors.
pub async fn recompute(
    ctx: &SessionContext,
    tables: &[String],
    graph: &SpecGraph,
    weights: &CorrelationWeights,
    run_id: &str,
    now_us: i64,
) -> Result<Recomputed, EngineError> {
    let index = Arc::new(CandidateIndex::new(graph, weights.clone()));
    super::correlate::register(ctx, index);
    let mut facts: Vec<EvidenceFact> = Vec::new();
    let mut corr: BTreeMap<String, CorrBuilder> = BTreeMap::new();
    if tables.iter().any(|t| t == "evidence") {
        let batches = super::correlate::correlation_batches(ctx).await?;
        for b in &batches {
            read_facts(b, &mut facts, &mut corr)?;
        }
    }
    let evidence_rows = facts.len() as u64;
    let summary = summary::summarize(&facts, graph);

    // The graph: nodes and the observed edges of this run's correlations.
    let observed: BTreeSet<(String, String)> = facts
        .iter()
        .filter(|f| f.match_type != MatchType::None)
        .filter_map(|f| Some((f.spec_node_id.clone()?, f.trace_id.clone()?)))
        .collect();
    let observed: Vec<(String, String)> = observed.into_iter().collect();
    let fingerprint = graph_state_hash(
        graph.nodes.iter().map(|n| n.content_hash.as_str()),
        &observed,
    );
    let kg = next_version(ctx, tables, &fingerprint, now_us).await?;

    let arrow = |_table: &str, e: ArrowError| EngineError::Arrow(e);
    let mut out = Recomputed {
        evidence_rows,
        ..Recomputed::default()
    };
    for (date, b) in corr {
        out.correlations.insert(
            date,
            vec![b.finish(run_id).map_err(|e| arrow("correlations", e))?],
        );
    }
    let mut by_day: BTreeMap<String, Vec<&super::model::SummaryRow>> = BTreeMap::new();
    for r in &summary.rows {
        by_day
            .entry(day_of_us(r.window_start_us))
            .or_default()
            .push(r);
    }
    for (date, rows) in by_day {
        let owned: Vec<super::model::SummaryRow> = rows.into_iter().cloned().collect();
        let b = summary::summary_batch(&owned, kg.version, Some(kg.synced_at_us), run_id)
            .map_err(|e| arrow("behavior_summary", e))?;
        out.summary_parts.insert(date, vec![b]);
    }
    out.kg_nodes = vec![
        specs::kg_nodes_batch(graph, kg.version, kg.synced_at_us, run_id)
            .map_err(|e| arrow("kg_nodes", e))?,
    ];
    out.kg_edges =
        vec![
            specs::kg_edges_batch(graph, &observed, kg.version, kg.synced_at_us, run_id)
                .map_err(|e| arrow("kg_edges", e))?,
        ];
    out.summary = summary;
    Ok(out)
}

/// `YYYY-MM-DD` of µs since the epoch (UTC).
fn day_of_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(|| "1970-01-01".into(), |t| t.date_naive().to_string())
}

/// sha256 over the nodes' content hashes (in id order) and the observed
/// edges (sorted): what `kg_version` counts changes of. The committed
/// tables give the same inputs back (`kg_nodes.content_hash` by id,
/// `kg_edges` observed rows), so a rerun finds the same hash.
fn graph_state_hash<'a>(
    content_hashes: impl Iterator<Item = &'a str>,
    observed: &[(String, String)],
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in content_hashes {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    for (node, trace) in observed {
        h.update(b"\x1e");
        h.update(node.as_bytes());
        h.update(b"\x1f");
        h.update(trace.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The kg version for a graph whose state hash is `fingerprint`: the
/// committed one when the committed tables hash the same, else one more
/// with `now_us` as the sync time.
async fn next_version(
    ctx: &SessionContext,
    tables: &[String],
    fingerprint: &str,
    now_us: i64,
) -> Result<KgVersion, EngineError> {
    if !tables.iter().any(|t| t == "kg_nodes") || !tables.iter().any(|t| t == "kg_edges") {
        return Ok(KgVersion {
            version: 1,
            synced_at_us: now_us,
        });
    }
    let nodes = ctx
        .sql("SELECT content_hash, kg_version, CAST(last_synced_at AS BIGINT) AS synced FROM kg_nodes ORDER BY id")
        .await?
        .collect()
        .await?;
    let edges = ctx
        .sql("SELECT src, dst FROM kg_edges WHERE edge = 'observed_behavior' ORDER BY src, dst")
        .await?
        .collect()
        .await?;
    let rows = Rows::new(&nodes);
    let hashes: Vec<String> = rows
        .strings("content_hash")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let versions = rows.ints("kg_version")?;
    let synced = rows.ints("synced")?;
    let old_version = versions.iter().copied().max().unwrap_or(0);
    let old_synced = synced.iter().copied().max().unwrap_or(now_us);
    let er = Rows::new(&edges);
    let old_edges: Vec<(String, String)> = er
        .strings("src")?
        .into_iter()
        .zip(er.strings("dst")?)
        .map(|(a, b)| (a.unwrap_or_default(), b.unwrap_or_default()))
        .collect();
    let old_fp = graph_state_hash(hashes.iter().map(String::as_str), &old_edges);
    if old_fp == fingerprint {
        Ok(KgVersion {
            version: old_version.max(1),
            synced_at_us: old_synced,
        })
    } else {
        Ok(KgVersion {
            version: old_version + 1,
            synced_at_us: now_us,
        })
    }
}

/// `correlations` rows of one date, built as the query streams.
#[derive(Default)]
struct CorrBuilder {
    ids: StringBuilder,
    nodes: StringBuilder,
    conf: Vec<f64>,
    types: StringBuilder,
    rules: Vec<Vec<String>>,
}

impl CorrBuilder {
    fn finish(mut self, run_id: &str) -> Result<RecordBatch, ArrowError> {
        use datafusion::arrow::array::{ListBuilder, StringBuilder as SB};
        let n = self.conf.len();
        let mut lb = ListBuilder::new(SB::new()).with_field(Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ),
        ));
        for r in &self.rules {
            for x in r {
                lb.values().append_value(x);
            }
            lb.append(true);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ids.finish()),
            Arc::new(self.nodes.finish()),
            Arc::new(Float64Array::from(std::mem::take(&mut self.conf))),
            Arc::new(self.types.finish()),
            Arc::new(lb.finish()),
            Arc::new(StringArray::from(vec![run_id; n])),
        ];
        RecordBatch::try_new(correlations_schema(), cols)
    }
}

/// Read one result batch of `sql/correlations.sql` into facts and correlations.
fn read_facts(
    b: &RecordBatch,
    facts: &mut Vec<EvidenceFact>,
    corr: &mut BTreeMap<String, CorrBuilder>,
) -> Result<(), EngineError> {
    let bad = |what: &str| {
        EngineError::Statement(format!("the correlation query gave an unexpected {what}"))
    };
    let rows = Rows::new(std::slice::from_ref(b));
    let req = |v: Vec<Option<String>>| {
        v.into_iter()
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
    };
    let ids = req(rows.strings("evidence_id")?);
    let signal = req(rows.strings("signal")?);
    let trace = rows.strings("trace_id")?;
    let span = rows.strings("span_id")?;
    let parent = rows.strings("parent_span_id")?;
    let ts = rows.ints("ts_us")?;
    let dur = rows.opt_floats("duration_ms")?;
    let service = rows.strings("service")?;
    let name = rows.strings("name")?;
    let status = rows.strings("status")?;
    let context = rows.strings("context")?;
    let regime = rows.strings("regime_id")?;
    let flow = rows.strings("flow")?;
    let policy = rows.strings("policy_id")?;
    let cstatus = req(rows.strings("correlation_status")?);
    let date = req(rows.strings("date")?);
    let c = b;
    let node = c
        .column_by_name("spec_node_id")
        .and_then(|a| a.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| bad("spec_node_id"))?;
    let conf = c
        .column_by_name("confidence")
        .and_then(|a| a.as_any().downcast_ref::<Float64Array>())
        .ok_or_else(|| bad("confidence"))?;
    let mtype = c
        .column_by_name("match_type")
        .and_then(|a| a.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| bad("match_type"))?;
    let rules = c
        .column_by_name("rule_ids")
        .and_then(|a| a.as_any().downcast_ref::<ListArray>())
        .ok_or_else(|| bad("rule_ids"))?;
    for i in 0..b.num_rows() {
        let node_id = (!node.is_null(i)).then(|| node.value(i).to_string());
        let m = MatchType::parse(mtype.value(i)).ok_or_else(|| bad("match type value"))?;
        let cb = corr.entry(date[i].clone()).or_default();
        cb.ids.append_value(&ids[i]);
        cb.nodes.append_option(node_id.as_deref());
        cb.conf.push(conf.value(i));
        cb.types.append_value(m.as_str());
        let list = rules.value(i);
        let list = list
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| bad("rule id list"))?;
        cb.rules
            .push((0..list.len()).map(|k| list.value(k).to_string()).collect());
        facts.push(EvidenceFact {
            evidence_id: ids[i].clone(),
            signal: Signal::parse(&signal[i]).ok_or_else(|| bad("signal value"))?,
            trace_id: trace[i].clone(),
            span_id: span[i].clone(),
            parent_span_id: parent[i].clone(),
            timestamp_us: ts[i],
            duration_ms: dur[i],
            service: service[i].clone(),
            name: name[i].clone(),
            status: status[i].as_deref().and_then(SpanStatus::parse),
            context: context[i].clone(),
            regime_id: regime[i].clone(),
            flow: flow[i].clone(),
            policy_id: policy[i].clone(),
            correlation_status: CorrelationStatus::parse(&cstatus[i])
                .ok_or_else(|| bad("correlation status value"))?,
            spec_node_id: node_id,
            confidence: conf.value(i),
            match_type: m,
        });
    }
    Ok(())
}
