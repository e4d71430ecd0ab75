//! `ewma(value, alpha ORDER BY …)` aggregate and `ewma_list(list, alpha)`
//! scalar: the exponentially weighted moving average of spec/behave-shell.md
//! §6.5 step 3, `s = alpha*v + (1.0 - alpha)*s` started at the first value,
//! computed left to right so it matches the reference bit for bit.
//!
//! An EWMA of two partial EWMAs is not the EWMA of the whole in floating
//! point, so the aggregate keeps every `(value, order keys)` pair in its state
//! and sorts once in `evaluate`. That makes it correct under any partitioning
//! and input order. Ties in the ORDER BY keys are broken by the value itself,
//! so the result never depends on arrival order. NULL values are skipped; no
//! values gives NULL. `alpha` must be a constant.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{concat, lexsort_to_indices, take, SortColumn, SortOptions};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, internal_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::physical_expr::expressions::Literal;

/// `s = alpha*v + (1.0 - alpha)*s` over `xs`, starting at the first value;
/// `None` for no values. NaN-free inputs give the reference's exact bits.
pub fn ewma(xs: impl IntoIterator<Item = f64>, alpha: f64) -> Option<f64> {
    let mut it = xs.into_iter();
    let mut s = it.next()?;
    for v in it {
        s = alpha * v + (1.0 - alpha) * s;
    }
    Some(s)
}

/// The `ewma` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EwmaUdaf {
    signature: Signature,
}

impl EwmaUdaf {
    /// The aggregate.
    pub fn new() -> Self {
        EwmaUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for EwmaUdaf {
    fn default() -> Self {
        Self::new()
    }
}

fn coerce_two_doubles(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if arg_types.len() != 2 {
        return plan_err!(
            "{name}(value, alpha) takes 2 arguments, got {}",
            arg_types.len()
        );
    }
    Ok(vec![DataType::Float64, DataType::Float64])
}

impl AggregateUDFImpl for EwmaUdaf {
    fn name(&self) -> &str {
        "ewma"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_two_doubles("ewma", arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let mut fields = vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
            true,
        ))];
        for (i, f) in args.ordering_fields.iter().enumerate() {
            fields.push(Arc::new(Field::new(
                format!("{}[order{i}]", args.name),
                DataType::List(Arc::new(Field::new_list_field(f.data_type().clone(), true))),
                true,
            )));
        }
        Ok(fields)
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if acc_args.order_bys.is_empty() {
            return plan_err!("ewma(value, alpha) needs an order: ewma(value, alpha ORDER BY ts)");
        }
        let alpha = match acc_args
            .exprs
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
        {
            Some(lit) => match lit.value().clone() {
                ScalarValue::Float64(Some(a)) => a,
                ref other => match other.cast_to(&DataType::Float64)? {
                    ScalarValue::Float64(Some(a)) => a,
                    _ => return plan_err!("ewma: alpha must be a non-null number"),
                },
            },
            None => return plan_err!("ewma: alpha must be a constant"),
        };
        let mut order_types = Vec::with_capacity(acc_args.order_bys.len());
        let mut options = Vec::with_capacity(acc_args.order_bys.len());
        for o in acc_args.order_bys {
            order_types.push(o.expr.data_type(acc_args.schema)?);
            options.push(o.options);
        }
        Ok(Box::new(EwmaAccumulator {
            alpha,
            values: Vec::new(),
            orders: vec![Vec::new(); order_types.len()],
            order_types,
            options,
        }))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        // We sort in `evaluate`, so a pre-sorted input only saves time.
        AggregateOrderSensitivity::SoftRequirement
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        _beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Ok(Some(self))
    }
}

/// Buffers values and their order keys as Arrow chunks (no per-row scalars).
#[derive(Debug)]
struct EwmaAccumulator {
    alpha: f64,
    values: Vec<ArrayRef>,
    orders: Vec<Vec<ArrayRef>>,
    order_types: Vec<DataType>,
    options: Vec<SortOptions>,
}

fn concat_or_empty(chunks: &[ArrayRef], dt: &DataType) -> Result<ArrayRef> {
    if chunks.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(dt));
    }
    let refs: Vec<&dyn Array> = chunks.iter().map(|a| a.as_ref()).collect();
    Ok(concat(&refs)?)
}

fn one_row_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

impl Accumulator for EwmaAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // values = [value, alpha, order keys...] (DataFusion appends the
        // ORDER BY expressions for order-sensitive aggregates).
        if values.len() != 2 + self.orders.len() {
            return internal_err!(
                "ewma: expected {} input columns, got {}",
                2 + self.orders.len(),
                values.len()
            );
        }
        self.values.push(Arc::clone(&values[0]));
        for (chunks, col) in self.orders.iter_mut().zip(&values[2..]) {
            chunks.push(Arc::clone(col));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 1 + self.orders.len() {
            return internal_err!(
                "ewma: expected {} state columns, got {}",
                1 + self.orders.len(),
                states.len()
            );
        }
        let Some(vals) = states[0].as_list_opt::<i32>() else {
            return internal_err!("ewma: state is not a list");
        };
        self.values.push(Arc::clone(vals.values()));
        for (chunks, st) in self.orders.iter_mut().zip(&states[1..]) {
            let Some(l) = st.as_list_opt::<i32>() else {
                return internal_err!("ewma: order state is not a list");
            };
            chunks.push(Arc::clone(l.values()));
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut out = vec![one_row_list(concat_or_empty(
            &self.values,
            &DataType::Float64,
        )?)];
        for (chunks, dt) in self.orders.iter().zip(&self.order_types) {
            out.push(one_row_list(concat_or_empty(chunks, dt)?));
        }
        Ok(out)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let values = concat_or_empty(&self.values, &DataType::Float64)?;
        if values.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        let mut cols = Vec::with_capacity(self.orders.len() + 1);
        for ((chunks, dt), options) in self.orders.iter().zip(&self.order_types).zip(&self.options)
        {
            cols.push(SortColumn {
                values: concat_or_empty(chunks, dt)?,
                options: Some(*options),
            });
        }
        // Tie-break on the value so equal keys never depend on arrival order.
        cols.push(SortColumn {
            values: Arc::clone(&values),
            options: None,
        });
        let idx = lexsort_to_indices(&cols, None)?;
        let sorted = take(values.as_ref(), &idx, None)?;
        let sorted = sorted.as_primitive::<Float64Type>();
        Ok(ScalarValue::Float64(ewma(
            sorted.iter().flatten(),
            self.alpha,
        )))
    }

    fn size(&self) -> usize {
        let arrays: usize = self
            .values
            .iter()
            .chain(self.orders.iter().flatten())
            .map(|a| a.get_array_memory_size())
            .sum();
        std::mem::size_of_val(self) + arrays
    }
}

/// The `ewma_list(list, alpha)` scalar: the EWMA of a list already in order
/// (`array_agg(x ORDER BY …)`), skipping NULL elements; NULL for an empty or
/// NULL list.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EwmaListUdf {
    signature: Signature,
}

impl EwmaListUdf {
    /// The scalar function.
    pub fn new() -> Self {
        EwmaListUdf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for EwmaListUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for EwmaListUdf {
    fn name(&self) -> &str {
        "ewma_list"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "ewma_list(list, alpha) takes 2 arguments, got {}",
                arg_types.len()
            );
        }
        Ok(vec![
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
            DataType::Float64,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::invoke_rowwise(&args.args, |arrays| {
            let (Some(lists), Some(alphas)) = (
                arrays[0].as_list_opt::<i32>(),
                arrays[1].as_primitive_opt::<Float64Type>(),
            ) else {
                return exec_err!("ewma_list: arguments not coerced to (List<Float64>, Float64)");
            };
            let Some(child) = lists.values().as_primitive_opt::<Float64Type>() else {
                return exec_err!("ewma_list: list child is not Float64");
            };
            let offsets = lists.value_offsets();
            let out: Float64Array = (0..lists.len())
                .map(|row| {
                    if lists.is_null(row) || alphas.is_null(row) {
                        return None;
                    }
                    let (s, e) = (offsets[row] as usize, offsets[row + 1] as usize);
                    let xs = (s..e)
                        .filter(|&i| child.is_valid(i))
                        .map(|i| child.value(i));
                    ewma(xs, alphas.value(row))
                })
                .collect();
            Ok(Arc::new(out))
        })
    }
}
