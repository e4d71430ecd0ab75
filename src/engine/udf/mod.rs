//! Our SQL functions: thin adapters over the pure engines (STYLE.md §4).
//! One file per function; [`register_all`] is the one list.
//!
//! | SQL | kind | what |
//! |---|---|---|
//! | `attribution_agg(value_kind, value, ts, evidence_ref)` | aggregate | §6 state row of a group's series (any input order) |
//! | `attribution_merge(value_kind, values, ts)` | scalar | §6 state row from an ordered series |
//! | `attribution_changes(value_kind, values, ts)` | scalar | the state changes of the replay |
//! | `attribution_changes_agg(value_kind, value, ts, evidence_ref)` | aggregate | the state changes of a group's series (any input order) |
//! | `primitive_value_kind(primitive)` | scalar | registry value kind |
//! | `ewma(value, alpha ORDER BY …)` | aggregate | §6.5 EWMA, order-aware |
//! | `ewma_list(list, alpha)` | scalar | EWMA of an ordered list |
//! | `cv(value)` | aggregate | population coefficient of variation |
//! | `symbol_entropy(event_type, target_hash)` | aggregate | agent monitor E: normalised Shannon entropy of the group's symbols |

pub mod attribution_agg;
pub mod attribution_changes;
pub mod attribution_changes_agg;
pub mod attribution_merge;
pub mod cv;
pub mod ewma;
pub mod primitive_value_kind;
mod series_groups;
mod single_group;
pub mod symbol_entropy;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{AggregateUDF, ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext as DfContext;

use crate::extract::attribution::AttributionThresholds;

/// Register every UDF with the default attribution thresholds.
pub fn register_all(ctx: &DfContext) {
    register_all_with(ctx, &AttributionThresholds::default());
}

/// Register every UDF; the attribution functions use `thresholds` (the job
/// file's overrides).
pub fn register_all_with(ctx: &DfContext, thresholds: &AttributionThresholds) {
    ctx.register_udaf(AggregateUDF::from(
        attribution_agg::AttributionAggUdaf::new(thresholds.clone()),
    ));
    ctx.register_udf(ScalarUDF::from(
        attribution_merge::AttributionMergeUdf::new(thresholds.clone()),
    ));
    ctx.register_udf(ScalarUDF::from(
        attribution_changes::AttributionChangesUdf::new(thresholds.clone()),
    ));
    ctx.register_udaf(AggregateUDF::from(
        attribution_changes_agg::AttributionChangesAggUdaf::new(thresholds.clone()),
    ));
    ctx.register_udf(ScalarUDF::from(
        primitive_value_kind::PrimitiveValueKindUdf::new(),
    ));
    ctx.register_udf(ScalarUDF::from(ewma::EwmaListUdf::new()));
    ctx.register_udaf(AggregateUDF::from(ewma::EwmaUdaf::new()));
    ctx.register_udaf(AggregateUDF::from(cv::CvUdaf::new()));
    ctx.register_udaf(AggregateUDF::from(symbol_entropy::SymbolEntropyUdaf::new()));
}

/// The call of a row-wise scalar UDF: `kernel` over the arguments as arrays
/// (one output row per input row); when every argument was a scalar, the
/// one result row comes back as a scalar, as DataFusion expects.
///
/// # Errors
/// The kernel's errors, or a result DataFusion cannot turn into a scalar.
pub(crate) fn invoke_rowwise(
    args: &[ColumnarValue],
    kernel: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let out = kernel(&arrays)?;
    if all_scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
    }
    Ok(ColumnarValue::Array(out))
}
