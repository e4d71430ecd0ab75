//! `attribution_changes_agg(value_kind, value, ts, evidence_ref)`: every
//! state change of a group's §6.8 replay, as an aggregate (spec
//! behave-shell.md §6.8; feeds `attribution_transitions` and
//! `trends_attribution`).
//!
//! The aggregate form of [`attribution_changes`](super::attribution_changes),
//! as `attribution_agg` is of `attribution_merge`: rows arrive in any order;
//! each group's series is sorted by `(ts, evidence_ref)` (ascending, NULLs
//! last, floats in total order, as `ORDER BY` does) and replayed once. So
//! `attribution_changes_agg(k, value, ts, evidence_ref)` gives the changes of
//! `attribution_changes(k, array_agg(value ORDER BY ts, evidence_ref),
//! array_agg(ts ORDER BY ts, evidence_ref))` without DataFusion's per-row
//! `ScalarValue` ordered aggregation, and names each change's observation
//! itself instead of by an index into a third ordered `array_agg`.
//!
//! Output: `LIST<STRUCT<seq BIGINT, ts DOUBLE, state UTF8, prev_state UTF8,
//! confidence DOUBLE, evidence_ref UTF8>>`, oldest first. `seq` is the
//! change's position (0 is the first state) and orders changes that share a
//! `ts`; `ts` is the changing prefix's `last_observation_ts`; `prev_state`
//! is the state left (NULL for the first); `evidence_ref` is that of the
//! observation that changed the state. NULL where `attribution_agg` gives
//! NULL (no state).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};

use super::attribution_merge::eq_by_thresholds;
use super::series_groups::{coerce_series_args, series_state_fields, Series, SeriesGroups};
use super::single_group::SingleGroup;
use crate::extract::attribution::{replay_changes_json, AttributionThresholds};

const NAME: &str = "attribution_changes_agg";

/// The `attribution_changes_agg` aggregate UDF.
#[derive(Debug)]
pub struct AttributionChangesAggUdaf {
    signature: Signature,
    thresholds: AttributionThresholds,
}

impl AttributionChangesAggUdaf {
    /// The UDAF with the given thresholds (the job file's overrides, or
    /// `AttributionThresholds::default()`).
    pub fn new(thresholds: AttributionThresholds) -> Self {
        AttributionChangesAggUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
            thresholds,
        }
    }

    fn item_fields() -> Fields {
        Fields::from(vec![
            Field::new("seq", DataType::Int64, false),
            Field::new("ts", DataType::Float64, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("prev_state", DataType::Utf8, true),
            Field::new("confidence", DataType::Float64, false),
            Field::new("evidence_ref", DataType::Utf8, true),
        ])
    }

    fn item_field() -> FieldRef {
        Arc::new(Field::new_list_field(
            DataType::Struct(Self::item_fields()),
            false,
        ))
    }

    fn groups(&self) -> SeriesGroups {
        SeriesGroups::new(NAME, self.thresholds.clone(), evaluate_changes)
    }
}

eq_by_thresholds!(AttributionChangesAggUdaf);

impl AggregateUDFImpl for AttributionChangesAggUdaf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_series_args(NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Self::item_field()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(series_state_fields(args.name))
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleGroup(self.groups())))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups()))
    }
}

/// One list of changes per group, NULL when the replay gives no state.
fn evaluate_changes(groups: &[Series<'_>], th: &AttributionThresholds) -> Result<ArrayRef> {
    let mut seq = Int64Builder::new();
    let mut ts = Float64Builder::new();
    let mut state = StringBuilder::new();
    let mut prev_state = StringBuilder::new();
    let mut confidence = Float64Builder::new();
    let mut evidence_ref = StringBuilder::new();
    let mut lengths = Vec::with_capacity(groups.len());
    let mut valid = Vec::with_capacity(groups.len());
    let (mut values, mut series_ts) = (Vec::new(), Vec::new());
    for g in groups {
        let changes = g.texts(&mut values, &mut series_ts).and_then(|kind| {
            let (out, changes) = replay_changes_json(kind, &values, &series_ts, th)?;
            out.row.map(|_| changes)
        });
        let Some(changes) = changes else {
            lengths.push(0);
            valid.push(false);
            continue;
        };
        let mut prev = None;
        for (i, c) in changes.iter().enumerate() {
            seq.append_value(i64::try_from(i).unwrap_or(i64::MAX));
            ts.append_value(c.ts);
            state.append_value(c.state.as_str());
            prev_state.append_option(prev);
            confidence.append_value(c.confidence);
            evidence_ref.append_option(g.evidence_ref(c.index));
            prev = Some(c.state.as_str());
        }
        lengths.push(changes.len());
        valid.push(true);
    }
    let items = StructArray::try_new(
        AttributionChangesAggUdaf::item_fields(),
        vec![
            Arc::new(seq.finish()) as ArrayRef,
            Arc::new(ts.finish()),
            Arc::new(state.finish()),
            Arc::new(prev_state.finish()),
            Arc::new(confidence.finish()),
            Arc::new(evidence_ref.finish()),
        ],
        None,
    )?;
    let nulls = NullBuffer::from(valid);
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Ok(Arc::new(ListArray::try_new(
        AttributionChangesAggUdaf::item_field(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(items),
        nulls,
    )?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;

    use crate::engine::context::new_context;

    /// (group, kind, value, ts, evidence_ref).
    type Row = (
        String,
        Option<&'static str>,
        Option<String>,
        Option<f64>,
        Option<String>,
    );

    /// A deterministic mix: every merger kind, NULL and unknown kinds, NULL
    /// and non-JSON values, NULL ts and NULL evidence_refs, and many ts ties
    /// (broken by evidence_ref), in scrambled row order. `(ts, evidence_ref)`
    /// is unique within a group, as in the lake, so the order is total.
    fn rows() -> Vec<Row> {
        let kinds = [
            Some("categorical"),
            Some("numeric"),
            Some("hash"),
            None,
            Some("bogus"),
        ];
        let mut gen = crate::extract::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: u64| gen() % n;
        let mut out = Vec::new();
        for g in 0..60u64 {
            let kind = kinds[(g % 5) as usize];
            let n = 1 + next(40);
            for i in 0..n {
                let value = match (kind, next(30)) {
                    (_, 0) => None,
                    (_, 1) if g % 7 == 0 => Some("not json".to_string()),
                    (Some("numeric"), v) => Some(format!("{}", (v % 4) as f64 * 1.5)),
                    (_, v) => Some(format!("\"l{}\"", v % 3)),
                };
                let (ts, r) = match next(25) {
                    0 => (None, Some(format!("r{i:03}"))),
                    1 => (Some(10_000.0 + i as f64), None),
                    t => (
                        Some((t % 6) as f64 * 3600.0),
                        Some(format!("r{:03}", n - i)),
                    ),
                };
                out.push((format!("g{g:02}"), kind, value, ts, r));
            }
        }
        // Scramble the row order.
        let mut keyed: Vec<(u64, Row)> = out.into_iter().map(|r| (next(1 << 30), r)).collect();
        keyed.sort_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(_, r)| r).collect()
    }

    async fn run(sql: &str) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, true),
            Field::new("value", DataType::Utf8, true),
            Field::new("ts", DataType::Float64, true),
            Field::new("r", DataType::Utf8, true),
        ]));
        // Three partitions of several batches: partial aggregates get merged.
        let all = rows();
        let partitions: Vec<Vec<RecordBatch>> = all
            .chunks(all.len().div_ceil(3))
            .map(|part| {
                part.chunks(97)
                    .map(|c| {
                        RecordBatch::try_new(
                            schema.clone(),
                            vec![
                                Arc::new(StringArray::from_iter_values(c.iter().map(|r| &r.0))),
                                Arc::new(StringArray::from_iter(c.iter().map(|r| r.1))),
                                Arc::new(StringArray::from_iter(c.iter().map(|r| r.2.clone()))),
                                Arc::new(Float64Array::from_iter(c.iter().map(|r| r.3))),
                                Arc::new(StringArray::from_iter(c.iter().map(|r| r.4.clone()))),
                            ],
                        )
                        .unwrap()
                    })
                    .collect()
            })
            .collect();
        let ctx = new_context();
        ctx.register_table(
            "t",
            Arc::new(MemTable::try_new(schema, partitions).unwrap()),
        )
        .unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    /// The aggregate gives exactly (same rows, same bits) what the scalar
    /// `attribution_changes` over ordered `array_agg`s gives, with the
    /// evidence_ref and prev_state that `attribution_transitions` used to
    /// take from a third ordered list and `lag`.
    #[tokio::test]
    async fn equals_attribution_changes_over_ordered_array_aggs() {
        let old = run("
            WITH s AS (
                SELECT g,
                       attribution_changes(kind, array_agg(value ORDER BY ts, r),
                                           array_agg(ts ORDER BY ts, r)) AS c,
                       array_agg(r ORDER BY ts, r) AS refs
                FROM t GROUP BY g, kind
            ),
            u AS (SELECT g, refs, unnest(c) AS x FROM s)
            SELECT g, x['seq'] AS seq, x['ts'] AS ts, x['state'] AS state,
                   lag(x['state']) OVER (PARTITION BY g ORDER BY x['seq']) AS prev_state,
                   x['confidence'] AS confidence,
                   array_element(refs, x['idx'] + 1) AS evidence_ref
            FROM u ORDER BY g, seq")
        .await;
        let new = run("
            WITH s AS (
                SELECT g, attribution_changes_agg(kind, value, ts, r) AS c
                FROM t GROUP BY g, kind
            ),
            u AS (SELECT g, unnest(c) AS x FROM s)
            SELECT g, x['seq'] AS seq, x['ts'] AS ts, x['state'] AS state,
                   x['prev_state'] AS prev_state, x['confidence'] AS confidence,
                   x['evidence_ref'] AS evidence_ref
            FROM u ORDER BY g, seq")
        .await;
        assert!(old.num_rows() > 200, "{} rows", old.num_rows());
        assert_eq!(old.num_columns(), new.num_columns());
        for i in 0..old.num_columns() {
            // ArrayData equality compares float values by their bytes.
            if old.column(i).to_data() != new.column(i).to_data() {
                let show =
                    |b: &RecordBatch| pretty_format_batches(std::slice::from_ref(b)).unwrap();
                panic!(
                    "column {} differs\nold:\n{}\nnew:\n{}",
                    old.schema().field(i).name(),
                    show(&old),
                    show(&new)
                );
            }
        }
        // Groups without a state (bad JSON, unknown kind) have no rows.
        let groups = |b: &RecordBatch| {
            let g = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let mut v: Vec<&str> = g.iter().flatten().collect();
            v.dedup();
            v.len()
        };
        assert!(groups(&new) < 60);
    }
}
