//! The DataFusion context: fixed options, our UDFs, and the derived tables
//! the runner writes (`attribution_state`, trends).
//!
//! Nothing here opens a store or builds a URL: tables are registered by the
//! caller (`lake_tables::register_lake`, or in-memory tables in tests).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext as DfContext};

use super::sql::{param_values, sql_file, SqlFile};
use super::{udf, EngineError, Result};
use crate::extract::attribution::AttributionThresholds;

/// Partitions DataFusion plans for. Fixed so plans (and any order-dependent
/// float work) do not change with the machine's core count; every order that
/// matters is explicit in the SQL anyway.
pub const TARGET_PARTITIONS: usize = 4;

/// How much memory DataFusion's operators may hold and where they spill
/// (`[engine]` in the job file, `--memory-limit` on the command line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// Bytes the operators of one query may reserve together (sorts, hash
    /// aggregates and joins); over it they spill to disk, and a query that
    /// cannot spill fails with an error naming the limit. `None`: no limit.
    pub memory_limit: Option<usize>,
    /// The directory spill files go to (`None`: the OS temporary
    /// directory).
    pub spill_dir: Option<PathBuf>,
}

impl EngineOptions {
    /// Make the spill directory (and its parents) when one is set, so a
    /// directory that cannot be made is an error before any query.
    ///
    /// # Errors
    /// The I/O error of creating it.
    pub fn make_spill_dir(&self) -> std::io::Result<()> {
        match &self.spill_dir {
            Some(dir) => std::fs::create_dir_all(dir),
            None => Ok(()),
        }
    }
}

/// Spill files one merge pass of a sort reads at once under a memory limit.
const SPILL_MERGE_FAN_IN: usize = 8;

/// What the queries of one context spilled, summed by [`run_statement`]
/// from the operators' metrics; kept in the context's config, with the
/// memory limit the context was made with.
#[derive(Debug, Default)]
pub struct SpillStats {
    memory_limit: Option<usize>,
    files: AtomicU64,
    bytes: AtomicU64,
}

/// Spill files written and their bytes, over every statement
/// [`run_statement`] ran in `ctx` (zeros for a context not made here).
pub fn spilled(ctx: &DfContext) -> (u64, u64) {
    ctx.state()
        .config()
        .get_extension::<SpillStats>()
        .map_or((0, 0), |s| {
            (
                s.files.load(Ordering::Relaxed),
                s.bytes.load(Ordering::Relaxed),
            )
        })
}

/// Add the spill metrics of `plan` and its inputs to the context's totals.
fn count_spills(ctx: &DfContext, plan: &Arc<dyn ExecutionPlan>) {
    let Some(stats) = ctx.state().config().get_extension::<SpillStats>() else {
        return;
    };
    let mut todo = vec![Arc::clone(plan)];
    while let Some(p) = todo.pop() {
        if let Some(m) = p.metrics() {
            let n = |v: Option<usize>| v.map_or(0, |v| v as u64);
            stats.files.fetch_add(n(m.spill_count()), Ordering::Relaxed);
            stats
                .bytes
                .fetch_add(n(m.spilled_bytes()), Ordering::Relaxed);
        }
        todo.extend(p.children().into_iter().cloned());
    }
}

/// DataFusion's error, or [`EngineError::MemoryLimit`] when an operator
/// could not get the memory it needed under the context's limit.
fn engine_error(ctx: &DfContext, e: DataFusionError) -> EngineError {
    let limit = ctx
        .state()
        .config()
        .get_extension::<SpillStats>()
        .and_then(|s| s.memory_limit);
    match (limit, e.find_root()) {
        (Some(limit), DataFusionError::ResourcesExhausted(_)) => EngineError::MemoryLimit {
            limit_mib: limit >> 20,
            source: e,
        },
        _ => EngineError::DataFusion(e),
    }
}

/// A context with [`TARGET_PARTITIONS`], information_schema (`SHOW TABLES`)
/// and every UDF, attribution thresholds at their defaults.
pub fn new_context() -> DfContext {
    new_context_with(&AttributionThresholds::default(), &EngineOptions::default())
}

/// [`new_context`] with the job file's attribution thresholds and engine
/// options.
pub fn new_context_with(thresholds: &AttributionThresholds, options: &EngineOptions) -> DfContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(TARGET_PARTITIONS)
        .with_information_schema(true);
    // Strings stay Utf8 (model::schema's type) instead of DataFusion 55's
    // default Utf8View, so derived tables keep the lake's column types.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    config.options_mut().sql_parser.map_string_types_to_utf8view = false;
    if let Some(limit) = options.memory_limit {
        // Each sort holds this much back for merging its spill files, out of
        // reach of the other operators: DataFusion's 10 MiB per sort would
        // take a small pool whole, so it scales with the limit.
        config.options_mut().execution.sort_spill_reservation_bytes =
            (limit / 32).clamp(256 << 10, 10 << 20);
        // A spilling operator needs room for one batch and as much again to
        // sort it, within its fair share (the limit over about eight such
        // operators per query, four partitions each of an aggregate and a
        // sort). A final aggregate's state runs to about 1.5 KiB per row
        // (attribution keeps per-session values; CI saw a first batch of
        // 1,024 rows ask for 1,495 KB against a 1,490 KB share under 16 MiB),
        // so one batch may take at most half a share: 32 KiB of limit per
        // batch row. Below 256 MiB batches shrink to fit.
        let rows = (limit / (32 << 10)).clamp(512, config.batch_size());
        config = config.with_batch_size(rows);
    }
    let config = config.with_extension(Arc::new(SpillStats {
        memory_limit: options.memory_limit,
        ..SpillStats::default()
    }));
    // Fair shares between the spilling operators of a query; the tracking
    // wrapper names the largest consumers in the error of a query that does
    // not fit.
    let pool: Option<Arc<dyn MemoryPool>> = options.memory_limit.map(|limit| {
        Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN),
        )) as Arc<dyn MemoryPool>
    });
    let runtime = |disk: DiskManagerBuilder| {
        let mut b = RuntimeEnvBuilder::new().with_disk_manager_builder(disk);
        if let Some(p) = &pool {
            b = b.with_memory_pool(Arc::clone(p));
        }
        b.build_arc()
    };
    let mut disk = DiskManagerBuilder::default();
    if let Some(dir) = &options.spill_dir {
        disk = disk.with_mode(DiskManagerMode::Directories(vec![dir.clone()]));
    }
    if options.memory_limit.is_some() {
        // A sort merges its spilled runs a few at a time (one batch of each
        // in memory), in more passes when there are many.
        disk = disk.with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN);
    }
    let built = runtime(disk).or_else(|e| {
        // Only a spill directory that is missing or unusable fails here
        // (callers make it first: `EngineOptions::make_spill_dir`); queries
        // then run under the same limit without spilling.
        tracing::warn!("spill directory unusable, spilling disabled: {e}");
        runtime(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
    });
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if let Ok(rt) = built {
        state = state.with_runtime_env(rt);
    }
    if options.memory_limit.is_none() {
        // Nothing spills without a limit, so sorts hold their input whole
        // either way: rank it instead of comparing (engine::rank_sort).
        state = state.with_physical_optimizer_rule(Arc::new(super::rank_sort::RankSortRule));
    }
    let ctx = DfContext::new_with_state(state.build());
    udf::register_all_with(&ctx, thresholds);
    ctx
}

/// Run one statement with named parameters (declared defaults filled in,
/// see `sql::param_values`) and collect the result. What its operators
/// spilled is added to the context's totals ([`spilled`]).
///
/// # Errors
/// A missing parameter, DataFusion planning/execution errors, or
/// [`EngineError::MemoryLimit`].
pub async fn run_statement(
    ctx: &DfContext,
    text: &str,
    params: &BTreeMap<String, String>,
) -> Result<Vec<RecordBatch>> {
    let err = |e| engine_error(ctx, e);
    let plan = ctx.state().create_logical_plan(text).await.map_err(err)?;
    let plan = plan
        .with_param_values(param_values(text, params)?)
        .map_err(err)?;
    let physical = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(err)?
        .create_physical_plan()
        .await
        .map_err(err)?;
    let batches = collect(Arc::clone(&physical), ctx.task_ctx()).await;
    count_spills(ctx, &physical);
    batches.map_err(err)
}

/// Run the embedded `sql/<name>.sql`.
///
/// # Errors
/// An unknown name, a missing parameter, or DataFusion errors.
pub async fn run_sql_file(
    ctx: &DfContext,
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Vec<RecordBatch>> {
    let SqlFile { text, .. } = sql_file(name)
        .ok_or_else(|| EngineError::Statement(format!("sql/{name}.sql is not embedded")))?;
    run_statement(ctx, text, params).await
}

/// Set `ctx` up for statements whose aggregates keep each group's whole
/// series (`attribution_agg`, `attribution_changes_agg`): DataFusion's
/// partial (pre-shuffle) aggregation cannot shrink such input, it only
/// copies it once more, and its state batches grow with the series, so the
/// rows go to the final aggregation as they are. That keeps every batch
/// the operators hold near `batch_size` rows, so a memory limit is met by
/// spilling whatever the series lengths.
pub fn skip_partial_aggregation(ctx: &DfContext) {
    let state = ctx.state_ref();
    let mut state = state.write();
    let exec = &mut state.config_mut().options_mut().execution;
    exec.skip_partial_aggregation_probe_ratio_threshold = 0.0;
    exec.skip_partial_aggregation_probe_rows_threshold = 1;
}

/// Compute `attribution_state` from the registered `observations` table
/// (`sql/attribution_state.sql`): every lake.md §3 column except `run_id`,
/// which the runner adds before writing. Recomputed from the table, never
/// from in-memory state, so a backfill gives the same rows as in-order
/// ingestion.
///
/// # Errors
/// DataFusion errors (e.g. no `observations` table registered).
pub async fn compute_attribution_state(ctx: &DfContext) -> Result<Vec<RecordBatch>> {
    run_sql_file(ctx, "attribution_state", &BTreeMap::new()).await
}
