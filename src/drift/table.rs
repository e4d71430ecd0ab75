//! The `drift_events` table (lake.md §4, telemetry-correlation.md §6): its
//! schema, rows to batches and back, and the computation that recomputes it
//! from a lake's registered tables.
//!
//! Recomputed whole every run, like `agent_profiles`: the events are a pure
//! function of `observations` (replayed with the job's thresholds) and
//! `agent_profiles` (and, with the telemetry stage, `behavior_summary`), so a
//! rerun writes the same rows and a backfill gives the same events as
//! in-order ingestion.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::prelude::SessionContext as DfContext;

use super::derive::{agent_events, attribution_events, multi_actor_events, TierChange, Transition};
use super::event::{schema_errors, DriftEvent, FINGERPRINT_VERSION};
use crate::engine::rows::Rows;
use crate::engine::{EngineError, Result};
use crate::extract::attribution::AttributionThresholds;

/// The table's directory name.
pub const TABLE: &str = "drift_events";

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `drift_events` without `date` (the UTC day of `window_start`).
pub fn drift_events_schema() -> SchemaRef {
    let s = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        s("drift_id", false),
        s("episode_id", false),
        s("drift_type", false),
        s("severity", false),
        Field::new("detected_at", ts_type(), false),
        Field::new(
            "evidence_refs",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
        s("recommended_patch_type", false),
        s("fingerprint_key", false),
        s("fingerprint_version", false),
        s("notes", true),
        s("origin", false),
        s("rule_id", false),
        Field::new("window_start", ts_type(), false),
        s("context", true),
        s("spec_node_id", true),
        s("identity_ref", true),
        s("primitive", true),
        s("agent_id", true),
        Field::new("drift_score", DataType::Float64, true),
        Field::new("confidence", DataType::Float64, true),
        s("run_id", false),
    ]))
}

/// The UTC day (`YYYY-MM-DD`) of `window_start`: the event's partition.
pub fn event_date(e: &DriftEvent) -> String {
    crate::model::schema::partition_date(e.window_start_us)
}

/// One batch of `events` in the in-file schema.
///
/// # Errors
/// Arrow errors (none for well-formed events).
pub fn events_batch(events: &[&DriftEvent], run_id: &str) -> Result<RecordBatch, ArrowError> {
    let n = events.len();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let text = |f: &dyn Fn(&DriftEvent) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for e in events {
            b.append_option(f(e));
        }
        Arc::new(b.finish())
    };
    let time = |f: &dyn Fn(&DriftEvent) -> i64| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for e in events {
            b.append_value(f(e));
        }
        Arc::new(b.finish())
    };
    let num = |f: &dyn Fn(&DriftEvent) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(n);
        for e in events {
            b.append_option(f(e));
        }
        Arc::new(b.finish())
    };
    cols.push(text(&|e| Some(&e.drift_id)));
    cols.push(text(&|e| Some(&e.episode_id)));
    cols.push(text(&|e| Some(e.drift_type.as_str())));
    cols.push(text(&|e| Some(e.severity.as_str())));
    cols.push(time(&|e| e.detected_at_us));
    let mut refs = ListBuilder::new(StringBuilder::new());
    for e in events {
        for r in &e.evidence_refs {
            refs.values().append_value(r);
        }
        refs.append(true);
    }
    cols.push(Arc::new(refs.finish()));
    cols.push(text(&|e| Some(e.patch.as_str())));
    cols.push(text(&|e| Some(&e.fingerprint_key)));
    cols.push(text(&|_| Some(FINGERPRINT_VERSION)));
    cols.push(text(&|e| e.notes.as_deref()));
    cols.push(text(&|e| Some(e.origin.as_str())));
    cols.push(text(&|e| Some(&e.rule_id)));
    cols.push(time(&|e| e.window_start_us));
    cols.push(text(&|e| e.context.as_deref()));
    cols.push(text(&|e| e.spec_node_id.as_deref()));
    cols.push(text(&|e| e.identity_ref.as_deref()));
    cols.push(text(&|e| e.primitive.as_deref()));
    cols.push(text(&|e| e.agent_id.as_deref()));
    cols.push(num(&|e| e.drift_score));
    cols.push(num(&|e| e.confidence));
    cols.push(Arc::new(datafusion::arrow::array::StringArray::from(
        vec![run_id; n],
    )));
    RecordBatch::try_new(drift_events_schema(), cols)
}

/// `events` grouped by [`event_date`], each partition sorted by
/// (`detected_at`, `drift_id`), as batches of the in-file schema.
///
/// # Errors
/// Arrow errors (none for well-formed events).
pub fn event_partitions(
    events: &[DriftEvent],
    run_id: &str,
) -> Result<BTreeMap<String, Vec<RecordBatch>>, ArrowError> {
    let mut by_date: BTreeMap<String, Vec<&DriftEvent>> = BTreeMap::new();
    for e in events {
        by_date.entry(event_date(e)).or_default().push(e);
    }
    let mut out = BTreeMap::new();
    for (date, mut list) in by_date {
        list.sort_by(|a, b| (a.detected_at_us, &a.drift_id).cmp(&(b.detected_at_us, &b.drift_id)));
        let batches = list
            .chunks(crate::pipeline::BATCH_ROWS)
            .map(|c| events_batch(c, run_id))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(date, batches);
    }
    Ok(out)
}

fn transitions(batches: &[RecordBatch]) -> Result<Vec<Transition>> {
    let r = Rows::new(batches);
    let (seq, ts, conf) = (r.ints("seq")?, r.opt_floats("ts")?, r.floats("confidence")?);
    // The text columns are moved into the rows, not copied again.
    let text = r
        .strings("identity_ref")?
        .into_iter()
        .zip(r.strings("primitive")?)
        .zip(r.strings("state")?)
        .zip(r.strings("prev_state")?)
        .zip(r.strings("evidence_ref")?);
    Ok(text
        .enumerate()
        .filter_map(|(i, ((((ip, prim), state), prev), eref))| {
            Some(Transition {
                identity_ref: ip?,
                primitive: prim.unwrap_or_default(),
                seq: seq[i],
                ts: ts[i]?,
                state: state?,
                prev_state: prev,
                confidence: conf[i],
                evidence_ref: eref?,
            })
        })
        .collect())
}

fn tier_changes(batches: &[RecordBatch]) -> Result<Vec<TierChange>> {
    let r = Rows::new(batches);
    let agent = r.strings("agent_id")?;
    let (ws, we) = (r.micros("window_start")?, r.micros("window_end")?);
    let (prev, tier, score) = (
        r.opt_ints("prev_tier")?,
        r.ints("tier")?,
        r.floats("anomaly_score")?,
    );
    let (f, n, o) = (
        r.ints("file_ops")?,
        r.ints("network_ops")?,
        r.ints("other_ops")?,
    );
    Ok((0..r.len())
        .map(|i| TierChange {
            agent_id: agent[i].clone().unwrap_or_default(),
            window_start_us: ws[i],
            window_end_us: we[i],
            prev_tier: prev[i].and_then(|t| i32::try_from(t).ok()),
            tier: i32::try_from(tier[i]).unwrap_or(0),
            anomaly_score: score[i],
            file_ops: f[i],
            network_ops: n[i],
            other_ops: o[i],
        })
        .collect())
}

/// Events back from `drift_events` rows (any projection holding the
/// schema's columns; `run_id` and `date` are not needed).
///
/// # Errors
/// A missing column or a value outside the schema's enums.
pub fn events_from_batches(batches: &[RecordBatch]) -> Result<Vec<DriftEvent>> {
    use super::event::{DriftType, Origin, PatchType, Severity};
    let bad = |what: &str, v: &str| {
        EngineError::Statement(format!("drift_events has an unknown {what} {v:?}"))
    };
    let r = Rows::new(batches);
    let s = |n: &str| r.strings(n);
    let (id, ep, ty, sev) = (
        s("drift_id")?,
        s("episode_id")?,
        s("drift_type")?,
        s("severity")?,
    );
    let (patch, key, notes) = (
        s("recommended_patch_type")?,
        s("fingerprint_key")?,
        s("notes")?,
    );
    let (origin, rule) = (s("origin")?, s("rule_id")?);
    let (ctx, node, ip) = (s("context")?, s("spec_node_id")?, s("identity_ref")?);
    let (prim, agent) = (s("primitive")?, s("agent_id")?);
    let at = r.micros("detected_at")?;
    let ws = if r.has("window_start") {
        r.micros("window_start")?
    } else {
        at.clone()
    };
    let refs = r.string_lists("evidence_refs")?;
    let (score, conf) = (r.opt_floats("drift_score")?, r.opt_floats("confidence")?);
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let req = |c: &[Option<String>]| c[i].clone().unwrap_or_default();
        let (t, sv, p, o) = (req(&ty), req(&sev), req(&patch), req(&origin));
        out.push(DriftEvent {
            drift_id: req(&id),
            episode_id: req(&ep),
            drift_type: DriftType::parse(&t).ok_or_else(|| bad("drift_type", &t))?,
            severity: Severity::parse(&sv).ok_or_else(|| bad("severity", &sv))?,
            detected_at_us: at[i],
            evidence_refs: refs[i].clone(),
            patch: PatchType::parse(&p).ok_or_else(|| bad("recommended_patch_type", &p))?,
            fingerprint_key: req(&key),
            notes: notes[i].clone(),
            origin: Origin::parse(&o).ok_or_else(|| bad("origin", &o))?,
            rule_id: req(&rule),
            window_start_us: ws[i],
            context: ctx[i].clone(),
            spec_node_id: node[i].clone(),
            identity_ref: ip[i].clone(),
            primitive: prim[i].clone(),
            agent_id: agent[i].clone(),
            drift_score: score[i],
            confidence: conf[i],
        });
    }
    Ok(out)
}

/// Every drift event the registered tables give: attribution transitions
/// and multi-actor suspicions (when `observations` is registered) and agent
/// tier changes (when `agent_profiles` is). Each event is checked against
/// the drift schema.
///
/// # Errors
/// DataFusion errors, or an event that breaks the schema (a bug: the
/// message names the event and the broken rule).
pub async fn compute_events(
    ctx: &DfContext,
    tables: &[String],
    thresholds: &AttributionThresholds,
    telemetry: Option<Vec<DriftEvent>>,
) -> Result<Vec<DriftEvent>> {
    let has = |t: &str| tables.iter().any(|x| x == t);
    let run = |name: &'static str| async move {
        crate::engine::context::run_sql_file(ctx, name, &BTreeMap::new()).await
    };
    let mut events = Vec::new();
    if has("observations") {
        let mut rows = transitions(&run("attribution_transitions").await?)?;
        // The correlator replays each identity in time order (the SQL's
        // order, kept however the plan ran).
        rows.sort_by(|a, b| {
            a.identity_ref
                .cmp(&b.identity_ref)
                .then(a.ts.total_cmp(&b.ts))
                .then_with(|| (&a.primitive, a.seq).cmp(&(&b.primitive, b.seq)))
        });
        events.extend(attribution_events(&rows));
        events.extend(multi_actor_events(
            &rows,
            thresholds.multi_actor_min_primitives,
        ));
    }
    if has("agent_profiles") {
        events.extend(agent_events(&tier_changes(
            &run("agent_tier_changes").await?,
        )?));
    }
    match telemetry {
        Some(t) => events.extend(t),
        // The telemetry stage did not run: its committed events stand.
        None if has(TABLE) => {
            let old = ctx
                .sql(&format!("SELECT * FROM {TABLE} WHERE origin = 'telemetry'"))
                .await?
                .collect()
                .await?;
            if old.iter().any(|b| b.num_rows() > 0) {
                events.extend(events_from_batches(&old)?);
            }
        }
        None => {}
    }
    let mut seen = BTreeSet::new();
    for e in &events {
        let errors = schema_errors(&e.to_json());
        if !errors.is_empty() {
            return Err(EngineError::Statement(format!(
                "drift event {} breaks schemas/drift.schema.json: {}",
                e.drift_id,
                errors.join("; ")
            )));
        }
        if !seen.insert(e.drift_id.as_str()) {
            return Err(EngineError::Statement(format!(
                "two drift events share the id {}",
                e.drift_id
            )));
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::derive::agent_events;
    use datafusion::arrow::array::AsArray;

    #[test]
    fn batches_follow_the_schema_and_partition_by_window_day() {
        let change = |agent: &str, ws: i64| TierChange {
            agent_id: agent.into(),
            window_start_us: ws,
            window_end_us: ws + 300_000_000,
            prev_tier: Some(1),
            tier: 3,
            anomaly_score: 0.9,
            file_ops: 1,
            network_ops: 2,
            other_ops: 3,
        };
        let day = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
        let ev = agent_events(&[
            change("b", day + 600_000_000),
            change("a", day + 600_000_000),
            change("a", day - 300_000_000),
        ]);
        let parts = event_partitions(&ev, "run-1").unwrap();
        assert_eq!(
            parts.keys().collect::<Vec<_>>(),
            vec!["2025-12-31", "2026-01-01"]
        );
        let b = &parts["2026-01-01"][0];
        assert_eq!(b.schema(), drift_events_schema());
        assert_eq!(b.num_rows(), 2);
        let ids = b.column(0).as_string::<i32>();
        assert!(ids.value(0) < ids.value(1), "ties sorted by drift_id");
    }
}
