//! `attribution_agg(value_kind, value, ts, evidence_ref)`: the attribution
//! state of a group's observation series, as an aggregate (spec
//! behave-shell.md §6; lake.md §3 `attribution_state`).
//!
//! The aggregate form of [`attribution_merge`](super::attribution_merge):
//! rows arrive in any order and in any number of batches or partial
//! aggregates; each group keeps its rows in typed buffers (no per-row
//! `ScalarValue`), and `evaluate` sorts them by `(ts, evidence_ref)`
//! (ascending, NULLs last, floats in total order, as `ORDER BY` does),
//! parses the JSON values and replays the series through
//! [`replay`]. The output struct and its NULL rule are those of
//! `attribution_merge`. `value_kind` is the group's registry kind (the first
//! non-NULL seen; NULL means categorical, §6.3).
//!
//! A native [`GroupsAccumulator`], so DataFusion's hash aggregation feeds it
//! whole batches with group indices.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::single_group::{list_of, one_state_per_row, state_field, Grow, SingleGroup};

use super::attribution_merge::{eq_by_thresholds, AttributionMergeUdf, StateColumns};
use crate::extract::attribution::{replay, AttributionThresholds, MergerKind, SeriesObs};

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
}

eq_by_thresholds!(AttributionAggUdaf);

impl AggregateUDFImpl for AttributionAggUdaf {
    fn name(&self) -> &str {
        "attribution_agg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 4 {
            return plan_err!(
                "attribution_agg(value_kind, value, ts, evidence_ref) takes 4 arguments, got {}",
                arg_types.len()
            );
        }
        Ok(vec![
            DataType::Utf8,
            DataType::Utf8,
            DataType::Float64,
            DataType::Utf8,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(AttributionMergeUdf::fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |suffix: &str, t: DataType| state_field(args.name, suffix, t);
        Ok(vec![
            f("kind", DataType::Utf8),
            f("values", list_of(DataType::Utf8)),
            f("ts", list_of(DataType::Float64)),
            f("refs", list_of(DataType::Utf8)),
        ])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleGroup(SeriesGroups::new(
            self.thresholds.clone(),
        ))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SeriesGroups::new(self.thresholds.clone())))
    }
}

/// One group's rows: timestamps, and the value and evidence_ref texts in one
/// buffer addressed by spans (`None` for a NULL).
#[derive(Debug, Default)]
struct Series {
    kind: Option<String>,
    ts: Vec<Option<f64>>,
    text: String,
    values: Vec<Option<(usize, usize)>>,
    refs: Vec<Option<(usize, usize)>>,
}

impl Series {
    fn push_text(&mut self, s: Option<&str>) -> Option<(usize, usize)> {
        s.map(|s| {
            let start = self.text.len();
            self.text.push_str(s);
            (start, s.len())
        })
    }

    fn push(&mut self, kind: Option<&str>, value: Option<&str>, ts: Option<f64>, r: Option<&str>) {
        if self.kind.is_none() {
            self.kind = kind.map(str::to_owned);
        }
        let v = self.push_text(value);
        let r = self.push_text(r);
        self.values.push(v);
        self.refs.push(r);
        self.ts.push(ts);
    }

    fn span(&self, s: Option<(usize, usize)>) -> Option<&str> {
        s.map(|(a, n)| &self.text[a..a + n])
    }

    fn bytes(&self) -> usize {
        self.text.capacity()
            + self.ts.capacity() * std::mem::size_of::<Option<f64>>()
            + (self.values.capacity() + self.refs.capacity())
                * std::mem::size_of::<Option<(usize, usize)>>()
    }

    /// Row indices in `ORDER BY ts, evidence_ref` order (ASC, NULLS LAST,
    /// floats by total order).
    fn order(&self) -> Vec<usize> {
        fn nulls_last<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) => cmp(a, b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        let mut idx: Vec<usize> = (0..self.ts.len()).collect();
        idx.sort_by(|&i, &j| {
            nulls_last(self.ts[i], self.ts[j], |a, b| a.total_cmp(&b)).then_with(|| {
                nulls_last(self.span(self.refs[i]), self.span(self.refs[j]), |a, b| {
                    a.as_bytes().cmp(b.as_bytes())
                })
            })
        });
        idx
    }
}

/// The groups accumulator: one [`Series`] per group index.
#[derive(Debug)]
struct SeriesGroups {
    groups: Vec<Series>,
    thresholds: AttributionThresholds,
}

impl SeriesGroups {
    fn new(thresholds: AttributionThresholds) -> Self {
        SeriesGroups {
            groups: Vec::new(),
            thresholds,
        }
    }
}

fn str_opt(a: &datafusion::arrow::array::StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

impl Grow for SeriesGroups {
    fn grow(&mut self, total_num_groups: usize) {
        if self.groups.len() < total_num_groups {
            self.groups.resize_with(total_num_groups, Series::default);
        }
    }
}

impl GroupsAccumulator for SeriesGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [kind, value, ts, r] = values else {
            return internal_err!("attribution_agg: expected 4 argument arrays");
        };
        let (Some(kind), Some(value), Some(ts), Some(r)) = (
            kind.as_string_opt::<i32>(),
            value.as_string_opt::<i32>(),
            ts.as_primitive_opt::<Float64Type>(),
            r.as_string_opt::<i32>(),
        ) else {
            return internal_err!(
                "attribution_agg: arguments not coerced to (Utf8, Utf8, Float64, Utf8)"
            );
        };
        self.grow(total_num_groups);
        for (i, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            let t = ts.is_valid(i).then(|| ts.value(i));
            self.groups[g].push(str_opt(kind, i), str_opt(value, i), t, str_opt(r, i));
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [kind, value, ts, r] = values else {
            return internal_err!("attribution_agg: expected 4 state arrays");
        };
        let (Some(kind), Some(value), Some(ts), Some(r)) = (
            kind.as_string_opt::<i32>(),
            value.as_list_opt::<i32>(),
            ts.as_list_opt::<i32>(),
            r.as_list_opt::<i32>(),
        ) else {
            return internal_err!("attribution_agg: state arrays have unexpected types");
        };
        let (Some(vals), Some(tss), Some(refs)) = (
            value.values().as_string_opt::<i32>(),
            ts.values().as_primitive_opt::<Float64Type>(),
            r.values().as_string_opt::<i32>(),
        ) else {
            return internal_err!("attribution_agg: state list children have unexpected types");
        };
        self.grow(total_num_groups);
        let (vo, to, ro) = (value.value_offsets(), ts.value_offsets(), r.value_offsets());
        for (i, &g) in group_indices.iter().enumerate() {
            let (vs, ve) = (vo[i] as usize, vo[i + 1] as usize);
            let (ts_s, ts_e) = (to[i] as usize, to[i + 1] as usize);
            let (rs, re) = (ro[i] as usize, ro[i + 1] as usize);
            if ve - vs != ts_e - ts_s || ve - vs != re - rs {
                return internal_err!("attribution_agg: state lists of different lengths");
            }
            let k = str_opt(kind, i);
            for ((vi, ti), ri) in (vs..ve).zip(ts_s..ts_e).zip(rs..re) {
                let t = tss.is_valid(ti).then(|| tss.value(ti));
                self.groups[g].push(k, str_opt(vals, vi), t, str_opt(refs, ri));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut out = StateColumns::with_capacity(groups.len());
        let mut series: Vec<SeriesObs> = Vec::new();
        let mut no_state = 0usize;
        for g in &groups {
            let order = g.order();
            let kind = MergerKind::for_value_kind(g.kind.as_deref()).ok();
            let parsed = kind.filter(|_| !order.is_empty()).and_then(|kind| {
                series.clear();
                for &i in &order {
                    let value = match g.span(g.values[i]) {
                        None => serde_json::Value::Null,
                        Some(text) => serde_json::from_str(text).ok()?,
                    };
                    series.push(SeriesObs {
                        value,
                        ts: g.ts[i].unwrap_or(f64::NAN),
                    });
                }
                Some(kind)
            });
            let row = parsed.and_then(|kind| replay(kind, &series, &self.thresholds).row);
            match row {
                Some(r) => out.push(&r, |k| g.span(g.values[order[k]]).unwrap_or("null")),
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

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut kind = StringBuilder::new();
        let mut values = ListBuilder::new(StringBuilder::new());
        let mut ts = ListBuilder::new(Float64Builder::new());
        let mut refs = ListBuilder::new(StringBuilder::new());
        for g in &groups {
            kind.append_option(g.kind.as_deref());
            for i in 0..g.ts.len() {
                values.values().append_option(g.span(g.values[i]));
                ts.values().append_option(g.ts[i]);
                refs.values().append_option(g.span(g.refs[i]));
            }
            values.append(true);
            ts.append(true);
            refs.append(true);
        }
        Ok(vec![
            Arc::new(kind.finish()),
            Arc::new(values.finish()),
            Arc::new(ts.finish()),
            Arc::new(refs.finish()),
        ])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        one_state_per_row(
            SeriesGroups::new(self.thresholds.clone()),
            values,
            opt_filter,
        )
    }

    fn size(&self) -> usize {
        self.groups.iter().map(Series::bytes).sum::<usize>()
            + self.groups.capacity() * std::mem::size_of::<Series>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, StringArray, StructArray};

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
        let mut acc = SeriesGroups::new(AttributionThresholds::default());
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
    fn state_round_trip_equals_direct_update() {
        let all = rows();
        let direct = evaluate(&[&all], 2);
        // Two partial accumulators, merged through their state arrays.
        let mut partial = Vec::new();
        for half in [&all[..9], &all[9..]] {
            let mut acc = SeriesGroups::new(AttributionThresholds::default());
            let (a, g) = args(half);
            acc.update_batch(&a, &g, None, 2).unwrap();
            partial.push(acc.state(EmitTo::All).unwrap());
        }
        let mut fin = SeriesGroups::new(AttributionThresholds::default());
        for st in &partial {
            fin.merge_batch(st, &[0, 1], 2).unwrap();
        }
        let merged = fin.evaluate(EmitTo::All).unwrap();
        assert_eq!(merged.as_struct(), &direct);
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
