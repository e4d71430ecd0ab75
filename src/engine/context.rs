//! The DataFusion context: fixed options, our UDFs, and the derived tables
//! the runner writes (`attribution_state`, trends).
//!
//! Nothing here opens a store or builds a URL: tables are registered by the
//! caller (`lake_tables::register_lake`, or in-memory tables in tests).

use std::collections::BTreeMap;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext as DfContext};

use super::sql::{param_values, sql_file, SqlFile};
use super::{udf, EngineError, Result};
use crate::extract::attribution::AttributionThresholds;

/// Partitions DataFusion plans for. Fixed so plans (and any order-dependent
/// float work) do not change with the machine's core count; every order that
/// matters is explicit in the SQL anyway.
pub const TARGET_PARTITIONS: usize = 4;

/// A context with [`TARGET_PARTITIONS`], information_schema (`SHOW TABLES`)
/// and every UDF, attribution thresholds at their defaults.
pub fn new_context() -> DfContext {
    new_context_with(&AttributionThresholds::default())
}

/// [`new_context`] with the job file's attribution thresholds.
pub fn new_context_with(thresholds: &AttributionThresholds) -> DfContext {
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
    let ctx = DfContext::new_with_config(config);
    udf::register_all_with(&ctx, thresholds);
    ctx
}

/// Run one statement with named parameters (declared defaults filled in,
/// see `sql::param_values`) and collect the result.
///
/// # Errors
/// A missing parameter, or DataFusion planning/execution errors.
pub async fn run_statement(
    ctx: &DfContext,
    text: &str,
    params: &BTreeMap<String, String>,
) -> Result<Vec<RecordBatch>> {
    let plan = ctx.state().create_logical_plan(text).await?;
    let plan = plan.with_param_values(param_values(text, params)?)?;
    Ok(ctx.execute_logical_plan(plan).await?.collect().await?)
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
