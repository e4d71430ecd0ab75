//! `attribution_merge(value_kind, values, ts)`: one attribution state per row
//! from a whole `(identity, primitive)` series (spec/behave-shell.md §6,
//! lake.md §3 `attribution_state`).
//!
//! `values` is `LIST<UTF8>` of the observations' JSON values and `ts` the
//! matching `LIST<DOUBLE>`, both ordered by `(ts, evidence_ref)`:
//! `array_agg(value ORDER BY ts, evidence_ref)`. The adapter hands the JSON
//! texts to [`replay_json`]; the rules stay in `extract::attribution`.
//!
//! Output struct: `{state, current_value, confidence, observation_count,
//! last_observation_ts, last_change_ts}`; `current_value` is JSON text (the
//! stored text of the chosen observation, or the numeric merger's number).
//! The struct is NULL when there is no state: empty or NULL lists, lists of
//! different lengths, a value that is not JSON, a value kind that is not a
//! registry kind, or a series on which every prefix raises (§6.8 step 8).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Builder, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::extract::attribution::{
    replay_json, AttributionThresholds, CurrentValue, MergerKind, Replayed,
};

/// The `attribution_merge` scalar UDF.
#[derive(Debug)]
pub struct AttributionMergeUdf {
    signature: Signature,
    thresholds: AttributionThresholds,
}

impl AttributionMergeUdf {
    /// The UDF with the given thresholds (the job file's overrides, or
    /// `AttributionThresholds::default()`).
    pub fn new(thresholds: AttributionThresholds) -> Self {
        AttributionMergeUdf {
            signature: Signature::user_defined(Volatility::Immutable),
            thresholds,
        }
    }

    /// The output struct's fields, in lake.md column order.
    pub fn fields() -> Fields {
        Fields::from(vec![
            Field::new("state", DataType::Utf8, false),
            Field::new("current_value", DataType::Utf8, false),
            Field::new("confidence", DataType::Float64, false),
            Field::new("observation_count", DataType::Int64, false),
            Field::new("last_observation_ts", DataType::Float64, false),
            Field::new("last_change_ts", DataType::Float64, false),
        ])
    }
}

/// `PartialEq`/`Eq`/`Hash` for an attribution function holding `thresholds`.
/// DataFusion compares UDFs to deduplicate plans: two instances are equal
/// when their thresholds are (floats by bits).
macro_rules! eq_by_thresholds {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                $crate::engine::udf::attribution_merge::thresholds_key(&self.thresholds)
                    == $crate::engine::udf::attribution_merge::thresholds_key(&other.thresholds)
            }
        }
        impl Eq for $t {}
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                std::hash::Hash::hash(
                    &$crate::engine::udf::attribution_merge::thresholds_key(&self.thresholds),
                    state,
                );
            }
        }
    };
}
pub(crate) use eq_by_thresholds;

eq_by_thresholds!(AttributionMergeUdf);

/// The thresholds as hashable bits.
pub(crate) fn thresholds_key(t: &AttributionThresholds) -> [u64; 12] {
    [
        t.categorical_window_n as u64,
        t.min_observations_for_state as u64,
        t.categorical_majority_threshold as u64,
        t.numeric_ewma_alpha.to_bits(),
        t.numeric_stable_dispersion_pct.to_bits(),
        t.numeric_drift_mean_shift_pct.to_bits(),
        t.numeric_conflict_dispersion_pct.to_bits(),
        t.hash_drift_max as u64,
        t.hash_drift_window_secs.to_bits(),
        t.multi_actor_max_confidence.to_bits(),
        t.multi_actor_min_primitives as u64,
        t.multi_actor_tick_secs.to_bits(),
    ]
}

impl ScalarUDFImpl for AttributionMergeUdf {
    fn name(&self) -> &str {
        "attribution_merge"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!(
                "attribution_merge(value_kind, values, ts) takes 3 arguments, got {}",
                arg_types.len()
            );
        }
        Ok(vec![
            DataType::Utf8,
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::invoke_rowwise(&args.args, |arrays| merge_rows(arrays, &self.thresholds))
    }
}

/// The three inputs of the attribution UDFs, downcast once per batch.
pub(crate) struct SeriesInput<'a> {
    kinds: &'a datafusion::arrow::array::StringArray,
    values: &'a datafusion::arrow::array::ListArray,
    ts: &'a datafusion::arrow::array::ListArray,
    value_text: &'a datafusion::arrow::array::StringArray,
    ts_vals: &'a datafusion::arrow::array::Float64Array,
}

impl<'a> SeriesInput<'a> {
    /// Downcast `(Utf8, List<Utf8>, List<Float64>)` argument arrays.
    pub(crate) fn try_new(name: &str, arrays: &'a [ArrayRef]) -> Result<Self> {
        let [kinds, values, ts] = arrays else {
            return internal_err!("{name}: expected 3 argument arrays");
        };
        let (Some(kinds), Some(values), Some(ts)) = (
            kinds.as_string_opt::<i32>(),
            values.as_list_opt::<i32>(),
            ts.as_list_opt::<i32>(),
        ) else {
            return internal_err!(
                "{name}: arguments not coerced to (Utf8, List<Utf8>, List<Float64>)"
            );
        };
        let (Some(value_text), Some(ts_vals)) = (
            values.values().as_string_opt::<i32>(),
            ts.values().as_primitive_opt::<Float64Type>(),
        ) else {
            return internal_err!("{name}: list children not coerced");
        };
        Ok(SeriesInput {
            kinds,
            values,
            ts,
            value_text,
            ts_vals,
        })
    }

    /// Rows in the batch.
    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Fill `values` and `ts` with row `row`'s series (a NULL ts is NaN);
    /// returns the merger and the offset of the row's first value in the
    /// child array, or `None` when the row has no usable series (see the
    /// module docs).
    pub(crate) fn series(
        &self,
        row: usize,
        values: &mut Vec<Option<&'a str>>,
        ts: &mut Vec<f64>,
    ) -> Option<(MergerKind, usize)> {
        if self.values.is_null(row) || self.ts.is_null(row) {
            return None;
        }
        let kind = if self.kinds.is_null(row) {
            None
        } else {
            Some(self.kinds.value(row))
        };
        let kind = MergerKind::for_value_kind(kind).ok()?;
        let v_off = self.values.value_offsets();
        let t_off = self.ts.value_offsets();
        let (vs, ve) = (v_off[row] as usize, v_off[row + 1] as usize);
        let (ts_s, ts_e) = (t_off[row] as usize, t_off[row + 1] as usize);
        if ve - vs != ts_e - ts_s {
            return None;
        }
        values.clear();
        ts.clear();
        for (vi, ti) in (vs..ve).zip(ts_s..ts_e) {
            values.push((!self.value_text.is_null(vi)).then(|| self.value_text.value(vi)));
            ts.push(if self.ts_vals.is_null(ti) {
                f64::NAN
            } else {
                self.ts_vals.value(ti)
            });
        }
        Some((kind, vs))
    }

    /// The stored JSON text of child value `i`, `null` for a NULL.
    pub(crate) fn value_text(&self, i: usize) -> &'a str {
        if self.value_text.is_null(i) {
            "null"
        } else {
            self.value_text.value(i)
        }
    }
}

/// The per-batch work: downcast once, loop over rows, build the struct.
fn merge_rows(arrays: &[ArrayRef], th: &AttributionThresholds) -> Result<ArrayRef> {
    let input = SeriesInput::try_new("attribution_merge", arrays)?;
    let n = input.len();
    let mut out = StateColumns::with_capacity(n);
    let (mut values, mut ts) = (Vec::new(), Vec::new());
    let mut no_state = 0usize;
    for row in 0..n {
        let row_out = input
            .series(row, &mut values, &mut ts)
            .and_then(|(kind, base)| Some((replay_json(kind, &values, &ts, th)?.row?, base)));
        match row_out {
            Some((r, base)) => out.push(&r, |i| input.value_text(base + i)),
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

/// Builds the output struct of the attribution functions, row by row.
pub(crate) struct StateColumns {
    state: StringBuilder,
    current: StringBuilder,
    confidence: Float64Builder,
    count: Int64Builder,
    last_obs: Float64Builder,
    last_change: Float64Builder,
    valid: Vec<bool>,
}

impl StateColumns {
    pub(crate) fn with_capacity(n: usize) -> Self {
        StateColumns {
            state: StringBuilder::with_capacity(n, n * 8),
            current: StringBuilder::with_capacity(n, n * 8),
            confidence: Float64Builder::with_capacity(n),
            count: Int64Builder::with_capacity(n),
            last_obs: Float64Builder::with_capacity(n),
            last_change: Float64Builder::with_capacity(n),
            valid: Vec::with_capacity(n),
        }
    }

    /// One state row; `element_text(i)` is the stored JSON text of the
    /// series' `i`-th observation (in series order).
    pub(crate) fn push<'t>(&mut self, r: &Replayed, element_text: impl Fn(usize) -> &'t str) {
        let m = &r.merged;
        self.state.append_value(m.state.as_str());
        match m.current {
            // The stored text, so `1.0` stays `1.0` and strings keep their
            // escaping.
            CurrentValue::Element(i) => self.current.append_value(element_text(i)),
            CurrentValue::Null => self.current.append_value("null"),
            CurrentValue::Number(x) => self.current.append_value(json_number(x)),
        }
        self.confidence.append_value(m.confidence);
        self.count
            .append_value(i64::try_from(m.observation_count).unwrap_or(i64::MAX));
        self.last_obs.append_value(m.last_observation_ts);
        self.last_change.append_value(r.last_change_ts);
        self.valid.push(true);
    }

    /// A NULL struct (no state).
    pub(crate) fn push_null(&mut self) {
        self.state.append_value("");
        self.current.append_value("");
        self.confidence.append_value(0.0);
        self.count.append_value(0);
        self.last_obs.append_value(0.0);
        self.last_change.append_value(0.0);
        self.valid.push(false);
    }

    pub(crate) fn finish(mut self) -> Result<ArrayRef> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.state.finish()),
            Arc::new(self.current.finish()),
            Arc::new(self.confidence.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.last_obs.finish()),
            Arc::new(self.last_change.finish()),
        ];
        let nulls = NullBuffer::from(self.valid);
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        Ok(Arc::new(StructArray::try_new(
            AttributionMergeUdf::fields(),
            columns,
            nulls,
        )?))
    }
}

/// A float as JSON text; JSON has no NaN or infinity, so those are `null`.
pub(crate) fn json_number(x: f64) -> String {
    match serde_json::Number::from_f64(x) {
        Some(n) => n.to_string(),
        None => "null".to_owned(),
    }
}
