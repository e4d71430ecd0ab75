//! The telemetry stage's glue between the pure parts and the lake
//! (spec/telemetry-correlation.md, lake.md §2, §4):
//!
//! 1. [`load_graph`]: every spec manifest is fetched and validated before
//!    anything is written; a bad manifest stops the job (§3).
//! 2. [`merge_evidence`]: one `evidence` partition from the rows of the
//!    inputs read this run and the committed rows of the others, one row
//!    per `evidence_id` (a retried export is one row).
//! 3. [`recompute`]: from the committed `evidence` and the spec graph,
//!    `correlations` (`spec_correlate`'s kernel over each partition, §4;
//!    the partitions this run committed are handed over in memory, the
//!    others read from the lake),
//!    `behavior_summary` (§5), and `kg_nodes`/`kg_edges` with a
//!    `kg_version` that grows only when the graph (nodes or observed
//!    edges) changes, so a rerun writes nothing.
//!
//! Like the other derived tables, all of it is recomputed whole from the
//! lake on every run: reruns and backfills give the same rows whatever was
//! read when, and BASE-001's earlier windows and POL/CON's trace
//! populations see all the evidence there is.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::error::ArrowError;
use datafusion::prelude::SessionContext;

use super::correlate::{CandidateIndex, CorrelationWeights};
use super::evidence::{correlations_schema, evidence_schema};
use super::model::{
    id_sort_key, CorrelationStatus, EvidenceFact, MatchType, Signal, SpanStatus, SpecGraph,
};
use super::specs::{self, SpecError};
use super::summary::{self, Summary};
use crate::engine::rows::Rows;
use crate::engine::EngineError;
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

/// One `evidence` partition: `new` rows (of inputs read this run) with
/// repeats dropped, plus the `old` rows whose `source` was not read this
/// run and whose id is not among the new ones; sorted by `evidence_id`. A
/// row of a re-read input that is gone from it is gone from the lake.
///
/// Whole-column kernels (filter, concat, one sort), not a per-key merge:
/// every evidence row has its own key.
///
/// # Errors
/// Arrow errors (schema mismatch of an old file).
pub fn merge_evidence(
    old: &[RecordBatch],
    new: &[RecordBatch],
    reread: &HashSet<String>,
) -> Result<Vec<RecordBatch>, ArrowError> {
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::compute::filter_record_batch;
    let schema = evidence_schema();
    let mut parts: Vec<RecordBatch> = new.to_vec();
    // Only old rows are checked against the new ids: none, no set.
    let new_ids: HashSet<&str> = if old.is_empty() {
        HashSet::new()
    } else {
        new.iter()
            .filter_map(|b| b.column(0).as_any().downcast_ref::<StringArray>())
            .flat_map(|a| a.iter().flatten())
            .collect()
    };
    let mut kept_old = Vec::new();
    for b in old {
        let b = crate::sink::adapt(b, &schema)?;
        let (ids, src) = id_and_source(&b)?;
        let mask: BooleanArray = (0..b.num_rows())
            .map(|i| {
                Some(
                    (src.is_null(i) || !reread.contains(src.value(i)))
                        && !new_ids.contains(ids.value(i)),
                )
            })
            .collect();
        kept_old.push(filter_record_batch(&b, &mask)?);
    }
    drop(new_ids);
    parts.extend(kept_old);
    parts.retain(|b| b.num_rows() > 0);
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    // By id, then source: a record exported twice into two files keeps
    // the row of the first file in URL order, whatever order they came in.
    let cols = parts
        .iter()
        .map(id_and_source)
        .collect::<Result<Vec<_>, _>>()?;
    // Each row's place, with its id's sort key beside it: whole ids and
    // sources are compared only when keys tie.
    let mut order: Vec<((u64, u64), u32, u32)> =
        Vec::with_capacity(parts.iter().map(|b| b.num_rows()).sum());
    for (p, (id, _)) in cols.iter().enumerate() {
        order.extend((0..id.len()).map(|r| (id_sort_key(id.value(r)), p as u32, r as u32)));
    }
    let at = |&(_, p, r): &((u64, u64), u32, u32)| {
        let (id, src) = cols[p as usize];
        (
            id.value(r as usize),
            src.is_valid(r as usize).then(|| src.value(r as usize)),
        )
    };
    order.sort_unstable_by(|x, y| x.0.cmp(&y.0).then_with(|| at(x).cmp(&at(y))));
    // The first row of each id.
    let mut keep: Vec<(usize, usize)> = Vec::with_capacity(order.len());
    let mut last: Option<&str> = None;
    for o in &order {
        let id = at(o).0;
        if last != Some(id) {
            keep.push((o.1 as usize, o.2 as usize));
            last = Some(id);
        }
    }
    let sources: Vec<&RecordBatch> = parts.iter().collect();
    Ok(vec![datafusion::arrow::compute::interleave_record_batch(
        &sources, &keep,
    )?])
}

/// An evidence batch's `evidence_id` and `source` columns.
fn id_and_source(b: &RecordBatch) -> Result<(&StringArray, &StringArray), ArrowError> {
    let id = b.column(0).as_any().downcast_ref::<StringArray>();
    let src = b
        .column_by_name("source")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>());
    match (id, src) {
        (Some(id), Some(src)) => Ok((id, src)),
        _ => Err(ArrowError::SchemaError(
            "evidence_id/source are not Utf8".into(),
        )),
    }
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

/// The `evidence` columns [`recompute`] reads: the §4 keys and what the
/// §5 summary needs of each row.
pub const STAGE_COLUMNS: [&str; 17] = [
    "evidence_id",
    "signal",
    "trace_id",
    "span_id",
    "parent_span_id",
    "timestamp",
    "duration_ms",
    "service",
    "name",
    "status",
    "http_route",
    "context",
    "concept",
    "regime_id",
    "flow",
    "policy_id",
    "correlation_status",
];

/// `b` (an `evidence` batch) cut to [`STAGE_COLUMNS`], so a committed
/// partition can be kept for [`recompute`] without its other columns.
///
/// # Errors
/// A column of [`STAGE_COLUMNS`] that `b` lacks.
pub fn project_evidence(b: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = b.schema();
    let idx = STAGE_COLUMNS
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<Result<Vec<_>, _>>()?;
    b.project(&idx)
}

/// Recompute correlations, the summary and the kg tables from the committed
/// `evidence` (`evidence`: every committed partition by date, each batch
/// holding at least [`STAGE_COLUMNS`]; see [`project_evidence`]) and the
/// kg tables of the lake registered in `ctx` (its table names `tables`).
///
/// The correlation is `spec_correlate`'s kernel over each partition
/// ([`super::correlate::correlate_batch`]), partitions in parallel on the
/// run's rayon pool; `correlations` rows keep the partition's order (by
/// `evidence_id`, as `sql/correlations.sql` orders them).
///
/// # Errors
/// DataFusion or Arrow errors, or evidence values the decoder never
/// writes (an unknown `signal` or `correlation_status`).
pub async fn recompute(
    ctx: &SessionContext,
    tables: &[String],
    evidence: &BTreeMap<String, Vec<RecordBatch>>,
    graph: &SpecGraph,
    weights: &CorrelationWeights,
    run_id: &str,
    now_us: i64,
) -> Result<Recomputed, EngineError> {
    use rayon::prelude::*;
    let index = CandidateIndex::new(graph, weights.clone());
    let t = std::time::Instant::now();
    let parts: Vec<(&String, &Vec<RecordBatch>)> = evidence.iter().collect();
    let done: Vec<Result<(RecordBatch, Vec<EvidenceFact>), EngineError>> = parts
        .par_iter()
        .map(|(_, batches)| correlate_partition(&index, batches, run_id))
        .collect();
    let total: usize = parts
        .iter()
        .flat_map(|(_, bs)| bs.iter())
        .map(RecordBatch::num_rows)
        .sum();
    let mut facts: Vec<EvidenceFact> = Vec::with_capacity(total);
    let mut corr: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for ((date, _), r) in parts.iter().zip(done) {
        let (b, f) = r?;
        facts.extend(f);
        if b.num_rows() > 0 {
            corr.insert((*date).clone(), vec![b]);
        }
    }
    tracing::debug!(
        secs = t.elapsed().as_secs_f64(),
        "Evidence correlated, facts read."
    );
    let evidence_rows = facts.len() as u64;
    let summary = summary::summarize(&facts, graph);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "Summary computed.");

    // The graph: nodes and the observed edges of this run's correlations.
    let distinct: rustc_hash::FxHashSet<(&str, &str)> = facts
        .iter()
        .filter(|f| f.match_type != MatchType::None)
        .filter_map(|f| Some((f.spec_node_id.as_deref()?, f.trace_id.as_deref()?)))
        .collect();
    let mut observed: Vec<(String, String)> = distinct
        .into_iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    observed.sort_unstable();
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
    out.correlations = corr;
    let mut by_day: BTreeMap<String, Vec<&super::model::SummaryRow>> = BTreeMap::new();
    for r in &summary.rows {
        by_day
            .entry(crate::model::schema::partition_date(r.window_start_us))
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

/// One evidence partition's `correlations` batch (its rows' order kept)
/// and its summary facts.
fn correlate_partition(
    index: &CandidateIndex,
    batches: &[RecordBatch],
    run_id: &str,
) -> Result<(RecordBatch, Vec<EvidenceFact>), EngineError> {
    use datafusion::arrow::array::{AsArray, Float64Array, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::DataType;
    let bad = |what: &str| EngineError::Statement(format!("the evidence has an unexpected {what}"));
    let schema = correlations_schema();
    let b = match batches {
        [] => return Ok((RecordBatch::new_empty(schema), Vec::new())),
        [one] => one.clone(),
        more => concat_batches(&more[0].schema(), more)?,
    };
    let c = super::correlate::correlate_batch(index, &b)?;
    let n = b.num_rows();
    // Every string column the facts read, as Utf8.
    let text = |name: &str| -> Result<StringArray, EngineError> {
        let col = b.column_by_name(name).ok_or_else(|| bad(name))?;
        let col = match col.data_type() {
            DataType::Utf8 => Arc::clone(col),
            _ => datafusion::arrow::compute::cast(col, &DataType::Utf8)?,
        };
        Ok(col.as_string::<i32>().clone())
    };
    let ids = text("evidence_id")?;
    let rules = Arc::clone(c.column(3));
    let rules = datafusion::arrow::compute::cast(&rules, schema.field(4).data_type())?;
    let out = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(ids.clone()) as ArrayRef,
            Arc::clone(c.column(0)),
            Arc::clone(c.column(1)),
            Arc::clone(c.column(2)),
            rules,
            Arc::new(StringArray::from(vec![run_id; n])),
        ],
    )?;

    let (signal, trace, span, parent) = (
        text("signal")?,
        text("trace_id")?,
        text("span_id")?,
        text("parent_span_id")?,
    );
    let (service, name, status, context) = (
        text("service")?,
        text("name")?,
        text("status")?,
        text("context")?,
    );
    let (regime, flow, policy, cstatus) = (
        text("regime_id")?,
        text("flow")?,
        text("policy_id")?,
        text("correlation_status")?,
    );
    let ts = datafusion::arrow::compute::cast(
        b.column_by_name("timestamp")
            .ok_or_else(|| bad("timestamp"))?,
        &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
    )?;
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or_else(|| bad("timestamp"))?;
    let dur = datafusion::arrow::compute::cast(
        b.column_by_name("duration_ms")
            .ok_or_else(|| bad("duration_ms"))?,
        &DataType::Float64,
    )?;
    let dur = dur
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| bad("duration_ms"))?;
    let node = c.column(0).as_string::<i32>();
    let conf = c
        .column(1)
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| bad("confidence"))?;
    let mtype = c.column(2).as_string::<i32>();
    fn get(a: &StringArray, i: usize) -> Option<&str> {
        (!a.is_null(i)).then(|| a.value(i))
    }
    let own = |a: &StringArray, i: usize| get(a, i).map(str::to_string);
    // One shared copy of each distinct value of the repetitive columns.
    let mut pool: rustc_hash::FxHashMap<&str, Arc<str>> = Default::default();
    fn share<'s>(
        pool: &mut rustc_hash::FxHashMap<&'s str, Arc<str>>,
        v: Option<&'s str>,
    ) -> Option<Arc<str>> {
        let v = v?;
        Some(Arc::clone(pool.entry(v).or_insert_with(|| Arc::from(v))))
    }

    let mut facts = Vec::with_capacity(n);
    for i in 0..n {
        facts.push(EvidenceFact {
            evidence_id: get(&ids, i).unwrap_or_default().to_string(),
            signal: get(&signal, i)
                .and_then(Signal::parse)
                .ok_or_else(|| bad("signal value"))?,
            trace_id: own(&trace, i),
            span_id: own(&span, i),
            parent_span_id: own(&parent, i),
            timestamp_us: ts.value(i),
            duration_ms: (!dur.is_null(i)).then(|| dur.value(i)),
            service: share(&mut pool, get(&service, i)),
            name: share(&mut pool, get(&name, i)),
            status: get(&status, i).and_then(SpanStatus::parse),
            context: share(&mut pool, get(&context, i)),
            regime_id: share(&mut pool, get(&regime, i)),
            flow: share(&mut pool, get(&flow, i)),
            policy_id: share(&mut pool, get(&policy, i)),
            correlation_status: get(&cstatus, i)
                .and_then(CorrelationStatus::parse)
                .ok_or_else(|| bad("correlation status value"))?,
            spec_node_id: share(&mut pool, get(node, i)),
            confidence: conf.value(i),
            match_type: get(mtype, i)
                .and_then(MatchType::parse)
                .ok_or_else(|| bad("match type value"))?,
        });
    }
    Ok((out, facts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::xorshift;
    use crate::telemetry::evidence::{tests::rec, EvidenceBuilder};

    fn batch(rows: &[(String, &str)]) -> RecordBatch {
        let mut b = EvidenceBuilder::default();
        for (id, src) in rows {
            let mut r = rec();
            r.evidence_id = id;
            r.source = src;
            b.append(&r);
        }
        b.finish()
    }

    fn pairs(bs: &[RecordBatch]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for b in bs {
            let id = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let src = b.column_by_name("source").unwrap();
            let src = src.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend(
                (0..b.num_rows()).map(|i| (id.value(i).to_string(), src.value(i).to_string())),
            );
        }
        out
    }

    /// Against the definition: the new rows and the old rows neither
    /// re-read nor repeated in the new ones, sorted by (id, source), the
    /// first row of each id. Ids share long prefixes (so the sort key
    /// ties), some are short, and some rounds hold an unprefixed id.
    #[test]
    fn merge_sorts_by_id_then_source_and_keeps_each_ids_first_row() {
        let mut rng = xorshift(11);
        let sources = ["file:///b", "file:///a", "file:///c"];
        for round in 0..60 {
            let id = |rng: &mut dyn FnMut() -> u64| {
                let tail = ["00000000", "0000000", "00000001", "ffffffff"][(rng() % 4) as usize];
                match rng() % 20 {
                    0 if round % 3 == 0 => format!("other:{}", rng() % 5),
                    1 => format!("ifl:hash:{}", &tail[..(rng() % 9) as usize]),
                    _ => format!("ifl:hash:{tail}{:x}", rng() % 6),
                }
            };
            let rows = |n: u64, rng: &mut dyn FnMut() -> u64| -> Vec<(String, &str)> {
                (0..n)
                    .map(|_| (id(rng), sources[(rng() % 3) as usize]))
                    .collect()
            };
            let new: Vec<Vec<(String, &str)>> = (0..1 + rng() % 3)
                .map(|_| rows(rng() % 12, &mut rng))
                .collect();
            let old: Vec<Vec<(String, &str)>> =
                (0..rng() % 3).map(|_| rows(rng() % 12, &mut rng)).collect();
            let reread: HashSet<String> = [sources[(rng() % 3) as usize].to_string()].into();

            let new_ids: HashSet<&str> = new.iter().flatten().map(|(i, _)| i.as_str()).collect();
            let mut want: Vec<(String, String)> = new
                .iter()
                .flatten()
                .chain(
                    old.iter()
                        .flatten()
                        .filter(|(i, s)| !reread.contains(*s) && !new_ids.contains(i.as_str())),
                )
                .map(|(i, s)| (i.clone(), s.to_string()))
                .collect();
            want.sort();
            want.dedup_by(|b, a| a.0 == b.0);

            let nb: Vec<RecordBatch> = new.iter().map(|r| batch(r)).collect();
            let ob: Vec<RecordBatch> = old.iter().map(|r| batch(r)).collect();
            let got = merge_evidence(&ob, &nb, &reread).unwrap();
            assert!(got.len() <= 1);
            assert_eq!(pairs(&got), want, "round {round}");
        }
    }
}
