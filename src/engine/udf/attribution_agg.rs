//! `attribution_agg(value_kind, value, ts, evidence_ref)`: the attribution
//! state of a group's observation series, as an aggregate (spec
//! behave-shell.md §6; lake.md §3 `attribution_state`).
//!
//! The aggregate form of [`attribution_merge`](super::attribution_merge):
//! rows arrive in any order and in any number of batches or partial
//! aggregates; they are kept in typed buffers (no per-row `ScalarValue`),
//! and `evaluate` sorts each group's rows by `(ts, evidence_ref)`
//! (ascending, NULLs last, floats in total order, as `ORDER BY` does),
//! reads the JSON values and replays the series through
//! [`replay_json`]. The output struct and its NULL rule are those of
//! `attribution_merge`. `value_kind` is the group's registry kind (the first
//! non-NULL seen; NULL means categorical, §6.3).
//!
//! A native [`GroupsAccumulator`] (`series_groups::SeriesGroups`, shared
//! with `attribution_changes_agg`), so DataFusion's hash aggregation feeds
//! it whole batches with group indices.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};

use super::attribution_merge::{eq_by_thresholds, AttributionMergeUdf, StateColumns};
use super::series_groups::{coerce_series_args, series_state_fields, Series, SeriesGroups};
use super::single_group::SingleGroup;
use crate::extract::attribution::{replay_json, AttributionThresholds};

const NAME: &str = "attribution_agg";

/// The `attribution_agg` aggregate UDF.
#[derive(Debug)]
pub struct AttributionAggUdaf {
    signature: Signature,
    thresholds: AttributionThresholds,
}

impl AttributionAggUdaf {
    /// The UDAF with the given thresholds (the job file's overrides, or
    /// `AttributionThresholds::default()`).
    pub fn new(thresholds: AttributionThresholds) -> Self {
        AttributionAggUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
            thresholds,
        }
    }

    fn groups(&self) -> SeriesGroups {
        SeriesGroups::new(NAME, self.thresholds.clone(), evaluate_states)
    }
}

eq_by_thresholds!(AttributionAggUdaf);

impl AggregateUDFImpl for AttributionAggUdaf {
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
        Ok(DataType::Struct(AttributionMergeUdf::fields()))
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

/// One state row per group: the replay's final row, NULL without one.
fn evaluate_states(groups: &[Series<'_>], th: &AttributionThresholds) -> Result<ArrayRef> {
    let mut out = StateColumns::with_capacity(groups.len());
    let (mut values, mut ts) = (Vec::new(), Vec::new());
    let mut no_state = 0usize;
    for g in groups {
        let row = g
            .texts(&mut values, &mut ts)
            .and_then(|kind| replay_json(kind, &values, &ts, th)?.row);
        match row {
            Some(r) => out.push(&r, |k| g.value(k).unwrap_or("null")),
            None => {
                no_state += 1;
                out.push_null();
            }
        }
    }
    if no_state > 0 {
        tracing::debug!(
            groups = no_state,
            "Attribution merge produced no state for some series."
        );
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Array, AsArray, BooleanArray, Float64Array, StringArray, StructArray,
    };
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::EmitTo;

    /// (group, kind, value, ts, evidence_ref).
    type Row = (usize, &'static str, &'static str, f64, &'static str);

    /// Rows as argument arrays and group indices.
    fn args(rows: &[Row]) -> (Vec<ArrayRef>, Vec<usize>) {
        let col = |f: fn(&Row) -> &'static str| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let ts: ArrayRef = Arc::new(Float64Array::from(
            rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        ));
        (
            vec![col(|r| r.1), col(|r| r.2), ts, col(|r| r.4)],
            rows.iter().map(|r| r.0).collect(),
        )
    }

    fn evaluate(batches: &[&[Row]], groups: usize) -> StructArray {
        let mut acc = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        for b in batches {
            let (a, g) = args(b);
            acc.update_batch(&a, &g, None, groups).unwrap();
        }
        acc.evaluate(EmitTo::All).unwrap().as_struct().clone()
    }

    fn rows() -> Vec<Row> {
        let mut r = Vec::new();
        for i in 0..12 {
            let label = if i < 7 { "\"bash\"" } else { "\"zsh\"" };
            r.push((0, "categorical", label, 100.0 + i as f64, "e"));
            r.push((
                1,
                "numeric",
                if i % 2 == 0 { "1.0" } else { "2.5" },
                50.0 + i as f64,
                "e",
            ));
        }
        r
    }

    #[test]
    fn input_order_and_batching_do_not_matter() {
        let sorted = rows();
        let mut reversed = sorted.clone();
        reversed.reverse();
        let a = evaluate(&[&sorted], 2);
        let b = evaluate(&[&reversed[..10], &reversed[10..]], 2);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.null_count(), 0);
    }

    #[test]
    fn emitting_the_first_groups_keeps_the_rest() {
        let mut all = rows();
        all.extend(
            rows()
                .into_iter()
                .map(|(g, k, v, t, r)| (g + 2, k, v, t + 1.0, r)),
        );
        let direct = evaluate(&[&all], 4);
        let (a, g) = args(&all);
        let mut acc = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        acc.update_batch(&a, &g, None, 4).unwrap();
        let first = acc.evaluate(EmitTo::First(1)).unwrap();
        // The rest, renumbered from 0, through a partial state and back.
        let st = acc.state(EmitTo::First(1)).unwrap();
        let mut rest = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        rest.merge_batch(&st, &[0], 1).unwrap();
        let second = rest.evaluate(EmitTo::All).unwrap();
        let third = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(first.as_struct(), &direct.slice(0, 1));
        assert_eq!(second.as_struct(), &direct.slice(1, 1));
        assert_eq!(third.as_struct(), &direct.slice(2, 2));
    }

    #[test]
    fn state_round_trip_equals_direct_update() {
        let all = rows();
        let direct = evaluate(&[&all], 2);
        // Two partial accumulators, merged through their state arrays.
        let mut partial = Vec::new();
        for half in [&all[..9], &all[9..]] {
            let mut acc = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
            let (a, g) = args(half);
            acc.update_batch(&a, &g, None, 2).unwrap();
            partial.push(acc.state(EmitTo::All).unwrap());
        }
        let mut fin = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        for st in &partial {
            fin.merge_batch(st, &[0, 1], 2).unwrap();
        }
        let merged = fin.evaluate(EmitTo::All).unwrap();
        assert_eq!(merged.as_struct(), &direct);
    }

    #[test]
    fn rows_converted_to_state_merge_to_the_direct_result() {
        // What DataFusion does when it skips the partial aggregation: each
        // row becomes a one-row state, with a filter or without.
        let all = rows();
        let direct = evaluate(&[&all], 2);
        let acc = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        let (a, g) = args(&all);
        let filter = BooleanArray::from(vec![true; all.len()]);
        for opt_filter in [None, Some(&filter)] {
            let st = acc.convert_to_state(&a, opt_filter).unwrap();
            assert_eq!(st[1].len(), all.len());
            let mut fin = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
            fin.merge_batch(&st, &g, 2).unwrap();
            assert_eq!(fin.evaluate(EmitTo::All).unwrap().as_struct(), &direct);
        }
        // A filtered-out row is an empty series.
        let mut keep = vec![true; all.len()];
        keep[0] = false;
        let st = acc
            .convert_to_state(&a, Some(&BooleanArray::from(keep)))
            .unwrap();
        assert_eq!(st[1].as_list::<i32>().value_length(0), 0);
    }

    #[test]
    fn state_lists_with_their_own_offsets_merge_like_aligned_ones() {
        use datafusion::arrow::array::ListArray;
        use datafusion::arrow::buffer::OffsetBuffer;
        use datafusion::arrow::datatypes::Field;
        // One ts per group: the evidence_refs alone order each series, and
        // the order decides the state.
        const REFS: [&str; 12] = ["l", "k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"];
        let all: Vec<Row> = (0..24)
            .map(|i| {
                let value = if (i % 12) < 5 || i % 2 == 0 {
                    "\"x\""
                } else {
                    "\"y\""
                };
                (i / 12, "categorical", value, 7.0, REFS[i % 12])
            })
            .collect();
        let direct = evaluate(&[&all], 2);
        let mut acc = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        let (a, g) = args(&all);
        acc.update_batch(&a, &g, None, 2).unwrap();
        let mut st = acc.state(EmitTo::All).unwrap();
        // The evidence_ref lists rebuilt over a child with two extra leading
        // entries, so their offsets differ from the value lists'.
        let refs = st[3].as_list::<i32>();
        let child = refs.values().as_string::<i32>();
        let shifted: Vec<Option<&str>> = [Some("x"), None]
            .into_iter()
            .chain((0..child.len()).map(|i| Some(child.value(i))))
            .collect();
        let offsets: Vec<i32> = refs.value_offsets().iter().map(|o| o + 2).collect();
        st[3] = Arc::new(
            ListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Utf8, true)),
                OffsetBuffer::new(offsets.into()),
                Arc::new(StringArray::from(shifted)),
                None,
            )
            .unwrap(),
        );
        let mut fin = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        fin.merge_batch(&st, &[0, 1], 2).unwrap();
        assert_eq!(fin.evaluate(EmitTo::All).unwrap().as_struct(), &direct);
        // Lists of different lengths are refused.
        let mut bad = st.clone();
        let child = Arc::clone(st[3].as_list::<i32>().values());
        bad[3] = Arc::new(
            ListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Utf8, true)),
                OffsetBuffer::new(vec![0, 11, 23].into()),
                child,
                None,
            )
            .unwrap(),
        );
        let mut fin = AttributionAggUdaf::new(AttributionThresholds::default()).groups();
        assert!(fin.merge_batch(&bad, &[0, 1], 2).is_err());
    }

    #[test]
    fn ties_on_ts_are_broken_by_evidence_ref_and_bad_json_gives_null() {
        // Same ts: evidence_ref decides which label is the latest.
        let a = evaluate(
            &[&[
                (0, "categorical", "\"x\"", 5.0, "b"),
                (0, "categorical", "\"y\"", 5.0, "a"),
            ]],
            1,
        );
        let b = evaluate(
            &[&[
                (0, "categorical", "\"y\"", 5.0, "a"),
                (0, "categorical", "\"x\"", 5.0, "b"),
            ]],
            1,
        );
        assert_eq!(a, b);
        let bad = evaluate(&[&[(0, "categorical", "not json", 1.0, "a")]], 1);
        assert_eq!(bad.null_count(), 1);
    }
}
