//! `attribution_changes(value_kind, values, ts)`: every state change of the
//! §6.8 replay as `LIST<STRUCT<seq BIGINT, ts DOUBLE, state UTF8, idx BIGINT,
//! confidence DOUBLE>>`, oldest first (`seq` 0 is the first state; `seq`
//! orders changes that share a `ts`; `idx` is the 0-based position in the
//! series of the observation that changed the state, so
//! `array_element(evidence_refs, idx + 1)` names it). Same inputs as `attribution_merge`; NULL
//! where that function gives NULL. The SQL files use the aggregate form,
//! [`attribution_changes_agg`](super::attribution_changes_agg), which gives
//! the same changes without three ordered `array_agg`s.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::attribution_merge::{eq_by_thresholds, AttributionMergeUdf, SeriesInput};
use crate::extract::attribution::{replay_changes_json, AttributionThresholds};

/// The `attribution_changes` scalar UDF.
#[derive(Debug)]
pub struct AttributionChangesUdf {
    signature: Signature,
    thresholds: AttributionThresholds,
}

impl AttributionChangesUdf {
    /// The UDF with the given thresholds.
    pub fn new(thresholds: AttributionThresholds) -> Self {
        AttributionChangesUdf {
            signature: Signature::user_defined(Volatility::Immutable),
            thresholds,
        }
    }

    fn item_fields() -> Fields {
        Fields::from(vec![
            Field::new("seq", DataType::Int64, false),
            Field::new("ts", DataType::Float64, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("idx", DataType::Int64, false),
            Field::new("confidence", DataType::Float64, false),
        ])
    }

    fn item_field() -> Arc<Field> {
        Arc::new(Field::new_list_field(
            DataType::Struct(Self::item_fields()),
            false,
        ))
    }
}

eq_by_thresholds!(AttributionChangesUdf);

impl ScalarUDFImpl for AttributionChangesUdf {
    fn name(&self) -> &str {
        "attribution_changes"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // Same inputs as attribution_merge.
        AttributionMergeUdf::new(self.thresholds.clone()).coerce_types(arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Self::item_field()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::invoke_rowwise(&args.args, |arrays| {
            let input = SeriesInput::try_new("attribution_changes", arrays)?;
            let n = input.len();
            let mut seq = Int64Builder::new();
            let mut ts = Float64Builder::new();
            let mut state = StringBuilder::new();
            let mut idx = Int64Builder::new();
            let mut confidence = Float64Builder::new();
            let mut lengths = Vec::with_capacity(n);
            let mut valid = Vec::with_capacity(n);
            let (mut values, mut series_ts) = (Vec::new(), Vec::new());
            for row in 0..n {
                let changes =
                    input
                        .series(row, &mut values, &mut series_ts)
                        .and_then(|(kind, _)| {
                            let (out, changes) =
                                replay_changes_json(kind, &values, &series_ts, &self.thresholds)?;
                            out.row.map(|_| changes)
                        });
                match changes {
                    Some(changes) => {
                        for (i, c) in changes.iter().enumerate() {
                            seq.append_value(i64::try_from(i).unwrap_or(i64::MAX));
                            ts.append_value(c.ts);
                            state.append_value(c.state.as_str());
                            idx.append_value(i64::try_from(c.index).unwrap_or(i64::MAX));
                            confidence.append_value(c.confidence);
                        }
                        lengths.push(changes.len());
                        valid.push(true);
                    }
                    None => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            let items = StructArray::try_new(
                Self::item_fields(),
                vec![
                    Arc::new(seq.finish()) as ArrayRef,
                    Arc::new(ts.finish()),
                    Arc::new(state.finish()),
                    Arc::new(idx.finish()),
                    Arc::new(confidence.finish()),
                ],
                None,
            )?;
            let nulls = NullBuffer::from(valid);
            let nulls = (nulls.null_count() > 0).then_some(nulls);
            let out = ListArray::try_new(
                Self::item_field(),
                OffsetBuffer::from_lengths(lengths),
                Arc::new(items),
                nulls,
            )?;
            Ok(Arc::new(out))
        })
    }
}
