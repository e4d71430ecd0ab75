//! `symbol_entropy(counts)`: the agent monitor's entropy term E from the
//! per-symbol counts of one window (spec/agent-monitor.md "Profiles"):
//! Shannon entropy in bits divided by log2 of the number of symbols, 0 below
//! two symbols. A thin adapter over [`crate::agents::normalized_entropy`],
//! which sorts the counts first, so the result does not depend on the order
//! `array_agg` collected them in (partitioned aggregation) and a rerun gives
//! the same bits.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::agents::normalized_entropy;

/// The `symbol_entropy` scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SymbolEntropyUdf {
    signature: Signature,
}

impl SymbolEntropyUdf {
    /// The scalar function.
    pub fn new() -> Self {
        SymbolEntropyUdf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for SymbolEntropyUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for SymbolEntropyUdf {
    fn name(&self) -> &str {
        "symbol_entropy"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::List(_) | DataType::LargeList(_) | DataType::Null] => {
                Ok(vec![DataType::List(Arc::new(Field::new_list_field(
                    DataType::Int64,
                    true,
                )))])
            }
            [t] => plan_err!("symbol_entropy(counts) takes a list of counts, got {t}"),
            _ => plan_err!(
                "symbol_entropy(counts) takes 1 argument, got {}",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(lists) = arrays.first().and_then(|a| a.as_list_opt::<i32>()) else {
            return exec_err!("symbol_entropy: argument not coerced to a list of Int64");
        };
        let mut counts: Vec<u64> = Vec::new();
        let out: Float64Array = (0..lists.len())
            .map(|r| {
                if lists.is_null(r) {
                    return None;
                }
                let v = lists.value(r);
                let v = v.as_primitive_opt::<Int64Type>()?;
                counts.clear();
                counts.extend(v.iter().flatten().filter_map(|c| u64::try_from(c).ok()));
                Some(normalized_entropy(&mut counts))
            })
            .collect();
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
