//! Attribution benchmark: `attribution_state` (sql/attribution_state.sql +
//! the merge UDFs) over a synthetic in-memory `observations` table.
//!
//! `cargo bench --locked --bench attribution [-- <identities> <obs per identity>]`
//! (default 10,000 identities × 100 observations = 1,000,000 rows);
//! `make bench` runs it. Prints observations/s in and attribution rows/s out.
//!
//! The data comes from tests/it/synthetic.rs (shared with the memory-limit
//! tests).

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use driftlake::engine::context::{
    compute_attribution_state, new_context, skip_partial_aggregation, TARGET_PARTITIONS,
};
use driftlake::model::schema::observations_schema;

#[path = "../tests/it/synthetic.rs"]
mod synthetic;
use synthetic::generate;

fn main() {
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let identities = nums.first().copied().unwrap_or(10_000);
    let per_identity = nums.get(1).copied().unwrap_or(100);

    let t0 = Instant::now();
    let batches = generate(identities, per_identity);
    let observations: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!(
        "generated {observations} observations over {identities} identities in {:.2}s",
        t0.elapsed().as_secs_f64()
    );

    // Round-robin the batches over the planning partitions, as a scan would.
    let partitions = std::env::var("BENCH_PARTITIONS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(TARGET_PARTITIONS);
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % partitions].push(b);
    }
    let ctx = new_context();
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .target_partitions = partitions;
    if std::env::var_os("BENCH_PARTIAL_AGG").is_none() {
        skip_partial_aggregation(&ctx);
    }
    let table = MemTable::try_new(observations_schema(), parts).expect("observations table");
    ctx.register_table("observations", Arc::new(table))
        .expect("register observations");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    if std::env::var_os("BENCH_EXPLAIN").is_some() {
        // Per-operator times: the same statement under EXPLAIN ANALYZE.
        let sql = driftlake::engine::sql::sql_file("attribution_state")
            .expect("embedded sql/attribution_state.sql")
            .text;
        let plan = rt
            .block_on(async {
                ctx.sql(&format!("EXPLAIN ANALYZE {sql}"))
                    .await?
                    .collect()
                    .await
            })
            .expect("explain analyze");
        println!(
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&plan).expect("plan")
        );
    }
    // BENCH_REPEAT=n runs the statement n times (for a profiler), one line each.
    let repeat: usize = std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    for _ in 0..repeat {
        let t1 = Instant::now();
        let out = rt
            .block_on(compute_attribution_state(&ctx))
            .expect("attribution_state");
        let secs = t1.elapsed().as_secs_f64();
        let rows: usize = out.iter().map(RecordBatch::num_rows).sum();
        println!(
            "attribution_state: {rows} rows from {observations} observations in {secs:.2}s  \
             {:.0} observations/s  {:.0} rows/s",
            observations as f64 / secs,
            rows as f64 / secs
        );
    }
}
