//! `primitive_value_kind(primitive)`: the behave-shell registry's value kind
//! for a primitive name (`categorical`, `numeric`, `hash`, `bool`,
//! `free_string`, `array`), NULL for a name not in the registry.
//!
//! spec/behave-shell.md §6.3 picks the merger from the registry, not from the
//! stored row, and sends unknown primitives to the categorical merger: the
//! SQL passes this function's result to `attribution_merge`, where NULL means
//! categorical.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::model::observation::Primitive;

/// The `primitive_value_kind` scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PrimitiveValueKindUdf {
    signature: Signature,
}

impl PrimitiveValueKindUdf {
    /// The scalar function.
    pub fn new() -> Self {
        PrimitiveValueKindUdf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for PrimitiveValueKindUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for PrimitiveValueKindUdf {
    fn name(&self) -> &str {
        "primitive_value_kind"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 {
            return plan_err!(
                "primitive_value_kind(primitive) takes 1 argument, got {}",
                arg_types.len()
            );
        }
        Ok(vec![DataType::Utf8])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::invoke_rowwise(&args.args, |arrays| {
            let Some(names) = arrays.first().and_then(|a| a.as_string_opt::<i32>()) else {
                return exec_err!("primitive_value_kind: argument not coerced to Utf8");
            };
            let out: StringArray = names
                .iter()
                .map(|n| {
                    n.and_then(Primitive::parse)
                        .map(|p| p.value_kind().as_str())
                })
                .collect();
            Ok(Arc::new(out))
        })
    }
}
