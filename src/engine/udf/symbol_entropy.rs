//! `symbol_entropy(event_type, target_hash)`: the agent monitor's entropy
//! term E over a group's events (spec/agent-monitor.md "Profiles"): the
//! Shannon entropy in bits of the multiset of (event type, target) symbols,
//! divided by log2 of the number of distinct symbols, 0 below two symbols.
//!
//! An aggregate, so one pass over the events both counts the operations and
//! the symbols. Each group keeps a count per symbol; partial states are the
//! (type, target, count) lists, merged by adding counts. The counts go to
//! [`crate::agents::normalized_entropy`], which sorts them before summing,
//! so the bits do not depend on input order, batching or partitioning.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::single_group::{list_of, one_state_per_row, state_field, Grow, SingleGroup};
use rustc_hash::FxHashMap;

use crate::agents::normalized_entropy;

/// The `symbol_entropy` aggregate UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SymbolEntropyUdaf {
    signature: Signature,
}

impl SymbolEntropyUdaf {
    /// The aggregate function.
    pub fn new() -> Self {
        SymbolEntropyUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for SymbolEntropyUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for SymbolEntropyUdaf {
    fn name(&self) -> &str {
        "symbol_entropy"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "symbol_entropy(event_type, target_hash) takes 2 arguments, got {}",
                arg_types.len()
            );
        }
        Ok(vec![DataType::Utf8, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |suffix: &str, t: DataType| state_field(args.name, suffix, t);
        Ok(vec![
            f("types", list_of(DataType::Utf8)),
            f("targets", list_of(DataType::Int64)),
            f("counts", list_of(DataType::Int64)),
        ])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleGroup(SymbolCounts::default())))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SymbolCounts::default()))
    }
}

/// A symbol: an interned event type (`u32::MAX` for NULL) and the target.
type Symbol = (u32, Option<i64>);

/// Per group, the count of each symbol.
#[derive(Debug, Default)]
struct SymbolCounts {
    type_ix: FxHashMap<String, u32>,
    type_names: Vec<String>,
    groups: Vec<FxHashMap<Symbol, u64>>,
}

const NULL_TYPE: u32 = u32::MAX;

impl SymbolCounts {
    fn type_id(&mut self, t: Option<&str>) -> u32 {
        let Some(t) = t else {
            return NULL_TYPE;
        };
        if let Some(&i) = self.type_ix.get(t) {
            return i;
        }
        let i = u32::try_from(self.type_names.len()).unwrap_or(NULL_TYPE - 1);
        self.type_names.push(t.to_string());
        self.type_ix.insert(t.to_string(), i);
        i
    }

    fn type_name(&self, id: u32) -> Option<&str> {
        self.type_names.get(id as usize).map(String::as_str)
    }
}

impl Grow for SymbolCounts {
    fn grow(&mut self, total_num_groups: usize) {
        if self.groups.len() < total_num_groups {
            self.groups
                .resize_with(total_num_groups, FxHashMap::default);
        }
    }
}

impl GroupsAccumulator for SymbolCounts {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [ty, target] = values else {
            return internal_err!("symbol_entropy: expected 2 argument arrays");
        };
        let (Some(ty), Some(target)) = (
            ty.as_string_opt::<i32>(),
            target.as_primitive_opt::<Int64Type>(),
        ) else {
            return internal_err!("symbol_entropy: arguments not coerced to (Utf8, Int64)");
        };
        self.grow(total_num_groups);
        for (i, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            let t = self.type_id(ty.is_valid(i).then(|| ty.value(i)));
            let h = target.is_valid(i).then(|| target.value(i));
            *self.groups[g].entry((t, h)).or_insert(0) += 1;
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [types, targets, counts] = values else {
            return internal_err!("symbol_entropy: expected 3 state arrays");
        };
        let (Some(types), Some(targets), Some(counts)) = (
            types.as_list_opt::<i32>(),
            targets.as_list_opt::<i32>(),
            counts.as_list_opt::<i32>(),
        ) else {
            return internal_err!("symbol_entropy: state arrays have unexpected types");
        };
        let (Some(tv), Some(hv), Some(cv)) = (
            types.values().as_string_opt::<i32>(),
            targets.values().as_primitive_opt::<Int64Type>(),
            counts.values().as_primitive_opt::<Int64Type>(),
        ) else {
            return internal_err!("symbol_entropy: state list children have unexpected types");
        };
        self.grow(total_num_groups);
        let (to, ho, co) = (
            types.value_offsets(),
            targets.value_offsets(),
            counts.value_offsets(),
        );
        for (i, &g) in group_indices.iter().enumerate() {
            let (s, e) = (to[i] as usize, to[i + 1] as usize);
            if ho[i + 1] - ho[i] != to[i + 1] - to[i] || co[i + 1] - co[i] != to[i + 1] - to[i] {
                return internal_err!("symbol_entropy: state lists of different lengths");
            }
            let (hs, cs) = (ho[i] as usize, co[i] as usize);
            for k in 0..e - s {
                let t = self.type_id(tv.is_valid(s + k).then(|| tv.value(s + k)));
                let h = hv.is_valid(hs + k).then(|| hv.value(hs + k));
                let c = u64::try_from(cv.value(cs + k)).unwrap_or(0);
                *self.groups[g].entry((t, h)).or_insert(0) += c;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut counts: Vec<u64> = Vec::new();
        let out: Float64Array = groups
            .iter()
            .map(|g| {
                counts.clear();
                counts.extend(g.values().copied());
                Some(normalized_entropy(&mut counts))
            })
            .collect();
        Ok(Arc::new(out))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut types = ListBuilder::new(StringBuilder::new());
        let mut targets = ListBuilder::new(Int64Builder::new());
        let mut counts = ListBuilder::new(Int64Builder::new());
        for g in &groups {
            for (&(t, h), &c) in g {
                types.values().append_option(self.type_name(t));
                targets.values().append_option(h);
                counts
                    .values()
                    .append_value(i64::try_from(c).unwrap_or(i64::MAX));
            }
            types.append(true);
            targets.append(true);
            counts.append(true);
        }
        Ok(vec![
            Arc::new(types.finish()),
            Arc::new(targets.finish()),
            Arc::new(counts.finish()),
        ])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        one_state_per_row(SymbolCounts::default(), values, opt_filter)
    }

    fn size(&self) -> usize {
        let entry = std::mem::size_of::<(Symbol, u64)>() + 1;
        self.groups
            .iter()
            .map(|g| g.capacity() * entry)
            .sum::<usize>()
            + self.groups.capacity() * std::mem::size_of::<FxHashMap<Symbol, u64>>()
            + self
                .type_names
                .iter()
                .map(|s| 2 * s.capacity() + 16)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    fn args(rows: &[(&str, Option<i64>)]) -> Vec<ArrayRef> {
        vec![
            Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
        ]
    }

    fn eval(acc: &mut SymbolCounts) -> Vec<f64> {
        let out = acc.evaluate(EmitTo::All).unwrap();
        out.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn groups_count_symbols_and_partial_states_merge_to_the_same_bits() {
        let rows = [
            ("file_read", Some(1)),
            ("file_read", Some(1)),
            ("file_read", Some(2)),
            ("api_call", None),
            ("file_read", None),
            ("api_call", None),
            ("file_write", Some(1)),
        ];
        let groups = [0, 0, 0, 0, 1, 1, 0];
        let mut direct = SymbolCounts::default();
        direct.update_batch(&args(&rows), &groups, None, 2).unwrap();
        let want = eval(&mut direct);
        // Group 0: counts 2, 1, 1, 1 over 4 symbols; group 1: 1, 1.
        let mut c = vec![2, 1, 1, 1];
        assert_eq!(want[0].to_bits(), normalized_entropy(&mut c).to_bits());
        assert_eq!(want[1], 1.0);
        // Split in two partial accumulators, state, merge in reverse order.
        let mut a = SymbolCounts::default();
        a.update_batch(&args(&rows[..3]), &groups[..3], None, 2)
            .unwrap();
        let mut b = SymbolCounts::default();
        b.update_batch(&args(&rows[3..]), &groups[3..], None, 2)
            .unwrap();
        let mut merged = SymbolCounts::default();
        merged
            .merge_batch(&b.state(EmitTo::All).unwrap(), &[0, 1], 2)
            .unwrap();
        merged
            .merge_batch(&a.state(EmitTo::All).unwrap(), &[0, 1], 2)
            .unwrap();
        let got = eval(&mut merged);
        assert_eq!(got[0].to_bits(), want[0].to_bits());
        assert_eq!(got[1].to_bits(), want[1].to_bits());
        // Per-row states (skipping partial aggregation) merge the same way.
        let per_row = direct.convert_to_state(&args(&rows), None).unwrap();
        let mut again = SymbolCounts::default();
        again.merge_batch(&per_row, &groups, 2).unwrap();
        assert_eq!(eval(&mut again)[0].to_bits(), want[0].to_bits());
    }

    #[test]
    fn filtered_rows_do_not_count() {
        let rows = [("a", Some(1)), ("b", Some(1))];
        let mut acc = SymbolCounts::default();
        let filter = BooleanArray::from(vec![true, false]);
        acc.update_batch(&args(&rows), &[0, 0], Some(&filter), 1)
            .unwrap();
        assert_eq!(eval(&mut acc), vec![0.0]);
    }
}
