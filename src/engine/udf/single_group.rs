//! What our `GroupsAccumulator` UDAFs share: the plain [`Accumulator`]
//! DataFusion asks for where it does not use the groups form (e.g. an
//! aggregate without GROUP BY), served by the UDAF's own
//! [`GroupsAccumulator`] so both paths run the same code, and the shape of
//! their list-typed state fields.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// `List<t>` with a nullable item, as `ListBuilder` writes it.
pub(crate) fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// The state field `<aggregate name>[<suffix>]` of type `t`.
pub(crate) fn state_field(name: &str, suffix: &str, t: DataType) -> FieldRef {
    Arc::new(Field::new(format!("{name}[{suffix}]"), t, true))
}

/// `GroupsAccumulator::convert_to_state` for a groups accumulator whose
/// state of one row is just that row: each row becomes a one-row state (a
/// filtered-out row an empty one), computed by a fresh accumulator.
pub(crate) fn one_state_per_row(
    mut fresh: impl GroupsAccumulator,
    values: &[ArrayRef],
    opt_filter: Option<&datafusion::arrow::array::BooleanArray>,
) -> Result<Vec<ArrayRef>> {
    let n = values.first().map_or(0, |a| a.len());
    let idx: Vec<usize> = (0..n).collect();
    fresh.update_batch(values, &idx, opt_filter, n)?;
    fresh.state(EmitTo::All)
}

/// A groups accumulator that can be told to hold at least `n` groups (so
/// a group that saw no row still evaluates).
pub(crate) trait Grow: GroupsAccumulator {
    /// Make room for `total_num_groups` groups.
    fn grow(&mut self, total_num_groups: usize);
}

/// One group of `G`.
#[derive(Debug)]
pub(crate) struct SingleGroup<G>(pub G);

impl<G: Grow + std::fmt::Debug + Sync> Accumulator for SingleGroup<G> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = values.first().map_or(0, |a| a.len());
        self.0.update_batch(values, &vec![0; n], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.grow(1);
        let out = self.0.evaluate(EmitTo::All)?;
        ScalarValue::try_from_array(&out, 0)
    }

    fn size(&self) -> usize {
        self.0.size() + std::mem::size_of::<Self>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.grow(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let n = states.first().map_or(0, |a| a.len());
        self.0.merge_batch(states, &vec![0; n], 1)
    }
}
