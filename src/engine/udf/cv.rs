//! `cv(value)` aggregate: the population coefficient of variation,
//! `sqrt(Σ(v - mean)² / n) / |mean|`.
//!
//! The values are kept and summed in ascending order, so the result is the
//! same bits whatever the partitioning or arrival order (a streaming
//! Welford update would not be). NULL values are skipped; the result is NULL
//! for no values or a zero mean (the CV is undefined there; the attribution
//! merger's own CV about the EWMA, with its 1e9 rule, lives in
//! `extract::attribution`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{internal_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// Population CV of `xs` summed in ascending order; `None` when empty or the
/// mean is zero.
pub fn population_cv(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return None;
    }
    let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Some(var.sqrt() / mean.abs())
}

/// The `cv` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CvUdaf {
    signature: Signature,
}

impl CvUdaf {
    /// The aggregate.
    pub fn new() -> Self {
        CvUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for CvUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for CvUdaf {
    fn name(&self) -> &str {
        "cv"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 {
            return plan_err!("cv(value) takes 1 argument, got {}", arg_types.len());
        }
        Ok(vec![DataType::Float64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
            true,
        ))])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CvAccumulator { chunks: Vec::new() }))
    }
}

#[derive(Debug)]
struct CvAccumulator {
    chunks: Vec<ArrayRef>,
}

impl CvAccumulator {
    fn all(&self) -> Result<ArrayRef> {
        if self.chunks.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(
                &DataType::Float64,
            ));
        }
        let refs: Vec<&dyn Array> = self.chunks.iter().map(|a| a.as_ref()).collect();
        Ok(concat(&refs)?)
    }
}

impl Accumulator for CvAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(v) => self.chunks.push(Arc::clone(v)),
            None => return internal_err!("cv: no input column"),
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(l) = states.first().and_then(|s| s.as_list_opt::<i32>()) else {
            return internal_err!("cv: state is not a list");
        };
        self.chunks.push(Arc::clone(l.values()));
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = self.all()?;
        let field = Arc::new(Field::new_list_field(DataType::Float64, true));
        let offsets = OffsetBuffer::from_lengths([values.len()]);
        Ok(vec![ScalarValue::List(Arc::new(ListArray::new(
            field, offsets, values, None,
        )))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let values = self.all()?;
        let mut xs: Vec<f64> = values
            .as_primitive::<Float64Type>()
            .iter()
            .flatten()
            .collect();
        Ok(ScalarValue::Float64(population_cv(&mut xs)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .chunks
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>()
    }
}
