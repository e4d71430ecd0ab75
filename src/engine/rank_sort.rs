//! An in-memory `ORDER BY` that ranks instead of comparing: each sort key's
//! distinct values are sorted once, every row gets the rank of its value,
//! and the rows are sorted by their ranks packed into one integer.
//!
//! DataFusion's `SortExec` sorts each batch with a comparator per key (a
//! dynamic call and a string comparison per step) and merges the sorted
//! batches through the row format. The statements the engine runs sort on
//! keys with few distinct values per row (identities, primitives, days,
//! spec nodes), so ranking them costs one hash lookup per row and key and
//! the sort itself compares integers.
//!
//! [`RankSortRule`] puts a [`RankSortExec`] in place of every `SortExec`
//! without a `LIMIT` (a top-k stays as it is). It is installed only when
//! the context has no memory limit: it holds its input whole, as an
//! unlimited `SortExec` does, but it cannot spill. Rows with equal keys
//! keep their input order.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::{StreamExt, TryStreamExt};
use rustc_hash::FxHashMap;

/// The physical optimizer rule: every `SortExec` without a fetch becomes a
/// [`RankSortExec`] with the same input, ordering and partitioning.
#[derive(Debug, Default)]
pub struct RankSortRule;

impl PhysicalOptimizerRule for RankSortRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| match node.downcast_ref::<SortExec>() {
            Some(sort) if sort.fetch().is_none() => Ok(Transformed::yes(
                Arc::new(RankSortExec::new(sort.clone())) as Arc<dyn ExecutionPlan>,
            )),
            _ => Ok(Transformed::no(node)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "rank_sort"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A full sort of each input partition (or of the single input partition),
/// by ranks. It keeps the `SortExec` it replaces for its properties: same
/// output ordering, partitioning and input requirements.
#[derive(Debug)]
pub struct RankSortExec {
    sort: SortExec,
    metrics: ExecutionPlanMetricsSet,
}

impl RankSortExec {
    fn new(sort: SortExec) -> Self {
        RankSortExec {
            sort,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for RankSortExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RankSortExec: expr=[{}], preserve_partitioning=[{}]",
            self.sort.expr(),
            self.sort.preserve_partitioning()
        )
    }
}

impl ExecutionPlan for RankSortExec {
    fn name(&self) -> &str {
        "RankSortExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.sort.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.sort.input_distribution_requirements()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.sort.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let sort = Arc::new(self.sort.clone()).replace_children(children, options)?;
        match sort.downcast_ref::<SortExec>() {
            Some(sort) => Ok(Arc::new(RankSortExec::new(sort.clone()))),
            None => internal_err!("RankSortExec: SortExec::replace_children gave another plan"),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.sort.input().execute(partition, Arc::clone(&context))?;
        let schema = self.schema();
        let ordering = self.sort.expr().clone();
        let batch_size = context.session_config().batch_size();
        let out_schema = Arc::clone(&schema);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let sorted = futures::stream::once(async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let out = {
                let _timer = baseline.elapsed_compute().timer();
                sort_batches(&out_schema, &batches, &ordering, batch_size)?
            };
            baseline.record_output(out.iter().map(RecordBatch::num_rows).sum());
            baseline.done();
            Ok::<_, datafusion::error::DataFusionError>(futures::stream::iter(
                out.into_iter().map(Ok),
            ))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            sorted.boxed(),
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Each row's rank among the distinct values of `rows` (in row-format
/// order, which is the sort order of its key with its options), and the
/// number of distinct values.
fn ranks(rows: &Rows) -> (Vec<u32>, u64) {
    let mut ids: FxHashMap<&[u8], u32> = FxHashMap::default();
    let mut distinct: Vec<&[u8]> = Vec::new();
    let first: Vec<u32> = rows
        .iter()
        .map(|r| {
            let bytes: &[u8] = r.data();
            *ids.entry(bytes).or_insert_with(|| {
                distinct.push(bytes);
                // `sort_batches` checked that the rows fit in u32.
                (distinct.len() - 1) as u32
            })
        })
        .collect();
    let mut by_value: Vec<u32> = (0..distinct.len() as u32).collect();
    by_value.sort_unstable_by(|&a, &b| distinct[a as usize].cmp(distinct[b as usize]));
    let mut rank = vec![0u32; distinct.len()];
    for (r, &id) in by_value.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    (
        first.into_iter().map(|id| rank[id as usize]).collect(),
        distinct.len() as u64,
    )
}

/// Row numbers `0..n` ordered by their ranks, key by key, ties by row
/// number. The ranks are packed into one u64 when `pack` and the key space
/// fits (mixed radix), compared key by key otherwise.
fn order_by_ranks(keys: &[(Vec<u32>, u64)], n: usize, pack: bool) -> Vec<u32> {
    let space = keys
        .iter()
        .try_fold(1u64, |acc, (_, card)| acc.checked_mul((*card).max(1)));
    if pack && space.is_some() {
        let mut packed: Vec<(u64, u32)> = (0..n as u32).map(|i| (0, i)).collect();
        for (ranks, card) in keys {
            for (p, &r) in packed.iter_mut().zip(ranks) {
                p.0 = p.0 * card + u64::from(r);
            }
        }
        packed.sort_unstable();
        return packed.into_iter().map(|(_, i)| i).collect();
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        keys.iter()
            .map(|(r, _)| r[a as usize].cmp(&r[b as usize]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    order
}

/// `batches` sorted by `ordering` (rows with equal keys in input order), in
/// batches of at most `batch_size` rows.
///
/// # Errors
/// A sort expression that does not evaluate, a key type the row format
/// does not support, or more than 2^32 rows.
pub fn sort_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    ordering: &LexOrdering,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    if n == 0 {
        return Ok(Vec::new());
    }
    if n > u32::MAX as usize {
        return internal_err!("RankSortExec: more than 2^32 rows to sort in memory");
    }
    let mut keys: Vec<(Vec<u32>, u64)> = Vec::with_capacity(ordering.len());
    for e in ordering.iter() {
        let cols = batches
            .iter()
            .map(|b| e.expr.evaluate(b)?.into_array(b.num_rows()))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let conv = RowConverter::new(vec![SortField::new_with_options(
            cols[0].data_type().clone(),
            e.options,
        )])?;
        let mut rows = conv.empty_rows(n, 0);
        for c in cols {
            conv.append(&mut rows, &[c])?;
        }
        keys.push(ranks(&rows));
    }
    let order = order_by_ranks(&keys, n, true);
    // Row number → (batch, row in batch).
    let mut starts = Vec::with_capacity(batches.len());
    let mut at = 0usize;
    for b in &batches {
        starts.push(at);
        at += b.num_rows();
    }
    let locate = |g: usize| {
        let b = starts.partition_point(|&s| s <= g) - 1;
        (b, g - starts[b])
    };
    order
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let idx: Vec<(usize, usize)> = chunk.iter().map(|&g| locate(g as usize)).collect();
            let out = interleave_record_batch(&batches, &idx)?;
            Ok(out.with_schema(Arc::clone(schema))?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Float64Array, Int64Array, StringArray};
    use datafusion::arrow::compute::{concat_batches, lexsort_to_indices, SortColumn, SortOptions};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_expr::PhysicalSortExpr;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("row", DataType::Int64, false),
        ]))
    }

    /// Batches of mixed sizes (one empty) with repeated, NULL, NaN and
    /// signed-zero keys; `row` numbers the rows in input order.
    fn batches(seed: u64) -> Vec<RecordBatch> {
        let mut next = crate::extract::xorshift(seed);
        let words = ["", "a", "ab", "b", "198.51.0.10", "198.51.0.2", "é", "zz"];
        let floats = [0.0, -0.0, 1.5, -2.0, f64::NAN, f64::INFINITY];
        let mut row = 0i64;
        [7usize, 0, 40, 1, 13]
            .iter()
            .map(|&len| {
                let mut s = Vec::new();
                let (mut i, mut f, mut r) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..len {
                    s.push((!next().is_multiple_of(9)).then(|| words[(next() % 8) as usize]));
                    i.push((!next().is_multiple_of(7)).then(|| (next() % 4) as i64 - 2));
                    f.push((!next().is_multiple_of(8)).then(|| floats[(next() % 6) as usize]));
                    r.push(row);
                    row += 1;
                }
                RecordBatch::try_new(
                    schema(),
                    vec![
                        Arc::new(StringArray::from(s)),
                        Arc::new(Int64Array::from(i)),
                        Arc::new(Float64Array::from(f)),
                        Arc::new(Int64Array::from(r)),
                    ],
                )
                .unwrap()
            })
            .collect()
    }

    /// The reference: arrow's `lexsort_to_indices` over the concatenated
    /// rows, ties broken by `row` (input order), as `row` numbers.
    fn reference(batches: &[RecordBatch], keys: &[(&str, SortOptions)]) -> Vec<i64> {
        let all = concat_batches(&schema(), batches).unwrap();
        let mut cols: Vec<SortColumn> = keys
            .iter()
            .map(|(name, o)| SortColumn {
                values: Arc::clone(all.column_by_name(name).unwrap()),
                options: Some(*o),
            })
            .collect();
        cols.push(SortColumn {
            values: Arc::clone(all.column(3)),
            options: None,
        });
        let idx = lexsort_to_indices(&cols, None).unwrap();
        let rows = all.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        idx.values()
            .iter()
            .map(|&i| rows.value(i as usize))
            .collect()
    }

    fn ordering(keys: &[(&str, SortOptions)]) -> LexOrdering {
        LexOrdering::new(keys.iter().map(|(name, o)| PhysicalSortExpr {
            expr: col(name, &schema()).unwrap(),
            options: *o,
        }))
        .unwrap()
    }

    fn row_numbers(out: &[RecordBatch]) -> Vec<i64> {
        out.iter()
            .flat_map(|b| {
                let r = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
                r.values().to_vec()
            })
            .collect()
    }

    #[test]
    fn sorts_like_a_stable_comparator_sort_for_every_option() {
        let opts = [
            SortOptions::new(false, false),
            SortOptions::new(false, true),
            SortOptions::new(true, false),
            SortOptions::new(true, true),
        ];
        let mut checked = 0;
        for seed in 1..6u64 {
            let input = batches(seed * 0x9E37_79B9);
            for (k, keys) in [
                vec!["s"],
                vec!["s", "i"],
                vec!["f", "s"],
                vec!["i", "f", "s"],
                vec!["row"],
            ]
            .iter()
            .enumerate()
            {
                let keys: Vec<(&str, SortOptions)> = keys
                    .iter()
                    .enumerate()
                    .map(|(j, name)| (*name, opts[(k + j + seed as usize) % 4]))
                    .collect();
                let out = sort_batches(&schema(), &input, &ordering(&keys), 5).unwrap();
                assert!(out.iter().all(|b| b.num_rows() <= 5));
                assert_eq!(row_numbers(&out), reference(&input, &keys), "{keys:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
        assert!(
            sort_batches(&schema(), &[], &ordering(&[("s", opts[0])]), 5)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn packed_and_key_by_key_orders_agree() {
        let keys = vec![
            (vec![2, 0, 1, 0, 2, 1, 0], 3),
            (vec![0, 1, 1, 1, 0, 0, 0], 2),
        ];
        let packed = order_by_ranks(&keys, 7, true);
        assert_eq!(packed, order_by_ranks(&keys, 7, false));
        assert_eq!(packed, vec![6, 1, 3, 5, 2, 0, 4]);
    }

    /// Without a memory limit the engine's sorts are RankSortExec (a LIMIT
    /// keeps DataFusion's top-k); with one they stay SortExec, which spills.
    /// Both give the same rows.
    #[test]
    fn the_rule_replaces_full_sorts_only_without_a_memory_limit() {
        use crate::engine::context::{new_context, new_context_with, EngineOptions};
        use crate::extract::attribution::AttributionThresholds;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let limited = new_context_with(
            &AttributionThresholds::default(),
            &EngineOptions {
                memory_limit: Some(64 << 20),
                spill_dir: None,
            },
        );
        let sql = "SELECT s, i, row FROM t ORDER BY s DESC NULLS FIRST, i, row";
        let mut results = Vec::new();
        for ctx in [new_context(), limited] {
            let table =
                datafusion::datasource::MemTable::try_new(schema(), vec![batches(7), batches(11)])
                    .unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            let plan = |q: String| {
                rt.block_on(async { ctx.sql(&q).await?.collect().await })
                    .unwrap()
            };
            let explain = datafusion::arrow::util::pretty::pretty_format_batches(&plan(format!(
                "EXPLAIN {sql}"
            )))
            .unwrap()
            .to_string();
            let top_k = datafusion::arrow::util::pretty::pretty_format_batches(&plan(format!(
                "EXPLAIN {sql} LIMIT 3"
            )))
            .unwrap()
            .to_string();
            assert!(top_k.contains("SortExec: TopK"), "{top_k}");
            results.push((explain.contains("RankSortExec"), plan(sql.to_string())));
        }
        assert!(results[0].0, "no RankSortExec without a limit");
        assert!(!results[1].0, "RankSortExec under a memory limit");
        let rows = |r: &[RecordBatch]| {
            datafusion::arrow::util::pretty::pretty_format_batches(r)
                .unwrap()
                .to_string()
        };
        assert_eq!(rows(&results[0].1), rows(&results[1].1));
        assert_eq!(
            results[0]
                .1
                .iter()
                .map(RecordBatch::num_rows)
                .sum::<usize>(),
            122
        );
    }
}
